# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The storage state collector: md arrays from a real sysfs dump, LVM from real lvm2 reports."""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.baremetal.mlops.plugins.module_utils.disk import signatures
from ansible_collections.baremetal.mlops.plugins.module_utils.disk import state as state_mod
from ansible_collections.baremetal.mlops.plugins.module_utils.disk.exceptions import DiskCommandError, DiskParseError
from ansible_collections.baremetal.mlops.tests.unit.plugins.fake_host import qemu_deb12_host, read_fixture

VRACK = ("nvme", "vrack-deb12")
BLANK = read_fixture("nvme", "qemu-deb12", "wipefs_nvme4n1.json")
LVM = {"pvs": "/usr/sbin/pvs", "vgs": "/usr/sbin/vgs", "lvs": "/usr/sbin/lvs"}


@pytest.fixture
def host(tmp_path):
    sysfs_root, proc_root, runner = qemu_deb12_host(tmp_path)
    dev = tmp_path / "dev"
    (dev / "md").mkdir(parents=True)
    os.symlink("../md127", str(dev / "md" / "caplab:127"))
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "fstab").write_text("/dev/vda / ext4 rw 0 1\n")
    (tmp_path / "data").mkdir()
    return sysfs_root, proc_root, runner, tmp_path


def collector(host, **kwargs):
    sysfs_root, proc_root, runner, tmp_path = host
    kwargs.setdefault("mount_points", [str(tmp_path / "data"), str(tmp_path / "nope")])
    return state_mod.StorageStateCollector(
        runner, "/usr/sbin/wipefs", sysfs_root=sysfs_root, proc_root=proc_root, dev_root=str(tmp_path / "dev"),
        fstab_path=str(tmp_path / "etc" / "fstab"), mdadm_conf_path=str(tmp_path / "etc" / "mdadm" / "mdadm.conf"),
        systemd_dir=str(tmp_path / "run" / "systemd" / "system"), host="caplab", **kwargs)


def test_md_arrays_from_the_captured_sysfs(host):
    sysfs_root, _proc_root, _runner, tmp_path = host
    (array,) = state_mod.read_md_arrays(sysfs_root, str(tmp_path / "dev"))
    assert array == {
        "name": "md127", "path": "/dev/md127", "links": ["/dev/md/caplab:127"], "dev": "9:127", "level": "raid1",
        "raid_disks": 2, "members": ["nvme1n1", "nvme2n1"], "uuid": None, "array_state": "clean", "degraded": 0,
        "sync_action": None, "metadata_version": "1.2", "size_bytes": 2093056 * 512,
    }


def test_collect_without_lvm(host):
    runner = host[2]
    runner.add(["/usr/sbin/wipefs", "--json", "/dev/md127"], out=BLANK)
    state = collector(host).collect()
    tmp_path = host[3]
    assert state["host"] == "caplab"
    assert [ns["name"] for ns in state["namespaces"]][:2] == ["nvme0n1", "nvme1n1"]
    assert state["md_arrays"][0]["signatures"] == []
    assert state["md_arrays"][0]["mountpoints"] == []
    assert state["lvm"] is None
    assert {"mountpoint": "/scratch", "source": "/dev/mapper/vgdata-lvscratch", "dev": "252:0",
            "fstype": "ext4"} in state["mounts"]
    assert state["fstab"] == "/dev/vda / ext4 rw 0 1\n"
    assert state["mdadm_conf"] is None
    assert state["dirs"] == {str(tmp_path / "data"): True, str(tmp_path / "nope"): False}
    assert state["systemd"] is False
    # sysfs and wipefs only: no nvme-cli, no SMART
    assert not any("nvme" == os.path.basename(call[0]) for call in runner.calls)


