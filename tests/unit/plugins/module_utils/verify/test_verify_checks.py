"""Judging of verify.yml observations (module_utils/verify/checks.py)."""

import json
import pathlib

import pytest

from ansible_collections.baremetal.mlops.plugins.module_utils.verify import checks, report

FIXTURES = pathlib.Path(__file__).resolve().parents[3] / "fixtures" / "verify"


def by_check(records):
    return {r["check"]: r for r in records}


def test_postgresql_headroom_ok_and_exhausted():
    ok = checks.postgresql({"max_connections": 100, "reserved_connections": 3, "used_connections": 10},
                           "db:5432", 20)[0]
    assert ok["ok"] and "10 of 97" in ok["seen"] and ok["fix"] == ""
    bad = checks.postgresql({"max_connections": 100, "reserved_connections": 3, "used_connections": 90},
                            "db:5432", 20)[0]
    assert not bad["ok"]
    assert "90 of 97" in bad["seen"] and "7.2% free" in bad["seen"]
    assert "PgBouncer" in bad["fix"]


@pytest.mark.parametrize("info,failing", [
    ({"maxmemory": 268435456, "maxmemory_human": "256.00M", "maxmemory_policy": "allkeys-lru"}, set()),
    ({"maxmemory": 268435456, "maxmemory_human": "256.00M", "maxmemory_policy": "noeviction"}, {"eviction policy"}),
    ({"maxmemory": 0, "maxmemory_human": "0B", "maxmemory_policy": "allkeys-lru"}, {"maxmemory set"}),
])
def test_redis(info, failing):
    records = checks.redis(info, "r:6379", "allkeys-lru")
    assert {r["check"] for r in records if not r["ok"]} == failing
    for rec in records:
        assert rec["seen"].startswith("r:6379")


def test_mlflow_probe_separates_artifact_store_from_tracking():
    result = {"steps": [
        {"name": "tracking", "ok": True}, {"name": "params", "ok": True}, {"name": "metrics", "ok": True},
        {"name": "artifact_write", "ok": False, "error": "HTTP 500 from /api/2.0/mlflow-artifacts"},
        {"name": "artifact_read", "ok": False, "skipped": True}]}
    recs = {r["component"]: r for r in checks.mlflow_probe(result, "http://mlflow")}
    assert recs["mlflow"]["ok"]
    assert not recs["mlflow artifact store"]["ok"]
    assert "artifact_write failed" in recs["mlflow artifact store"]["seen"]
    assert "S3" in recs["mlflow artifact store"]["fix"]


def test_mlflow_champion_missing_alias_and_model():
    info = {"exists": True, "registered_model": {"aliases": {"challenger": "3"}}, "alias_versions": {}}
    rec = checks.mlflow_champion(info, "fraud", "champion")[0]
    assert not rec["ok"] and "no alias champion" in rec["seen"] and "challenger" in rec["seen"]
    rec = checks.mlflow_champion({"exists": False}, "fraud", "champion")[0]
    assert not rec["ok"] and "does not exist" in rec["seen"]
    ready = {"exists": True, "alias_versions": {"champion": {"version": "2", "status": "READY", "source": "m"}}}
    assert checks.mlflow_champion(ready, "fraud", "champion")[0]["ok"]


def test_champion_whose_files_are_gone_fails_loadable_naming_the_cause():
    """Outside tester's finding (issue 21): artifacts deleted, the alias still resolved and verify was green."""
    gone = {"exists": True, "alias_versions": {"champion": {
        "version": "2", "status": "READY", "source": "models:/m-1",
        "integrity": {"ok": False, "problems": ["no MLmodel file at mlflow-artifacts:/1/m/artifacts (nothing is there)"],
                      "flavors": []}}}}
    resolves, loadable = checks.mlflow_champion(gone, "fraud", "champion")
    assert resolves["ok"] and not loadable["ok"]
    assert loadable["check"] == "champion model loadable" and loadable["component"] == "mlflow artifact store"
    assert "no MLmodel file" in loadable["seen"] and "restore" in loadable["fix"]
    fine = {"exists": True, "alias_versions": {"champion": {
        "version": "2", "status": "READY", "source": "models:/m-1",
        "integrity": {"ok": True, "problems": [], "flavors": ["python_function", "sklearn"],
                      "run_lifecycle_stage": "active", "download_uri": "u"}}}}
    assert all(r["ok"] for r in checks.mlflow_champion(fine, "fraud", "champion"))


