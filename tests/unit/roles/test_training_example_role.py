"""roles/training_example's checks before anything changes and its Job as rendered, run by ansible-playbook for real
on localhost; the Job itself runs on the cluster (tests/integration/test_platform_data.py). The training script is
compiled here, not run (it needs Feast's offline store and MLflow)."""
import py_compile

import yaml

from ansible_collections.baremetal.mlops.tests.unit.ansible_cli import ROOT, render_role_templates, run_role_validate

ROLE_DIR = str(ROOT / "roles" / "training_example")


def render(tmp_path, **variables):
    text = render_role_templates(tmp_path, "training_example", ["job.yaml.j2"],
                                 {"training_example_role_dir": ROLE_DIR, **variables})["job.yaml.j2"]
    return {doc["kind"]: doc for doc in yaml.safe_load_all(text)}


def test_defaults_pass_and_the_script_compiles(tmp_path):
    res = run_role_validate(tmp_path, "training_example")
    assert res.returncode == 0, res.stdout[-3000:]
    py_compile.compile(str(ROOT / "roles" / "training_example" / "files" / "train.py"), doraise=True,
                       cfile=str(tmp_path / "train.pyc"))


def test_bad_input_is_refused_at_once_naming_each_variable(tmp_path):
    res = run_role_validate(tmp_path, "training_example", {
        "training_example_name": "Train_Me", "training_example_feature_view": "views; DROP TABLE x", "training_example_features": [],
        "training_example_days": 0, "training_example_alias": "latest", "training_example_model_name": " "})
    out = " ".join(res.stdout.split())
    assert res.returncode != 0 and "cp1: training_example:" in out
    for part in ("training_example_name Train_Me is not a DNS label", "training_example_feature_view views; DROP TABLE x is not a "
                 "plain identifier", "training_example_features must list", "training_example_days 0 must be a whole number",
                 'training_example_alias latest is not an alias MLflow accepts', "training_example_model_name must not be empty"):
        assert part in out, (part, out[-3000:])


def test_the_job_reads_feasts_repository_and_mlflows_credentials_from_their_objects_and_is_named_by_its_inputs(
        tmp_path):
    docs = render(tmp_path / "a")
    job = docs["Job"]
    c = job["spec"]["template"]["spec"]["containers"][0]
    assert c["envFrom"] == [{"secretRef": {"name": "feast-store"}}]
    env = {e["name"]: e for e in c["env"]}
    assert env["MLFLOW_TRACKING_URI"]["value"] == "http://mlflow:5000"
    assert env["MLFLOW_TRACKING_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "mlflow-auth", "key": "admin-password"}
    assert env["TRAIN_FEATURES"]["value"] == "txn_count_1h,txn_amount_avg_1h,txn_amount_max_1h"
    assert env["TRAIN_ALIAS"]["value"] == "challenger"
    assert {"name": "repo-src", "configMap": {"name": "feast-repo"}} in job["spec"]["template"]["spec"]["volumes"]
    assert docs["ConfigMap"]["data"]["train.py"].startswith('"""The example training Job')
    same = render(tmp_path / "b")["Job"]["metadata"]["name"]
    other = render(tmp_path / "c", training_example_alias="candidate")["Job"]["metadata"]["name"]
    assert job["metadata"]["name"] == same != other and same.startswith("train-customer-spend-")