def test_lvm_reports_of_a_real_volume_group(host):
    runner = host[2]
    runner.add(["/usr/sbin/wipefs", "--json", "/dev/md127"], out=BLANK)
    for tool, fields, name in (("pvs", state_mod.PVS_FIELDS, "pvs.json"), ("vgs", state_mod.VGS_FIELDS, "vgs.json"),
                               ("lvs", state_mod.LVS_FIELDS, "lvs.json")):
        runner.add([LVM[tool]] + state_mod.LVM_COMMON + ["-o", fields], out=read_fixture(*VRACK + (name,)))
    runner.add(["/usr/sbin/wipefs", "--json", "/dev/vgfast/cache"], out=BLANK)
    runner.add(["/usr/sbin/wipefs", "--json", "/dev/vgfast/models"], out=BLANK)
    lvm = collector(host, lvm=LVM).collect()["lvm"]
    assert lvm["pvs"] == [{"pv_name": "/dev/nvme3n1", "vg_name": "vgfast",
                           "pv_uuid": "lEUtHE-vEf8-ZnFc-T5IW-NmO6-4gUa-h62JE2"}]
    assert lvm["vgs"] == [{"vg_name": "vgfast", "vg_uuid": "pMnrcf-VzwF-4xs9-oQPp-iQOR-nGTk-u8wBaZ",
                           "vg_size": 1069547520, "vg_free": 0}]
    assert [(lv["lv_name"], lv["lv_path"], lv["dev"], lv["size_bytes"], lv["active"]) for lv in lvm["lvs"]] == [
        ("cache", "/dev/vgfast/cache", "252:0", 209715200, True),
        ("models", "/dev/vgfast/models", "252:1", 859832320, True),
    ]
    # 252:0 is mounted on /scratch in the capture VM's mountinfo (another LV there, same numbers)
    assert lvm["lvs"][0]["mountpoints"] == ["/scratch", "/mnt/with space"]


def test_lvm_failure_and_garbage(host):
    runner = host[2]
    runner.add([LVM["pvs"]] + state_mod.LVM_COMMON + ["-o", state_mod.PVS_FIELDS], rc=5,
               err="  WARNING: Running as a non-root user. Functionality may be unavailable.\n")
    with pytest.raises(DiskCommandError) as excinfo:
        collector(host, lvm=LVM)._read_lvm([])
    assert "pvs failed: WARNING: Running as a non-root user" in excinfo.value.message
    with pytest.raises(DiskParseError):
        state_mod.parse_lvm_report("  PV  VG  Fmt\n", "pv")


def test_signatures_of_a_real_array_match_the_captured_state():
    applied = json.loads(read_fixture(*VRACK + ("state_applied.json",)))
    parsed = signatures.parse_wipefs_json(read_fixture(*VRACK + ("wipefs_md127.json",)), "/dev/md127")
    assert parsed == applied["md_arrays"][0]["signatures"]


# -- issue 26: what is inside a stack that is not running, and the units systemd has loaded ------------------------
# Real output of the nvme_wipes scenario's VM (fixtures/nvme/vrack-deb12/wipes, see fixtures/README.md).
WIPES = ("nvme", "vrack-deb12", "wipes")


def test_data_offset_of_a_real_member_and_what_blkid_finds_there():
    assert state_mod.parse_data_offset(read_fixture(*WIPES + ("mdadm_examine_nvme4n1.txt",))) == 4096 * 512
    assert state_mod.parse_data_offset("/dev/sda1:\n          Magic : a92b4efc\n        Version : 0.90.00\n") == 0
    sig = state_mod.parse_blkid_export(read_fixture(*WIPES + ("blkid_offset_md_member.txt",)), 2097152)
    assert sig == {"type": "xfs", "offset": 2097152, "uuid": "d0fbcae2-d1d2-4979-9192-41f928415236", "label": "old"}
    pv = state_mod.parse_blkid_export(read_fixture(*WIPES + ("blkid_lvm_pv.txt",)))
    assert pv["type"] == "LVM2_member" and pv["label"] is None
    assert state_mod.parse_blkid_export("DEVNAME=/dev/x\n") is None


class _Runner(object):
    def __init__(self, answers):
        self.answers, self.calls = answers, []

    def __call__(self, argv):
        self.calls.append(list(argv))
        return self.answers.get(tuple(argv), (2, "", ""))


