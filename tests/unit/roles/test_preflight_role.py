"""The preflight role run for real by ansible-playbook on this machine, with
two inventory hosts that both connect locally: every problem of every host
must come out in one failure."""
import socket
import sys
import textwrap

from ansible_collections.baremetal.mlops.tests.unit.ansible_cli import run_ansible


def run_play(tmp_path, port, extra=""):
    (tmp_path / "hosts.yml").write_text(textwrap.dedent(f"""
        all:
          vars:
            ansible_connection: local
            ansible_python_interpreter: {sys.executable}
          children:
            control_plane:
              hosts: {{node-a: {{}}}}
            workers:
              hosts: {{node-b: {{}}}}
        """))
    (tmp_path / "play.yml").write_text(textwrap.dedent(f"""
        - name: Preflight
          hosts: all
          gather_facts: false
          vars:
            preflight_time_sync_required: false
            preflight_kernel_modules: []
            preflight_min_kernel: "3.0"
            preflight_min_memory_mb: 1
            preflight_min_cpus: 1
            preflight_supported_os: [{{id: debian, versions: ["12"]}}, {{id: ubuntu, versions: ["24.04"]}}]
            preflight_free_ports_by_group:
              control_plane: [{port}]
              workers: [{port}]
            {extra}
          roles:
            - role: baremetal.mlops.preflight
        """))
    return run_ansible("ansible-playbook", "-i", tmp_path / "hosts.yml", tmp_path / "play.yml")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_problems_of_all_hosts_are_reported_in_one_failure(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = run_play(tmp_path, port)
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert "Preflight found 2 problem(s)" in out, out
    assert f"node-a: port: found TCP port {port} is in use" in out
    assert f"node-b: port: found TCP port {port} is in use" in out


def test_a_clean_run_passes(tmp_path):
    result = run_play(tmp_path, free_port())
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_wrong_variable_type_fails_before_any_check(tmp_path):
    result = run_play(tmp_path, free_port(), extra="preflight_min_cpus: many")
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert "preflight_min_cpus" in out and "Validating arguments against arg spec" in out, out


def test_ports_of_a_node_that_is_a_member_already_are_its_own(tmp_path):
    member = tmp_path / "kubelet.conf"
    member.write_text("apiVersion: v1\n")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        result = run_play(tmp_path, sock.getsockname()[1], extra=f"preflight_k8s_member_file: {member}")
    assert result.returncode == 0, result.stdout + result.stderr
