"""roles/feast's checks before anything changes and its manifests as rendered, run by ansible-playbook for real on
localhost; nothing here talks to a cluster (the role has not run on the cluster yet). feature_store.yaml is loaded
by Feast's own RepoConfig when the controller's venv has Feast."""
import yaml

from ansible_collections.baremetal.mlops.tests.unit.ansible_cli import ROOT, render_role_templates, run_role_validate

TEMPLATES = ("feast.yaml.j2", "apply-job.yaml.j2", "example-data.yaml.j2", "feature_store.yaml.j2")
# role_path (under the role's templates and example repository) is defined only inside the role's own tasks: the
# render play, outside them, names the role's directory.
ROLE_DIR = str(ROOT / "roles" / "feast")


def test_defaults_pass(tmp_path):
    res = run_role_validate(tmp_path, "feast")
    assert res.returncode == 0, res.stdout[-3000:]


def test_an_unknown_registry_a_missing_repository_and_a_zero_objective_are_refused_at_once(tmp_path):
    res = run_role_validate(tmp_path, "feast", {
        "feast_registry_type": "file", "feast_repo_path": str(tmp_path / "no-such-repo"),
        "feast_freshness_objectives": {"customer_transactions_1h": 0, "bad name": 60},
        "feast_materialize_schedule": "every 10 minutes please", "feast_redis_sentinel": "redis://x"})
    out = " ".join(res.stdout.split())
    assert res.returncode != 0 and "cp1: feast:" in out
    for part in ("feast_registry_type file is not a registry this role deploys: sql",
                 f"feast_repo_path {tmp_path / 'no-such-repo'} holds no feature definitions (*.py)",
                 "feast_freshness_objectives.customer_transactions_1h is 0: a freshness objective is a whole number "
                 "of seconds above 0",
                 'feast_freshness_objectives names "bad name", not a feature view name',
                 "feast_materialize_schedule every 10 minutes please must have five cron fields",
                 "feast_redis_sentinel redis://x is not HOST:PORT"):
        assert part in out, (part, out[-3000:])


def render(tmp_path, **variables):
    variables = {"feast_config_checksum": "0" * 64, "feast_role_dir": ROLE_DIR, **variables}
    text = render_role_templates(tmp_path, "feast", TEMPLATES, variables)
    docs = {}
    for name in TEMPLATES[:3]:
        for doc in yaml.safe_load_all(text[name]):
            docs[(doc["kind"], doc["metadata"]["name"])] = doc
    return docs, text["feature_store.yaml.j2"]


