"""The outside tester's findings against verify.yml, each reproduced on the real stack, and its class.

Every test breaks one thing for real, runs the real verify.yml, checks the
report names the cause, and repairs it:

* identity: a misrouted ingress (a proxy in front of the real KServe server
  rewriting the model name) makes another model answer at the configured
  URL; a model the server does not know (real 404); replies that lack the
  fields the checks rely on (the proxy strips them);
* a check never vanishes: the champion's version deleted from the registry;
* "not run" is never "ok": MLflow's database renamed away, so tracking fails
  and the artifact store is not run - and the server's own error text
  reaches the report;
* the cause travels: a Feast registry with one table dropped; a Redis that
  wants a password verify was not given;
* task timeouts cover a request's retries (checked before any layer runs).
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys

import psycopg2
import pytest

from feast_helpers import FEAST_REPO
from platform_helpers import RewritingProxy, feast_cli, mlflow_env, run_verify


def assert_fails_with(run, key):
    assert run.report is not None, run.explain()
    assert run.proc.returncode != 0 and not run.report["ok"], run.explain()
    found = [c for c in run.report["checks"] if c["key"] == key]
    assert found, f"no {key} in {json.dumps(run.report['checks'], indent=1)}"
    assert not found[0]["ok"], found[0]
    return found[0]


def by_key(run):
    return {c["key"]: c for c in run.report["checks"]}


def assert_green(run):
    assert run.report is not None and run.proc.returncode == 0 and run.report["ok"], run.explain()
    assert run.report["counts"]["failed"] == 0 and run.report["counts"]["not_run"] == 0, run.report["counts"]


# -- identity before behaviour


def test_another_model_answering_at_the_url_fails_identity_and_nothing_else_is_judged(platform, report_dir):
    asked = platform.model + "-b"

    def route(path):  # the ingress sends model B's traffic to model A's predictor
        return path.replace("/" + asked, "/" + platform.model)

    with RewritingProxy(platform.kserve.url, path_map=route) as proxy:
        inventory = platform.inventory("misrouted.yml", verify_kserve={"url": proxy.url, "model": asked})
        run = run_verify(inventory, report_dir, "kserve")
    ident = assert_fails_with(run, "kserve.identity")
    assert f"names model '{platform.model}', not '{asked}'" in ident["seen"], ident
    assert "another model" in ident["fix"]
    checks = by_key(run)
    for key in ("kserve.ready", "kserve.prediction", "kserve.champion"):
        assert checks[key]["status"] == "not_run" and not checks[key]["ok"], checks[key]
        assert "identity did not pass" in checks[key]["seen"]
    # The proxy itself passes identity when it routes the name it is asked for.
    with RewritingProxy(platform.kserve.url) as proxy:
        assert_green(run_verify(platform.inventory("proxied.yml", verify_kserve={"url": proxy.url}), report_dir,
                                "kserve"))


def test_a_model_the_server_does_not_know_is_an_identity_failure_not_not_ready(platform, report_dir):
    inventory = platform.inventory("unknown-model.yml", verify_kserve={"model": "no-such-model"})
    run = run_verify(inventory, report_dir, "kserve")
    ident = assert_fails_with(run, "kserve.identity")
    assert "does not know model no-such-model" in ident["seen"] and "HTTP 404" in ident["seen"], ident
    assert "InferenceService's name" in ident["fix"]
    assert by_key(run)["kserve.ready"]["status"] == "not_run"


@pytest.mark.parametrize("path_part,field", [("/ready", "ready"), ("/infer", "model_name"), ("", "name")])
def test_a_reply_without_a_field_the_checks_rely_on_is_a_protocol_failure(platform, report_dir, path_part, field):
    def strip(path, body):
        if isinstance(body, dict) and path.split("?")[0].endswith(platform.model + path_part):
            body.pop(field, None)
        return body

    with RewritingProxy(platform.kserve.url, body_map=strip) as proxy:
        run = run_verify(platform.inventory(f"strip-{field}.yml", verify_kserve={"url": proxy.url}), report_dir,
                         "kserve")
    endpoint = assert_fails_with(run, "kserve.endpoint")
    assert f"without '{field}'" in endpoint["seen"], endpoint
    for key in ("kserve.identity", "kserve.ready", "kserve.prediction", "kserve.champion"):
        assert by_key(run)[key]["status"] == "not_run", by_key(run)[key]


# -- a check never vanishes


def mlflow_call(stack, code: str, *args: str) -> str:
    res = subprocess.run([sys.executable, "-c", "import sys; from mlflow import MlflowClient; c = MlflowClient(); "
                          + code, *args], env=mlflow_env(stack), capture_output=True, text=True, timeout=120,
                         check=False)
    assert res.returncode == 0, res.stderr
    return res.stdout.strip()


def test_champion_version_deleted_reports_serves_the_champion_as_not_run_and_fails(platform, stack, report_dir):
    name = platform.model
    source = mlflow_call(stack, "print(c.get_model_version(sys.argv[1], sys.argv[2]).source)", name,
                         platform.versions[0])
    # MLflow 3: a logged model's source (models:/m-...) is registered with its model_id.
    extra = mlflow_call(stack, "s = sys.argv[2]; v = c.create_model_version(sys.argv[1], s, model_id=s.split('/')[-1] "
                        "if s.startswith('models:/m-') else None); "
                        "c.set_registered_model_alias(sys.argv[1], 'champion', v.version); "
                        "c.delete_model_version(sys.argv[1], v.version); print(v.version)", name, source)
    try:
        run = run_verify(platform.inventory(), report_dir, "kserve")
        champ = assert_fails_with(run, "kserve.champion")
        assert champ["status"] == "not_run" and "no alias champion" in champ["seen"], champ
        assert "alias" in champ["fix"]
        # The answers cannot be compared with an unknown champion either.
        answers = assert_fails_with(run, "kserve.champion_predictions")
        assert answers["status"] == "not_run" and "champion is unknown" in answers["seen"], answers
        assert "2 not run" in run.report_dir.joinpath("verify-summary.txt").read_text()
        assert extra not in platform.versions
    finally:
        mlflow_call(stack, "c.set_registered_model_alias(sys.argv[1], 'champion', sys.argv[2])", name,
                    platform.versions[0])
    assert_green(run_verify(platform.inventory(), report_dir, "kserve"))


def test_a_champion_whose_files_are_gone_or_whose_run_is_deleted_is_not_loadable(platform, stack, report_dir):
    """Outside tester's finding (issue 21): the champion's artifacts deleted, or its run deleted, and `champion alias
    resolves` passed (the version is READY). Now the files are read the way a model server loads them."""
    name = platform.model
    # A version of its own: a new run's model, registered, its files deleted through MLflow's artifact proxy (the
    # server deletes them from the object store), the champion alias on it.
    gone = mlflow_call(
        stack, "import mlflow, mlflow.sklearn, numpy as np; from sklearn.linear_model import LogisticRegression; "
        "from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository; "
        "m = LogisticRegression().fit(np.array([[0.], [1.]]), np.array([0, 1])); "
        "mlflow.set_experiment('baremetal-mlops-tests'); r = mlflow.start_run(); "
        "info = mlflow.sklearn.log_model(m, name='model', pip_requirements=['scikit-learn']); mlflow.end_run(); "
        "v = mlflow.register_model(info.model_uri, sys.argv[1]).version; "
        "get_artifact_repository(c.get_model_version_download_uri(sys.argv[1], v)).delete_artifacts(); "
        "c.set_registered_model_alias(sys.argv[1], 'champion', v); print(v)", name).splitlines()[-1]
    try:
        run = run_verify(platform.inventory(), report_dir, "mlflow")
        assert by_key(run)["mlflow.champion"]["ok"], by_key(run)["mlflow.champion"]  # the alias still resolves
        loadable = assert_fails_with(run, "mlflow.champion_model")
        assert f"version {gone}" in loadable["seen"] and "no MLmodel file" in loadable["seen"], loadable
        assert "restore" in loadable["fix"], loadable
    finally:
        mlflow_call(stack, "c.set_registered_model_alias(sys.argv[1], 'champion', sys.argv[2]); "
                    "c.delete_model_version(sys.argv[1], sys.argv[3])", name, platform.versions[0], gone)
    run_id = mlflow_call(stack, "print(c.get_model_version(sys.argv[1], sys.argv[2]).run_id)", name,
                         platform.versions[0])
    mlflow_call(stack, "c.delete_run(sys.argv[1])", run_id)
    try:
        run = run_verify(platform.inventory(), report_dir, "mlflow")
        loadable = assert_fails_with(run, "mlflow.champion_model")
        assert f"its run {run_id} is deleted" in loadable["seen"], loadable
    finally:
        mlflow_call(stack, "c.restore_run(sys.argv[1])", run_id)
    assert_green(run_verify(platform.inventory(), report_dir, "mlflow"))


# -- "not run" is never "ok", and the server's own error travels


@contextlib.contextmanager
def database_renamed(stack, name: str):
    conn = psycopg2.connect(**stack.pg_superuser())
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
        cur.execute(f'ALTER DATABASE "{name}" RENAME TO "{name}_gone"')
    try:
        yield
    finally:
        with conn.cursor() as cur:
            cur.execute(f'ALTER DATABASE "{name}_gone" RENAME TO "{name}"')
            cur.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        conn.close()


def test_mlflow_database_gone_fails_tracking_with_the_servers_cause_and_artifacts_not_run(
        platform, stack, report_dir):
    with database_renamed(stack, stack.vars["MLOPS_PG_DB_MLFLOW"]):
        run = run_verify(platform.inventory(), report_dir, "mlflow")
    tracking = assert_fails_with(run, "mlflow.tracking")
    assert 'database "mlflow" does not exist' in tracking["seen"], tracking
    assert "Fix:" not in tracking["seen"]
    artifacts = by_key(run)["mlflow.artifacts"]
    assert artifacts["status"] == "not_run" and not artifacts["ok"], artifacts
    assert "ok" not in artifacts["seen"].split() and "step tracking failed" in artifacts["seen"]
    assert_green(run_verify(platform.inventory(), report_dir, "mlflow"))


def test_feast_registry_with_a_table_missing_names_it_instead_of_never_applied(platform, stack, report_dir):
    conn = psycopg2.connect(**stack.pg("feast"))
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("DROP TABLE validation_references")
    conn.close()
    try:
        run = run_verify(platform.inventory(), report_dir, "feast")
        fresh = assert_fails_with(run, "feast.freshness")
        assert "schema is incomplete" in fresh["seen"] and "validation_references" in fresh["seen"], fresh
        assert "never applied" not in fresh["seen"].replace("not one that was never applied", "")
        assert "backup" in fresh["fix"]
    finally:
        feast_cli(stack, "apply")  # recreates the dropped (empty) table
    assert_green(run_verify(platform.inventory(), report_dir, "feast"))
    assert FEAST_REPO.exists()


def test_redis_wanting_a_password_reports_authentication_not_a_task_timeout(platform, report_dir):
    inventory = platform.inventory("redis-nopass.yml", verify_redis={"password": None})
    run = run_verify(inventory, report_dir, "data_services")
    reach = assert_fails_with(run, "redis.reachable")
    assert "Authentication required" in reach["seen"], reach
    assert "timed out" not in reach["seen"]
    for key in ("redis.maxmemory", "redis.policy"):
        assert by_key(run)[key]["status"] == "not_run"
    assert by_key(run)["postgresql.headroom"]["ok"]


def test_a_task_timeout_that_cannot_cover_the_requests_is_refused_before_any_check(platform, report_dir):
    inventory = platform.inventory("timeouts.yml", verify_timeout_s=10, verify_task_timeout_s=20)
    run = run_verify(inventory, report_dir, "data_services")
    assert run.proc.returncode != 0
    assert "Set verify_task_timeout_s to at least 60 s" in run.proc.stdout, run.explain()
    assert "Read PostgreSQL connection use" not in run.proc.stdout
