"""The service stack for real: each server is reached over TCP on loopback,
written to and read back; scripts/stack is checked for status, env, secrets,
idempotent start, port conflicts and a clean stop."""

from __future__ import annotations

import json
import os
import random
import secrets
import socket
import stat
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse

import pytest
from stack_helpers import STACK_SCRIPT, StackCLI, all_pids, become_subreaper, listening_sockets, pid_is_running, reap

SERVICES = ("postgresql", "redis", "seaweedfs", "mlflow")


def s3_client(stack, access_key=None, secret_key=None):
    """boto3 S3 client: SigV4, path-style, short timeouts, no retries."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=stack.vars["MLOPS_S3_ENDPOINT_URL"],
        region_name=stack.vars["MLOPS_S3_REGION"],
        aws_access_key_id=access_key or stack.vars["MLOPS_S3_ACCESS_KEY"],
        aws_secret_access_key=secret_key or stack.vars["MLOPS_S3_SECRET_KEY"],
        config=Config(signature_version="s3v4", connect_timeout=5, read_timeout=30,
                      retries={"max_attempts": 1}, s3={"addressing_style": "path"}),
    )


def redis_client(stack, password):
    """The stack's Redis client (no retries: they would also retry auth errors) with this password."""
    return stack.redis(password=password)


# --------------------------------------------------------------------------
# PostgreSQL


def test_postgresql_row_roundtrip_real_server(stack):
    import psycopg2

    table = f"stack_roundtrip_{uuid.uuid4().hex[:12]}"
    payload = {"run": uuid.uuid4().hex, "score": 0.93}
    with psycopg2.connect(**stack.pg("test")) as conn, conn.cursor() as cur:
        cur.execute("SELECT version(), current_user, current_database(), inet_server_addr()::text")
        version, user, db, addr = cur.fetchone()
        assert version.startswith("PostgreSQL 15.")
        assert (user, db, addr) == ("mlops", "mlops_test", "127.0.0.1/32")
        cur.execute(f"CREATE TABLE {table} (id serial PRIMARY KEY, doc jsonb NOT NULL)")
        cur.execute(f"INSERT INTO {table} (doc) VALUES (%s) RETURNING id", (json.dumps(payload),))
        row_id = cur.fetchone()[0]
    conn.close()
    # A second connection sees the committed row.
    with psycopg2.connect(**stack.pg("test")) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT doc FROM {table} WHERE id = %s", (row_id,))
        assert cur.fetchone()[0] == payload
        cur.execute(f"DROP TABLE {table}")
    conn.close()


def test_postgresql_databases_for_mlflow_and_feast_belong_to_the_role_real_server(stack):
    import psycopg2

    with psycopg2.connect(**stack.pg("feast")) as conn, conn.cursor() as cur:
        cur.execute("SELECT datname, pg_get_userbyid(datdba) FROM pg_database "
                    "WHERE datname IN ('mlflow', 'feast', 'mlops_test') ORDER BY 1")
        assert cur.fetchall() == [("feast", "mlops"), ("mlflow", "mlops"), ("mlops_test", "mlops")]
    conn.close()


def test_postgresql_rejects_wrong_password_real_server(stack):
    import psycopg2

    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        psycopg2.connect(**{**stack.pg("test"), "password": "not-the-password"})


# --------------------------------------------------------------------------
# Redis


def test_redis_key_roundtrip_with_auth_real_server(stack):
    client = redis_client(stack, stack.vars["MLOPS_REDIS_PASSWORD"])
    key, value = f"stack:test:{uuid.uuid4().hex}", secrets.token_bytes(64)
    try:
        assert client.set(key, value, ex=60)
        assert client.get(key) == value
        assert 0 < client.ttl(key) <= 60
        info = client.info("server")
        assert info["redis_version"].startswith("7.")
        assert client.config_get("maxmemory-policy") == {"maxmemory-policy": "allkeys-lru"}
        assert client.delete(key) == 1
    finally:
        client.close()


def test_redis_refuses_wrong_or_missing_password_real_server(stack):
    import redis

    for password in ("not-the-password", None):
        client = redis_client(stack, password)
        with pytest.raises(redis.AuthenticationError):
            client.get("anything")
        client.close()


# --------------------------------------------------------------------------
# S3 (SeaweedFS)


