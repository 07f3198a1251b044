# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""nvme_storage main() in-process against the capture VM's sysfs, procfs and wipefs output."""

from __future__ import annotations

import os

import pytest

from ansible_collections.baremetal.mlops.plugins.module_utils.disk import state as state_mod
from ansible_collections.baremetal.mlops.plugins.modules import nvme_storage
from ansible_collections.baremetal.mlops.tests.unit.plugins.fake_host import qemu_deb12_host, read_fixture
from ansible_collections.baremetal.mlops.tests.unit.plugins.modules.module_harness import run_module

BLANK = read_fixture("nvme", "qemu-deb12", "wipefs_nvme4n1.json")
TOOLS = ("wipefs", "mdadm", "mkfs.xfs", "mkfs.ext4", "mount", "systemctl", "update-initramfs")
BINS = dict((tool, "/usr/sbin/%s" % tool) for tool in TOOLS)
RAID1 = {"name": "data", "type": "raid", "raid_level": 1, "disks": {"serials": ["BMLABMULTINS7/1", "BMLABMPATH08"]},
         "mount_point": "/srv/data"}


@pytest.fixture
def host(tmp_path, monkeypatch):
    sysfs_root, proc_root, runner = qemu_deb12_host(tmp_path)
    runner.add(["/usr/sbin/wipefs", "--json", "/dev/md127"], out=BLANK)
    # The units systemd has loaded, as the nvme_wipes scenario's VM listed them (none names a drive here).
    listing = read_fixture("nvme", "vrack-deb12", "wipes", "systemctl_list_units.txt")
    runner.add(["/usr/sbin/systemctl", "list-units", "--all", "--type=mount,swap", "--plain", "--no-legend",
                "--no-pager"], out=listing)
    runner.add(["/usr/sbin/systemctl", "show", "--no-pager", "--property=Id,What,FragmentPath,SourcePath", "--"]
               + state_mod.parse_unit_list(listing),
               out=read_fixture("nvme", "vrack-deb12", "wipes", "systemctl_show.txt"))
    etc = tmp_path / "etc"
    (etc / "mdadm").mkdir(parents=True)
    (etc / "fstab").write_text("/dev/vda / ext4 rw,errors=remount-ro 0 1\n")
    (etc / "mdadm" / "mdadm.conf").write_text("HOMEHOST <system>\nMAILADDR root\n")
    (tmp_path / "dev").mkdir()
    (tmp_path / "run" / "systemd" / "system").mkdir(parents=True)
    monkeypatch.setattr(nvme_storage, "DEV_ROOT", str(tmp_path / "dev"))
    monkeypatch.setattr(nvme_storage, "FSTAB_PATH", str(etc / "fstab"))
    monkeypatch.setattr(nvme_storage, "SYSTEMD_DIR", str(tmp_path / "run" / "systemd" / "system"))
    monkeypatch.setattr(state_mod.platform, "node", lambda: "caplab")
    return sysfs_root, proc_root, runner, tmp_path


def run(monkeypatch, host, args, bins=None):
    sysfs_root, proc_root, runner, tmp_path = host
    args = dict(args)
    args.setdefault("mdadm_conf", str(tmp_path / "etc" / "mdadm" / "mdadm.conf"))
    return run_module(monkeypatch, nvme_storage, args, BINS if bins is None else bins, runner, sysfs_root, proc_root)


WRITES = ("--all", "--create", "mkfs", "daemon-reload", "-u")


def wrote(runner):
    return [call for call in runner.calls if call[1:2] not in (("list-units",), ("show",))
            and any(word in " ".join(call) for word in WRITES)
            or os.path.basename(call[0]) == "mount"]