def test_feast_stale_and_missing():
    result = {"freshness": [
        {"feature_view": "driver_hourly_stats", "newest_event_timestamp": "2026-11-20T10:00:00+00:00",
         "age_s": 3 * 86400.0, "max_age_s": 3600, "fresh": False, "missing": [], "values": {"conv_rate": [0.5]}},
        {"feature_view": "other", "missing": ["driver_id=1"], "fresh": False}]}
    recs = checks.feast(result, "/repo")
    stale = [r for r in recs if r["check"] == "driver_hourly_stats fresh"][0]
    assert not stale["ok"] and "stale" in stale["seen"] and "3.0 days" in stale["seen"]
    assert "materialize" in stale["fix"]
    assert not [r for r in recs if r["check"] == "other values present"][0]["ok"]
    assert not checks.feast({"freshness": []}, "/repo")[0]["ok"]


def test_feast_names_the_stalest_entity_and_fails_an_event_in_the_future():
    result = {"freshness": [
        {"feature_view": "v", "stalest_entity_row": {"customer_id": 7}, "oldest_event_timestamp": "t-old",
         "newest_event_timestamp": "t-new", "age_s": 7200.0, "max_age_s": 1800, "fresh": False, "missing": [],
         "future": []},
        {"feature_view": "w", "fresh": False, "missing": [], "max_future_skew_s": 60,
         "future": [{"entity_row": {"customer_id": 3}, "event_timestamp": "t-future", "ahead_s": 7200.0}]}]}
    recs = {r["check"]: r for r in checks.feast(result, "/repo")}
    stale = recs["v fresh"]
    assert not stale["ok"] and "stalest entity {'customer_id': 7}" in stale["seen"] and "2.0 h" in stale["seen"]
    future = recs["w event times not in the future"]
    assert not future["ok"] and "{'customer_id': 3}" in future["seen"] and "time zone" in future["fix"]
    assert "w fresh" not in recs


IDENTIFIED = {"names": {"metadata": "fraud", "ready": "fraud", "response": "fraud"}, "versions": ["1"],
              "problems": []}


def champion(version):
    return {"version": {"version": version, "status": "READY"}, "problem": None, "fix": ""}


def test_kserve_reports_both_versions():
    result = {"ready": True, "live": True, "matches": True, "prediction": [1], "served_version": "1",
              "identity": IDENTIFIED}
    recs = by_check(checks.kserve(result, "fraud", "http://ks", champion=champion("2")))
    rec = recs["fraud serves the champion"]
    assert rec["status"] == "failed"
    assert "serves version 1" in rec["seen"] and "champion is version 2" in rec["seen"]
    assert recs["fraud prediction"]["ok"] and recs["fraud identity"]["status"] == "passed"
    assert "metadata says fraud" in recs["fraud identity"]["seen"]
    same = by_check(checks.kserve(result, "fraud", "http://ks", champion=champion(1)))
    assert same["fraud serves the champion"]["ok"]


def test_kserve_unknown_served_version_fails_not_passes():
    result = {"ready": True, "live": True, "matches": None, "served_version": None,
              "identity": dict(IDENTIFIED, names={"metadata": "m"})}
    recs = by_check(checks.kserve(result, "m", "u", champion=champion("2")))
    rec = recs["m serves the champion"]
    # Issue 21: without a probe no inference reply was seen; the message must not claim the server hides it.
    assert not rec["ok"] and "no probe request was sent" in rec["seen"] and "verify_kserve.predict" in rec["fix"]
    with_probe = by_check(checks.kserve(dict(result, prediction={"predict": [1]}), "m", "u", champion=champion("2")))
    assert "does not report" in with_probe["m serves the champion"]["seen"]
    # No probe prediction configured: the operator's choice, shown as skipped, counted ok.
    pred = recs["m prediction"]
    assert pred["status"] == "not_run" and pred["chosen"] and pred["ok"] and "not set" in pred["seen"]