def test_s3_object_roundtrip_sigv4_real_seaweedfs(stack):
    s3 = s3_client(stack)
    bucket = f"stack-test-{uuid.uuid4().hex[:10]}"
    body = secrets.token_bytes(300_000)
    s3.create_bucket(Bucket=bucket)
    try:
        assert bucket in {b["Name"] for b in s3.list_buckets()["Buckets"]}
        assert stack.vars["MLOPS_S3_BUCKET"] in {b["Name"] for b in s3.list_buckets()["Buckets"]}
        s3.put_object(Bucket=bucket, Key="dir/blob.bin", Body=body, Metadata={"origin": "stack-test"})
        head = s3.head_object(Bucket=bucket, Key="dir/blob.bin")
        assert head["ContentLength"] == len(body)
        assert head["Metadata"] == {"origin": "stack-test"}
        assert s3.get_object(Bucket=bucket, Key="dir/blob.bin")["Body"].read() == body
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="dir/")["Contents"]]
        assert keys == ["dir/blob.bin"]
    finally:
        for obj in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
            s3.delete_object(Bucket=bucket, Key=obj["Key"])
        s3.delete_bucket(Bucket=bucket)


def test_s3_rejects_wrong_credentials_real_seaweedfs(stack):
    from botocore.exceptions import ClientError

    right_key = stack.vars["MLOPS_S3_ACCESS_KEY"]
    cases = {
        "SignatureDoesNotMatch": (right_key, "wrong-secret-key-0000000000000000000000"),
        "InvalidAccessKeyId": ("MLOPSNOSUCHKEY000000", "wrong-secret-key-0000000000000000000000"),
    }
    for expected, (key, secret) in cases.items():
        with pytest.raises(ClientError) as err:
            s3_client(stack, key, secret).list_buckets()
        assert err.value.response["Error"]["Code"] == expected
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def _stack_module():
    import importlib.util
    spec = importlib.util.spec_from_file_location("mlops_stack_under_test",
                                                  STACK_SCRIPT.parent / "stack.d" / "stack.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_s3_bucket_setup_accepts_a_bucket_weed_already_created_real_seaweedfs(stack):
    """CI of stop 11: `weed mini -bucket=` made the bucket between the stack's
    list_buckets and create_bucket, and the start failed on BucketAlreadyOwnedByYou.

    The real server's answer to creating a bucket we own is checked first (the
    setup relies on that code), then the setup runs twice on the running server,
    where the bucket exists, so it goes through that answer each time."""
    from botocore.exceptions import ClientError

    bucket = stack.vars["MLOPS_S3_BUCKET"]
    with pytest.raises(ClientError) as err:
        s3_client(stack).create_bucket(Bucket=bucket)
    assert err.value.response["Error"]["Code"] == "BucketAlreadyOwnedByYou"

    mod = _stack_module()
    settings = mod.Settings(stack.cli.env)
    weed = mod.SeaweedFS(settings, mod.load_secrets(settings, create=False))
    rec = weed.record()
    assert rec and rec["bucket"] == bucket
    weed.after_ready(rec)
    weed.after_ready(rec)
    assert bucket in {b["Name"] for b in s3_client(stack).list_buckets()["Buckets"]}


# --------------------------------------------------------------------------
# MLflow


def test_mlflow_run_param_metric_artifact_real_server(stack, tmp_path, monkeypatch):
    # Fail fast instead of MLflow's silent retries; and no S3 keys in the
    # client: artifacts must travel through the tracking server's proxy.
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "60")
    for var in [v for v in os.environ if v.startswith("AWS_")] + ["MLFLOW_S3_ENDPOINT_URL"]:
        monkeypatch.delenv(var, raising=False)
    import mlflow.artifacts
    import psycopg2
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=stack.mlflow_uri)
    exp_id = client.create_experiment(f"stack-test-{uuid.uuid4().hex[:10]}")
    run = client.create_run(exp_id)
    run_id = run.info.run_id
    client.log_param(run_id, "alpha", "0.5")
    for step, value in enumerate((0.9, 0.5, 0.25)):
        client.log_metric(run_id, "rmse", value, step=step)
    payload = secrets.token_bytes(50_000)
    src = tmp_path / "weights.bin"
    src.write_bytes(payload)
    client.log_artifact(run_id, str(src), artifact_path="model")
    client.set_terminated(run_id)

    got = client.get_run(run_id)
    assert got.info.status == "FINISHED"
    assert got.data.params == {"alpha": "0.5"}
    assert got.data.metrics == {"rmse": 0.25}
    assert [(m.step, m.value) for m in client.get_metric_history(run_id, "rmse")] == [
        (0, 0.9), (1, 0.5), (2, 0.25)]
    assert [a.path for a in client.list_artifacts(run_id, "model")] == ["model/weights.bin"]
    local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="model/weights.bin",
                                                dst_path=str(tmp_path / "dl"),
                                                tracking_uri=stack.mlflow_uri)
    assert Path(local).read_bytes() == payload

    # Proxied artifacts: the run points at the server, the bytes sit in S3.
    assert got.info.artifact_uri.startswith("mlflow-artifacts:")
    destination = urlparse(stack.services["mlflow"]["artifacts_destination"])  # s3://bucket/prefix
    run_prefix = urlparse(got.info.artifact_uri).path.strip("/")  # <exp>/<run>/artifacts
    key = f"{destination.path.strip('/')}/{run_prefix}/model/weights.bin"
    s3 = s3_client(stack)
    assert s3.get_object(Bucket=destination.netloc, Key=key)["Body"].read() == payload
    assert run_id in key and key.startswith(f"mlflow/{exp_id}/")

    # The backend store is the PostgreSQL database "mlflow".
    with psycopg2.connect(**stack.pg("mlflow")) as conn, conn.cursor() as cur:
        cur.execute("SELECT key, value FROM params WHERE run_uuid = %s", (run_id,))
        assert cur.fetchall() == [("alpha", "0.5")]
    conn.close()