def test_check_mode_returns_the_plan_and_changes_nothing(monkeypatch, host):
    outcome, result = run(monkeypatch, host, {"volumes": [RAID1], "_ansible_check_mode": True, "_ansible_diff": True})
    assert outcome == "exit", result
    assert result["changed"] is True
    assert [step["action"] for step in result["plan"]] == [
        "mdadm_create", "wipefs", "mkfs", "mdadm_conf", "fstab", "systemd_reload", "mkdir", "mount",
        "update_initramfs"]
    assert result["plan"][0]["serial"] == "BMLABMULTINS7, BMLABMPATH08"  # in the order of the layout
    assert result["plan"][0]["command"].endswith("--homehost=caplab --name=data --uuid=%s /dev/nvme6n1 /dev/nvme7n1"
                                                 % result["plan"][0]["command"].split("--uuid=")[1].split()[0])
    assert wrote(host[2]) == []
    fstab, arrays, devices = result["diff"]
    assert fstab["before_header"] == "/etc/fstab"
    assert fstab["after"].startswith(fstab["before"])
    assert " /srv/data xfs defaults,noatime 0 0\n" in fstab["after"]
    assert arrays["before"] == "" and arrays["after"].startswith("ARRAY /dev/md/data metadata=1.2 name=caplab:data ")
    assert "mounted at /srv/data" in devices["after"] and "xfs" not in devices["before"]
    assert result["volumes"][0]["filesystems"] == []  # check mode describes the host as it is


def test_no_diff_unless_asked(monkeypatch, host):
    _outcome, result = run(monkeypatch, host, {"volumes": [RAID1], "_ansible_check_mode": True})
    assert "diff" not in result


def test_in_use_disk_is_refused_with_every_reason(monkeypatch, host):
    outcome, result = run(monkeypatch, host, {"volumes": [
        {"name": "data", "type": "filesystem", "disks": {"serials": ["BMLABNVME0004"]}}]})
    assert outcome == "fail"
    assert ("volume data: disk /dev/nvme3n1 (serial BMLABNVME0004) on caplab is in use: LVM2_member signature; "
            "holder dm-0 (vgdata-lvscratch); mounted at /scratch via dm-0 (vgdata-lvscratch)") in result["msg"]
    assert result["msg"].startswith("caplab nvme_storage: refusing the storage layout, nothing was changed")
    assert len(result["problems"]) == 1
    assert result["plan"] == []  # documented as returned always: empty, nothing is planned
    assert wrote(host[2]) == []


def test_empty_layout_changes_nothing(monkeypatch, host):
    outcome, result = run(monkeypatch, host, {})
    assert outcome == "exit"
    assert result["changed"] is False
    assert result["plan"] == [] and result["volumes"] == []


@pytest.mark.parametrize("volume, message", [
    ({"name": "x", "type": "raid", "disks": {"serials": ["A", "B"]}}, "volume x: raid_level None is not one of 0, 1, 10"),
    ({"name": "x", "type": "filesystem", "disks": {"serials": ["A"], "model_pattern": "Q*", "count": 1}},
     "volume x: choose disks by serials or by model_pattern + count, not both"),
    ({"name": "x", "type": "filesystem", "disks": {"model_pattern": "Q*"}},
     "volume x: model_pattern needs count (a number of disks, 1 or more)"),
    ({"name": "x", "type": "filesystem", "disks": {"serials": ["A"]}, "fs_type": "btrfs"},
     "volume x: fs_type 'btrfs' is not one of xfs, ext4"),
    ({"type": "filesystem", "disks": {"serials": ["A"]}}, "volume #1: name must be 1-32 of"),
    ({"name": "x", "type": "filesystem", "disks": {"serials": ["A"]}, "lvs": [{"name": "l"}]},
     "volume x: lvs is only for type lvm"),
])
def test_argument_errors(monkeypatch, host, volume, message):
    outcome, result = run(monkeypatch, host, {"volumes": [volume]})
    assert outcome == "fail"
    assert message in result["msg"]
    assert result["plan"] == []


def test_every_problem_of_the_arguments_and_the_host_in_one_run(monkeypatch, host):
    """Issue 26, finding 4: Ansible's argument check used to stop at the first value out of its choices; the values
    are now the planner's to check, with the host's problems (a serial that is not there), in one message."""
    outcome, result = run(monkeypatch, host, {"volumes": [
        {"name": "a", "type": "filesystem", "disks": {"serials": ["BMLABMPATH08"]}, "fs_type": "btrfs"},
        {"name": "b", "type": "raid", "disks": {"serials": ["BMLABMULTINS7/1", "BMLABMPATH08"]}},
        {"name": "c", "type": "filesystem", "disks": {"serials": ["NOPE"]}, "mount_point": "/srv/../etc"},
        {"name": "d", "type": "filesystem", "disks": {"serials": ["NOPE2"]}},
        {"name": "e", "type": "mirror", "disks": {"serials": ["NOPE3"]}},
    ]})
    assert outcome == "fail"
    for expected in ("fs_type 'btrfs' is not one of xfs, ext4", "volume b: raid_level None is not one of 0, 1, 10",
                     "it would mount at /etc", "volume d: no NVMe namespace with serial NOPE2 on caplab", "volume e: type 'mirror' is not one of"):
        assert expected in result["msg"], result["msg"]
    assert "(5 problems)" in result["msg"]


