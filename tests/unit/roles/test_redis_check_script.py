"""roles/redis's check-sentinel.sh (what the role's wait compares with the pods' addresses) against a real
Redis 7.0 primary, replica and Sentinel on loopback: Debian's redis-server, the same packages as the platform
bundle's redis image. The script is taken from the role's ConfigMap template and rendered with jinja2 (it uses
redis_name only); the Sentinel's port is the one substitution (the pod's is 26379, here a free port)."""
from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import jinja2
import pytest

ROOT = Path(__file__).resolve().parents[3]
TEMPLATE = ROOT / "roles" / "redis" / "templates" / "redis-config.yaml.j2"

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_script(sentinel_port: int) -> str:
    text = TEMPLATE.read_text()
    # The ConfigMap's check-sentinel.sh block: from its key to the end of the document.
    block = text[text.index("  check-sentinel.sh: |\n") + len("  check-sentinel.sh: |\n"):]
    script = "\n".join(line[4:] for line in block.splitlines())
    script = jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(script).render(redis_name="redis")
    assert script.count("-p 26379") == 2, script
    return script.replace("-p 26379", f"-p {sentinel_port}")


def start(tmp_path, name, *args):
    subprocess.run(["redis-server", "--port", str(args[0]), "--daemonize", "yes", "--dir", str(tmp_path),
                    "--pidfile", str(tmp_path / f"{name}.pid"), "--logfile", str(tmp_path / f"{name}.log"),
                    "--save", "", *map(str, args[1:])], check=True)


def start_sentinel(tmp_path, port, primary_port):
    conf = tmp_path / "sentinel.conf"
    conf.write_text(f"port {port}\ndir {tmp_path}\nsentinel monitor redis 127.0.0.1 {primary_port} 1\n"
                    "sentinel down-after-milliseconds redis 1000\n")
    subprocess.run(["redis-server", str(conf), "--sentinel", "--daemonize", "yes", "--pidfile",
                    str(tmp_path / "sentinel.pid"), "--logfile", str(tmp_path / "sentinel.log")], check=True)


def seen(script) -> dict:
    res = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=20, check=False)
    assert res.returncode == 0, res.stderr
    return dict(re.findall(r"(\w+)=(\S*)", res.stdout))


def wait_for(script, predicate, timeout=30):
    view = {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        view = seen(script)
        if predicate(view):
            return view
        time.sleep(0.5)
    pytest.fail(f"the Sentinel's view never matched: {view}")


@pytest.fixture
def servers(tmp_path):
    ports = {"primary": free_port(), "replica": free_port(), "sentinel": free_port()}
    started = []
    try:
        start(tmp_path, "primary", ports["primary"])
        started.append(ports["primary"])
        start(tmp_path, "replica", ports["replica"], "--replicaof", "127.0.0.1", ports["primary"])
        started.append(ports["replica"])
        start_sentinel(tmp_path, ports["sentinel"], ports["primary"])
        started.append(ports["sentinel"])
        yield ports
    finally:
        for port in started:
            subprocess.run(["redis-cli", "-p", str(port), "shutdown", "nosave"], capture_output=True, timeout=10,
                           check=False)


def test_a_replica_in_sync_is_listed_and_one_that_stopped_is_not(servers):
    script = check_script(servers["sentinel"])
    view = wait_for(script, lambda v: v.get("in_sync"))
    assert view == {"primary": "127.0.0.1", "flags": "master", "in_sync": "127.0.0.1", "other_sentinels": "0"}
    subprocess.run(["redis-cli", "-p", str(servers["replica"]), "shutdown", "nosave"], check=True, timeout=10)
    # Down after down-after-milliseconds (1 s): it no longer counts, although the Sentinel still lists it (disconnected, then s_down).
    view = wait_for(script, lambda v: v.get("in_sync") == "")
    assert view["flags"] == "master"
    listed = subprocess.run(["redis-cli", "-p", str(servers["sentinel"]), "--raw", "SENTINEL", "replicas", "redis"],
                            capture_output=True, text=True, timeout=10, check=True).stdout
    assert re.search(r"^flags\n\S*(s_down|disconnected)", listed, re.M), listed


def test_a_replica_that_follows_another_primary_is_not_counted(servers):
    script = check_script(servers["sentinel"])
    wait_for(script, lambda v: v.get("in_sync"))
    # Pointed at an address where nothing answers: its link is down (master-link-status err) even before
    # the Sentinel would set it back.
    subprocess.run(["redis-cli", "-p", str(servers["replica"]), "REPLICAOF", "127.0.0.1", str(free_port())],
                   check=True, timeout=10)
    view = wait_for(script, lambda v: v.get("in_sync") == "", timeout=40)
    assert view["primary"] == "127.0.0.1" and view["flags"] == "master"
