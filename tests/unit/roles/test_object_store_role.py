"""roles/object_store's checks before anything changes (work in progress: only validate.yml exists), run by
ansible-playbook for real on localhost; nothing here talks to a cluster."""
import json
import sys
import textwrap

import yaml

from ansible_collections.baremetal.mlops.tests.unit.ansible_cli import run_ansible


def validate(tmp_path, **variables):
    inv = tmp_path / "hosts.yml"
    inv.write_text(yaml.safe_dump({"all": {"hosts": {"cp1": {"ansible_connection": "local",
                                                             "ansible_python_interpreter": sys.executable}}}}))
    play = tmp_path / "play.yml"
    play.write_text(textwrap.dedent("""
        - name: Validate roles/object_store
          hosts: cp1
          gather_facts: false
          tasks:
            - name: Validate
              ansible.builtin.include_role:
                name: baremetal.mlops.object_store
                tasks_from: validate
        """))
    extra = ["-e", json.dumps(variables)] if variables else []
    return run_ansible("ansible-playbook", "-i", inv, play, *extra, timeout=120)


def test_defaults_pass(tmp_path):
    res = validate(tmp_path)
    assert res.returncode == 0, res.stdout[-3000:]


def test_every_problem_is_reported_at_once_naming_the_variable_and_the_fix(tmp_path):
    res = validate(tmp_path, object_store_kind="ceph", object_store_volume_servers=1, object_store_masters=2,
                   object_store_buckets=["mlflow", "Models_2026", "ab", "mlflow"], object_store_volume_size="lots")
    out = " ".join(res.stdout.split())
    assert res.returncode != 0
    assert "cp1: object_store:" in out  # names the host and the component
    assert "object_store_kind ceph is not an object store this collection deploys (seaweedfs, minio). Fix: seaweedfs" in out
    assert ("bucket Models_2026 in object_store_buckets is not a valid S3 bucket name: it may hold only lowercase "
            "letters, digits, dots and hyphens") in out
    assert "bucket ab in object_store_buckets is not a valid S3 bucket name: it has 2 characters, not 3 to 63" in out
    assert "object_store_buckets names a bucket twice" in out
    assert "object_store_volume_servers is 1 with object_store_ha true" in out and "Fix:" in out
    assert "object_store_masters 2 must be odd and at least 3" in out
    assert "object_store_volume_size lots is not a quantity" in out


def test_minio_is_refused_as_not_built_yet(tmp_path):
    res = validate(tmp_path, object_store_kind="minio")
    assert res.returncode != 0 and "object_store_kind minio is not built yet" in " ".join(res.stdout.split())


def test_without_ha_one_of_each_is_allowed(tmp_path):
    res = validate(tmp_path, object_store_ha=False, object_store_masters=1, object_store_volume_servers=1,
                   object_store_filers=1)
    assert res.returncode == 0, res.stdout[-3000:]
