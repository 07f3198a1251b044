"""roles/redis's checks before anything changes, run by ansible-playbook for real on localhost (its
validate.yml only: nothing here talks to a cluster; the role itself runs on the real cluster in
tests/integration/test_platform_data.py)."""
import pytest

from ansible_collections.baremetal.mlops.tests.unit.ansible_cli import role_tasks_play, run_local_play


def validate(tmp_path, **variables):
    play = role_tasks_play("redis", then="""
            - name: Show what was derived
              ansible.builtin.debug:
                msg: "maxmemory={{ redis_maxmemory_bytes }} limit={{ redis_limit_bytes }}"
        """)
    extra = [a for k, v in variables.items() for a in ("-e", f"{k}={v}")]
    return run_local_play(tmp_path, play, *extra)


def test_defaults_pass_and_maxmemory_is_derived_with_headroom(tmp_path):
    res = validate(tmp_path)
    assert res.returncode == 0, res.stdout[-3000:]
    assert f"maxmemory={512 * 2 ** 20 * 60 // 100} limit={512 * 2 ** 20}" in res.stdout


def test_an_explicit_maxmemory_below_the_limit_is_taken(tmp_path):
    res = validate(tmp_path, redis_maxmemory="300Mi", redis_memory_limit="1Gi")
    assert res.returncode == 0, res.stdout[-3000:]
    assert f"maxmemory={300 * 2 ** 20} limit={2 ** 30}" in res.stdout


def test_every_problem_is_reported_at_once_naming_the_variable_and_the_fix(tmp_path):
    res = validate(tmp_path, redis_maxmemory="600Mi", redis_instances=1, redis_sentinels=4,
                   redis_maxmemory_policy="lru", redis_namespace="Bad_NS", redis_storage_size="lots")
    out = " ".join(res.stdout.split())
    assert res.returncode != 0
    assert "redis_maxmemory 600Mi is not below redis_memory_limit 512Mi" in out and "OOM-killed" in out
    assert "Fix: lower redis_maxmemory" in out
    assert "redis_instances is 1 with redis_ha true" in out
    assert "redis_sentinels 4 must be odd and at least 3" in out
    assert "redis_maxmemory_policy lru is not a Redis policy" in out
    assert "redis_namespace Bad_NS is not a namespace name" in out
    assert "redis_storage_size lots is not a storage quantity" in out
    assert "cp1: redis:" in out  # names the host and the component


@pytest.mark.parametrize("variables, message", [
    ({"redis_memory_limit": "512MB"}, "redis_memory_limit 512MB is not a memory quantity"),
    ({"redis_maxmemory": "512Mi"}, "redis_maxmemory 512Mi is not below redis_memory_limit 512Mi"),
    ({"redis_maxmemory_percent": 95}, "redis_maxmemory_percent 95 must be between 10 and 90"),
    ({"redis_sentinel_quorum": 4}, "redis_sentinel_quorum 4 must be between 1 and redis_sentinels (3)"),
])
def test_each_neighbour_is_refused(tmp_path, variables, message):
    res = validate(tmp_path, **variables)
    assert res.returncode != 0 and message in " ".join(res.stdout.split()), res.stdout[-3000:]


def test_without_ha_one_instance_and_one_sentinel_are_allowed(tmp_path):
    res = validate(tmp_path, redis_ha="false", redis_instances=1, redis_sentinels=1, redis_sentinel_quorum=1)
    assert res.returncode == 0, res.stdout[-3000:]
