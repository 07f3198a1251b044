"""MLflow modules against the stack's real MLflow tracking server (artifacts proxied to SeaweedFS S3).

The state-changing modules run as playbooks under targets/mlflow_*/ through ansible-playbook
(tests/unit/ansible_cli.py), with the four-step pattern asserted in the playbooks; the tests then
check the server's state with the MLflow Python client. The tracking URI reaches the modules through
MLOPS_MLFLOW_TRACKING_URI in the environment. Every name is new per test session, so reruns
against a long-running stack (MLOPS_STACK_EXTERNAL=1) do not collide.
"""

from __future__ import annotations

import json
import socket
import sys
import time
import uuid
from pathlib import Path

import pytest

from ansible_collections.baremetal.mlops.tests.unit.ansible_cli import run_ansible

TARGETS = Path(__file__).resolve().parent / "targets"
SESSION = uuid.uuid4().hex[:8]


def mlflow_env(stack):
    return {"MLOPS_MLFLOW_TRACKING_URI": stack.mlflow_uri}


def output(res):
    return "stdout:\n%s\nstderr:\n%s" % (res.stdout[-8000:], res.stderr[-3000:])


def playbook(name, tmp_path, stack, extra, timeout=480):
    varsfile = tmp_path / ("%s-vars.json" % name)
    varsfile.write_text(json.dumps(dict(ansible_python_interpreter=sys.executable, **extra)))
    res = run_ansible("ansible-playbook", "-i", "localhost,", "-e", "@%s" % varsfile, TARGETS / name / "playbook.yml",
                      env=mlflow_env(stack), timeout=timeout)
    assert res.returncode == 0, output(res)
    assert "failed=0" in res.stdout, output(res)
    return res


def run_module(stack, module, args, check=False, env=None, timeout=180):
    """One module run by ``ansible`` ad hoc; returns its result dict."""
    extra = ["--check"] if check else []
    res = run_ansible(
        "ansible", "localhost", "-i", "localhost,", "-c", "local",
        "-e", "ansible_python_interpreter=%s" % sys.executable, *extra,
        "-m", "baremetal.mlops.%s" % module, "-a", json.dumps(args),
        env=dict(mlflow_env(stack), ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json",
                 **(env or {})),
        timeout=timeout)
    assert res.returncode in (0, 2), output(res)
    return json.loads(res.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]


@pytest.fixture(scope="module")
def client(stack):
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(stack.mlflow_uri)
    return MlflowClient(tracking_uri=stack.mlflow_uri, registry_uri=stack.mlflow_uri)


@pytest.fixture(scope="module")
def logged_runs(client):
    """Two runs that each logged a tiny sklearn model as "model"; their ids."""
    import mlflow
    import mlflow.sklearn
    from sklearn.linear_model import LogisticRegression

    mlflow.set_experiment("baremetal-mlops-test-%s" % SESSION)
    run_ids = []
    for c in (1.0, 0.5):
        with mlflow.start_run() as run:
            model = LogisticRegression(C=c).fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
            mlflow.sklearn.log_model(model, name="model", pip_requirements=["scikit-learn"])
            run_ids.append(run.info.run_id)
    return run_ids


def test_mlflow_experiment_playbook(stack, client, tmp_path):
    name = "mlops-test-experiment-%s" % SESSION
    playbook("mlflow_experiment", tmp_path, stack, dict(mlflow_test_experiment=name))
    exp = client.get_experiment_by_name(name)
    assert exp.lifecycle_stage == "active"
    assert exp.tags == {"team": "platform", "tier": "2"}


def test_mlflow_model_version_playbook(stack, client, logged_runs, tmp_path):
    model = "mlops-test-version-%s" % SESSION
    playbook("mlflow_model_version", tmp_path, stack,
             dict(mlflow_test_model=model, mlflow_test_run_id=logged_runs[0], mlflow_test_run_id_2=logged_runs[1]))
    versions = sorted(client.search_model_versions("name = '%s'" % model), key=lambda v: int(v.version))
    # Check mode, the second apply and the refused run registered nothing.
    assert [(v.version, v.run_id) for v in versions] == [("1", logged_runs[0]), ("2", logged_runs[1])]
    assert versions[0].source.startswith("models:/m-")
    assert versions[0].tags == {"trained_by": "ci", "validated": "true"}


def test_mlflow_model_alias_playbook(stack, client, logged_runs, tmp_path):
    model = "mlops-test-alias-%s" % SESSION
    import mlflow

    for run_id in logged_runs:
        mlflow.register_model("runs:/%s/model" % run_id, model, await_registration_for=0)
    playbook("mlflow_model_alias", tmp_path, stack, dict(mlflow_test_model=model))
    assert client.get_registered_model(model).aliases == {}


def test_mlflow_model_info_of_a_missing_model(stack):
    res = run_module(stack, "mlflow_model_info", {"name": "mlops-test-missing-%s" % SESSION, "aliases": ["champion"]})
    assert res.get("failed") is not True, res
    assert res["changed"] is False
    assert res["exists"] is False
    assert res["registered_model"] is None
    assert res["versions"] == [] and res["alias_versions"] == {}
    assert res["missing_aliases"] == ["champion"]


def test_mlflow_probe_on_the_healthy_stack(stack, client):
    experiment = "mlops-test-probe-%s" % SESSION
    res = run_module(stack, "mlflow_probe", {"experiment": experiment})
    assert res["changed"] is False
    assert [(s["name"], s["ok"], s["component"], s["error"]) for s in res["steps"]] == [
        ("tracking", True, "mlflow tracking", None),
        ("params", True, "mlflow tracking", None),
        ("metrics", True, "mlflow tracking", None),
        ("artifact_write", True, "mlflow artifact store", None),
        ("artifact_read", True, "mlflow artifact store", None),
        ("cleanup", True, "mlflow tracking", None),
    ], res["steps"]
    assert res["ok"] is True and res["failed_component"] is None
    assert all(isinstance(s["elapsed_ms"], int) for s in res["steps"])
    # It removed what it wrote: the run is deleted, its artifact gone.
    run = client.get_run(res["run_id"])
    assert run.info.lifecycle_stage == "deleted"
    assert run.data.params["probe_token"]
    assert client.list_artifacts(res["run_id"]) == []
    assert client.get_experiment_by_name(experiment).experiment_id == res["experiment_id"]


def test_mlflow_probe_check_mode_writes_nothing(stack, client):
    experiment = "mlops-test-probe-check-%s" % SESSION
    res = run_module(stack, "mlflow_probe", {"experiment": experiment}, check=True)
    assert res["changed"] is False
    assert res["ok"] is True and res["run_id"] is None
    assert res["steps"][0]["name"] == "tracking" and res["steps"][0]["ok"] is True
    assert [(s["name"], s["skipped"], s["ok"]) for s in res["steps"][1:]] == [
        (name, True, False) for name in ("params", "metrics", "artifact_write", "artifact_read", "cleanup")]
    assert client.get_experiment_by_name(experiment) is None


def test_mlflow_probe_fails_when_the_tracking_server_is_unreachable(stack):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        uri = "http://127.0.0.1:%d" % sock.getsockname()[1]
    t0 = time.monotonic()
    res = run_module(stack, "mlflow_probe", {"tracking_uri": uri, "timeout": 3})
    assert time.monotonic() - t0 < 120
    assert res["failed"] is True
    assert res["msg"].startswith("%s mlflow: search experiments: cannot connect to the tracking server" % uri)
    assert res["kind"] == "unreachable"