def pod_spec(doc):
    spec = doc["spec"]
    if doc["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return spec["template"]["spec"]


def test_feature_store_yaml_holds_no_secret_and_names_the_data_layer(tmp_path):
    _docs, text = render(tmp_path)
    store = yaml.safe_load(text)
    assert store["registry"]["registry_type"] == "sql"
    assert store["registry"]["path"].startswith(
        "postgresql+psycopg://feast:${FEAST_PG_PASSWORD_URLENCODED}@mlops-pg-pooler.mlops-data.svc:5432/feast_registry?")
    assert "tcp_user_timeout=10000" in store["registry"]["path"]
    assert (store["offline_store"]["host"], store["offline_store"]["database"], store["offline_store"]["password"]) == (
        "mlops-pg-rw.mlops-data.svc", "feast_offline", "${FEAST_PG_PASSWORD}")
    assert store["online_store"] == {"type": "redis", "redis_type": "redis_sentinel", "sentinel_master": "redis",
                                     "connection_string": "redis-sentinel:26379,password=${FEAST_REDIS_PASSWORD}"}


def test_the_feature_servers_the_apply_job_and_the_cronjob_read_the_repository_and_the_secret(tmp_path):
    docs, _text = render(tmp_path, feast_materialize_schedule="*/5 * * * *")
    deploy, cron = docs[("Deployment", "feast")], docs[("CronJob", "feast-materialize")]
    job = next(d for (kind, n), d in docs.items() if kind == "Job" and n.startswith("feast-apply-"))
    first = next(d for (kind, n), d in docs.items() if kind == "Job" and n.startswith("feast-materialize-"))
    assert deploy["spec"]["replicas"] == 2 and docs[("PodDisruptionBudget", "feast")]["spec"]["maxUnavailable"] == 1
    assert cron["spec"]["schedule"] == "*/5 * * * *" and cron["spec"]["concurrencyPolicy"] == "Forbid"
    commands = {}
    for key, doc in (("Deployment", deploy), ("CronJob", cron), ("Job", job), ("first", first)):
        spec = pod_spec(doc)
        c = spec["containers"][0]
        assert c["envFrom"] == [{"secretRef": {"name": "feast-store"}}]
        assert spec["securityContext"]["runAsNonRoot"] and c["securityContext"]["readOnlyRootFilesystem"]
        assert {"name": "repo-src", "configMap": {"name": "feast-repo"}} in spec["volumes"]
        commands[key] = c["args"][0]
    assert commands["Deployment"].endswith("exec feast serve --host 0.0.0.0 --port 6566")
    assert commands["Job"].endswith("exec feast apply")
    assert 'exec feast materialize-incremental "$(date -u +%Y-%m-%dT%H:%M:%S)"' in commands["CronJob"]
    assert commands["first"] == commands["CronJob"]  # the applied repository's first materialization, now
    assert pod_spec(deploy)["containers"][0]["readinessProbe"]["httpGet"]["path"] == "/health"
    assert "readinessProbe" not in pod_spec(job)["containers"][0]
    assert job["metadata"]["name"].startswith("feast-apply-") and len(job["metadata"]["name"]) == len("feast-apply-") + 10


def test_the_apply_and_first_materialize_jobs_are_named_by_the_repository(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "views.py").write_text((ROOT / "roles" / "feast" / "files" / "example_repo" / "customer_transactions.py").read_text())

    def jobs(path, **variables):
        return sorted(n for k, n in render(path, **variables)[0] if k == "Job" and not n.startswith("feast-example-data"))

    one = jobs(tmp_path / "a")
    two = jobs(tmp_path / "b", feast_repo_path=str(repo))
    (repo / "views.py").write_text((repo / "views.py").read_text() + "\n# changed\n")
    three = jobs(tmp_path / "c", feast_repo_path=str(repo))
    assert [n.rsplit("-", 1)[0] for n in one] == ["feast-apply", "feast-materialize"]
    assert one != two != three and one == jobs(tmp_path / "d")
    assert len(jobs(tmp_path / "e", feast_materialize_on_apply=False)) == 1


def test_the_example_producer_runs_once_named_by_its_script_and_on_its_schedule_with_the_password_from_the_secret(
        tmp_path):
    docs, _text = render(tmp_path, feast_example_data_schedule="*/5 * * * *", feast_example_data_customers=7)
    script = (ROOT / "roles" / "feast" / "files" / "example_data.py").read_text()
    assert docs[("ConfigMap", "feast-example-data")]["data"]["example_data.py"] == script.rstrip("\n")
    job = next(d for (kind, n), d in docs.items() if kind == "Job" and n.startswith("feast-example-data-"))
    cron = docs[("CronJob", "feast-example-data")]
    assert cron["spec"]["schedule"] == "*/5 * * * *"
    for doc in (job, cron):
        spec = pod_spec(doc)
        c = spec["containers"][0]
        assert c["args"][0].endswith("exec python3 /scripts/example_data.py")
        assert {"name": "scripts", "configMap": {"name": "feast-example-data"}} in spec["volumes"]
        env = {e["name"]: e["value"] for e in c["env"]}
        assert env["FEAST_PG_HOST"] == "mlops-pg-rw.mlops-data.svc" and env["FEAST_EXAMPLE_CUSTOMERS"] == "7"
        assert "FEAST_PG_PASSWORD" not in env and c["envFrom"] == [{"secretRef": {"name": "feast-store"}}]


def test_the_example_producers_schedule_and_customers_are_checked_when_it_is_on(tmp_path):
    bad = {"feast_example_data_schedule": "hourly", "feast_example_data_customers": 0}
    assert run_role_validate(tmp_path / "off", "feast", bad).returncode == 0
    res = run_role_validate(tmp_path / "on", "feast", {**bad, "feast_example_data": True})
    out = " ".join(res.stdout.split())
    assert res.returncode != 0
    assert "feast_example_data_schedule hourly must have five cron fields" in out, out[-3000:]
    assert "feast_example_data_customers 0 must be a whole number above 0" in out, out[-3000:]


def test_feast_itself_loads_the_rendered_feature_store_yaml_with_the_passwords_from_the_environment(tmp_path, monkeypatch):
    from pathlib import Path

    from feast.repo_config import load_repo_config

    _docs, text = render(tmp_path)
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "feature_store.yaml").write_text(text)
    monkeypatch.setenv("FEAST_PG_PASSWORD", "p@ss/word")
    monkeypatch.setenv("FEAST_PG_PASSWORD_URLENCODED", "p%40ss%2Fword")
    monkeypatch.setenv("FEAST_REDIS_PASSWORD", "redis-secret")
    config = load_repo_config(repo, Path(repo / "feature_store.yaml"))
    assert config.registry.registry_type == "sql" and "feast:p%40ss%2Fword@mlops-pg-pooler" in config.registry.path
    assert config.offline_store.password == "p@ss/word" and config.offline_store.sslmode == "require"
    assert config.online_store.connection_string == "redis-sentinel:26379,password=redis-secret"
    assert config.project == "platform"