def test_kserve_not_ready_reports_every_later_check_as_not_run():
    recs = checks.kserve({"ready": False, "live": True, "identity": {"names": {}, "problems": [],
                                                                     "unavailable": "GET /v2/models/m answered HTTP 503"}},
                         "m", "u", champion=champion("2"))
    by_key = {r["key"]: r for r in recs}
    assert set(by_key) == {"kserve.identity", "kserve.ready", "kserve.prediction", "kserve.champion",
                           "kserve.champion_predictions"}
    assert by_key["kserve.ready"]["status"] == "failed"
    assert by_key["kserve.identity"]["status"] == "not_run" and "HTTP 503" in by_key["kserve.identity"]["seen"]
    for key in ("kserve.prediction", "kserve.champion"):
        assert by_key[key]["status"] == "not_run" and not by_key[key]["ok"] and not by_key[key]["chosen"]
        assert "m ready did not pass" in by_key[key]["seen"], by_key[key]


@pytest.mark.parametrize("identity,expect", [
    ({"names": {"metadata": "other", "response": "other"},
      "problems": ["the metadata reply names model 'other', not 'm'"], "hint": "fix the route"},
     "names model 'other'"),
    ({"names": {}, "problems": ["the server does not know model m (GET /v2/models/m answered HTTP 404: {})"]},
     "does not know model m"),
    (None, "carries no identity"),
])
def test_kserve_identity_comes_first_and_blocks_the_rest(identity, expect):
    result = {"ready": True, "live": True, "matches": True, "prediction": [1], "served_version": "1"}
    if identity is not None:
        result["identity"] = identity
    recs = checks.kserve(result, "m", "http://ks", champion=champion("1"))
    assert recs[0]["key"] == "kserve.identity" and recs[0]["status"] == "failed" and expect in recs[0]["seen"]
    assert [r["status"] for r in recs[1:]] == ["not_run"] * 4
    assert not any(r["ok"] for r in recs), recs


def test_kserve_ready_without_any_name_is_an_identity_failure():
    recs = checks.kserve({"ready": True, "live": True, "identity": {"names": {}, "problems": []}}, "m", "u",
                         champion=champion("1"))
    assert recs[0]["status"] == "failed" and "no reply named it" in recs[0]["seen"]


def test_kserve_champion_unknown_is_not_run_and_fails_unless_comparison_is_off():
    result = {"ready": True, "live": True, "matches": True, "prediction": [1], "served_version": "1",
              "identity": IDENTIFIED}
    gone = {"version": None, "problem": "model fraud has no alias champion (aliases: none)", "fix": "set the alias"}
    rec = by_check(checks.kserve(result, "fraud", "u", champion=gone))["fraud serves the champion"]
    assert rec["status"] == "not_run" and not rec["ok"] and "no alias champion" in rec["seen"]
    assert rec["fix"] == "set the alias"
    rec = by_check(checks.kserve(result, "fraud", "u", champion=None))["fraud serves the champion"]
    assert rec["status"] == "not_run" and not rec["ok"]
    off = by_check(checks.kserve(result, "fraud", "u", champion=None, compare_version=False))
    assert off["fraud serves the champion"]["chosen"] and off["fraud serves the champion"]["ok"]


def test_mlflow_probe_skipped_steps_are_not_run_never_ok():
    result = {"steps": [
        {"name": "tracking", "ok": False, "error": "HTTP 500: database \"mlflow\" does not exist"},
        {"name": "params", "ok": False, "skipped": True, "error": "not run: step tracking failed"},
        {"name": "metrics", "ok": False, "skipped": True, "error": "not run: step tracking failed"},
        {"name": "artifact_write", "ok": False, "skipped": True, "error": "not run: step tracking failed"},
        {"name": "artifact_read", "ok": False, "skipped": True, "error": "not run: step artifact_write failed"}]}
    recs = {r["key"]: r for r in checks.mlflow_probe(result, "http://mlflow")}
    assert recs["mlflow.tracking"]["status"] == "failed" and "does not exist" in recs["mlflow.tracking"]["seen"]
    art = recs["mlflow.artifacts"]
    assert art["status"] == "not_run" and not art["ok"] and "ok" not in art["seen"].split(": ")[-1].split()
    assert "step tracking failed" in art["seen"]
    assert checks.mlflow_probe({"steps": []}, "u")[0]["status"] == "not_run"


