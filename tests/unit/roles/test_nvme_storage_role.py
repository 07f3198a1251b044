"""The nvme_storage role run by ansible-playbook on this machine, without touching a disk:
bad structure fails in the argument spec check before any task, bad values are all reported by the module in one
run (check mode, nothing planned), and an empty
layout does nothing at all (not even reading the drives)."""
import sys
import textwrap

from ansible_collections.baremetal.mlops.tests.unit.ansible_cli import run_ansible


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
    return run_ansible("ansible-playbook", "-i", "localhost,", tmp_path / "play.yml", *(["--check"] if check else []))


def test_empty_layout_does_nothing(tmp_path):
    result = run_play(tmp_path, "", check=False)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    # the argument check and the container-node check run; the message for
    # container nodes and the four storage tasks are skipped
    assert "ok=2    changed=0    unreachable=0    failed=0    skipped=5" in out, out


def test_bad_values_are_all_reported_by_one_run_and_nothing_changes(tmp_path):
    """Issue 26, finding 4: the argument spec used to stop at an unknown type; the values are now checked by the
    module with the rest of the layout, so one run names every problem. Check mode, and the module plans nothing:
    this machine has no NVMe drive, and the layout's own problems are found before the drives are looked at."""
    result = run_play(tmp_path, "nvme_storage_volumes: [{name: data, type: zfs, disks: {serials: [S1]}}, "
                                "{name: etc, type: filesystem, fs_type: btrfs, disks: {serials: [S2]}, "
                                "mount_point: /srv/../etc}]")
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert "type 'zfs' is not one of filesystem, raid, lvm" in out, out
    assert "fs_type 'btrfs' is not one of xfs, ext4" in out, out
    assert "it would mount at /etc" in out, out
    assert "(3 problems)" in out, out
    assert "NVMe storage | Apply the storage layout" in out, out


def test_an_unknown_key_fails_before_any_task(tmp_path):
    result = run_play(tmp_path, "nvme_storage_volumes: [{name: data, type: filesystem, disk: {serials: [S1]}}]")
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert "Validating arguments against arg spec" in out and "nvme_storage_volumes.disk" in out, out
    assert "NVMe storage | Gather NVMe facts" not in out, out


def test_wrong_type_of_wipe_fails_before_any_task(tmp_path):
    result = run_play(tmp_path, "nvme_storage_wipe: maybe")
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert "nvme_storage_wipe" in out and "Validating arguments against arg spec" in out, out