# --------------------------------------------------------------------------
# scripts/stack itself


def test_stack_status_reports_every_service_running(stack):
    res = stack.cli.run("status", timeout=60)
    lines = res.stdout.splitlines()
    assert lines[0].split()[:3] == ["SERVICE", "STATE", "PID"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    for name in SERVICES:
        assert rows[name][1] == "running", res.stdout
        assert int(rows[name][2]) == stack.services[name]["pid"]
    assert rows["postgresql"][-1] == f"postgresql://127.0.0.1:{stack.vars['MLOPS_PG_PORT']}"
    assert rows["redis"][-1] == f"redis://127.0.0.1:{stack.vars['MLOPS_REDIS_PORT']}"
    assert rows["seaweedfs"][-1] == stack.vars["MLOPS_S3_ENDPOINT_URL"]
    assert rows["mlflow"][-1] == stack.mlflow_uri
    assert "total" in rows

    status = stack.cli.status()
    assert {n: s["state"] for n, s in status.items()} == {n: "running" for n in SERVICES}
    for svc in status.values():
        assert svc["pid"] in svc["pids"] and svc["rss_kib"] > 0
    # MLflow with one worker: the CLI and one uvicorn process, nothing more.
    assert len(status["mlflow"]["pids"]) == 2


def test_stack_listens_on_loopback_and_recorded_ports_only(stack):
    status = stack.cli.status()
    recorded = {port for svc in status.values() for port in svc["ports"].values()}
    listening = listening_sockets(all_pids(status))
    assert {addr for addr, _port in listening} == {"127.0.0.1"}, listening
    assert {port for _addr, port in listening} == recorded


def test_stack_env_is_sourceable_by_a_shell(stack):
    script = ('eval "$("$0" env)" && printf "%s\\n" "$MLOPS_PG_PORT" "$PGPASSWORD" '
              '"$MLOPS_REDIS_URL" "$AWS_ENDPOINT_URL_S3" "$AWS_SECRET_ACCESS_KEY" "$MLFLOW_TRACKING_URI"')
    res = subprocess.run(["bash", "-c", script, str(STACK_SCRIPT)], env=stack.cli.env,
                         capture_output=True, text=True, timeout=60, check=True)
    v = stack.vars
    assert res.stdout.splitlines() == [v["MLOPS_PG_PORT"], v["MLOPS_PG_PASSWORD"], v["MLOPS_REDIS_URL"],
                                       v["MLOPS_S3_ENDPOINT_URL"], v["MLOPS_S3_SECRET_KEY"],
                                       v["MLOPS_MLFLOW_TRACKING_URI"]]


def test_stack_secrets_stay_private(stack):
    secrets_file = stack.state_dir / "secrets.json"
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    values = list(json.loads(secrets_file.read_text()).values())
    assert len(values) == 5 and all(len(v) >= 20 for v in values)
    assert stack.vars["MLOPS_PG_PASSWORD"] in values and stack.vars["MLOPS_S3_SECRET_KEY"] in values
    public = [(stack.state_dir / "stack.json").read_text(),
              stack.cli.run("status", timeout=60).stdout,
              stack.cli.run("status", "--json", timeout=60).stdout]
    public += [p.read_text(errors="replace") for p in (stack.state_dir / "logs").glob("*.log")]
    for text in public:
        for value in values:
            assert value not in text
    # Nothing secret on any command line of the stack's processes.
    for pid in all_pids(stack.cli.status()):
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        assert not any(value in cmdline for value in values), pid


def test_stack_start_is_idempotent_real_processes(stack):
    before = stack.cli.status()
    res = stack.cli.run("start", timeout=60)
    assert "nothing to do" in res.stdout
    for name in SERVICES:
        assert f"{name} already running (pid {before[name]['pid']}" in res.stdout
    assert all_pids(stack.cli.status()) == all_pids(before)
    # Asking for other ports does not move a running service: it says so, and
    # status/env keep reporting where it really listens.
    moved = StackCLI({**stack.cli.env, "MLOPS_STACK_REDIS_PORT": "1999"})
    res = moved.run("start", "redis", timeout=60)
    assert "ignoring MLOPS_STACK_REDIS_PORT=1999" in res.stdout
    assert moved.variables()["MLOPS_REDIS_PORT"] == stack.vars["MLOPS_REDIS_PORT"]
    assert moved.status()["redis"]["state"] == "running"


def _free_port_block(count: int) -> int:
    """A base port such that base..base+count-1 are all free on 127.0.0.1."""
    rng = random.Random()
    for _attempt in range(200):
        # Below the kernel's ephemeral range (32768-60999), where outgoing
        # connections of this very test can take a port between the check
        # and the bind; SeaweedFS's gRPC ports (+10000) stay below it too.
        base = rng.randrange(20000, 22000 - count)
        socks = []
        try:
            for port in range(base, base + count):
                sock = socket.socket()
                socks.append(sock)
                sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for sock in socks:
                sock.close()
    raise RuntimeError("no free port block")


@pytest.fixture
def private_stack_env():
    """Environment for a second, throwaway stack: own state dir and ports."""
    # Not under pytest's 0700 basetemp: the postgres user must traverse it.
    state = Path(tempfile.mkdtemp(prefix="mlops-stack-test-"))
    os.chmod(state, 0o711)
    base = _free_port_block(13)
    env = dict(os.environ, MLOPS_STACK_DIR=str(state),
               MLOPS_STACK_PG_PORT=str(base), MLOPS_STACK_REDIS_PORT=str(base + 1),
               MLOPS_STACK_MLFLOW_PORT=str(base + 2), MLOPS_STACK_S3_PORT=str(base + 3))
    yield env
    StackCLI(env).run("clean", check=False)
    subprocess.run(["rm", "-rf", str(state)], check=False)


def test_stack_refuses_port_in_use_by_another_process(private_stack_env):
    cli = StackCLI(private_stack_env)
    port = int(private_stack_env["MLOPS_STACK_REDIS_PORT"])
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        res = cli.run("start", "redis", check=False, timeout=60)
    assert res.returncode == 1
    assert (f"port {port} for redis is in use by another process: set MLOPS_STACK_REDIS_PORT"
            in res.stderr)
    assert cli.status()["redis"]["state"] == "stopped"


@pytest.mark.slow
def test_stack_stop_leaves_no_process_alive_real_processes(private_stack_env):
    """A whole second stack: start, check, start again (no-op), stop, and
    check by PID that nothing of it survives and its ports are free."""
    cli = StackCLI(private_stack_env)
    become_subreaper()
    t0 = time.monotonic()
    cli.run("start")
    started_in = time.monotonic() - t0
    status = cli.status()
    assert {n: s["state"] for n, s in status.items()} == {n: "running" for n in SERVICES}
    pids = all_pids(status)
    assert len(pids) >= 5 and all(pid_is_running(pid) for pid in pids)
    ports = sorted({p for s in status.values() for p in s["ports"].values()})
    assert len(ports) == 13

    assert "nothing to do" in cli.run("start").stdout
    assert all_pids(cli.status()) == pids

    t0 = time.monotonic()
    res = cli.run("stop", timeout=120)
    stopped_in = time.monotonic() - t0
    for name in SERVICES:
        assert f"{name} stopped in" in res.stdout
    reap(pids)
    assert [pid for pid in pids if pid_is_running(pid)] == []
    # ps by PID shows nothing, not even a zombie. We reaped our adopted
    # children; should prctl have failed, PID 1 reaps within seconds.
    deadline = time.monotonic() + 15
    while True:
        ps = subprocess.run(["ps", "-o", "pid=,stat=,comm=", "-p", ",".join(map(str, pids))],
                            capture_output=True, text=True, check=False)
        if not ps.stdout.strip() or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert ps.stdout.strip() == "", ps.stdout
    for port in ports:  # nothing listens any more (TIME_WAIT leftovers are fine)
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", port))
    res = cli.run("status", check=False, timeout=60)
    assert res.returncode == 3
    assert all(line.split()[1] == "stopped" for line in res.stdout.splitlines()[1:5])
    assert not list((Path(private_stack_env["MLOPS_STACK_DIR"]) / "run").glob("*.json"))
    print(f"private stack: start {started_in:.1f} s, stop {stopped_in:.1f} s")