def test_champion_of_says_why():
    assert checks.champion_of({"exists": False}, "m", "champion")["problem"] == "registered model m does not exist"
    gone = checks.champion_of({"exists": True, "alias_versions": {}}, "m", "champion")
    assert gone["version"] is None and "no alias champion" in gone["problem"]
    assert checks.champion_of({"exists": True, "alias_versions": {"champion": {"version": "3"}}}, "m",
                              "champion")["version"] == {"version": "3"}


def test_not_configured_all_takes_names_not_values():
    recs = checks.not_configured_all("data_services", {"postgresql": "", "redis": "verify_redis", "s3": ""})
    assert [(r["component"], r["seen"]) for r in recs] == [("redis", "verify_redis is not set")]


@pytest.mark.parametrize("run,skip,layers", [
    (["all"], [], ["hardware", "kubernetes", "data_services", "mlflow", "feast", "kserve"]),
    (["all"], ["kubernetes", "hardware"], ["data_services", "mlflow", "feast", "kserve"]),
    (["kserve", "mlflow"], [], ["mlflow", "kserve"]),
    (["kserve", "always", "nothing"], ["kserve"], []),
])
def test_selected_layers(run, skip, layers):
    assert checks.selected_layers(run, skip) == layers


def test_mdstat_clean_and_degraded():
    clean = checks.md_arrays((FIXTURES / "mdstat-raid1-clean.txt").read_text(), "w1")
    assert [(r["check"], r["ok"]) for r in clean] == [("md127 clean", True)]
    assert clean[0]["host"] == "w1"
    recs = by_check(checks.md_arrays((FIXTURES / "mdstat-raid1-degraded-recovery.txt").read_text(), "w1"))
    assert recs["md126 clean"]["ok"]
    assert not recs["md127 clean"]["ok"]
    assert "[2/1]" in recs["md127 clean"]["seen"] and "recovery" in recs["md127 clean"]["seen"]
    assert checks.md_arrays("Personalities : \nunused devices: <none>\n", "w1") == []


def test_mount_checks():
    recs = by_check(checks.mount("/data /dev/md127 xfs rw,relatime", "/data", True, "w1"))
    assert recs["/data mounted"]["ok"] and recs["/data writable"]["ok"]
    recs = by_check(checks.mount("/ /dev/vda1 ext4 rw,relatime", "/data", True, "w1"))
    assert not recs["/data mounted"]["ok"] and "it is on /" in recs["/data mounted"]["seen"]
    assert "/data writable" not in recs
    recs = by_check(checks.mount("/data /dev/md127 xfs ro,relatime", "/data", False, "w1"))
    assert not recs["/data writable"]["ok"]
    assert not checks.mount("", "/nope", False, "w1")[0]["ok"]


def test_gpus():
    facts = {"nvidia_gpus": [{"bus_id": "0000:17:00.0", "state": "ok"}, {"bus_id": "0000:31:00.0", "state": "lost"}],
             "nvidia_driver": {"loaded": True, "version": "535.309.01", "state": None}}
    recs = by_check(checks.gpus(facts, "g1", "535.309.01"))
    assert not recs["GPUs healthy"]["ok"] and "0000:31:00.0 lost" in recs["GPUs healthy"]["seen"]
    assert recs["NVIDIA driver"]["ok"]
    recs = by_check(checks.gpus({"nvidia_gpus": [], "nvidia_driver": {"loaded": False}}, "g1", "535.309.01"))
    assert not recs["GPUs healthy"]["ok"] and not recs["NVIDIA driver"]["ok"]


def test_k8s_nodes_from_api_objects():
    nodes = json.loads((FIXTURES / "k8s-nodes.json").read_text())
    recs = by_check(checks.k8s_nodes(nodes, "1.35.1", gpu_nodes=["gpu1", "gpu2"]))
    assert recs["cp1 Ready"]["ok"] and recs["cp1 kubelet version"]["ok"]
    assert recs["gpu1 GPU allocatable"]["ok"]
    assert not recs["gpu2 Ready"]["ok"] and "NodeStatusUnknown" in recs["gpu2 Ready"]["seen"]
    assert not recs["gpu2 kubelet version"]["ok"] and "v1.34.3" in recs["gpu2 kubelet version"]["seen"]
    assert not recs["gpu2 GPU allocatable"]["ok"]
    assert "cp1 GPU allocatable" not in recs
    assert not checks.k8s_nodes([], "1.35.1")[0]["ok"]


