"""roles/postgresql's checks before anything changes and its custom resources as rendered, run by
ansible-playbook for real on localhost; nothing here talks to a cluster (the role runs on the real cluster in
tests/integration/test_platform_data.py). The rendered Cluster and Pooler are validated against CloudNativePG
1.30.0's own CRD schemas (../shared/crds)."""
import importlib.util
import json

import pytest
import yaml

from ansible_collections.baremetal.mlops.tests.unit.ansible_cli import ROOT, role_tasks_play, run_local_play

BUNDLE = {"postgresql_bundle_dir": "/nonexistent/platform-bundle"}
CRDS = ROOT.parent / "shared" / "crds" / "cloudnative-pg-v1.30.0"


def validate(tmp_path, **variables):
    return run_local_play(tmp_path, role_tasks_play("postgresql"), "-e", json.dumps({**BUNDLE, **variables}))


def test_defaults_pass(tmp_path):
    res = validate(tmp_path)
    assert res.returncode == 0, res.stdout[-3000:]


def test_every_problem_is_reported_at_once_naming_the_variable_and_the_fix(tmp_path):
    res = validate(tmp_path, postgresql_instances=1, postgresql_pooler_pool_size=30,
                   postgresql_databases=[{"name": "mlflow", "owner": "mlflow"}, {"name": "Bad-Name", "owner": "x"},
                                         {"name": "postgres", "owner": "feast"}],
                   postgresql_backup_schedule="0 2 * * *", postgresql_storage_size="lots",
                   postgresql_memory_request="2Gi", postgresql_pooler_mode="statement")
    out = " ".join(res.stdout.split())
    assert res.returncode != 0
    assert "cp1: postgresql:" in out  # names the host and the component
    assert "postgresql_instances is 1 with postgresql_ha true" in out and "Fix: postgresql_instances >= 2" in out
    assert "postgresql_synchronous_replicas 1 must be between 0 and postgresql_instances - 1 (0)" in out
    assert 'postgresql_databases item {"name": "Bad-Name", "owner": "x"} needs name and owner' in out
    assert "postgresql_databases item postgres/feast names a database or role PostgreSQL or CloudNativePG keeps" in out
    assert ("the poolers may open 180 server connections (postgresql_pooler_instances 2 x postgresql_pooler_pool_size "
            "30 x 3 databases), more than postgresql_max_connections 100 minus 20") in out
    assert "postgresql_backup_schedule 0 2 * * * must have six fields, seconds first" in out
    assert "postgresql_storage_size lots is not a quantity" in out
    assert "postgresql_memory_request 2Gi is above postgresql_memory_limit 1Gi" in out
    assert "postgresql_pooler_mode statement is not session or transaction" in out


def test_without_the_platform_bundle_the_fix_is_named(tmp_path):
    res = run_local_play(tmp_path, role_tasks_play("postgresql"))
    assert res.returncode != 0
    assert "postgresql_bundle_dir (mlops_platform_bundle_dir) is not set" in " ".join(res.stdout.split())


def test_without_ha_one_instance_and_one_pooler_are_allowed(tmp_path):
    res = validate(tmp_path, postgresql_ha=False, postgresql_instances=1, postgresql_synchronous_replicas=0,
                   postgresql_pooler_instances=1)
    assert res.returncode == 0, res.stdout[-3000:]


def render(tmp_path, **variables):
    out = tmp_path / "rendered"
    out.mkdir(parents=True)
    play = role_tasks_play("postgresql", then="""
            - name: Render
              ansible.builtin.copy:
                content: "{{ lookup('ansible.builtin.template', '%s/' ~ item) }}"
                dest: "%s/{{ item }}"
                mode: "0600"
              loop: [cluster.yaml.j2, pooler.yaml.j2]
        """ % (ROOT / "roles" / "postgresql" / "templates", out))
    res = run_local_play(tmp_path, play, "-e", json.dumps({**BUNDLE, **variables}))
    assert res.returncode == 0, res.stdout[-3000:]
    return {name: yaml.safe_load((out / name).read_text()) for name in ("cluster.yaml.j2", "pooler.yaml.j2")}


