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