def health_result(cp2_etcd_down=False, learner=False, members=3):
    """A k8s_cluster_health result (wait_timeout 0) in the shape its check() returns (plugins/modules)."""
    urls = ["https://198.51.100.%d:6443" % i for i in (11, 12, 13)]
    servers = [{"url": u, "ready": True, "detail": "ok"} for u in urls]
    etcd = [{"name": "cp%d" % i, "id": "8e9e05c52164694%d" % i, "client_urls": ["https://198.51.100.1%d:2379" % i],
             "healthy": True, "learner": False, "error": None} for i in (1, 2, 3)][:members]
    problems = []
    if cp2_etcd_down:
        servers[1] = {"url": urls[1], "ready": False,
                      "detail": "HTTP 500: [-]etcd failed: reason withheld; [-]etcd-readiness failed: reason withheld"}
        etcd[1].update(healthy=False, error="failed to commit proposal: context deadline exceeded")
        problems.append("etcd member cp2 (https://198.51.100.12:2379): unhealthy: failed to commit proposal")
    if learner:
        etcd[2]["learner"] = True
    return {"healthy": not problems, "problems": problems, "api_server": urls[0], "api_servers": servers,
            "pods_not_ready": [], "etcd": {"members": etcd, "pod": "etcd-cp1"}}


def test_k8s_health_names_the_etcd_member_and_the_apiserver_that_are_down():
    recs = by_check(checks.k8s_health(health_result(), 3))
    assert all(r["ok"] for r in recs.values()), recs
    assert {"https://198.51.100.12:6443 /readyz", "etcd member cp2 healthy", "etcd members",
            "kube-system pods ready"} <= set(recs)
    recs = by_check(checks.k8s_health(health_result(cp2_etcd_down=True), 3))
    failed = {c for c, r in recs.items() if not r["ok"]}
    assert failed == {"https://198.51.100.12:6443 /readyz", "etcd member cp2 healthy"}, failed
    assert "etcd failed" in recs["https://198.51.100.12:6443 /readyz"]["seen"]
    member = recs["etcd member cp2 healthy"]
    assert "context deadline exceeded" in member["seen"] and "on cp2" in member["fix"]
    assert member["key"] == "kubernetes.etcd_member"


def test_k8s_health_a_learner_a_missing_member_and_no_etcd_pod_fail():
    recs = by_check(checks.k8s_health(health_result(learner=True), 3))
    assert not recs["etcd member cp3 healthy"]["ok"] and "learner" in recs["etcd member cp3 healthy"]["seen"]
    recs = by_check(checks.k8s_health(health_result(members=2), 3))
    assert not recs["etcd members"]["ok"] and "2 members (cp1, cp2)" in recs["etcd members"]["seen"]
    result = health_result()
    result["etcd"] = {"members": [], "pod": None}
    result["problems"] = ["etcd: no running etcd pod in kube-system (component=etcd) to read the members from"]
    recs = by_check(checks.k8s_health(result, 3))
    assert not recs["every etcd member healthy"]["ok"] and "no running etcd pod" in recs["every etcd member healthy"]["seen"]


def test_k8s_health_without_stacked_etcd_or_control_plane_addresses_says_what_was_not_read():
    result = health_result()
    del result["etcd"]
    result["api_servers"] = []
    recs = by_check(checks.k8s_health(result, 0))
    assert recs["every etcd member healthy"]["status"] == checks.NOT_RUN and recs["every etcd member healthy"]["ok"]
    assert recs["every apiserver ready"]["status"] == checks.NOT_RUN and recs["every apiserver ready"]["ok"]


def test_k8s_health_names_a_kube_system_pod_that_is_not_ready():
    result = health_result()
    result["pods_not_ready"] = [{"namespace": "kube-system", "name": "coredns-7d4f9b-x2x", "node": "w1",
                                 "phase": "Running", "reason": "container coredns not ready"}]
    recs = by_check(checks.k8s_health(result, 3))
    rec = recs["pod kube-system/coredns-7d4f9b-x2x ready"]
    assert not rec["ok"] and "on w1" in rec["seen"] and "kube-system pods ready" not in recs


