"""The nvme_storage role run by ansible-playbook on this machine, without touching a disk:
bad variables fail in the argument spec check before any task, and an empty
layout does nothing at all (not even reading the drives)."""
import os
import pathlib
import subprocess
import sys
import textwrap

ROOT = pathlib.Path(__file__).resolve().parents[3]


def run_play(tmp_path, extra_vars, check=True):
    (tmp_path / "play.yml").write_text(textwrap.dedent(f"""
        - name: NVMe storage
          hosts: all
          gather_facts: false
          vars:
            ansible_connection: local
            ansible_python_interpreter: {sys.executable}
            {extra_vars}
          roles:
            - role: baremetal.mlops.nvme_storage
        """))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    argv = [str(pathlib.Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,",
            str(tmp_path / "play.yml")]
    if check:
        argv.append("--check")
    return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=180, check=False)


def test_empty_layout_does_nothing(tmp_path):
    result = run_play(tmp_path, "", check=False)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    # the argument check runs, the four tasks are skipped
    assert "ok=1    changed=0    unreachable=0    failed=0    skipped=4" in out, out


def test_bad_volume_type_fails_before_any_task(tmp_path):
    result = run_play(tmp_path, "nvme_storage_volumes: [{name: data, type: zfs, disks: {serials: [S1]}}]")
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert "Validating arguments against arg spec" in out, out
    assert "zfs" in out and "filesystem, raid, lvm" in out, out
    assert "NVMe storage | Gather NVMe facts" not in out, out


def test_wrong_type_of_wipe_fails_before_any_task(tmp_path):
    result = run_play(tmp_path, "nvme_storage_wipe: maybe")
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert "nvme_storage_wipe" in out and "Validating arguments against arg spec" in out, out
