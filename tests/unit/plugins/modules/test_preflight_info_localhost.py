"""preflight_info run for real by ansible on this machine (localhost)."""
import json
import socket
import sys

from ansible_collections.baremetal.mlops.tests.unit.ansible_cli import run_ansible


def run_module(args):
    result = run_ansible(
        "ansible", "localhost", "-i", "localhost,", "-c", "local",
        "-e", f"ansible_python_interpreter={sys.executable}",
        "-m", "baremetal.mlops.preflight_info", "-a", json.dumps(args),
        env={"ANSIBLE_LOAD_CALLBACK_PLUGINS": "1", "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json"}, timeout=120)
    assert result.returncode in (0, 2), result.stdout + result.stderr
    return json.loads(result.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]


def test_a_port_we_listen_on_is_reported_busy_and_nothing_changes():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        res = run_module({"free_ports": [port], "time_sync_required": False, "kernel_modules": [],
                          "min_memory_mb": 1, "min_cpus": 1, "min_kernel": "3.0"})
    assert res["changed"] is False
    assert {"check": "port", "found": f"TCP port {port} is in use", "expected": f"TCP port {port} free",
            "fix": f"stop the service listening on {port} (see 'ss -ltnp sport = :{port}')"} in res["problems"]
    assert res["passed"] is False
    assert [c["name"] for c in res["checks"]][0] == "os"


def test_bad_port_number_is_refused_before_any_check():
    res = run_module({"free_ports": [70000]})
    assert res.get("failed") is True
    assert "free_ports: 70000 not in 1-65535" in res["msg"]