def test_from_error_splits_fix_from_message():
    rec = checks.from_error({"msg": "http://s3 s3: cannot connect. Fix: check the URL", "hint": "check the URL"},
                            "data_services", "s3", "write and read back", "x", "generic")[0]
    assert rec["seen"] == "http://s3 s3: cannot connect." and rec["fix"] == "check the URL"
    rec = checks.from_error({"msg": "boom"}, "l", "c", "k", "x", "generic")[0]
    assert rec["fix"] == "generic" and not rec["ok"]


def test_report_orders_by_layer_and_fails_empty():
    recs = checks.kserve({"ready": False, "identity": IDENTIFIED}, "m", "u") + checks.redis(
        {"maxmemory": 1, "maxmemory_policy": "allkeys-lru"}, "r", "allkeys-lru")
    rep = report.build(recs)
    assert [c["layer"] for c in rep["checks"]] == ["data_services"] * 3 + ["kserve"] * 5
    assert not rep["ok"] and rep["counts"] == {"checks": 8, "passed": 4, "failed": 1, "not_run": 3, "skipped": 0}
    text = report.summary(rep)
    assert "verify FAILED" in text and "FAIL kserve/kserve: m ready" in text and "fix:" in text
    assert "NOT RUN kserve/kserve: m prediction" in text and "3 not run" in text
    empty = report.build([])
    assert not empty["ok"] and "no check ran" in report.summary(empty)


def test_report_completes_every_catalog_check_of_a_selected_layer():
    # The redis layer recorded two of its three checks; postgresql, s3 and the whole kserve layer nothing.
    recs = checks.redis({"maxmemory": 1, "maxmemory_policy": "allkeys-lru"}, "r", "allkeys-lru")[1:]
    recs += checks.from_error({"msg": "cannot connect"}, "data_services", "postgresql", "reachable", "x", "start it")
    rep = report.build(recs, layers=["data_services", "kserve"])
    by_key = {(c["layer"], c["key"]): c for c in rep["checks"]}
    for layer, entries in checks.CATALOG.items():
        for key, *_rest in entries:
            assert ((layer, key) in by_key) == (layer in ("data_services", "kserve")), (layer, key)
    headroom = by_key[("data_services", "postgresql.headroom")]
    assert headroom["status"] == "not_run" and not headroom["ok"]
    assert "postgresql 'reachable' did not pass" in headroom["seen"] and "reachable" in headroom["fix"]
    lost = by_key[("kserve", "kserve.identity")]
    assert "no task of verify recorded this check" in lost["seen"]
    assert not rep["ok"] and rep["counts"]["not_run"] == 8 and rep["counts"]["passed"] == 2


def test_report_counts_chosen_skips_as_ok():
    recs = checks.mlflow_probe({"steps": [{"name": n, "ok": True} for n in
                                          ("tracking", "params", "metrics", "artifact_write", "artifact_read")]},
                               "u") + checks.mlflow_champion_not_asked()
    rep = report.build(recs, layers=["mlflow"])
    assert rep["ok"] and rep["counts"] == {"checks": 4, "passed": 2, "failed": 0, "not_run": 0, "skipped": 2}
    assert "skipped  mlflow/mlflow registry" in report.summary(rep)


def test_report_normalises_records_without_status():
    rep = report.build([{"layer": "hardware", "component": "node", "check": "ran", "ok": False, "seen": "s",
                         "expected": "e", "fix": "f", "host": "w1"}])
    assert rep["checks"][0]["status"] == "failed" and rep["counts"]["failed"] == 1


def test_an_error_of_no_free_connection_is_recorded_on_the_headroom_check():
    """Outside tester's finding (issue 21): 0 connections left was blamed on the address and credentials."""
    rec = checks.from_error({"msg": 'connection failed: FATAL:  remaining connection slots are reserved for roles '
                                    'with the SUPERUSER attribute'}, "data_services", "postgresql", "reachable",
                            "answers", "check the address, port and credentials")[0]
    assert rec["key"] == "postgresql.headroom" and rec["check"] == "connection headroom" and not rec["ok"]
    assert "no connection slot left" in rec["fix"] and "address, port" not in rec["fix"]
    other = checks.from_error({"msg": "password authentication failed"}, "data_services", "postgresql", "reachable",
                              "answers", "check the address, port and credentials")[0]
    assert other["check"] == "reachable" and "credentials" in other["fix"]
    redis = checks.from_error({"msg": "too many clients already"}, "data_services", "redis", "reachable", "x", "y")[0]
    assert redis["check"] == "reachable"  # the cause is PostgreSQL's only