def test_missing_tool_fails_in_check_mode_too(monkeypatch, host):
    bins = dict(BINS)
    del bins["mdadm"]
    outcome, result = run(monkeypatch, host, {"volumes": [RAID1], "_ansible_check_mode": True}, bins=bins)
    assert outcome == "fail"
    assert "mdadm" in result["msg"]


def test_apply_a_filesystem_volume(monkeypatch, host):
    tmp_path = host[3]
    mount_point = str(tmp_path / "mnt" / "fast")
    runner = host[2]
    volume = {"name": "fast", "type": "filesystem", "disks": {"serials": ["BMLABNVME0005"]},
              "mount_point": mount_point}

    uuids = iter(["0a1b2c3d-0000-4000-8000-000000000001"])
    monkeypatch.setattr(nvme_storage.planner.uuid_mod, "uuid4", lambda: next(uuids))
    runner.add(["/usr/sbin/mkfs.xfs", "-L", "fast", "-m", "uuid=0a1b2c3d-0000-4000-8000-000000000001", "/dev/nvme4n1"])
    runner.add(["/usr/sbin/systemctl", "daemon-reload"])
    runner.add(["/usr/sbin/mount", mount_point])
    outcome, result = run(monkeypatch, host, {"volumes": [volume], "_ansible_diff": True})
    assert outcome == "exit", result
    assert [step["action"] for step in result["plan"]] == ["mkfs", "fstab", "systemd_reload", "mkdir", "mount"]
    assert result["changed"] is True
    with open(str(tmp_path / "etc" / "fstab")) as handle:
        assert handle.read() == ("/dev/vda / ext4 rw,errors=remount-ro 0 1\n"
                                 "UUID=0a1b2c3d-0000-4000-8000-000000000001 %s xfs defaults,noatime 0 0\n" % mount_point)
    assert os.path.isdir(mount_point)
    # mkfs only after wipefs --json found the disk still blank
    mkfs = runner.calls.index(
        ("/usr/sbin/mkfs.xfs", "-L", "fast", "-m", "uuid=0a1b2c3d-0000-4000-8000-000000000001", "/dev/nvme4n1"))
    assert runner.calls[mkfs - 1] == ("/usr/sbin/wipefs", "--json", "/dev/nvme4n1")


def test_a_plan_that_fails_half_way_reports_changed_and_what_ran(monkeypatch, host):
    """Issue 26, finding 4: a failure after some steps ran used to report changed: false. Here mkfs ran and wrote
    the disk, then the mount fails (its real exit status and message)."""
    tmp_path, runner = host[3], host[2]
    mount_point = str(tmp_path / "mnt" / "fast")
    volume = {"name": "fast", "type": "filesystem", "disks": {"serials": ["BMLABNVME0005"]}, "mount_point": mount_point}
    uuids = iter(["0a1b2c3d-0000-4000-8000-000000000001"])
    monkeypatch.setattr(nvme_storage.planner.uuid_mod, "uuid4", lambda: next(uuids))
    runner.add(["/usr/sbin/mkfs.xfs", "-L", "fast", "-m", "uuid=0a1b2c3d-0000-4000-8000-000000000001", "/dev/nvme4n1"])
    runner.add(["/usr/sbin/systemctl", "daemon-reload"])
    runner.add(["/usr/sbin/mount", mount_point], rc=32,
               err="mount: %s: wrong fs type, bad option, bad superblock on /dev/nvme4n1.\n" % mount_point)
    outcome, result = run(monkeypatch, host, {"volumes": [volume]})
    assert outcome == "fail", result
    assert result["changed"] is True
    assert [s["action"] for s in result["applied"]] == ["mkfs", "fstab", "systemd_reload", "mkdir"], result
    assert result["failed_step"]["action"] == "mount"