def _stopped_members():
    sig = {"type": "linux_raid_member", "uuid": "8ffd420b-61fc-ce6c-dc32-c35d727e290f", "label": "nvme-wipes-1:old"}
    return [{"name": "nvme3n1", "path": "/dev/nvme3n1", "signatures": [dict(sig)], "partitions": []},
            {"name": "nvme4n1", "path": "/dev/nvme4n1", "signatures": [dict(sig)], "partitions": []},
            {"name": "nvme5n1", "path": "/dev/nvme5n1", "signatures": [{"type": "ext4"}], "partitions": []}]


def test_the_filesystem_inside_a_stopped_array_is_read_at_each_members_data_offset():
    xfs = read_fixture(*WIPES + ("blkid_offset_md_member.txt",))
    runner = _Runner({
        ("/usr/sbin/mdadm", "--examine", "/dev/nvme3n1"): (0, read_fixture(*WIPES + ("mdadm_examine_nvme3n1.txt",)), ""),
        ("/usr/sbin/mdadm", "--examine", "/dev/nvme4n1"): (0, read_fixture(*WIPES + ("mdadm_examine_nvme4n1.txt",)), ""),
        ("/usr/sbin/blkid", "-p", "-o", "export", "-O", "2097152", "/dev/nvme3n1"): (0, xfs, ""),
        ("/usr/sbin/blkid", "-p", "-o", "export", "-O", "2097152", "/dev/nvme4n1"): (0, xfs, ""),
    })
    collector = state_mod.StorageStateCollector(runner, "/usr/sbin/wipefs", blkid="/usr/sbin/blkid",
                                                mdadm="/usr/sbin/mdadm")
    contents = collector._md_contents(_stopped_members(), [])
    assert [c["member"] for c in contents] == ["/dev/nvme3n1", "/dev/nvme4n1"]
    assert contents[0]["uuid"] == "8ffd420b:61fcce6c:dc32c35d:727e290f"
    assert contents[0]["signatures"][0]["uuid"] == "d0fbcae2-d1d2-4979-9192-41f928415236"
    assert "error" not in contents[0]
    # A member of a running array is read through the array, not here.
    running = [{"members": ["nvme3n1", "nvme4n1"], "size_bytes": 1 << 30}]
    assert collector._md_contents(_stopped_members(), running) == []


def test_a_stopped_array_without_mdadm_is_recorded_as_unreadable():
    collector = state_mod.StorageStateCollector(_Runner({}), "/usr/sbin/wipefs", blkid="/usr/sbin/blkid")
    contents = collector._md_contents(_stopped_members(), [])
    assert [c.get("error") for c in contents] == ["mdadm is not installed"] * 2


def test_the_filesystem_of_a_deactivated_lv_is_read_at_its_first_extent():
    lvs_rows = [{"lv_name": "lvgone", "vg_name": "vggone", "lv_uuid": "YyFYnp-vvaT-Ek9d-HUYZ-NX6R-SGDC-Zg2bPM",
                 "active": False, "signatures": []},
                {"lv_name": "lvspan", "vg_name": "vgspan", "lv_uuid": "irNLBk-h1L4-jGB3-Sbfj-hyF4-UIEd-N0sRoU",
                 "active": True, "signatures": [{"type": "xfs"}]}]
    runner = _Runner({
        tuple(["/usr/sbin/pvs", "--segments"] + state_mod.LVM_COMMON + ["-o", state_mod.PVSEG_FIELDS]):
            (0, read_fixture(*WIPES + ("pvs_segments.json",)), ""),
        ("/usr/sbin/blkid", "-p", "-o", "export", "-O", "1048576", "/dev/nvme2n1"):
            (0, read_fixture(*WIPES + ("blkid_offset_lv.txt",)), ""),
    })
    collector = state_mod.StorageStateCollector(runner, "/usr/sbin/wipefs", lvm=LVM, blkid="/usr/sbin/blkid")
    collector._inactive_lv_signatures(lvs_rows)
    assert lvs_rows[0]["signatures"] == [{"type": "ext4", "offset": 1048576,
                                          "uuid": "748526ba-cf1c-41e2-a52a-602d9546ac5a", "label": "gone"}]
    assert lvs_rows[0]["signatures_read"] == "/dev/nvme2n1 at offset 1048576"
    # Only the segment at the LV's first extent is probed, and only for the LV that is not active.
    assert [call[-1] for call in runner.calls if "blkid" in call[0]] == ["/dev/nvme2n1"]