def _script(name):
    spec = importlib.util.spec_from_file_location(f"mlops_{name}_script", ROOT / "scripts" / "bundle.d" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cnpg_module_crds():
    """config/crd/bases of CloudNativePG's Go module at the pin, where the platform bundle's build keeps it (the
    builder's own rule for the module cache: scripts/bundle.d/platform.py module_dir)."""
    pin = yaml.safe_load((ROOT / "versions.yml").read_text())["platform"]["images"]["cloudnative_pg"]
    return _script("platform").module_dir(_script("bundle"), pin["go_module"], pin["go_version"]) / "config" / "crd" / "bases"


def crd_schema(plural):
    """The CRD's schema as CloudNativePG ships it: ../shared/crds, else its Go module in the build cache (a clean
    clone has no ../shared; CI's warm cache has the module). Neither: skipped, naming both places."""
    name = f"postgresql.cnpg.io_{plural}.yaml"
    path = next((p for p in (CRDS / name, cnpg_module_crds() / name) if p.is_file()), None)
    if path is None:
        pytest.skip(f"{name} is in neither {CRDS} nor {cnpg_module_crds()} (built by `scripts/bundle build "
                    "--platform`): the rendered objects are not checked against CloudNativePG's schema here")
    crd = yaml.safe_load(path.read_text())
    return next(v for v in crd["spec"]["versions"] if v["name"] == "v1")["schema"]["openAPIV3Schema"]


def test_the_cluster_and_pooler_render_ha_and_match_cloudnative_pgs_schemas(tmp_path):
    jsonschema = pytest.importorskip("jsonschema")
    docs = render(tmp_path)
    cluster, pooler = docs["cluster.yaml.j2"], docs["pooler.yaml.j2"]
    jsonschema.validate(cluster, crd_schema("clusters"))
    jsonschema.validate(pooler, crd_schema("poolers"))
    spec = cluster["spec"]
    assert spec["instances"] == 3 and spec["imageName"] == "localhost/baremetal-mlops/postgresql:17.12"
    assert spec["affinity"]["podAntiAffinityType"] == "required" and spec["enableSuperuserAccess"] is False
    assert spec["postgresql"]["synchronous"] == {"method": "any", "number": 1, "dataDurability": "required"}
    assert spec["postgresql"]["parameters"] == {"max_connections": "100", "shared_buffers": "256MB"}
    assert [r["name"] for r in spec["managed"]["roles"]] == ["mlflow", "feast"]
    assert spec["managed"]["roles"][1]["passwordSecret"] == {"name": "mlops-pg-feast"}
    assert spec["bootstrap"]["initdb"] == {"database": "mlflow", "owner": "mlflow", "secret": {"name": "mlops-pg-mlflow"}}
    store = spec["backup"]["barmanObjectStore"]
    assert store["destinationPath"] == "s3://backups/postgresql"
    assert store["s3Credentials"]["secretAccessKey"] == {"name": "seaweedfs-s3", "key": "secret-key"}
    assert pooler["spec"]["pgbouncer"] == {
        "poolMode": "transaction",
        "parameters": {"max_client_conn": "1000", "default_pool_size": "10", "tcp_user_timeout": "10000",
                       "tcp_keepalive": "1", "tcp_keepidle": "10", "tcp_keepintvl": "5", "tcp_keepcnt": "3",
                       "server_connect_timeout": "5"}}
    assert pooler["spec"]["template"]["spec"]["containers"][0]["image"] == "localhost/baremetal-mlops/pgbouncer:1.24.1"


def test_without_backups_or_synchronous_standbys_the_cluster_has_neither(tmp_path):
    spec = render(tmp_path, postgresql_backup=False, postgresql_synchronous_replicas=0)["cluster.yaml.j2"]["spec"]
    assert "backup" not in spec and "synchronous" not in spec["postgresql"]