def test_redis_evicting_at_maxmemory_fails_and_becomes_the_cause_of_missing_feast_values():
    """Outside tester's finding (issue 21): Redis evicting because maxmemory is below what it holds was reported as
    "materialize the feature view"."""
    info = {"maxmemory": 1000, "maxmemory_policy": "allkeys-lru", "evicted_keys": 42, "used_memory": 990}
    recs = {r["key"]: r for r in checks.redis(info, "r:6379", "allkeys-lru")}
    assert not recs["redis.evictions"]["ok"] and "42 keys evicted" in recs["redis.evictions"]["seen"]
    assert "redis_maxmemory" in recs["redis.evictions"]["fix"]
    calm = {"maxmemory": 1000, "maxmemory_policy": "allkeys-lru", "evicted_keys": 42, "used_memory": 300}
    assert [r for r in checks.redis(calm, "r:6379", "allkeys-lru") if r["key"] == "redis.evictions"][0]["ok"]
    missing = {"freshness": [{"feature_view": "v", "missing": [{"entity_row": {"id": 1}}], "fresh": False}]}
    blamed = checks.feast(missing, "/repo", list(recs.values()))[0]
    assert "Redis is evicting" in blamed["seen"] and "evicts keys" in blamed["fix"]
    assert "materialize the feature view (feast" in checks.feast(missing, "/repo", [])[0]["fix"]


def test_feast_schema_problem_fails_and_becomes_the_cause_of_staleness():
    problem = "v: source column amount is text (STRING) but feature amount is declared DOUBLE"
    result = {"freshness": [{"feature_view": "v", "age_s": 7200.0, "max_age_s": 1800, "fresh": False,
                             "missing": [], "future": []}],
              "feature_views": [{"name": "v", "last_materialization_end": "2026-01-01T00:00:00+00:00"}],
              "schema": [{"feature_view": "v", "checked": True, "columns": [], "error": None,
                          "problems": [{"column": "amount", "feature": "amount", "problem": problem}]}]}
    recs = by_check(checks.feast(result, "/repo"))
    schema = recs["v schema matches its source"]
    assert schema["status"] == "failed" and schema["seen"] == problem and schema["key"] == "feast.schema"
    stale = recs["v fresh"]
    assert "no longer matches" in stale["fix"] and "last materialization ended 2026-01-01" in stale["seen"]


def test_feast_stale_fix_tells_a_stopped_producer_from_a_failing_materialization():
    import datetime as dt
    recent = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=60)).isoformat()
    base = {"feature_view": "v", "age_s": 7200.0, "max_age_s": 1800, "fresh": False, "missing": [], "future": []}
    ok_schema = [{"feature_view": "v", "checked": True, "columns": [{"name": "amount", "type": "double precision"}],
                  "problems": [], "error": None}]
    producer = by_check(checks.feast({"freshness": [base], "schema": ok_schema,
                                      "feature_views": [{"name": "v", "last_materialization_end": recent}]}, "/r"))
    assert "producer stopped writing" in producer["v fresh"]["fix"]
    assert producer["v schema matches its source"]["status"] == "passed"
    failing = by_check(checks.feast({"freshness": [base], "feature_views": [
        {"name": "v", "last_materialization_end": "2026-01-01T00:00:00+00:00"}]}, "/r"))
    assert "has not succeeded since 2026-01-01" in failing["v fresh"]["fix"]
    never = by_check(checks.feast({"freshness": [base], "feature_views": [{"name": "v"}]}, "/r"))
    assert "never materialized" in never["v fresh"]["fix"]
    unchecked = by_check(checks.feast({"freshness": [base], "schema": [
        {"feature_view": "v", "checked": False, "error": "FileSource sources cannot list their columns"}]}, "/r"))
    assert unchecked["v schema matches its source"]["status"] == "not_run"


def champion_with_probe(version, predictions, previous=None, previous_predictions=None, error=None):
    rec = champion(version)
    rec["version"]["probe"] = {"version": int(version), "predictions": predictions, "previous_version": previous,
                               "previous_predictions": previous_predictions, "error": error}
    return rec


