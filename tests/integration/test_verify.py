"""verify.yml against the real service stack: green when healthy, and failing
loudly, naming the component, on each breakage the issue lists — then green
again once repaired.

Real servers throughout (PostgreSQL, Redis, SeaweedFS S3, MLflow, Feast on
PostgreSQL + Redis, a KServe model server). Not run here: the hardware layer
(runs in the nvme_storage Molecule scenario's VMs) and the kubernetes layer
(needs a cluster; its rules are unit-tested in
tests/unit/plugins/module_utils/verify).
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading

import psycopg2
import pytest

from platform_helpers import (
    EXPECTED_V2,
    STALE_DRIVER,
    KServeServer,
    free_port,
    refresh_feast,
    run_verify,
    set_alias,
)

SERVICE_LAYERS = "data_services,mlflow,feast,kserve"


def assert_green(run):
    assert run.report is not None, run.explain()
    assert run.proc.returncode == 0 and run.report["ok"], run.explain()
    assert run.report["counts"]["failed"] == 0


def assert_fails(run, component):
    assert run.report is not None, run.explain()
    assert run.proc.returncode != 0, run.explain()
    failed = run.failed(component)
    assert failed, f"expected a failure of {component}, got {run.failures}\n{run.explain()}"
    return failed


def test_verify_green_on_the_healthy_platform_and_changes_nothing(platform, report_dir):
    run = run_verify(platform.inventory(), report_dir, SERVICE_LAYERS)
    assert_green(run)
    report = run.report
    components = {c["component"] for c in report["checks"]}
    assert {"postgresql", "redis", "s3", "mlflow", "mlflow artifact store", "mlflow registry",
            "feast online store", "kserve"} <= components
    assert report["layers"] == ["data_services", "mlflow", "feast", "kserve"]
    assert (run.report_dir / "verify-summary.txt").read_text().startswith("verify PASSED")
    # Read-only: nothing reports a change.
    assert "changed=0" in run.proc.stdout, run.explain()
    # The served model is the champion, and says so.
    assert "serves version 1; registry champion is version 1" in run.check("kserve", "serves the champion")["seen"]


def test_s3_down_while_mlflow_tracks_names_the_artifact_store(platform, stack, report_dir):
    stack.cli.run("stop", "seaweedfs")
    try:
        run = run_verify(platform.inventory(), report_dir, "mlflow")
        failed = assert_fails(run, "mlflow artifact store")
        assert "artifact" in failed[0]["seen"]
        assert "S3" in failed[0]["fix"]
        # Tracking itself still works, and verify says so: the blame is on the artifact store only.
        assert run.check("mlflow", "tracking")["ok"], run.explain()
        assert not run.failed("mlflow")
    finally:
        stack.cli.run("start", "seaweedfs")
    assert_green(run_verify(platform.inventory(), report_dir, "mlflow"))


def test_stale_feast_values_behind_successful_reads_fail_as_stale(platform, stack, report_dir):
    stale_probe = {"probes": [{"feature_view": "driver_hourly_stats", "entity_rows": [{"driver_id": STALE_DRIVER}],
                               "max_age_s": 3600}]}
    inventory = platform.inventory("stale.yml", verify_feast=stale_probe)
    run = run_verify(inventory, report_dir, "feast")
    failed = assert_fails(run, "feast online store")
    assert "stale" in failed[0]["seen"] and re.search(r"3\.\d h old", failed[0]["seen"]), failed
    assert "materializ" in failed[0]["fix"]
    # Materialization ran when the platform was set up (minutes ago): the source's data is old, not the job.
    assert "producer stopped writing" in failed[0]["fix"], failed[0]
    assert "last materialization ended" in failed[0]["seen"], failed[0]
    refresh_feast(stack, [STALE_DRIVER])
    assert_green(run_verify(inventory, report_dir, "feast"))


def test_a_source_column_renamed_fails_the_views_schema_naming_the_column(platform, stack, report_dir):
    """Issue 21: the feature source's column renamed (materialization then fails) left verify green, because the
    online store kept answering with the values it had."""
    conn = psycopg2.connect(**stack.pg("feast"))
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("ALTER TABLE driver_hourly_stats RENAME COLUMN acc_rate TO acceptance_rate")
        run = run_verify(platform.inventory(), report_dir, "feast")
        assert run.proc.returncode != 0, run.explain()
        schema = run.check("feast offline store", "schema matches its source")
        assert schema["status"] == "failed" and "acc_rate" in schema["seen"], schema
        assert "acceptance_rate" in schema["seen"], schema
        # The online values are still there and fresh: only the schema check can see this.
        assert run.check("feast online store", "fresh")["status"] == "passed", run.explain()
    finally:
        with conn.cursor() as cur:
            cur.execute("ALTER TABLE driver_hourly_stats RENAME COLUMN acceptance_rate TO acc_rate")
        conn.close()
    assert_green(run_verify(platform.inventory(), report_dir, "feast"))


def test_champion_moved_away_from_the_served_version_reports_both(platform, stack, report_dir):
    set_alias(stack, platform.model, "champion", platform.versions[1])
    try:
        run = run_verify(platform.inventory(), report_dir, "kserve")
        failed = assert_fails(run, "kserve")
        mismatch = [c for c in failed if "serves the champion" in c["check"]]
        assert mismatch, failed
        assert "serves version 1; registry champion is version 2" in mismatch[0]["seen"]
        # The prediction still matches the probe's expected answer (version 1's); verify's own load of the
        # champion predicts differently, and says the server answers as version 1.
        assert run.check("kserve", "prediction")["ok"]
        answers = run.check("kserve", "answers as the champion")
        assert answers["status"] == "failed" and "answers as version 1 does" in answers["seen"], answers
        # A probe expecting version 2's answer catches the served model too.
        expecting_v2 = platform.inventory("v2.yml", verify_kserve={"expected": EXPECTED_V2})
        run = run_verify(expecting_v2, report_dir, "kserve")
        assert not run.check("kserve", "prediction")["ok"]
    finally:
        set_alias(stack, platform.model, "champion", platform.versions[0])
    assert_green(run_verify(platform.inventory(), report_dir, "kserve"))


def test_old_weights_reporting_the_new_version_fail_by_their_answers(platform, stack, report_dir, tmp_path):
    """Issue 21: a server with version 1's weights that reports version 2 passed "serves the champion". Verify now
    loads the champion itself and compares answers; a probe on which both versions agree fails as a probe."""
    impostor = KServeServer(stack, platform.model, platform.versions[0], tmp_path / "impostor.log",
                            report_version=platform.versions[1])
    set_alias(stack, platform.model, "champion", platform.versions[1])
    try:
        impostor.wait_ready()
        inventory = platform.inventory("impostor.yml", verify_kserve={"url": impostor.url, "expected": None})
        run = run_verify(inventory, report_dir, "kserve")
        assert run.check("kserve", "serves the champion")["status"] == "passed", run.explain()
        answers = run.check("kserve", "answers as the champion")
        assert answers["status"] == "failed" and "answers as version 1 does" in answers["seen"], answers
        assert run.proc.returncode != 0
        # Rows on which versions 1 and 2 agree ([0,0] -> 0, [1,1] -> 1) cannot tell them apart: a failure too.
        blind = {"inputs": [{"name": "input-0", "shape": [2, 2], "datatype": "FP64", "data": [0.0, 0.0, 1.0, 1.0]}]}
        inventory = platform.inventory("blind.yml", verify_kserve={"url": impostor.url, "expected": None,
                                                                   "predict": blind})
        run = run_verify(inventory, report_dir, "kserve")
        answers = run.check("kserve", "answers as the champion")
        assert answers["status"] == "failed", answers
        assert "cannot tell the champion (version 2) from version 1" in answers["seen"], answers
    finally:
        set_alias(stack, platform.model, "champion", platform.versions[0])
        impostor.stop()
    run = run_verify(platform.inventory(), report_dir, "kserve")
    assert_green(run)
    assert "no earlier version" in run.check("kserve", "answers as the champion")["seen"]


def test_without_a_probe_the_served_version_is_unknown_and_verify_says_why(platform, report_dir):
    """Issue 21: without a probe request verify said "the server does not report the model version" although every
    inference reply carries it: no inference request was sent at all. Against the real KServe server."""
    inventory = platform.inventory("no-probe.yml", verify_kserve={"predict": None, "expected": None})
    run = run_verify(inventory, report_dir, "kserve")
    # KServe 0.21's V2 model metadata lists no versions (its reply's "versions" is null).
    rec = run.check("kserve", "serves the champion")
    assert rec["status"] == "failed", rec
    assert "no probe request was sent" in rec["seen"] and "does not report" not in rec["seen"], rec
    answers = run.check("kserve", "answers as the champion")
    assert answers["status"] == "not_run" and "verify_kserve.predict not set" in answers["seen"], answers


@contextlib.contextmanager
def silent_tcp_server():
    """Accepts connections and never answers: a hung endpoint."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    conns = []
    stop = threading.Event()

    def accept():
        sock.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(OSError):
                conns.append(sock.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        for conn in conns:
            conn.close()
        sock.close()


@pytest.mark.parametrize("case", ["hung", "refused", "not_s3"])
def test_wrong_or_unreachable_s3_endpoint_fails_by_itself_naming_it(platform, report_dir, case):
    with contextlib.ExitStack() as stack_:
        if case == "hung":
            endpoint = stack_.enter_context(silent_tcp_server())
        elif case == "refused":
            endpoint = f"http://127.0.0.1:{free_port()}"  # bound and released: nothing listens
        else:  # another HTTP service where S3 should be
            endpoint = platform.stack.mlflow_uri
        inventory = platform.inventory(f"s3-{case}.yml", verify_s3={"endpoint_url": endpoint}, verify_timeout_s=3)
        run = run_verify(inventory, report_dir, "data_services")
    failed = assert_fails(run, "s3")
    seen = failed[0]["seen"]
    assert endpoint in seen
    # The probe gave up by itself (its own message), not the task timeout that guards it.
    expected = {"hung": "timed out", "refused": "cannot connect", "not_s3": "not like an S3 service"}[case]
    assert expected in seen, seen
    assert "The task timed out" not in run.proc.stdout
    # The other data services are judged all the same.
    assert run.check("redis", "eviction policy")["ok"]


def test_wrong_s3_keys_is_an_authentication_error(platform, report_dir):
    inventory = platform.inventory("s3-keys.yml", verify_s3={"secret_key": "not-the-secret"})
    run = run_verify(inventory, report_dir, "data_services")
    failed = assert_fails(run, "s3")
    assert "authentication failed" in failed[0]["seen"]
    assert "access key and secret key" in failed[0]["fix"]
    assert "not-the-secret" not in run.proc.stdout + run.proc.stderr + str(run.report)


def test_redis_noeviction_and_no_maxmemory_are_flagged(platform, stack, report_dir):
    client = stack.redis()
    before = client.config_get("maxmemory*")
    try:
        client.config_set("maxmemory-policy", "noeviction")
        client.config_set("maxmemory", 0)
        run = run_verify(platform.inventory(), report_dir, "data_services")
        failed = {c["check"]: c for c in assert_fails(run, "redis")}
        assert "noeviction" in failed["eviction policy"]["seen"]
        assert "unlimited" in failed["maxmemory set"]["seen"]
    finally:
        client.config_set("maxmemory", before["maxmemory"])
        client.config_set("maxmemory-policy", before["maxmemory-policy"])
        client.close()
    assert_green(run_verify(platform.inventory(), report_dir, "data_services"))


def test_postgresql_close_to_max_connections_is_flagged(platform, stack, report_dir):
    kwargs = stack.pg()
    probe = psycopg2.connect(**kwargs)
    with probe.cursor() as cur:
        cur.execute("SELECT current_setting('max_connections')::int - current_setting('superuser_reserved_connections')::int,"
                    " (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')")
        usable, used = cur.fetchone()
    probe.close()
    # Leave 10% free (less than the 20% the inventory asks for), and room for verify's own connection.
    hold = [psycopg2.connect(**kwargs) for _conn in range(max(0, int(usable * 0.9) - used))]
    try:
        run = run_verify(platform.inventory(), report_dir, "data_services")
        failed = assert_fails(run, "postgresql")
        assert "connections in use" in failed[0]["seen"] and "PgBouncer" in failed[0]["fix"]
    finally:
        for conn in hold:
            conn.close()
    assert_green(run_verify(platform.inventory(), report_dir, "data_services"))


def test_redis_evicting_at_maxmemory_is_flagged_on_redis(platform, stack, report_dir):
    """Outside tester's finding (issue 21): Redis evicting because maxmemory is below what it holds was reported as
    "materialize the feature view". Only keys with a TTL are evicted here (volatile-lru): Feast's keys have none."""
    import redis as redis_py

    client = stack.redis()
    before = client.config_get("maxmemory*")
    try:
        client.config_set("maxmemory-policy", "volatile-lru")
        client.config_set("maxmemory", int(client.info("memory")["used_memory"]) + 2 * 1024 * 1024)
        for i in range(400):
            try:
                client.set(f"verify-evict-{i}", b"x" * 16384, ex=600)
            except redis_py.exceptions.ResponseError:  # OOM once no key with a TTL is left to evict
                break
        assert int(client.info("stats")["evicted_keys"]) > 0
        run = run_verify(platform.inventory(), report_dir, "data_services")
        evicting = run.check("redis", "not evicting")
        assert evicting["status"] == "failed" and "keys evicted" in evicting["seen"], evicting
        assert "maxmemory" in evicting["fix"] and "materialize" in evicting["fix"], evicting
    finally:
        client.config_set("maxmemory", before["maxmemory"])
        client.config_set("maxmemory-policy", before["maxmemory-policy"])
        client.delete(*[f"verify-evict-{i}" for i in range(400)])
        client.close()
    assert_green(run_verify(platform.inventory(), report_dir, "data_services"))


def test_postgresql_without_a_free_connection_fails_headroom_not_reachability(platform, stack, report_dir):
    """Outside tester's finding (issue 21): with 0 connections left, verify's own connection failed and its fix
    pointed at the address and credentials. The cause is the database's headroom."""
    hold = []
    try:
        while len(hold) < 500:
            try:
                hold.append(psycopg2.connect(**stack.pg()))
            except psycopg2.OperationalError as exc:
                assert "slots are reserved" in str(exc) or "too many clients" in str(exc), exc
                break
        run = run_verify(platform.inventory(), report_dir, "data_services")
        headroom = run.check("postgresql", "connection headroom")
        assert headroom["status"] == "failed" and headroom["key"] == "postgresql.headroom", headroom
        assert "no connection slot left" in headroom["fix"] and "credentials" not in headroom["fix"].split(",")[0]
    finally:
        for conn in hold:
            conn.close()
    assert_green(run_verify(platform.inventory(), report_dir, "data_services"))


def test_a_selected_layer_without_endpoints_fails_instead_of_passing_silently(platform, report_dir):
    inventory = platform.inventory("unconfigured.yml", verify_redis={})
    run = run_verify(inventory, report_dir, "data_services")
    assert_fails(run, "redis")
    assert "verify_redis is not set" in run.check("redis", "configured")["seen"]
    # What it blocks is reported "not run" (a failure), not dropped.
    assert run.check("redis", "eviction policy")["status"] == "not_run"


def test_invalid_settings_of_one_layer_name_that_layer_and_the_other_layers_still_run(platform, report_dir):
    """Issue 21: a failure in one layer's argument validation named no component, and the later layers were
    blamed. Now the layer's settings fail by name, its checks are "not run" because of them, and the other
    layers run and pass."""
    inventory = platform.inventory("invalid-redis.yml", verify_redis={"port": "six-three-seven-nine"},
                                   verify_feast={"probes": "not a list of probes"})
    run = run_verify(inventory, report_dir, "data_services,mlflow,feast")
    assert run.report is not None, run.explain()
    assert run.proc.returncode != 0, run.explain()
    settings = run.check("data_services settings", "settings valid")
    assert settings["status"] == "failed" and settings["layer"] == "data_services", settings
    assert "port" in settings["seen"] and "data_services" in settings["seen"], settings
    feast = run.check("feast settings", "settings valid")
    assert feast["status"] == "failed" and "probes" in feast["seen"], feast
    assert run.check("redis", "eviction policy")["status"] == "not_run"
    assert "settings valid" in run.check("redis", "eviction policy")["seen"]
    # The layer between them ran, judged on its own.
    assert run.check("mlflow", "tracking: run, param and metric written and read back")["status"] == "passed"
    assert not [c for c in run.failures if c["layer"] == "verify"], run.failures
    assert not [c for c in run.failures if c["layer"] == "mlflow"], run.failures


def kserve_info(args: dict):
    """Run kserve_endpoint_info for real (ad hoc), return its JSON result."""
    from ansible_collections.baremetal.mlops.tests.unit.ansible_cli import run_ansible

    res = run_ansible("ansible", "localhost", "-m", "baremetal.mlops.kserve_endpoint_info", "-a", json.dumps(args),
                      env={"ANSIBLE_LOAD_CALLBACK_PLUGINS": "1", "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json"})
    return json.loads(res.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]


def test_kserve_endpoint_info_speaks_v1_and_v2_against_the_real_server(platform):
    url, model = platform.kserve.url, platform.model
    v1 = kserve_info({"url": url, "model": model, "protocol": "v1", "predict": {"instances": [[0.0, 1.0], [1.0, 0.0]]},
                      "expected": [0, 1]})
    assert v1["ready"] and v1["matches"] and v1["prediction"] == [0, 1], v1
    assert v1["served_version"] is None  # V1 responses carry no version
    assert v1["identity"]["names"] == {"status": model} and v1["identity"]["problems"] == [], v1
    v2 = kserve_info({"url": url, "model": model, "predict": {"inputs": [
        {"name": "x", "shape": [1, 2], "datatype": "FP64", "data": [[1.0, 0.0]]}]}, "expected": [0]})
    assert v2["ready"] and v2["served_version"] == "1" and v2["matches"] is False, v2
    assert v2["mismatch"] == "$[0]: expected 0, got 1"
    # The real server names the model in its metadata, ready reply and response: identity is proven.
    assert v2["identity"]["names"] == {"metadata": model, "ready": model, "response": model}, v2
    # KServe's ModelServer lists no versions in its metadata (only the response carries model_version).
    assert v2["identity"]["problems"] == [] and v2["identity"]["versions"] == [], v2
    missing = kserve_info({"url": url, "model": "no-such-model"})
    assert missing["ready"] is False and not missing.get("failed"), missing
    assert "does not know model no-such-model" in missing["identity"]["problems"][0], missing
    v1_missing = kserve_info({"url": url, "model": "no-such-model", "protocol": "v1"})
    assert "HTTP 404" in v1_missing["identity"]["problems"][0], v1_missing
    refused = kserve_info({"url": url.rsplit(":", 1)[0] + ":1", "model": model, "timeout": 3})
    assert refused["failed"] and refused["kind"] == "unreachable" and ":1/v2/health/live" in refused["msg"], refused
