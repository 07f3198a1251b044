"""The platform's data layer on the cluster (issue 22: the S3 object store, PostgreSQL and Redis), for real.

Runs on the cluster of test_kubeadm_cluster.py (the session fixture
`cluster` of conftest.py: one cluster for both modules; the cluster lane of
scripts/test runs them in one pytest), after its tests that keep the cluster
and before the ones that remove nodes or reset it (marked `cluster_end`).
playbooks/platform.yml imports the platform bundle's images (built here from
Go modules and Debian packages by `scripts/bundle build --platform`) on every
node and deploys SeaweedFS (S3), PostgreSQL (the CloudNativePG operator, a
3-instance Cluster with a synchronous standby, a PgBouncer Pooler, backups to
the object store) and Redis with Sentinel through kubernetes.core.
Clients are the standard ones (boto3 with SigV4, psycopg, redis-py's Sentinel
client, redis-cli) in pods of the bundle's platform-tools image. The nodes
of the Redis primary, of the PostgreSQL primary and one holding object-store
data are powered off for real (`scripts/vrack stop`); a base backup is restored
into a new Cluster. At the end the namespace is deleted, so that the
drains of the node tests that follow are not held by its disruption budgets.
MLflow (issue 23) runs last, on that data layer: its own play (--tags
mlflow), a client on the controller through `kubectl port-forward`.
"""

from __future__ import annotations

import base64
import contextlib
import importlib.util
import json
import os
import re
import subprocess
import time

import pytest
from bundle_helpers import ROOT
from k8s_helpers import recap

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="container nodes need root")

NS = "mlops-data"
MEMORY_LIMIT = "256Mi"  # small, so that filling it past maxmemory takes seconds


