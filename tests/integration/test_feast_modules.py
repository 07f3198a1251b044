"""feast_apply, feast_materialize and feast_info against the stack's real PostgreSQL and Redis.

Playbooks under targets/feast_*/ run through ansible-playbook (tests/unit/ansible_cli.py). Passwords
travel in run_ansible's environment and reach the modules through their no_log ``environment``
option (lookup('env')); other values go in extra-vars files (0600) in tmp_path, never on the
command line.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from feast_helpers import (
    FEAST_FEATURE_VIEW,
    FEAST_FEATURES,
    FEAST_TABLE,
    _cursor,
    create_offline_table,
    drop_all,
    feast_env,
    insert_driver_stats,
    online_key_count,
    registry_snapshot,
)

from ansible_collections.baremetal.mlops.tests.unit.ansible_cli import run_ansible

TARGETS = Path(__file__).resolve().parent / "targets"


def playbook(name, tmp_path, stack, extra=None, tags=None, timeout=300, file="playbook.yml", verbosity=0):
    """Run a target; every run also checks that no password of the stack is in its output."""
    varsfile = tmp_path / ("%s-vars.json" % name)
    varsfile.write_text(json.dumps(dict(ansible_python_interpreter=sys.executable, **(extra or {}))))
    varsfile.chmod(0o600)
    args = ["-i", "localhost,", "-e", "@%s" % varsfile, TARGETS / name / file]
    if tags:
        args += ["--tags", tags]
    if verbosity:
        args.append("-" + "v" * verbosity)
    t0 = time.monotonic()
    res = run_ansible("ansible-playbook", *args, env=feast_env(stack), timeout=timeout)
    res.elapsed = time.monotonic() - t0
    for secret in (stack.vars["MLOPS_PG_PASSWORD"], stack.vars["MLOPS_REDIS_PASSWORD"]):
        assert secret not in res.stdout + res.stderr
    return res


def output(res):
    return "stdout:\n%s\nstderr:\n%s" % (res.stdout[-6000:], res.stderr[-3000:])


@pytest.fixture
def fresh_project(stack):
    drop_all(stack)
    create_offline_table(stack)
    yield stack
    drop_all(stack)


def test_feast_apply_four_steps(fresh_project, tmp_path):
    stack = fresh_project
    before = registry_snapshot(stack)
    res = playbook("feast_apply", tmp_path, stack, tags="first_check")
    assert res.returncode == 0, output(res)
    assert registry_snapshot(stack) == before, "check mode wrote to the registry"

    res = playbook("feast_apply", tmp_path, stack)
    assert res.returncode == 0, output(res)
    assert "ok=7" in res.stdout and "failed=0" in res.stdout
    after = registry_snapshot(stack)
    assert after["feature_views"] and after["entities"]


def test_feast_apply_prints_no_password_at_vvv(fresh_project, tmp_path):
    # The passwords reach the module through its no_log environment option; at -vvv Ansible prints every
    # module invocation and result (playbook() searches them for the stack's passwords).
    res = playbook("feast_apply", tmp_path, fresh_project, verbosity=3)
    assert res.returncode == 0, output(res)
    # -vvv really printed connection details and the results (so the search looked at something).
    assert "ESTABLISH LOCAL CONNECTION" in res.stdout and "AnsiballZ_feast_apply.py" in res.stdout, output(res)


def test_feast_materialize_four_steps(fresh_project, tmp_path):
    stack = fresh_project
    now = datetime.now(timezone.utc)
    insert_driver_stats(stack, [1001, 1002], now - timedelta(minutes=10))
    end = (now - timedelta(minutes=1)).replace(microsecond=0).isoformat()

    res = playbook("feast_materialize", tmp_path, stack, extra=dict(feast_test_end_date=end), tags="first_check")
    assert res.returncode == 0, output(res)
    assert online_key_count(stack) == 0, "check mode wrote to the online store"

    res = playbook("feast_materialize", tmp_path, stack, extra=dict(feast_test_end_date=end))
    assert res.returncode == 0, output(res)
    assert online_key_count(stack) == 2


def _info(tmp_path, stack, probes, **extra):
    result_path = tmp_path / "feast_info_result.json"
    extra = dict(feast_test_probes=probes, feast_test_result_path=str(result_path), **extra)
    res = playbook("feast_info", tmp_path, stack, extra=extra)
    assert res.returncode == 0, output(res)
    return json.loads(result_path.read_text()), res


def test_feast_info_fresh_then_stale(fresh_project, tmp_path):
    stack = fresh_project
    now = datetime.now(timezone.utc)
    old = now - timedelta(days=3)
    insert_driver_stats(stack, [1001, 1002], now - timedelta(minutes=10))
    insert_driver_stats(stack, [2001], old)
    end = (now - timedelta(minutes=1)).replace(microsecond=0).isoformat()
    # Apply and materialize the fresh rows (incremental: now - ttl .. end).
    res = playbook("feast_materialize", tmp_path, stack, extra=dict(feast_test_end_date=end))
    assert res.returncode == 0, output(res)
    # The 3-day-old rows are outside any incremental interval: load them with an explicit start_date.
    res = playbook("feast_materialize", tmp_path, stack, file="interval.yml", extra=dict(
        feast_test_start_date=(old - timedelta(hours=1)).isoformat(),
        feast_test_end_date=(old + timedelta(seconds=1)).isoformat()))
    assert res.returncode == 0, output(res)

    probes = [
        dict(feature_view=FEAST_FEATURE_VIEW, entity_rows=[{"driver_id": 1001}, {"driver_id": 1002}], max_age_s=3600),
        dict(feature_view=FEAST_FEATURE_VIEW, entity_rows=[{"driver_id": 2001}], max_age_s=3600,
             features=["conv_rate"]),
        dict(feature_view=FEAST_FEATURE_VIEW, entity_rows=[{"driver_id": 9999}], max_age_s=3600),
    ]
    result, res = _info(tmp_path, stack, probes)
    assert not result.get("failed"), result
    assert result["changed"] is False
    assert result["project"] == "mlops_verify"
    assert [e["name"] for e in result["entities"]] == ["driver"]
    view = result["feature_views"][0]
    assert view["name"] == FEAST_FEATURE_VIEW and view["ttl_s"] == 86400 and view["online"] is True
    assert sorted(view["features"]) == sorted(FEAST_FEATURES)
    assert view["last_materialization_end"] is not None

    fresh, stale, missing = result["freshness"]
    assert fresh["fresh"] is True and fresh["missing"] == []
    assert 540 <= fresh["age_s"] <= 3600
    assert all(row[f] is not None for row in fresh["row_values"] for f in FEAST_FEATURES)

    # Stale while reads succeed: values are there, just too old.
    assert stale["fresh"] is False
    assert stale["missing"] == []
    assert stale["row_values"][0]["conv_rate"] is not None
    assert 3 * 86400 - 120 <= stale["age_s"] <= 3 * 86400 + 600
    assert stale["newest_event_timestamp"].startswith(old.date().isoformat())

    assert missing["fresh"] is False and missing["age_s"] is None and missing["newest_event_timestamp"] is None
    assert missing["missing"] == [{"entity_row": {"driver_id": 9999}, "features": list(FEAST_FEATURES)}]

    assert result["stale"] == [FEAST_FEATURE_VIEW]
    assert result["ok"] is False


def test_feast_info_the_stalest_entity_decides_and_an_event_in_the_future_is_not_fresh(fresh_project, tmp_path):
    """Outside tester's findings (issue 21), against real Feast and Redis: one fresh and one 2-hour-stale entity
    in one probe (the newest value hid the stale one), and an event 2 hours ahead (a producer's time zone)."""
    stack = fresh_project
    now = datetime.now(timezone.utc).replace(microsecond=0)
    insert_driver_stats(stack, [1001], now - timedelta(minutes=5))
    insert_driver_stats(stack, [1002], now - timedelta(hours=2))
    insert_driver_stats(stack, [3001], now + timedelta(hours=2))
    res = playbook("feast_apply", tmp_path, stack)
    assert res.returncode == 0, output(res)
    res = playbook("feast_materialize", tmp_path, stack, file="interval.yml", extra=dict(
        feast_test_start_date=(now - timedelta(hours=3)).isoformat(),
        feast_test_end_date=(now + timedelta(hours=3)).isoformat()))
    assert res.returncode == 0, output(res)
    probes = [dict(feature_view=FEAST_FEATURE_VIEW, entity_rows=[{"driver_id": 1001}, {"driver_id": 1002}],
                   max_age_s=1800),
              dict(feature_view=FEAST_FEATURE_VIEW, entity_rows=[{"driver_id": 1001}, {"driver_id": 3001}],
                   max_age_s=1800)]
    result, _res = _info(tmp_path, stack, probes)
    mixed, future = result["freshness"]
    assert mixed["fresh"] is False and mixed["stalest_entity_row"] == {"driver_id": 1002}, mixed
    assert 7200 - 120 <= mixed["age_s"] <= 7200 + 600, mixed
    assert future["fresh"] is False and [f["entity_row"] for f in future["future"]] == [{"driver_id": 3001}], future
    assert 7200 - 600 <= future["future"][0]["ahead_s"] <= 7200, future


def test_feast_info_names_a_source_column_renamed_retyped_or_a_source_dropped(fresh_project, tmp_path):
    """Outside tester's finding (issue 21): the feature source's column renamed, dropped or retyped left verify
    green (the online store kept answering). Against the real PostgreSQL offline store."""
    stack = fresh_project
    insert_driver_stats(stack, [1001], datetime.now(timezone.utc) - timedelta(minutes=5))
    res = playbook("feast_apply", tmp_path, stack)
    assert res.returncode == 0, output(res)
    probes = [dict(feature_view=FEAST_FEATURE_VIEW, entity_rows=[{"driver_id": 1001}], max_age_s=3600)]
    result, _res = _info(tmp_path, stack, probes)
    [schema] = result["schema"]
    assert schema["checked"] is True and schema["problems"] == [], schema
    assert {"name": "conv_rate", "type": "double precision"} in schema["columns"], schema

    with _cursor(stack) as cur:
        cur.execute(f"ALTER TABLE {FEAST_TABLE} RENAME COLUMN conv_rate TO conversion_rate")
        cur.execute(f"ALTER TABLE {FEAST_TABLE} ALTER COLUMN acc_rate TYPE text USING acc_rate::text")
    result, _res = _info(tmp_path, stack, probes)
    problems = {p["column"]: p["problem"] for p in result["schema"][0]["problems"]}
    assert set(problems) == {"conv_rate", "acc_rate"}, problems
    assert "no longer has" in problems["conv_rate"] and "conversion_rate" in problems["conv_rate"]
    assert "acc_rate is text (STRING)" in problems["acc_rate"], problems
    assert result["ok"] is False

    with _cursor(stack) as cur:
        cur.execute(f"DROP TABLE {FEAST_TABLE}")
    result, _res = _info(tmp_path, stack, probes)
    [problem] = result["schema"][0]["problems"]
    assert "cannot be read" in problem["problem"] and FEAST_TABLE in problem["problem"], problem
    for secret in (stack.vars["MLOPS_PG_PASSWORD"],):
        assert secret not in json.dumps(result)


def test_feast_info_unreachable_online_store_fails_fast(fresh_project, tmp_path):
    stack = fresh_project
    res = playbook("feast_apply", tmp_path, stack)
    assert res.returncode == 0, output(res)
    wrong_port = int(stack.vars["MLOPS_REDIS_PORT"]) + 7
    probes = [dict(feature_view=FEAST_FEATURE_VIEW, entity_rows=[{"driver_id": 1001}], max_age_s=60)]
    t0 = time.monotonic()
    result, res = _info(tmp_path, stack, probes, feast_test_redis_port=wrong_port, feast_test_timeout=5)
    elapsed = time.monotonic() - t0
    assert result.get("failed") is True, result
    endpoint = "%s:%d" % (stack.vars["MLOPS_REDIS_HOST"], wrong_port)
    assert endpoint in result["msg"], result["msg"]
    assert "feast online store" in result["msg"]
    assert "Connection refused" in result["msg"] or "Connect" in result["msg"]
    assert "Fix:" in result["msg"]
    # The module's own connect error (not redis-py's retry loop, not a task timeout) ended the run; how long it
    # took is reported, not asserted (speed goals live in benchmarks).
    print("feast_info against a closed Redis port failed after %.1f s" % elapsed)