def served(prediction, version="2"):
    return {"ready": True, "live": True, "matches": None, "prediction": {"predict": prediction},
            "served_version": version, "identity": IDENTIFIED}


def test_old_weights_reporting_the_new_version_fail_by_their_answers():
    """Issue 21: old weights that report the new version passed when only the reported version was compared."""
    champ = champion_with_probe("2", [0, 1, 0, 1], previous=1, previous_predictions=[0, 0, 1, 1])
    recs = by_check(checks.kserve(served([0, 0, 1, 1]), "fraud", "http://ks", champion=champ))
    assert recs["fraud serves the champion"]["status"] == "passed"  # the reported version lies
    rec = recs["fraud answers as the champion"]
    assert rec["status"] == "failed" and rec["key"] == "kserve.champion_predictions"
    assert "answers as version 1 does" in rec["seen"] and "storageUri" in rec["fix"]


def test_a_probe_that_cannot_tell_the_champion_from_its_predecessor_is_a_failure_of_the_probe():
    champ = champion_with_probe("2", [1, 1], previous=1, previous_predictions=[1, 1])
    rec = by_check(checks.kserve(served([1, 1]), "fraud", "http://ks", champion=champ))["fraud answers as the champion"]
    assert rec["status"] == "failed" and "cannot tell the champion (version 2) from version 1" in rec["seen"]
    assert "add probe rows" in rec["fix"]


def test_answers_as_the_champion_passes_with_and_without_an_earlier_version():
    champ = champion_with_probe("2", [0.25, 1.0], previous=1, previous_predictions=[0.5, 1.0])
    rec = by_check(checks.kserve(served([0.25, 1.0]), "m", "http://ks", champion=champ))["m answers as the champion"]
    assert rec["status"] == "passed" and "version 1 answers [0.5, 1.0]" in rec["seen"]
    champ = champion_with_probe("1", [3])
    rec = by_check(checks.kserve(served([3], "1"), "m", "http://ks", champion=champ))["m answers as the champion"]
    assert rec["status"] == "passed" and "no earlier version" in rec["seen"]


def test_answers_as_the_champion_without_a_probe_or_a_loadable_champion():
    no_probe = dict(served([1]), prediction=None)
    rec = by_check(checks.kserve(no_probe, "m", "http://ks", champion=champion("1")))["m answers as the champion"]
    assert rec["status"] == "not_run" and not rec["ok"]
    broken = champion_with_probe("1", None, error="version 1: No such artifact: 'MLmodel'")
    rec = by_check(checks.kserve(served([1], "1"), "m", "http://ks", champion=broken))["m answers as the champion"]
    assert rec["status"] == "failed" and "MLmodel" in rec["seen"]
    off = by_check(checks.kserve(served([1], "1"), "m", "http://ks", champion=broken, compare_version=False))
    assert off["m answers as the champion"]["status"] == "not_run" and off["m answers as the champion"]["ok"]


def test_probe_rows_from_v1_and_v2_requests():
    assert checks.probe_rows({"instances": [[1, 2], [3, 4]]}) == [[1, 2], [3, 4]]
    v2 = {"inputs": [{"name": "input-0", "shape": [2, 2], "datatype": "FP64", "data": [0, 1, 1, 0]}]}
    assert checks.probe_rows(v2) == [[0, 1], [1, 0]]
    assert checks.probe_rows({"inputs": [{"shape": [3], "data": [1, 2, 3]}]}) == [[1], [2], [3]]
    assert checks.probe_rows({"inputs": [{"shape": [2, 3], "data": [1, 2]}]}) is None
    assert checks.probe_rows(None) is None


def test_invalid_settings_of_a_layer_are_named_on_that_layer():
    rec = checks.layer_stopped({"msg": "Validation of arguments failed", "argument_errors": [
        "argument 'port' is of type str found in 'verify_redis'. and we were unable to convert to int"]},
        "data_services", "Validating arguments against arg spec 'data_services' - Data services")[0]
    assert rec["layer"] == "data_services" and rec["component"] == "data_services settings"
    assert rec["check"] == "settings valid" and "verify_redis" in rec["seen"] and not rec["ok"]
    other = checks.layer_stopped({"msg": "boom"}, "feast", "Verify | Feast | something")[0]
    assert other["layer"] == "feast" and other["check"] == "feast layer ran to the end"