def _tools_pod_module():
    spec = importlib.util.spec_from_file_location("mlops_tools_pod", ROOT / "scripts" / "bench.d" / "tools_pod.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# A platform-tools pod on a control plane (the failover test powers a worker off; the client outlives it).
CLIENT = _tools_pod_module().tools_pod("client", NS)

# Run in the client pod: find the primary through the Sentinels as Feast does, then whatever ACTION says.
CLIENT_SCRIPT = r"""
import json, os, sys
import redis
from redis.sentinel import Sentinel
sentinel = Sentinel([("redis-sentinel", 26379)], socket_timeout=3)
primary = sentinel.master_for("redis", password=os.environ["REDIS_PASSWORD"], socket_timeout=5)
action = sys.argv[1]
out = {"primary": list(sentinel.discover_master("redis"))}
if action == "roundtrip":
    primary.set("probe", "value-1")
    out["get"] = primary.get("probe").decode()
    try:
        sentinel.master_for("redis", password="not-the-password", socket_timeout=3).ping()
        out["bad_password"] = "accepted"
    except (redis.exceptions.AuthenticationError, redis.exceptions.ResponseError) as exc:
        out["bad_password"] = "refused: " + str(exc)
    admin = redis.Redis(host="redis-sentinel", port=26379, socket_timeout=3)
    for cmd in (("SENTINEL", "FAILOVER", "redis"), ("SENTINEL", "SET", "redis", "quorum", "1"), ("SHUTDOWN",)):
        try:
            admin.execute_command(*cmd)
            out[" ".join(cmd[:2])] = "accepted"
        except redis.exceptions.ResponseError as exc:
            out[" ".join(cmd[:2])] = "refused: " + str(exc)
elif action == "answer":
    # "ok" or the error, for each host in argv[2:] (the Pooler's pods).
    for h in sys.argv[2:]:
        try:
            with connect(host=h) as c:
                c.execute("SELECT 1").fetchone()
            out[h] = "ok"
        except psycopg.Error as exc:
            out[h] = str(exc).strip()[:200]
elif action == "fill":
    info = primary.info("memory")
    out["maxmemory"] = info["maxmemory"]
    value = b"x" * 4096
    n = int(info["maxmemory"] * 2 / len(value))
    # Batches of 500 x 4 KiB while Redis evicts and rewrites its AOF on a 2-core host: a 5 s read timeout
    # expired once (2026-12-07, standalone run); what is measured here is eviction, not latency.
    filler = sentinel.master_for("redis", password=os.environ["REDIS_PASSWORD"], socket_timeout=60)
    pipe = filler.pipeline(transaction=False)
    for i in range(n):
        pipe.set(f"fill:{i}", value)
        if i % 500 == 499:
            pipe.execute()
    pipe.execute()
    out["written"] = n
    out["used_memory"] = primary.info("memory")["used_memory"]
    out["evicted_keys"] = primary.info("stats")["evicted_keys"]
    out["dbsize"] = primary.dbsize()
    # The later tests start from a small data set: a replica's full resync of a set filled to maxmemory
    # under a 256Mi limit once failed to come back in a standalone run (recorded as an open question in
    # docs/platform-data.md), which is not what those tests are about.
    primary.flushall()
elif action == "write":
    n = int(sys.argv[2])
    primary.flushall()
    for i in range(n):
        primary.set(f"acked:{i}", i)
    # Acknowledged by the replica too: what the failover must keep.
    out["replicas_acked"] = primary.execute_command("WAIT", 1, 10000)
    out["written"] = n
elif action == "loop":
    # Write every 50 ms until the stop file appears (at most ARGV[2] seconds); every failure is counted with its time.
    import time
    end, ok, failed, errors, i = time.time() + float(sys.argv[2]), 0, 0, [], 0
    while time.time() < end and not os.path.exists(sys.argv[3]):
        i += 1
        try:
            primary.set(f"loop:{i}", i)
            ok += 1
        except Exception as exc:  # every failure counts, whatever it is
            failed += 1
            errors.append((round(time.time(), 2), type(exc).__name__))
        time.sleep(0.05)
    span = round(errors[-1][0] - errors[0][0], 2) if errors else 0
    out.update(ok=ok, failed=failed, failure_span_s=span, errors=[e for _t, e in errors[:10]],
               first_error=errors[0][0] if errors else None, last_error=errors[-1][0] if errors else None)
elif action == "count":
    keys = [k.decode() for k in primary.scan_iter("acked:*", count=1000)]
    out["count"] = len(keys)
    primary.set("after-failover", "yes")
    out["write_after"] = primary.get("after-failover").decode()
print(json.dumps(out))
"""


# Run in the client pod: S3 through the object store's Service with boto3 (SigV4), as MLflow and Feast do.
S3_SCRIPT = r"""
import hashlib, json, os, sys, time
import boto3
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

def client(key=None, secret=None, unsigned=False, retries=5):
    cfg = Config(signature_version=UNSIGNED if unsigned else "s3v4", connect_timeout=3, read_timeout=15,
                 retries={"max_attempts": retries, "mode": "standard"})
    return boto3.client("s3", endpoint_url=os.environ["S3_ENDPOINT"], region_name="us-east-1", config=cfg,
                        aws_access_key_id=key or os.environ["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=secret or os.environ["AWS_SECRET_ACCESS_KEY"])

def refused(call):
    try:
        call()
        return "accepted"
    except ClientError as exc:
        return "%s %s" % (exc.response["ResponseMetadata"]["HTTPStatusCode"], exc.response["Error"]["Code"])

s3 = client()
action, out = sys.argv[1], {}
if action == "roundtrip":
    out["buckets"] = sorted(b["Name"] for b in s3.list_buckets()["Buckets"])
    s3.put_object(Bucket="mlflow", Key="probe/roundtrip", Body=b"value-1")
    out["get"] = s3.get_object(Bucket="mlflow", Key="probe/roundtrip")["Body"].read().decode()
    out["bad_key"] = refused(lambda: client(key="MLOPSNOTAKEY0000000", retries=1).list_buckets())
    out["bad_secret"] = refused(lambda: client(secret="not-the-secret", retries=1).list_buckets())
    out["anonymous"] = refused(lambda: client(unsigned=True, retries=1).get_object(Bucket="mlflow", Key="probe/roundtrip"))
elif action == "write":
    n, size = int(sys.argv[2]), int(sys.argv[3])
    for i in range(n):
        body = os.urandom(size)
        s3.put_object(Bucket="backups", Key="count/%04d" % i, Body=body)
        out["count/%04d" % i] = hashlib.sha256(body).hexdigest()
elif action == "read":
    # Every object listed and read back, each retried until it reads or the deadline passes.
    deadline, errors = time.time() + float(sys.argv[2]), []
    keys = None
    while keys is None and time.time() < deadline:
        try:
            keys = [o["Key"] for p in s3.get_paginator("list_objects_v2").paginate(Bucket="backups", Prefix="count/")
                    for o in p.get("Contents", [])]
        except (BotoCoreError, ClientError) as exc:
            errors.append(type(exc).__name__)
            time.sleep(1)
    for key in keys or []:
        while time.time() < deadline:
            try:
                out[key] = hashlib.sha256(s3.get_object(Bucket="backups", Key=key)["Body"].read()).hexdigest()
                break
            except (BotoCoreError, ClientError) as exc:
                errors.append(type(exc).__name__)
                time.sleep(1)
    out = {"objects": out, "errors": errors[:20], "error_count": len(errors)}
elif action == "list":
    out["keys"] = [o["Key"] for p in s3.get_paginator("list_objects_v2").paginate(Bucket=sys.argv[2])
                   for o in p.get("Contents", [])]
elif action == "write-one":
    try:
        client(retries=2).put_object(Bucket="backups", Key="during/one", Body=b"x" * 1024)
        out["write"] = "ok"
    except (BotoCoreError, ClientError) as exc:
        out["write"] = "failed: %s" % str(exc)[:300]
print(json.dumps(out))
"""


def kubectl(cluster, *args, **kw):
    return cluster.kubectl(*args, **kw)


def assert_not_printed(secret, out, what):
    """No 8-character piece of SECRET in OUT; a failure names WHAT and counts the pieces, never shows them."""
    leaked = sum(1 for i in range(len(secret) - 7) if secret[i:i + 8] in out)
    assert leaked == 0, f"{leaked} 8-character pieces of {what} in the output"


def client(cluster, *args, timeout=300):
    res = kubectl(cluster, "-n", NS, "exec", "-i", "client", "--", "python3", "-", *map(str, args),
                  stdin=CLIENT_SCRIPT, timeout=timeout, check=False)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    return json.loads(res.stdout.strip().splitlines()[-1])


def s3(cluster, *args, timeout=300):
    res = kubectl(cluster, "-n", NS, "exec", "-i", "client", "--", "python3", "-", *map(str, args),
                  stdin=S3_SCRIPT, timeout=timeout, check=False)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    return json.loads(res.stdout.strip().splitlines()[-1])


def object_store_ready(cluster):
    """{StatefulSet: (ready, wanted)} of the object store's masters, volume servers and filers."""
    sets = json.loads(kubectl(cluster, "-n", NS, "get", "statefulsets", "-l", "app.kubernetes.io/name=seaweedfs",
                              "-o", "json").stdout)["items"]
    return {s["metadata"]["name"]: (s["status"].get("readyReplicas", 0), s["spec"]["replicas"]) for s in sets}


OBJECT_STORE_READY = {"seaweedfs-master": (3, 3), "seaweedfs-volume": (2, 2), "seaweedfs-filer": (2, 2)}


def wait_object_store_ready(cluster, seconds):
    deadline = time.monotonic() + seconds
    while object_store_ready(cluster) != OBJECT_STORE_READY and time.monotonic() < deadline:
        time.sleep(3)
    assert object_store_ready(cluster) == OBJECT_STORE_READY


# MLflow, Feast and the training Job on the cluster (issue 23) run only with MLOPS_TEST_PLATFORM_APPS=1 (`make
# test-platform-apps`), not in `make test`: their images (about 1 GB each) are kept three times on every node (the
# archive, containerd's content store, the unpacked snapshot), and with them the five nodes and CI's other lanes
# filled this machine's disk ("no space left on device" importing the images, CI run of 2026-12-07). Without them
# platform.yml leaves them out (mlops_platform_apps false: it imports only the data layer's images).
PLATFORM_APPS = os.environ.get("MLOPS_TEST_PLATFORM_APPS") == "1"
APPS_SKIPPED = ("MLflow, Feast and the training Job on the cluster run with MLOPS_TEST_PLATFORM_APPS=1 "
                "(make test-platform-apps), not in make test: see PLATFORM_APPS")


def platform_args(cluster):
    apps = ("-e", "mlops_platform_apps=true") if PLATFORM_APPS else ()
    return ("-e", f"mlops_platform_bundle_dir={cluster.platform_bundle}", "-e", f"redis_memory_limit={MEMORY_LIMIT}",
            *apps)


# The data layer's tests run platform.yml without MLflow (its own fixture deploys it after them): a failure of
# MLflow's play does not hide the data layer's results.
DATA_LAYER_ONLY = ("--skip-tags", "mlflow,feast,training")


def play(cluster, *args, check=True):
    return cluster.play("playbooks/platform.yml", *platform_args(cluster), *args, check=check)


def redis_pods(cluster):
    pods = json.loads(kubectl(cluster, "-n", NS, "get", "pods", "-l", "app.kubernetes.io/name=redis",
                              "-o", "json").stdout)["items"]
    return {p["metadata"]["name"]: p for p in pods}


def sentinel_view(cluster, sentinel):
    """What one Sentinel sees (the role's check script): primary (its pod IP), flags, in_sync (the replicas up,
    replicating from that primary and in sync: comma-separated pod IPs), other_sentinels."""
    res = kubectl(cluster, "-n", NS, "exec", sentinel, "--", "bash", "/etc/redis/check-sentinel.sh", check=False)
    return dict(re.findall(r"(\w+)=(\S*)", res.stdout))


def pod_of_ip(cluster, ip):
    return next((n for n, p in redis_pods(cluster).items() if p["status"].get("podIP") == ip), None)


@pytest.fixture(scope="module")
def data_layer(cluster):
    from bundle_helpers import built_platform_bundle
    cluster.platform_bundle = built_platform_bundle()
    t0 = time.monotonic()
    cluster.platform_first_run = play(cluster, "-vvv", *DATA_LAYER_ONLY)
    cluster.platform_seconds = time.monotonic() - t0
    print(f"playbooks/platform.yml (images on 5 nodes, Redis with Sentinel): {cluster.platform_seconds:.0f} s")
    kubectl(cluster, "apply", "-f", "-", stdin=CLIENT)
    cluster.wait_pod("client", namespace=NS)
    try:
        yield cluster
    finally:
        kubectl(cluster, "delete", "namespace", NS, "--wait=true", "--timeout=180s", check=False, timeout=240)


def test_redis_runs_with_sentinels_agreeing_on_one_primary_and_its_password_is_never_printed(data_layer):
    out = data_layer.platform_first_run.stdout + data_layer.platform_first_run.stderr
    assert "task path:" in out  # -vvv indeed
    secret = json.loads(kubectl(data_layer, "-n", NS, "get", "secret", "redis-auth", "-o", "json").stdout)["data"]
    for key in ("password", "sentinel-password"):
        value = base64.b64decode(secret[key]).decode()
        length = len(value)  # (pytest would show the value beside len())
        assert length == 40, key
        # No fragment of 8 characters of either password in 90 kB+ of -vvv output.
        assert_not_printed(value, out, key)
    pods = redis_pods(data_layer)
    servers = sorted(n for n in pods if re.match(r"^redis-\d+$", n))
    sentinels = sorted(n for n in pods if n.startswith("redis-sentinel-"))
    assert servers == ["redis-0", "redis-1"] and len(sentinels) == 3
    # One instance per node, on workers (their volumes); Sentinels on three distinct nodes.
    assert len({pods[n]["spec"]["nodeName"] for n in servers}) == 2
    assert {pods[n]["spec"]["nodeName"] for n in servers} <= {n for n, _ip in data_layer.workers}
    assert len({pods[n]["spec"]["nodeName"] for n in sentinels}) == 3
    views = [sentinel_view(data_layer, s) for s in sentinels]
    assert len({v.get("primary") for v in views}) == 1, views
    assert pod_of_ip(data_layer, views[0]["primary"]) in servers, views
    replica_ip = next(pods[n]["status"]["podIP"] for n in servers if pods[n]["status"]["podIP"] != views[0]["primary"])
    assert all(v["flags"] == "master" and v["in_sync"] == replica_ip and v["other_sentinels"] == "2" for v in views), views
    # Every Service is cluster-internal: nothing is opened to the rack LAN.
    services = json.loads(kubectl(data_layer, "-n", NS, "get", "services", "-o", "json").stdout)["items"]
    assert {s["spec"]["type"] for s in services} == {"ClusterIP"}


def test_the_object_store_runs_spread_over_the_nodes_and_its_keys_are_never_printed(data_layer):
    out = data_layer.platform_first_run.stdout + data_layer.platform_first_run.stderr
    secret = json.loads(kubectl(data_layer, "-n", NS, "get", "secret", "seaweedfs-s3", "-o", "json").stdout)["data"]
    for key in ("access-key", "secret-key"):
        value = base64.b64decode(secret[key]).decode()
        length = len(value)
        assert length in (20, 40), key
        assert_not_printed(value, out, key)
    assert object_store_ready(data_layer) == OBJECT_STORE_READY
    pods = json.loads(kubectl(data_layer, "-n", NS, "get", "pods", "-l", "app.kubernetes.io/name=seaweedfs",
                              "-o", "json").stdout)["items"]
    nodes = {}
    for pod in pods:
        nodes.setdefault(pod["metadata"]["labels"]["app.kubernetes.io/component"], set()).add(pod["spec"]["nodeName"])
    assert len(nodes["master"]) == 3 and len(nodes["volume"]) == 2 and len(nodes["filer"]) == 2, nodes
    # The objects and the filers' metadata live on the workers' local volumes.
    assert nodes["volume"] | nodes["filer"] <= {n for n, _ip in data_layer.workers}, nodes


def test_s3_with_sigv4_reads_back_what_it_wrote_and_a_bad_key_or_no_signature_is_refused(data_layer):
    out = s3(data_layer, "roundtrip")
    assert out["buckets"] == ["backups", "feast", "mlflow"], out  # the role's buckets, made by its Job
    assert out["get"] == "value-1"
    assert out["bad_key"] == "403 InvalidAccessKeyId", out
    assert out["bad_secret"] == "403 SignatureDoesNotMatch", out
    assert out["anonymous"].startswith("403 "), out


def test_a_pod_writes_and_reads_through_sentinel_and_wrong_passwords_and_admin_commands_are_refused(data_layer):
    out = client(data_layer, "roundtrip")
    assert out["get"] == "value-1"
    assert out["bad_password"].startswith("refused") and "WRONGPASS" in out["bad_password"], out
    # Sentinels answer clients without a password, but only who the primary is.
    for cmd in ("SENTINEL FAILOVER", "SENTINEL SET", "SHUTDOWN"):
        assert out[cmd].startswith("refused") and "no permissions" in out[cmd], out


def test_filling_past_maxmemory_evicts_keys_and_no_instance_is_oom_killed(data_layer):
    out = client(data_layer, "fill")
    limit = 256 * 2 ** 20
    assert out["maxmemory"] == limit * 60 // 100
    assert out["evicted_keys"] > 0 and out["dbsize"] < out["written"], out
    assert out["used_memory"] <= out["maxmemory"] * 1.05, out
    for name, pod in redis_pods(data_layer).items():
        for status in pod["status"]["containerStatuses"]:
            # No container of the set was ever OOM-killed, and the instances never restarted.
            assert (status.get("lastState") or {}).get("terminated", {}).get("reason") != "OOMKilled", (name, status)
            if re.match(r"^redis-\d+$", name):
                assert status["restartCount"] == 0, (name, status)


def test_second_run_and_check_diff_change_nothing(data_layer):
    for args in ((), ("--check", "--diff")):
        res = play(data_layer, *DATA_LAYER_ONLY, *args)
        changed = {h: r["changed"] for h, r in recap(res.stdout).items()}
        assert changed and all(v == 0 for v in changed.values()), (args, res.stdout[-5000:])


def test_a_configuration_change_restarts_every_pod_in_order_and_a_writing_client_sees_no_failure(data_layer):
    """maxmemory and the Sentinels' down-after changed: the role restarts the 3 Sentinels one at a time, then the
    replica, then the primary (which hands over first); a client writing every 50 ms from before the play until
    after it sees at most the hand-over: failures (if any) within 2 s of each other. Runs here saw 0, 0 and 4
    failed writes (the demoted primary closes its clients' connections; they reconnect to the new one). On a
    failure the message carries when each task started, the failures' times and the Sentinels' logs."""
    before = {n: p["metadata"]["uid"] for n, p in redis_pods(data_layer).items()}
    stop_file = "/tmp/stop-loop"
    kubectl(data_layer, "-n", NS, "exec", "client", "--", "rm", "-f", stop_file)
    argv = [str(data_layer.bundle / "bin" / "kubectl"), f"--kubeconfig={data_layer.kubeconfig}", "-n", NS, "exec",
            "-i", "client", "--", "python3", "-", "loop", "900", stop_file]
    tasks = []
    with subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True) as writer:
        writer.stdin.write(CLIENT_SCRIPT)
        writer.stdin.close()
        time.sleep(3)
        t0 = time.monotonic()
        res = data_layer.play_watched(
            "playbooks/platform.yml", *platform_args(data_layer), "--tags", "redis", "-e", "redis_maxmemory_percent=55",
            "-e", "redis_down_after_ms=6000",
            on_line=lambda line: line.startswith("TASK [") and tasks.append((round(time.time(), 2), line.strip())))
        seconds = time.monotonic() - t0
        time.sleep(3)
        kubectl(data_layer, "-n", NS, "exec", "client", "--", "touch", stop_file)
        out = writer.stdout.read()
        writer.wait(timeout=300)
    assert res.returncode == 0, res.stdout[-5000:]
    order = re.findall(r"TASK \[baremetal\.mlops\.redis : Redis \| Delete the pod .* - (\S+)\]", res.stdout)
    loop = json.loads(out.strip().splitlines()[-1])
    print(f"Redis: configuration change rolled {order} in {seconds:.0f} s; writer: {loop}")
    assert order[:3] == ["redis-sentinel-0", "redis-sentinel-1", "redis-sentinel-2"], order
    assert sorted(order[3:]) == ["redis-0", "redis-1"], order
    if not (loop["ok"] > 1000 and loop["failed"] <= 40 and loop["failure_span_s"] <= 2):
        logs = "\n".join(kubectl(data_layer, "-n", NS, "logs", f"redis-sentinel-{i}", check=False).stdout[-4000:]
                         for i in range(3))
        timeline = "\n".join(f"{t:.2f} {line}" for t, line in tasks if "Delete the pod" in line or "Wait" in line)
        pytest.fail(f"writer: {loop}\ntasks (epoch seconds):\n{timeline}\nSentinels' logs:\n{logs}")
    after = redis_pods(data_layer)
    assert all(after[n]["metadata"]["uid"] != uid for n, uid in before.items() if n != "client")
    primary = sentinel_view(data_layer, "redis-sentinel-0")
    res = kubectl(data_layer, "-n", NS, "exec", pod_of_ip(data_layer, primary["primary"]), "--", "redis-cli",
                  "CONFIG", "GET", "maxmemory")
    assert res.stdout.split()[-1] == str(256 * 2 ** 20 * 55 // 100)
    # And the next run with the same values restarts nothing.
    res = play(data_layer, "--tags", "redis", "-e", "redis_maxmemory_percent=55", "-e", "redis_down_after_ms=6000")
    assert recap(res.stdout)["k8s-cp1"]["changed"] == 0, res.stdout[-3000:]


@pytest.mark.parametrize("tag,args,messages", [
    ("redis", ["redis_maxmemory=300Mi", "redis_instances=1", "redis_sentinels=2"],
     ["redis_maxmemory 300Mi is not below redis_memory_limit 256Mi", "redis_instances is 1 with redis_ha true",
      "redis_sentinels 2 must be odd and at least 3"]),
    ("object_store", ['{"object_store_buckets": ["mlflow", "Bad_Bucket"]}', "object_store_volume_servers=1",
                      "object_store_kind=ceph"],
     ["bucket Bad_Bucket in object_store_buckets is not a valid S3 bucket name",
      "object_store_volume_servers is 1 with object_store_ha true",
      "object_store_kind ceph is not an object store this collection deploys"]),
    ("postgresql", ["postgresql_instances=1", "postgresql_pooler_pool_size=40", "postgresql_backup_bucket=Bad_Bucket"],
     ["postgresql_instances is 1 with postgresql_ha true", "the poolers may open 240 server connections",
      "postgresql_backup_bucket Bad_Bucket is not a valid S3 bucket name"]),
])
def test_bad_input_is_refused_naming_each_variable_before_anything_changes(data_layer, tag, args, messages):
    res = play(data_layer, "--tags", tag, "-e", f"{tag}_namespace=mlops-refused",
               *[a for arg in args for a in ("-e", arg)], check=False)
    out = " ".join(res.stdout.split())
    assert res.returncode != 0
    for message in messages:
        assert message in out, (message, out[-3000:])
    assert kubectl(data_layer, "get", "namespace", "mlops-refused", check=False).returncode != 0


def test_powering_off_the_primarys_node_promotes_the_replica_and_keeps_every_acknowledged_write(data_layer):
    written = client(data_layer, "write", 2000)
    assert written["replicas_acked"] == 1, written
    primary_ip = written["primary"][0]
    primary = pod_of_ip(data_layer, primary_ip)
    pods = redis_pods(data_layer)
    node = pods[primary]["spec"]["nodeName"]
    watcher = next(n for n, p in pods.items() if n.startswith("redis-sentinel-") and p["spec"]["nodeName"] != node)
    wait_pg_healthy(data_layer, 300)
    move_pg_primary_off(data_layer, node)  # one component fails over here: Redis
    t0 = time.monotonic()
    data_layer.rack.stop(node)
    try:
        seen = {}
        while time.monotonic() - t0 < 120:
            seen = sentinel_view(data_layer, watcher)
            if seen.get("primary") not in (None, "", primary_ip) and "master" == seen.get("flags"):
                break
            time.sleep(1)
        failover = time.monotonic() - t0
        assert seen.get("primary") not in (None, "", primary_ip), seen
        # A client (Sentinel discovery, as Feast does it) retries until it gets an answer: the keys counted
        # there are the ones the replica had acknowledged.
        after, error = None, ""
        while time.monotonic() - t0 < 180:
            res = kubectl(data_layer, "-n", NS, "exec", "-i", "client", "--", "python3", "-", "count",
                          stdin=CLIENT_SCRIPT, timeout=60, check=False)
            if res.returncode == 0:
                after = json.loads(res.stdout.strip().splitlines()[-1])
                break
            error = res.stderr[-300:]
            time.sleep(1)
        served = time.monotonic() - t0
        print(f"Redis: {node} (primary {primary}) powered off; the Sentinels named {seen['primary']} after "
              f"{failover:.1f} s; a client read through them again after {served:.1f} s")
        assert after, error
        assert after["count"] == written["written"], (written, after)
        assert after["write_after"] == "yes"
    finally:
        data_layer.rack.start(node)
    # Back from its disk, the old primary waits for the Sentinels and rejoins as a replica of the new one.
    deadline = time.monotonic() + 300
    replicas = ""
    while time.monotonic() < deadline:
        res = kubectl(data_layer, "-n", NS, "exec", primary, "--", "redis-cli", "INFO", "replication", check=False)
        replicas = res.stdout
        if "role:slave" in replicas and "master_link_status:up" in replicas:
            break
        time.sleep(5)
    assert "role:slave" in replicas and "master_link_status:up" in replicas, replicas
    # And the Sentinels see it again (its new address) as a replica that is up and in sync.
    new_ip = redis_pods(data_layer)[primary]["status"]["podIP"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and sentinel_view(data_layer, watcher).get("in_sync") != new_ip:
        time.sleep(3)
    assert sentinel_view(data_layer, watcher).get("in_sync") == new_ip, sentinel_view(data_layer, watcher)


def test_powering_off_a_node_that_holds_object_store_data_loses_no_object(data_layer):
    """Every object is kept on both volume servers (replication 001): with one of their nodes powered off, every
    object still reads back through the S3 Service. Writes need both copies: with 2 volume servers they are
    refused until the node is back (recorded, not asserted; with 3+ workers the masters place new writes on the
    servers that are up)."""
    wait_object_store_ready(data_layer, 300)  # the Redis test before this one powered a worker off and on
    written = s3(data_layer, "write", 200, 65536)
    assert len(written) == 200
    before = s3(data_layer, "read", 60)
    assert before["objects"] == written, before["errors"]
    volume = json.loads(kubectl(data_layer, "-n", NS, "get", "pod", "seaweedfs-volume-0", "-o", "json").stdout)
    node = volume["spec"]["nodeName"]
    wait_pg_healthy(data_layer, 420)  # the Redis test before this one powered a worker off and on
    move_pg_primary_off(data_layer, node)  # one component is tested here: the object store
    t0 = time.monotonic()
    data_layer.rack.stop(node)
    try:
        during = s3(data_layer, "read", 240, timeout=360)
        seconds = time.monotonic() - t0
        one = s3(data_layer, "write-one", timeout=120)
        print(f"Object store: {node} powered off; {len(during['objects'])} of 200 objects read back in {seconds:.0f} s "
              f"({during['error_count']} retried errors: {during['errors'][:5]}); a write meanwhile: {one['write']}")
        assert during["objects"] == written, (sorted(set(written) - set(during["objects"]))[:10], during["errors"])
    finally:
        data_layer.rack.start(node)
    wait_object_store_ready(data_layer, 420)
    after = s3(data_layer, "read", 120)
    assert after["objects"] == written, after["errors"]


# ---- PostgreSQL (CloudNativePG + PgBouncer) ----

PG = "mlops-pg"
# A client pinned to the first control plane (the test kubeconfig's API server, never powered off here).
PG_CLIENT_NODE = "k8s-cp1"
PG_CLIENT = _tools_pod_module().tools_pod("pgclient", NS, node=PG_CLIENT_NODE)

# Run in the pgclient pod with psycopg; ACTION as argv[1]. Connections go through the Pooler's Service
# (PG_POOLER) unless told to go to the primary directly (PG_RW).
PG_SCRIPT = r"""
import json, os, sys, threading, time
import psycopg

# What docs/platform-data.md asks of applications: without these, a connection to a PgBouncer whose node
# lost power waits for the kernel's ~15 minutes of retransmissions (CI of stop 30: the writer hung past 400 s).
CLIENT_TCP = dict(tcp_user_timeout=10000, keepalives=1, keepalives_idle=10, keepalives_interval=5, keepalives_count=3)

# The tests' own tables go to Feast's offline database, never to MLflow's: MLflow's schema migration takes a database
# holding other tables for one of its own and fails ("relation metrics does not exist", seen on the cluster).
def connect(db="feast_offline", user="feast", password=None, host=None, autocommit=True):
    return psycopg.connect(host=host or os.environ["PG_POOLER"], port=5432, dbname=db, user=user,
                           password=password or os.environ["PG_%s_PASSWORD" % user.upper()], connect_timeout=5,
                           autocommit=autocommit, **CLIENT_TCP)


action, out = sys.argv[1], {}
if action == "roundtrip":
    with connect("mlflow", "mlflow") as c:
        out["mlflow"] = c.execute("SELECT current_user, current_database()").fetchone()
        out["server"] = c.execute("SHOW server_version").fetchone()[0]
        out["sync"] = c.execute("SHOW synchronous_standby_names").fetchone()[0]
    with connect("feast_registry", "feast") as c:
        out["feast_registry"] = c.execute("SELECT current_user, current_database()").fetchone()
    with connect("feast_offline", "feast") as c:
        c.execute("CREATE TABLE IF NOT EXISTS probe (k text PRIMARY KEY, v text)")
        c.execute("INSERT INTO probe VALUES ('k', 'value-1') ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v")
        out["get"] = c.execute("SELECT v FROM probe WHERE k = 'k'").fetchone()[0]
        out["feast_offline"] = c.execute("SELECT current_user, current_database()").fetchone()
    for name, kw in (("bad_password", {"password": "not-the-password"}),
                     ("unknown_user", {"user": "postgres", "password": "x"})):
        try:
            connect(**kw).close()
            out[name] = "accepted"
        except psycopg.OperationalError as exc:
            out[name] = "refused: " + str(exc).strip().splitlines()[-1][:200]
elif action == "clients":
    # N clients connected at once through the Pooler, each running transactions until all have run R.
    n, rounds = int(sys.argv[2]), int(sys.argv[3])
    host = os.environ["PG_RW"] if sys.argv[4:] == ["direct"] else None
    errors, done = [], []
    barrier = threading.Barrier(n)
    def work(i):
        try:
            with connect(host=host, autocommit=False) as c:
                barrier.wait(timeout=120)
                for r in range(rounds):
                    with c.transaction():
                        c.execute("SELECT pg_sleep(0.05), %s", (i,)).fetchone()
                done.append(i)
        except Exception as exc:  # noqa: BLE001 - every failure is counted and shown
            errors.append("%s: %s" % (type(exc).__name__, str(exc)[:150]))
            try:
                barrier.abort()
            except Exception:
                pass
    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    t0 = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out = {"clients": n, "done": len(done), "errors": errors[:10], "error_count": len(errors),
           "seconds": round(time.time() - t0, 1)}
    with connect(host=os.environ["PG_RW"]) as c:
        out["max_connections"] = int(c.execute("SHOW max_connections").fetchone()[0])
elif action == "writer":
    # Insert one row per commit for SECONDS; an acknowledged id is one whose commit returned. Errors (the
    # primary gone) are counted and the client reconnects, as an application would.
    seconds = float(sys.argv[2])
    with connect() as c:
        c.execute("DROP TABLE IF EXISTS acked")
        c.execute("CREATE TABLE acked (id bigint PRIMARY KEY, at timestamptz DEFAULT now())")
    acked, errors, i, c, t0 = [], [], 0, None, time.time()
    first_error = recovered = None
    while time.time() - t0 < seconds:
        i += 1
        try:
            if c is None:
                c = connect()
            c.execute("INSERT INTO acked (id) VALUES (%s)", (i,))
            acked.append(i)
            if first_error is not None and recovered is None:
                recovered = time.time() - t0
        except psycopg.Error as exc:
            errors.append(type(exc).__name__ + ": " + str(exc).strip()[:120])
            if first_error is None:
                first_error = time.time() - t0
            try:
                c and c.close()
            except psycopg.Error:
                pass
            c = None
            time.sleep(0.5)
    out = {"acked": acked, "attempts": i, "errors": errors[:10], "error_count": len(errors),
           "first_error": first_error, "recovered": recovered}
elif action == "count":
    with connect() as c:
        out["ids"] = [r[0] for r in c.execute("SELECT id FROM acked ORDER BY id").fetchall()]
elif action == "answer":
    # "ok" or the error, for each host in argv[2:] (the Pooler's pods).
    for h in sys.argv[2:]:
        try:
            with connect(host=h) as c:
                c.execute("SELECT 1").fetchone()
            out[h] = "ok"
        except psycopg.Error as exc:
            out[h] = str(exc).strip()[:200]
elif action == "fill":
    # N rows of known content for the backup; the table is new each time.
    with connect() as c:
        c.execute("DROP TABLE IF EXISTS restore_probe")
        c.execute("CREATE TABLE restore_probe (id int PRIMARY KEY, v text)")
        c.execute("INSERT INTO restore_probe SELECT g, md5(g::text) FROM generate_series(1, %s) g", (int(sys.argv[2]),))
elif action == "digest":
    # Rows and a digest of restore_probe, on HOST (argv[2]) or through the Pooler.
    with connect(host=sys.argv[2] if sys.argv[2:] else None) as c:
        out["rows"], out["md5"] = c.execute(
            "SELECT count(*), md5(string_agg(id || ':' || v, ',' ORDER BY id)) FROM restore_probe").fetchone()
print(json.dumps(out))
"""


def pg(cluster, *args, timeout=300):
    res = kubectl(cluster, "-n", NS, "exec", "-i", "pgclient", "--", "python3", "-", *map(str, args),
                  stdin=PG_SCRIPT, timeout=timeout, check=False)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    return json.loads(res.stdout.strip().splitlines()[-1])


def pg_cluster(cluster):
    return json.loads(kubectl(cluster, "-n", NS, "get", "clusters.postgresql.cnpg.io", PG, "-o", "json").stdout)


def pooler_pods(cluster):
    return json.loads(kubectl(cluster, "-n", NS, "get", "pods", "-l", f"cnpg.io/poolerName={PG}-pooler",
                              "-o", "json").stdout)["items"]


def pg_pods(cluster):
    pods = json.loads(kubectl(cluster, "-n", NS, "get", "pods", "-l", f"cnpg.io/cluster={PG},cnpg.io/podRole=instance",
                              "-o", "json").stdout)["items"]
    return {p["metadata"]["name"]: p for p in pods}


def move_pg_primary_off(cluster, node):
    """The PostgreSQL primary's name, after a switchover away from NODE if it was there (as `kubectl cnpg promote`
    does: a clean handover, no failover).

    The tests that power off a node for another component (Redis, the object store) move the primary off it
    first, so that each of them fails one component. Two unplanned failovers in a row were seen to leave a
    standby unable to restart ("requested timeline 3 does not contain minimum recovery point 0/7000000 on
    timeline 1", 2026-12-07): recorded in docs/platform-data.md as open, tested by no test yet."""
    primary = pg_cluster(cluster)["status"]["currentPrimary"]
    pods = pg_pods(cluster)
    if pods[primary]["spec"]["nodeName"] != node:
        return primary
    target = next(n for n, p in pods.items() if p["spec"]["nodeName"] not in (node, PG_CLIENT_NODE) and n != primary)
    kubectl(cluster, "-n", NS, "patch", "clusters.postgresql.cnpg.io", PG, "--subresource=status",
            "--type=merge", "-p", json.dumps({"status": {"targetPrimary": target}}))
    deadline = time.monotonic() + 180
    while pg_cluster(cluster)["status"].get("currentPrimary") != target and time.monotonic() < deadline:
        time.sleep(3)
    primary = wait_pg_healthy(cluster, 180)["currentPrimary"]
    assert primary == target, (primary, target)
    return primary


def wait_pg_healthy(cluster, seconds):
    deadline = time.monotonic() + seconds
    status = {}
    while time.monotonic() < deadline:
        status = pg_cluster(cluster).get("status", {})
        if status.get("readyInstances") == 3 and status.get("phase") == "Cluster in healthy state":
            return status
        time.sleep(5)
    raise AssertionError(f"PostgreSQL not healthy in {seconds} s: {status.get('phase')} "
                         f"{status.get('readyInstances')} ready, {status.get('instancesStatus')}")


@pytest.fixture(scope="module")
def pg_client(data_layer):
    """The client pod, once SQL passes through every PgBouncer pod. The tests before these power nodes off:
    CloudNativePG's status says healthy before a restarted primary is reachable again, and a PgBouncer caches a
    failed server login for server_login_retry (seen: about 20 s after a primary came back on a new address)."""
    kubectl(data_layer, "apply", "-f", "-", stdin=PG_CLIENT)
    data_layer.wait_pod("pgclient", namespace=NS)
    t0, out = time.monotonic(), {}
    while time.monotonic() - t0 < 300:
        pods = pooler_pods(data_layer)
        ips = [p["status"].get("podIP", "") for p in pods]
        out = pg(data_layer, "answer", *ips)
        if len(ips) == 2 and all(v == "ok" for v in out.values()):
            print(f"PostgreSQL: SQL through both PgBouncer pods after {time.monotonic() - t0:.0f} s")
            return data_layer
        time.sleep(5)
    logs = kubectl(data_layer, "-n", NS, "logs", "-l", f"cnpg.io/poolerName={PG}-pooler", "--tail=30",
                   check=False).stdout
    raise AssertionError(f"SQL does not pass through the PgBouncer pods after 300 s: {out}\n{logs[-4000:]}")


def test_postgresql_runs_three_instances_on_distinct_nodes_and_no_password_is_printed(pg_client):
    status = wait_pg_healthy(pg_client, 60)
    nodes = {p["spec"]["nodeName"] for p in pg_pods(pg_client).values()}
    assert len(nodes) == 3, nodes
    assert status["currentPrimary"] in pg_pods(pg_client)
    # The operator (it promotes standbys) on 2 nodes: one on the primary's node alone would go down with it.
    operators = json.loads(kubectl(pg_client, "-n", "cnpg-system", "get", "pods", "-l",
                                   "app.kubernetes.io/name=cloudnative-pg", "-o", "json").stdout)["items"]
    assert len({p["spec"]["nodeName"] for p in operators if p["status"].get("phase") == "Running"}) == 2, operators
    out = pg_client.platform_first_run.stdout + pg_client.platform_first_run.stderr
    for owner in ("mlflow", "feast"):
        data = json.loads(kubectl(pg_client, "-n", NS, "get", "secret", f"{PG}-{owner}", "-o", "json").stdout)["data"]
        password = base64.b64decode(data["password"]).decode()
        length = len(password)
        assert length == 40, f"{owner}'s password has {length} characters, not 40"
        assert_not_printed(password, out, f"{owner}'s password")
    # No PostgreSQL port is published outside the cluster.
    services = json.loads(kubectl(pg_client, "-n", NS, "get", "services", "-o", "json").stdout)["items"]
    assert {s["spec"].get("type", "ClusterIP") for s in services} == {"ClusterIP"}


def test_sql_through_the_pooler_for_each_owner_and_a_bad_password_is_refused(pg_client):
    out = pg(pg_client, "roundtrip")
    assert out["get"] == "value-1" and out["server"].startswith("17.12"), out
    assert out["sync"].startswith("ANY 1 ("), out  # one standby confirms every commit
    assert out["mlflow"] == ["mlflow", "mlflow"], out
    assert out["feast_registry"] == ["feast", "feast_registry"] and out["feast_offline"] == ["feast", "feast_offline"]
    assert out["bad_password"].startswith("refused") and out["unknown_user"].startswith("refused"), out


def test_300_concurrent_clients_through_the_pooler_against_max_connections_100_none_refused(pg_client):
    out = pg(pg_client, "clients", 300, 3, timeout=600)
    print(f"PostgreSQL: 300 clients x 3 transactions through PgBouncer in {out['seconds']} s, "
          f"{out['error_count']} errors {out['errors'][:3]}")
    assert out["max_connections"] == 100
    assert out["error_count"] == 0 and out["done"] == 300, out
    # The same clients straight to the primary: PostgreSQL refuses those beyond its connection slots.
    direct = pg(pg_client, "clients", 300, 3, "direct", timeout=600)
    print(f"PostgreSQL: the same 300 clients straight to the primary: {direct['error_count']} refused "
          f"({direct['errors'][:1]})")
    assert direct["error_count"] > 0 and any("too many clients" in e or "remaining connection slots" in e
                                             for e in direct["errors"]), direct


def wait_pg_object(cluster, kind, name, done, seconds):
    """Poll a CloudNativePG object until done(status) is true; a failed phase fails at once."""
    deadline = time.monotonic() + seconds
    status = {}
    while time.monotonic() < deadline:
        res = kubectl(cluster, "-n", NS, "get", kind, name, "-o", "json", check=False)
        status = json.loads(res.stdout).get("status", {}) if res.returncode == 0 else {}
        assert status.get("phase") != "failed", f"{kind} {name} failed: {status.get('error')}"
        if done(status):
            return status
        time.sleep(5)
    raise AssertionError(f"{kind} {name} not done in {seconds} s: {status}")


def test_a_base_backup_in_the_object_store_restores_into_a_new_cluster_with_the_same_rows(pg_client):
    # The role's ScheduledBackup takes one at once ("immediate"). Whether it completed depends on the tests
    # before this one (a node powered off kills a backup running there: "signal: terminated"), so it is shown,
    # and the backup this test takes must complete.
    backups = json.loads(kubectl(pg_client, "-n", NS, "get", "backups.postgresql.cnpg.io", "-o", "json").stdout)
    scheduled = {b["metadata"]["name"]: b.get("status", {}) for b in backups["items"]
                 if b["metadata"]["name"].startswith(f"{PG}-daily-")}
    assert scheduled, "the ScheduledBackup took no backup"
    print("PostgreSQL: the ScheduledBackup's backups: " + ", ".join(
        f"{name} {st.get('phase')} {st.get('error', '')}".strip() for name, st in sorted(scheduled.items())))
    pg(pg_client, "fill", 5000)
    before = pg(pg_client, "digest")
    t0 = time.monotonic()
    backup = f"{PG}-restore-probe"
    kubectl(pg_client, "apply", "-f", "-", stdin=json.dumps({
        "apiVersion": "postgresql.cnpg.io/v1", "kind": "Backup", "metadata": {"name": backup, "namespace": NS},
        "spec": {"cluster": {"name": PG}, "method": "barmanObjectStore"}}))
    done = wait_pg_object(pg_client, "backups.postgresql.cnpg.io", backup, lambda s: s.get("phase") == "completed", 600)
    backup_seconds = time.monotonic() - t0
    assert done["destinationPath"] == "s3://backups/postgresql", done
    # A new single-instance Cluster bootstrapped from that backup: same image, storage and parameters,
    # no archive of its own (it would collide with the source's).
    source = pg_cluster(pg_client)["spec"]
    restored = f"{PG}-restored"
    spec = {k: source[k] for k in ("imageName", "imagePullPolicy", "storage", "resources", "affinity")}
    spec.update(instances=1, enableSuperuserAccess=False,
                postgresql={"parameters": source["postgresql"]["parameters"]},
                bootstrap={"recovery": {"backup": {"name": backup}, "database": "mlflow", "owner": "mlflow",
                                        "secret": {"name": f"{PG}-mlflow"}}})
    t0 = time.monotonic()
    kubectl(pg_client, "apply", "-f", "-", stdin=json.dumps({
        "apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster", "metadata": {"name": restored, "namespace": NS},
        "spec": spec}))
    try:
        wait_pg_object(pg_client, "clusters.postgresql.cnpg.io", restored,
                       lambda s: s.get("readyInstances") == 1 and s.get("phase") == "Cluster in healthy state", 900)
        restore_seconds = time.monotonic() - t0
        after = pg(pg_client, "digest", f"{restored}-rw")
        print(f"PostgreSQL: base backup to the object store in {backup_seconds:.0f} s; a new Cluster restored from it "
              f"in {restore_seconds:.0f} s: {after['rows']} rows (source {before['rows']}), digests equal: "
              f"{after['md5'] == before['md5']}")
        assert before["rows"] == 5000 and after == before, (before, after)
    finally:
        kubectl(pg_client, "-n", NS, "delete", "clusters.postgresql.cnpg.io", restored, "--wait=true", "--timeout=180s",
                check=False, timeout=240)


# The writer runs this long (the node goes off 15 s in): standalone runs were writing again 82-102 s after the
# power-off; CI runs this lane beside the other tests and Molecule, so the margin is wide.
PG_WRITER_SECONDS = 300
PG_PROMOTION_DEADLINE = 300


def test_powering_off_the_primarys_node_promotes_a_standby_and_keeps_every_acknowledged_commit(pg_client):
    wait_pg_healthy(pg_client, 300)
    # The test's API server and client live on PG_CLIENT_NODE: switch over first if the primary is there.
    primary = move_pg_primary_off(pg_client, PG_CLIENT_NODE)
    node = pg_pods(pg_client)[primary]["spec"]["nodeName"]
    pooler_nodes = sorted(p["spec"].get("nodeName", "?") for p in pooler_pods(pg_client))
    writer = subprocess.Popen(
        pg_client.kubectl_argv("-n", NS, "exec", "-i", "pgclient", "--", "python3", "-", "writer", str(PG_WRITER_SECONDS)),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=pg_client.env())
    writer.stdin.write(PG_SCRIPT)
    writer.stdin.close()
    writer.stdin = None  # communicate() below would flush the closed pipe
    time.sleep(15)
    t0 = time.monotonic()
    pg_client.rack.stop(node)
    try:
        promoted = None
        while time.monotonic() - t0 < PG_PROMOTION_DEADLINE:
            now = pg_cluster(pg_client)["status"].get("currentPrimary")
            if now and now != primary:
                promoted = time.monotonic() - t0
                break
            time.sleep(2)
        stdout, stderr = writer.communicate(timeout=PG_WRITER_SECONDS + 200)
        assert writer.returncode == 0, stderr[-3000:]
        wrote = json.loads(stdout.strip().splitlines()[-1])
        ids = set(pg(pg_client, "count")["ids"])
        lost = sorted(set(wrote["acked"]) - ids)
        print(f"PostgreSQL: {node} (primary {primary}; PgBouncers on {', '.join(pooler_nodes)}) powered off; "
              f"{pg_cluster(pg_client)['status'].get('currentPrimary')} "
              f"promoted after {promoted} s; writer: {len(wrote['acked'])} commits acknowledged of {wrote['attempts']}, "
              f"first error at {wrote['first_error']} s, writing again at {wrote['recovered']} s, "
              f"{wrote['error_count']} errors {wrote['errors'][:3]}; acknowledged but missing: {len(lost)}")
        assert promoted is not None, f"no standby was promoted within {PG_PROMOTION_DEADLINE} s"
        assert not lost, lost[:20]
        assert wrote["recovered"] is not None, wrote["errors"]
    finally:
        if writer.poll() is None:
            writer.kill()
        pg_client.rack.start(node)
    # The old primary comes back from its disk as a standby of the new one.
    status = wait_pg_healthy(pg_client, 420)
    assert status["currentPrimary"] != primary


# ---------------------------------------------------------------------------------------------------------------
# MLflow (roles/mlflow) on the data layer above
# ---------------------------------------------------------------------------------------------------------------
MLFLOW_CLIENT = r"""
import json, os, sys, tempfile, urllib.request, urllib.error, base64
import mlflow
from mlflow import MlflowClient
out = {}
uri = os.environ["MLFLOW_TRACKING_URI"]
# Without and with a wrong password: refused (401) before anything is read.
for name, auth in (("anonymous", None), ("wrong_password", "admin:not-the-password")):
    req = urllib.request.Request(uri + "/api/2.0/mlflow/experiments/search?max_results=1")
    if auth:
        req.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    try:
        out[name] = urllib.request.urlopen(req, timeout=10).status
    except urllib.error.HTTPError as exc:
        out[name] = exc.code
mlflow.set_experiment("platform-test")
with mlflow.start_run() as run:
    mlflow.log_param("alpha", 0.5)
    for step in range(5):
        mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
    d = tempfile.mkdtemp()
    with open(os.path.join(d, "model.txt"), "w") as f:
        f.write("weights-" + run.info.run_id)
    mlflow.log_artifacts(d, artifact_path="model")
client = MlflowClient()
name = "platform-test-model"
try:
    client.create_registered_model(name)
except mlflow.exceptions.MlflowException:
    pass
version = client.create_model_version(name, f"runs:/{run.info.run_id}/model", run.info.run_id)
client.set_registered_model_alias(name, "champion", version.version)
champion = client.get_model_version_by_alias(name, "champion")
back = mlflow.artifacts.download_artifacts(f"models:/{name}@champion")
out.update(run_id=run.info.run_id, artifact_uri=run.info.artifact_uri, version=champion.version,
           source=champion.source, status=champion.status,
           read_back=open(os.path.join(back, "model.txt")).read(),
           metric=client.get_metric_history(run.info.run_id, "loss")[-1].value)
print(json.dumps(out))
"""


@contextlib.contextmanager
def port_forward(cluster, namespace, target, port):
    """kubectl port-forward to TARGET's PORT on a free local port: how an operator reaches a ClusterIP Service from
    the controller until the platform has an entry point."""
    proc = subprocess.Popen(cluster.kubectl_argv("-n", namespace, "port-forward", target, f":{port}"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        m = re.search(r"127\.0\.0\.1:(\d+)", line)
        assert m, f"port-forward to {target}: {line} {proc.stderr.read() if proc.poll() is not None else ''}"
        yield int(m.group(1))
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def mlflow_pods(cluster):
    return json.loads(kubectl(cluster, "-n", NS, "get", "pods", "-l", "app.kubernetes.io/name=mlflow,"
                              "app.kubernetes.io/component=server", "-o", "json").stdout)["items"]


def secret_value(cluster, name, key):
    data = json.loads(kubectl(cluster, "-n", NS, "get", "secret", name, "-o", "json").stdout)["data"]
    return base64.b64decode(data[key]).decode()


def deploy_app(cluster, *args):
    """platform.yml with ARGS (the app's tags) at -vvv, once PostgreSQL is healthy again after the data layer's
    tests; skips without PLATFORM_APPS."""
    if not PLATFORM_APPS:
        pytest.skip(APPS_SKIPPED)
    wait_pg_healthy(cluster, 420)
    t0 = time.monotonic()
    res = play(cluster, *args, "-vvv")
    print(f"playbooks/platform.yml {' '.join(args)}: {time.monotonic() - t0:.0f} s")
    return res


@pytest.fixture(scope="module")
def mlflow_server(data_layer):
    """MLflow deployed by its own play."""
    data_layer.mlflow_first_run = deploy_app(data_layer, "--tags", "mlflow")
    return data_layer


def test_mlflow_runs_on_two_nodes_after_one_migration_and_no_secret_is_printed(mlflow_server):
    pods = [p for p in mlflow_pods(mlflow_server) if p["status"].get("phase") == "Running"]
    assert len(pods) == 2 and len({p["spec"]["nodeName"] for p in pods}) == 2, [p["spec"].get("nodeName") for p in pods]
    jobs = json.loads(kubectl(mlflow_server, "-n", NS, "get", "jobs", "-l", "app.kubernetes.io/name=mlflow",
                              "-o", "json").stdout)["items"]
    assert [j["status"].get("succeeded") for j in jobs] == [1], jobs
    log = kubectl(mlflow_server, "-n", NS, "logs", f"job/{jobs[0]['metadata']['name']}").stdout
    assert "migrated" in log, log[-2000:]
    out = mlflow_server.mlflow_first_run.stdout + mlflow_server.mlflow_first_run.stderr
    assert "task path:" in out  # -vvv indeed
    for name, key in (("mlflow-auth", "admin-password"), ("mlflow-auth", "flask-secret-key"),
                      ("mlops-pg-mlflow", "password"), ("seaweedfs-s3", "secret-key")):
        assert_not_printed(secret_value(mlflow_server, name, key), out, f"{name}/{key}")
    spec = json.dumps(json.loads(kubectl(mlflow_server, "-n", NS, "get", "deployment", "mlflow", "-o", "json").stdout))
    assert_not_printed(secret_value(mlflow_server, "mlops-pg-mlflow", "password"), spec, "the database password")


def test_a_client_on_the_controller_logs_a_run_registers_a_champion_and_reads_its_artifact_back(mlflow_server):
    """The controller's MLflow client (the venv's, the same version) through a port-forward to the Service: no S3
    keys on the client; the artifact lands in the object store's mlflow bucket through the server's proxy."""
    password = secret_value(mlflow_server, "mlflow-auth", "admin-password")
    with port_forward(mlflow_server, NS, "svc/mlflow", 5000) as port:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MLFLOW_"))}
        env.update(MLFLOW_TRACKING_URI=f"http://127.0.0.1:{port}", MLFLOW_TRACKING_USERNAME="admin",
                   MLFLOW_TRACKING_PASSWORD=password, MLFLOW_HTTP_REQUEST_MAX_RETRIES="3")
        res = subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "-"], input=MLFLOW_CLIENT, env=env,
                             capture_output=True, text=True, timeout=300, check=False)
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    print(f"MLflow: {out}")
    assert out["anonymous"] == 401 and out["wrong_password"] == 401, out
    assert out["artifact_uri"].startswith("mlflow-artifacts:/"), out  # proxied: the client never sees S3
    assert out["read_back"] == "weights-" + out["run_id"] and out["status"] == "READY" and out["metric"] == 0.2
    keys = s3(mlflow_server, "list", "mlflow")["keys"]
    assert any(k.endswith(f"{out['run_id']}/artifacts/model/model.txt") for k in keys), keys[:20]


def test_mlflow_second_run_and_check_diff_change_nothing(mlflow_server):
    for args in ((), ("--check", "--diff")):
        res = play(mlflow_server, "--tags", "mlflow", *args)
        changed = {h: r["changed"] for h, r in recap(res.stdout).items()}
        assert changed and all(v == 0 for v in changed.values()), (args, res.stdout[-5000:])


def test_mlflow_bad_input_is_refused_naming_each_variable_before_anything_changes(mlflow_server):
    res = play(mlflow_server, "--tags", "mlflow", "-e", "mlflow_name=mlflow-refused", "-e", "mlflow_replicas=0",
               "-e", "mlflow_artifacts_bucket=Bad_Bucket", "-e", "mlflow_default_permission=ALL", check=False)
    out = " ".join(res.stdout.split())
    assert res.returncode != 0
    for message in ("mlflow_replicas 0 must be at least 1", "mlflow_artifacts_bucket Bad_Bucket is not a valid S3",
                    "mlflow_default_permission ALL is not READ"):
        assert message in out, (message, out[-3000:])
    assert kubectl(mlflow_server, "-n", NS, "get", "deployment", "mlflow-refused", check=False).returncode != 0


# Run in a pod of the MLflow image on MLFLOW_CLIENT_NODE (inside the cluster, as training jobs are): each client
# makes one run (create, 5 metrics, terminate: 7 requests) through the mlflow Service with MLflow's own retries.
LOAD_SCRIPT = r"""
import json, sys, time
from concurrent.futures import ThreadPoolExecutor
from mlflow import MlflowClient
client = MlflowClient()
exp = client.get_experiment_by_name("platform-load")
exp_id = exp.experiment_id if exp else client.create_experiment("platform-load")

def one(_i):
    t0 = time.time()
    try:
        run = client.create_run(exp_id)
        for step in range(5):
            client.log_metric(run.info.run_id, "m", float(step), step=step)
        client.set_terminated(run.info.run_id)
        return "ok", time.time() - t0
    except Exception as exc:
        return "%s: %s" % (type(exc).__name__, str(exc).strip()[:160]), time.time() - t0

action, arg = sys.argv[1], float(sys.argv[2])
if action == "concurrent":
    with ThreadPoolExecutor(int(arg)) as pool:
        results = list(pool.map(one, range(int(arg))))
else:  # loop: one client, run after run, for ARG seconds
    results, end = [], time.time() + arg
    while time.time() < end:
        results.append(one(len(results)))
took = sorted(t for _r, t in results)
failed = [r for r, _t in results if r != "ok"]
print(json.dumps({"clients_or_runs": len(results), "requests": 7 * len(results), "failed": len(failed),
                  "errors": failed[:5], "p50_s": round(took[len(took) // 2], 2), "max_s": round(took[-1], 2)}))
"""
MLFLOW_CLIENT_NODE = PG_CLIENT_NODE
# The client's retry budget (documented in docs/platform-mlflow.md): a request times out after 10 s and is retried
# up to 7 times with MLflow's exponential backoff (2 s factor), on connection errors and 429/5xx answers.
MLFLOW_RETRY_ENV = {"MLFLOW_HTTP_REQUEST_TIMEOUT": "10", "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "7",
                    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "2"}


def mlflow_load(cluster, *args, timeout=900):
    env = [f"{k}={v}" for k, v in MLFLOW_RETRY_ENV.items()]
    res = kubectl(cluster, "-n", NS, "exec", "-i", "mlflowclient", "--", "env", *env, "python3", "-", *map(str, args),
                  stdin=LOAD_SCRIPT, timeout=timeout, check=False)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    return json.loads(res.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def mlflow_client(mlflow_server):
    pod = _tools_pod_module()
    manifest = pod.tools_pod("mlflowclient", NS, node=MLFLOW_CLIENT_NODE, image=pod.mlflow_image())
    kubectl(mlflow_server, "apply", "-f", "-", stdin=manifest)
    mlflow_server.wait_pod("mlflowclient", namespace=NS)
    return mlflow_server


def mlflow_db_errors(cluster):
    logs = kubectl(cluster, "-n", NS, "logs", "-l", "app.kubernetes.io/name=mlflow,app.kubernetes.io/component=server",
                   "--tail=-1", "--prefix", check=False).stdout
    pattern = re.compile(r"OperationalError|psycopg2\.|QueuePool limit|TimeoutError")
    return [line for line in logs.splitlines() if pattern.search(line)]


def test_200_concurrent_mlflow_clients_log_runs_without_a_database_error(mlflow_client):
    """The seeds' tuning-workers case: 200 clients at once through the Service, 1,400 requests; PgBouncer shares 10
    server connections among the servers' SQLAlchemy pools (2 replicas x 2 workers x (5 + 10))."""
    out = mlflow_load(mlflow_client, "concurrent", 200)
    errors = mlflow_db_errors(mlflow_client)
    print(f"MLflow: 200 concurrent clients: {out}; database errors in the servers' logs: {len(errors)}")
    assert out["failed"] == 0, out
    assert not errors, errors[:10]


def test_powering_off_an_mlflow_servers_node_loses_no_request_within_the_retry_budget(mlflow_client):
    pods = [p for p in mlflow_pods(mlflow_client) if p["status"].get("phase") == "Running"]
    node = next(p["spec"]["nodeName"] for p in pods if p["spec"]["nodeName"] != MLFLOW_CLIENT_NODE)
    pg_primary = wait_pg_healthy(mlflow_client, 300)["currentPrimary"]
    pg_node = pg_pods(mlflow_client)[pg_primary]["spec"]["nodeName"]
    writer = subprocess.Popen(
        mlflow_client.kubectl_argv("-n", NS, "exec", "-i", "mlflowclient", "--", "env",
                                   *[f"{k}={v}" for k, v in MLFLOW_RETRY_ENV.items()], "python3", "-", "loop", "180"),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    writer.stdin.write(LOAD_SCRIPT)
    writer.stdin.close()
    writer.stdin = None
    time.sleep(20)
    mlflow_client.rack.stop(node)
    try:
        stdout, stderr = writer.communicate(timeout=900)
        assert writer.returncode == 0, stderr[-3000:]
        out = json.loads(stdout.strip().splitlines()[-1])
        print(f"MLflow: {node} (an MLflow server{'; the PostgreSQL primary' if node == pg_node else ''}) powered off "
              f"20 s into 180 s of runs: {out}")
        assert out["failed"] == 0 and out["clients_or_runs"] > 10, out
    finally:
        if writer.poll() is None:
            writer.kill()
        mlflow_client.rack.start(node)
    wait_pg_healthy(mlflow_client, 420)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and len([p for p in mlflow_pods(mlflow_client) if all(
            c.get("ready") for c in p["status"].get("containerStatuses", [{}]))]) < 2:
        time.sleep(5)
    ready = [p["spec"].get("nodeName") for p in mlflow_pods(mlflow_client)
             if all(c.get("ready") for c in p["status"].get("containerStatuses", [{}]))]
    assert len(ready) >= 2, ready


# ---------------------------------------------------------------------------------------------------------------
# Feast (roles/feast) on the data layer above, with the example repository and its producer
# ---------------------------------------------------------------------------------------------------------------
# Run in the tools pod: the feature server's online read, as a model server would make it, with each feature's
# status and age.
FEAST_READ = r"""
import json, sys, time, urllib.request
from datetime import datetime, timezone
customers = [int(c) for c in sys.argv[1].split(",")]
features = ["customer_transactions_1h:txn_count_1h", "customer_transactions_1h:txn_amount_avg_1h"]
body = json.dumps({"features": features, "entities": {"customer_id": customers}}).encode()
t0 = time.time()
req = urllib.request.Request("http://feast:6566/get-online-features", data=body,
                             headers={"Content-Type": "application/json"})
reply = json.load(urllib.request.urlopen(req, timeout=30))
names = reply["metadata"]["feature_names"]
out = {"seconds": round(time.time() - t0, 3), "names": names, "features": {}}
now = datetime.now(timezone.utc)
for name, result in zip(names, reply["results"]):
    ages = [round((now - datetime.fromisoformat(ts.replace("Z", "+00:00"))).total_seconds())
            for ts in result.get("event_timestamps", [])]
    out["features"][name] = {"values": result["values"], "statuses": result["statuses"], "ages": ages}
print(json.dumps(out))
"""
FEAST_FEATURES = ("txn_count_1h", "txn_amount_avg_1h")


def feast_read(cluster, customers):
    res = kubectl(cluster, "-n", NS, "exec", "-i", "client", "--", "python3", "-", ",".join(map(str, customers)),
                  stdin=FEAST_READ, timeout=120, check=False)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    return json.loads(res.stdout.strip().splitlines()[-1])


def feast_args():
    return ("--tags", "feast", "-e", "feast_example_data=true")


def job_done(cluster, name, seconds=600):
    deadline = time.monotonic() + seconds
    status = {}
    while time.monotonic() < deadline:
        status = json.loads(kubectl(cluster, "-n", NS, "get", "job", name, "-o", "json").stdout).get("status", {})
        if status.get("succeeded") or status.get("failed", 0) > 1:
            break
        time.sleep(5)
    log = kubectl(cluster, "-n", NS, "logs", f"job/{name}", "--tail=20", check=False).stdout
    assert status.get("succeeded") == 1, (name, status, log[-3000:])
    return log


@pytest.fixture(scope="module")
def feast_store(data_layer):
    """Feast deployed by its own play with the example repository and its producer."""
    data_layer.feast_first_run = deploy_app(data_layer, *feast_args())
    return data_layer


def test_feast_applies_the_repository_materializes_it_serves_on_two_nodes_and_no_secret_is_printed(feast_store):
    jobs = json.loads(kubectl(feast_store, "-n", NS, "get", "jobs", "-l", "app.kubernetes.io/name=feast",
                              "-o", "json").stdout)["items"]
    kinds = sorted(j["metadata"]["labels"]["app.kubernetes.io/component"] for j in jobs)
    assert kinds == ["apply", "example-data", "materialize"], kinds
    assert all(j["status"].get("succeeded") == 1 for j in jobs), [j["status"] for j in jobs]
    pods = json.loads(kubectl(feast_store, "-n", NS, "get", "pods", "-l", "app.kubernetes.io/name=feast,"
                              "app.kubernetes.io/component=feature-server", "-o", "json").stdout)["items"]
    ready = [p["spec"]["nodeName"] for p in pods if all(c.get("ready") for c in p["status"].get("containerStatuses", [{}]))]
    assert len(ready) == 2 and len(set(ready)) == 2, ready
    out = feast_store.feast_first_run.stdout + feast_store.feast_first_run.stderr
    assert "task path:" in out  # -vvv indeed
    for name, key in (("mlops-pg-feast", "password"), ("redis-auth", "password")):
        assert_not_printed(secret_value(feast_store, name, key), out, f"{name}/{key}")
    config = kubectl(feast_store, "-n", NS, "get", "configmap", "feast-repo", "-o", "json").stdout
    assert_not_printed(secret_value(feast_store, "mlops-pg-feast", "password"), config, "the database password")


def test_the_feature_server_answers_every_example_customer_with_features_younger_than_the_objective(feast_store):
    customers = list(range(1, 101))
    out = feast_read(feast_store, customers)
    print(f"Feast: 100 customers, 2 features through the feature server in {out['seconds']} s")
    for name in FEAST_FEATURES:
        feature = out["features"][name]
        assert feature["statuses"] == ["PRESENT"] * 100, (name, feature["statuses"][:10])
        assert max(feature["ages"]) < 1800, (name, max(feature["ages"]))  # the example's objective (defaults)
    # An unknown customer gets no value. Feast 0.67's feature server (Redis online store) still says PRESENT, with
    # a null value and an event time of 0 (seen on the cluster, 2026-12-07): a status alone proves nothing, which
    # is why verify judges values and event times.
    unknown = feast_read(feast_store, [10 ** 9])["features"]["txn_count_1h"]
    assert unknown["values"] == [None], unknown
    assert unknown["statuses"] == ["NOT_FOUND"] or unknown["ages"][0] > 10 ** 9, unknown


def test_the_cronjobs_produce_and_materialize_newer_rows_that_the_feature_server_then_answers(feast_store):
    before = feast_read(feast_store, [1])["features"]["txn_count_1h"]["ages"][0]
    stamp = int(time.time())
    for cron in ("feast-example-data", "feast-materialize"):
        kubectl(feast_store, "-n", NS, "create", "job", f"{cron}-test-{stamp}", f"--from=cronjob/{cron}")
        job_done(feast_store, f"{cron}-test-{stamp}")
    after = feast_read(feast_store, [1])["features"]["txn_count_1h"]["ages"][0]
    print(f"Feast: customer 1's features {before} s old before the CronJobs' run, {after} s after")
    assert after < before and after < 300, (before, after)


def test_feast_second_run_and_check_diff_change_nothing(feast_store):
    for args in ((), ("--check", "--diff")):
        res = play(feast_store, *feast_args(), *args)
        changed = {h: r["changed"] for h, r in recap(res.stdout).items()}
        assert changed and all(v == 0 for v in changed.values()), (args, res.stdout[-5000:])


def test_feast_bad_input_is_refused_naming_each_variable_before_anything_changes(feast_store):
    res = play(feast_store, *feast_args(), "-e", "feast_name=feast-refused", "-e", "feast_registry_type=file",
               "-e", "feast_repo_path=/no/such/repo", "-e",
               json.dumps({"feast_freshness_objectives": {"customer_transactions_1h": 0}}), check=False)
    out = " ".join(res.stdout.split())
    assert res.returncode != 0
    for message in ("feast_registry_type file is not a registry this role deploys", "feast_repo_path /no/such/repo "
                    "holds no feature definitions", "feast_freshness_objectives.customer_transactions_1h is 0"):
        assert message in out, (message, out[-3000:])
    for kind in ("deployment", "configmap", "secret"):
        assert kubectl(feast_store, "-n", NS, "get", kind, f"feast-refused{'-repo' if kind == 'configmap' else ''}"
                       f"{'-store' if kind == 'secret' else ''}", check=False).returncode != 0, kind


# ---------------------------------------------------------------------------------------------------------------
# The example training Job (roles/training_example) over Feast and MLflow above
# ---------------------------------------------------------------------------------------------------------------
# Run in the MLflow client pod: the registry's view of what the Job registered, and its artifacts read back.
TRAINED = r"""
import json, os, sys
import mlflow
from mlflow import MlflowClient
client = MlflowClient()
version = client.get_model_version_by_alias("customer-spend", "challenger")
run = client.get_run(version.run_id)
files = sorted(os.listdir(mlflow.artifacts.download_artifacts("models:/customer-spend@challenger")))
print(json.dumps({"version": version.version, "status": version.status, "run_id": version.run_id,
                  "metrics": run.data.metrics, "params": run.data.params, "files": files}))
"""


@pytest.fixture(scope="module")
def trained(feast_store, mlflow_client):
    feast_store.training_first_run = deploy_app(feast_store, "--tags", "training")
    return feast_store


def test_the_training_job_reads_feast_and_registers_a_challenger_whose_model_mlflow_serves_back(trained):
    res = kubectl(trained, "-n", NS, "exec", "-i", "mlflowclient", "--", "python3", "-", stdin=TRAINED,
                  timeout=180, check=False)
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    print(f"Training example: {out}")
    # MLflow 3.17's scikit-learn flavor serializes with skops by default (model.skops), not pickle (seen on the
    # cluster, 2026-12-07).
    assert out["status"] == "READY" and {"MLmodel", "model.skops"} <= set(out["files"]), out
    assert int(out["params"]["rows"]) >= 100 and out["metrics"]["accuracy"] > 0.7, out
    assert out["params"]["feature_view"] == "customer_transactions_1h", out
    log = trained.training_first_run.stdout
    assert f'"run_id": "{out["run_id"]}"' in log or out["run_id"] in log, log[-3000:]
    assert_not_printed(secret_value(trained, "mlflow-auth", "admin-password"), log + trained.training_first_run.stderr,
                       "MLflow's admin password")


def test_a_second_training_run_changes_nothing_and_registers_no_new_version(trained):
    res = play(trained, "--tags", "training")
    changed = {h: r["changed"] for h, r in recap(res.stdout).items()}
    assert changed and all(v == 0 for v in changed.values()), res.stdout[-5000:]
    jobs = json.loads(kubectl(trained, "-n", NS, "get", "jobs", "-l", "app.kubernetes.io/name=train-customer-spend",
                              "-o", "json").stdout)["items"]
    assert len(jobs) == 1, [j["metadata"]["name"] for j in jobs]