def test_pvs_segments_failing_marks_the_inactive_lv_unreadable():
    lvs_rows = [{"lv_name": "lvgone", "vg_name": "vggone", "lv_uuid": "x", "active": False, "signatures": []}]
    collector = state_mod.StorageStateCollector(
        _Runner({tuple(["/usr/sbin/pvs", "--segments"] + state_mod.LVM_COMMON + ["-o", state_mod.PVSEG_FIELDS]):
                 (5, "", "  Volume group vggone has insufficient free space")}),
        "/usr/sbin/wipefs", lvm=LVM, blkid="/usr/sbin/blkid")
    collector._inactive_lv_signatures(lvs_rows)
    assert "pvs --segments failed" in lvs_rows[0]["signatures_error"]


def test_units_systemd_has_loaded_leave_out_fstabs_and_keep_a_linked_one(tmp_path):
    (tmp_path / "run").mkdir()
    listing = read_fixture(*WIPES + ("systemctl_list_units.txt",))
    names = state_mod.parse_unit_list(listing)
    assert "srv-unit.mount" in names and "run-credentials-systemd\\x2dsysctl.service.mount" in names
    show = tuple(["/bin/systemctl", "show", "--no-pager", "--property=Id,What,FragmentPath,SourcePath", "--"] + names)
    runner = _Runner({
        ("/bin/systemctl", "list-units", "--all", "--type=mount,swap", "--plain", "--no-legend", "--no-pager"):
            (0, listing, ""),
        show: (0, read_fixture(*WIPES + ("systemctl_show.txt",)), ""),
    })
    collector = state_mod.StorageStateCollector(runner, "/usr/sbin/wipefs", systemctl="/bin/systemctl",
                                                systemd_dir=str(tmp_path / "run"))
    loaded = collector._loaded_units()
    # fstab's units (generator) and mounts without a file (mountinfo, /lib's API mounts have What= of no device
    # but are kept: they name no disk, so they match nothing)
    assert {"path": "/etc/systemd/system/srv-unit.mount", "what": "/dev/disk/by-path/pci-0000:00:0b.0-nvme-1",
            "loaded": "srv-unit.mount"} in loaded
    assert not any(unit["path"].startswith("/run/systemd/generator") for unit in loaded)
    assert not any(unit["what"] == "ramfs" for unit in loaded)
    # A unit file found in /etc/systemd/system is not listed twice.
    files = [{"path": "/etc/systemd/system/srv-unit.mount", "what": "/dev/disk/by-path/pci-0000:00:0b.0-nvme-1",
              "target": "/root/units/srv-unit.mount"}]
    merged = state_mod.merge_units(files, loaded)
    assert [unit["path"] for unit in merged].count("/etc/systemd/system/srv-unit.mount") == 1


def test_loaded_units_are_not_read_without_systemd_or_when_systemctl_fails(tmp_path):
    collector = state_mod.StorageStateCollector(_Runner({}), "/usr/sbin/wipefs", systemctl="/bin/systemctl",
                                                systemd_dir=str(tmp_path / "nope"))
    assert collector._loaded_units() == []
    (tmp_path / "run").mkdir()
    collector = state_mod.StorageStateCollector(_Runner({}), "/usr/sbin/wipefs", systemctl="/bin/systemctl",
                                                systemd_dir=str(tmp_path / "run"))
    assert collector._loaded_units() == []
    assert "only the unit files in" in collector.warnings[0]
