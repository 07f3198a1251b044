"""roles/mlflow's checks before anything changes and its manifests as rendered, run by ansible-playbook for real on
localhost; nothing here talks to a cluster or an MLflow server (the role has not run on the cluster yet)."""
import configparser

import yaml

from ansible_collections.baremetal.mlops.tests.unit.ansible_cli import ROOT, render_role_templates, run_role_validate

VERSIONS = yaml.safe_load((ROOT / "versions.yml").read_text())
TEMPLATES = ("mlflow.yaml.j2", "migrate-job.yaml.j2", "basic_auth.ini.j2")


def validate(tmp_path, **variables):
    return run_role_validate(tmp_path, "mlflow", variables)


def test_defaults_pass(tmp_path):
    res = validate(tmp_path)
    assert res.returncode == 0, res.stdout[-3000:]


def test_every_problem_is_reported_at_once_naming_the_variable(tmp_path):
    res = validate(tmp_path, mlflow_replicas=0, mlflow_workers=0, mlflow_port=80, mlflow_db_owner="Mlflow",
                   mlflow_db_uri_query="user=postgres&password=x", mlflow_artifacts_bucket="Artifacts_1",
                   mlflow_s3_endpoint="http://key:secret@s3:8333", mlflow_default_permission="ALL",
                   mlflow_allowed_hosts=["https://mlflow.example.org/"], mlflow_memory_request="2Gi",
                   mlflow_memory_limit="1Gi", mlflow_name="MLflow")
    out = " ".join(res.stdout.split())
    assert res.returncode != 0
    assert "cp1: mlflow:" in out  # the host and the component
    for part in ("mlflow_replicas 0 must be at least 1",
                 "mlflow_workers 0 must be 1-16",
                 "mlflow_port 80 must be 1024-65535",
                 "mlflow_db_owner Mlflow is not a PostgreSQL name",
                 "mlflow_db_uri_query holds only libpq connection parameters",
                 "mlflow_artifacts_bucket Artifacts_1 is not a valid S3 bucket name",
                 "mlflow_s3_endpoint http://key:secret@s3:8333 is not an http(s) URL of an S3 endpoint",
                 "mlflow_default_permission ALL is not READ, EDIT, MANAGE or NO_PERMISSIONS",
                 'mlflow_allowed_hosts item "https://mlflow.example.org/" is not a host name',
                 "mlflow_memory_request 2Gi is above mlflow_memory_limit 1Gi",
                 "mlflow_name MLflow is not a DNS label"):
        assert part in out, (part, out[-3000:])


def render(tmp_path, **variables):
    """The role's manifests as ansible-core renders them, and its auth configuration."""
    variables = {"mlflow_config_checksum": "0" * 64,
                 "mlflow_db_uri": "postgresql+psycopg2://mlflow:p%40ss@mlops-pg-pooler.mlops-data.svc:5432/mlflow?x=1",
                 **variables}
    text = render_role_templates(tmp_path, "mlflow", TEMPLATES, variables)
    docs = {}
    for name in TEMPLATES[:2]:
        for doc in yaml.safe_load_all(text[name]):
            if doc:
                docs[(doc["kind"], doc["metadata"]["name"])] = doc
    return docs, text["basic_auth.ini.j2"]


def container(doc):
    return doc["spec"]["template"]["spec"]["containers"][0]


def test_the_servers_render_ha_with_every_secret_by_reference(tmp_path):
    docs, _ini = render(tmp_path)
    deploy = docs[("Deployment", "mlflow")]
    assert deploy["spec"]["replicas"] == 2
    assert deploy["spec"]["strategy"]["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": 1}
    assert docs[("PodDisruptionBudget", "mlflow")]["spec"]["maxUnavailable"] == 1
    assert docs[("Service", "mlflow")]["spec"]["type"] == "ClusterIP"
    spec = deploy["spec"]["template"]["spec"]
    assert spec["securityContext"]["runAsNonRoot"] and container(deploy)["securityContext"]["readOnlyRootFilesystem"]
    assert spec["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0][
        "podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    c = container(deploy)
    assert c["image"] == f"localhost/baremetal-mlops/mlflow:{VERSIONS['platform']['images']['mlflow']['version']}"
    assert "--artifacts-destination=s3://mlflow" in c["args"] and "--serve-artifacts" in c["args"]
    assert "--app-name=basic-auth" in c["args"]
    hosts = next(a for a in c["args"] if a.startswith("--allowed-hosts=")).split("=", 1)[1].split(",")
    assert {"mlflow.mlops-data.svc:*", "mlflow.mlops-data.svc.cluster.local:*", "localhost:*"} <= set(hosts)
    env = {e["name"]: e for e in c["env"]}
    # No secret value in the pod spec: the store URI, the admin password, the shared key and the S3 keys by reference.
    assert env["MLFLOW_BACKEND_STORE_URI"]["valueFrom"]["secretKeyRef"] == {"name": "mlflow-config", "key": "backend-store-uri"}
    assert env["MLFLOW_AUTH_ADMIN_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "mlflow-auth"
    assert env["MLFLOW_FLASK_SERVER_SECRET_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "mlflow-auth"
    assert env["AWS_SECRET_ACCESS_KEY"]["valueFrom"]["secretKeyRef"] == {"name": "seaweedfs-s3", "key": "secret-key"}
    assert env["MLFLOW_S3_ENDPOINT_URL"]["value"] == "http://seaweedfs-s3.mlops-data.svc.cluster.local:8333"
    assert env["AWS_METADATA_SERVICE_TIMEOUT"]["value"] == "1"
    assert (env["MLFLOW_SQLALCHEMYSTORE_POOL_SIZE"]["value"], env["MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW"]["value"]) == ("5", "10")
    assert not [e for e in c["env"] if "value" in e and "p%40ss" in e["value"]]
    assert deploy["spec"]["template"]["metadata"]["annotations"]["baremetal.mlops/config-sha256"] == "0" * 64
    assert c["readinessProbe"]["httpGet"]["path"] == "/health"


def test_the_migration_job_is_named_by_the_version_and_reads_the_uri_from_the_secret(tmp_path):
    docs, _ini = render(tmp_path)
    version = VERSIONS["platform"]["images"]["mlflow"]["version"]
    job = docs[("Job", f"mlflow-db-upgrade-{version.replace('.', '-')}")]
    c = container(job)
    assert "mlflow db upgrade" in c["args"][0] and "mlflow.server.auth db upgrade" in c["args"][0]
    assert c["env"][0]["valueFrom"]["secretKeyRef"] == {"name": "mlflow-config", "key": "backend-store-uri"}
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"


def test_the_auth_config_keeps_a_percent_encoded_password_through_configparser(tmp_path):
    _docs, ini = render(tmp_path)
    parser = configparser.ConfigParser()
    parser.read_string(ini)
    # configparser's interpolation would turn %40 into an error; the template doubles every %.
    assert parser["mlflow"]["database_uri"].startswith("postgresql+psycopg2://mlflow:p%40ss@mlops-pg-pooler")
    assert parser["mlflow"]["default_permission"] == "READ" and parser["mlflow"]["admin_username"] == "admin"
    assert "admin_password" not in parser["mlflow"]
    assert parser["mlflow"]["auth_cache_ttl_seconds"] == "60"


def test_without_auth_the_server_runs_the_plain_app(tmp_path):
    docs, _ini = render(tmp_path, mlflow_auth=False)
    c = container(docs[("Deployment", "mlflow")])
    assert "--app-name=basic-auth" not in c["args"]
    assert "MLFLOW_AUTH_ADMIN_PASSWORD" not in {e["name"] for e in c["env"]}
