# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""sysfs reading against a tree captured from a real kernel (Debian 12, 6.1) and constructed edge cases."""

from __future__ import annotations

import errno

import pytest

from ansible_collections.baremetal.mlops.plugins.module_utils.disk import sysfs
from ansible_collections.baremetal.mlops.plugins.module_utils.disk.exceptions import SysfsError
from ansible_collections.baremetal.mlops.tests.unit.plugins.fake_host import (
    SysfsBuilder,
    fixture_path,
    load_sysfs_dump,
)


@pytest.fixture
def vm_sysfs(tmp_path):
    return load_sysfs_dump(fixture_path("nvme", "qemu-deb12", "sysfs.json"), str(tmp_path / "sys"))


def test_lists_every_controller_including_one_without_namespaces(vm_sysfs):
    assert sysfs.list_controllers(vm_sysfs) == ["nvme%d" % i for i in range(9)]


def test_controller_identify_strings_lose_their_padding(vm_sysfs):
    ctrl = sysfs.read_controller(vm_sysfs, "nvme0")
    # sysfs has "BMLABNVME0001       \n", "QEMU NVMe Ctrl" padded to 40 and "7.2.22  "
    assert ctrl["serial"] == "BMLABNVME0001"
    assert ctrl["model"] == "QEMU NVMe Ctrl"
    assert ctrl["firmware_rev"] == "7.2.22"
    assert ctrl["transport"] == "pcie"
    assert ctrl["address"] == "0000:00:03.0"
    assert ctrl["state"] == "live"
    assert ctrl["cntlid"] == 0
    assert ctrl["numa_node"] is None  # the VM reports -1
    assert ctrl["subsystem"] == "nvme-subsys0"
    assert ctrl["path"] == "/dev/nvme0"


def test_hidden_multipath_paths_are_not_namespaces(vm_sysfs):
    names = sysfs.list_namespaces(vm_sysfs)
    assert names == ["nvme0n1", "nvme1n1", "nvme2n1", "nvme3n1", "nvme4n1", "nvme6n1", "nvme6n2", "nvme7n1"]
    assert sorted(sysfs.list_paths(vm_sysfs)) == ["nvme7c7n1", "nvme7c8n1"]


def test_multipath_head_maps_to_both_controllers_and_the_subsystem_identity(vm_sysfs):
    ns = sysfs.read_namespace(vm_sysfs, "nvme7n1")
    assert ns["multipath"] is True
    assert ns["paths"] == ["nvme7c7n1", "nvme7c8n1"]
    assert ns["controllers"] == ["nvme7", "nvme8"]
    assert ns["subsystem"] == "nvme-subsys7"
    assert ns["serial"] == "BMLABMPATH08"  # read through device -> nvme-subsys7
    assert ns["size_bytes"] == 268435456
    assert ns["nsid"] == 1


def test_plain_namespace_facts(vm_sysfs):
    ns = sysfs.read_namespace(vm_sysfs, "nvme0n1")
    assert ns["controllers"] == ["nvme0"]
    assert ns["multipath"] is False and ns["paths"] == []
    assert ns["size_bytes"] == 2097152 * 512
    assert (ns["logical_block_size"], ns["physical_block_size"]) == (512, 512)
    assert ns["dev"] == "259:2"
    assert ns["wwid"].startswith("nvme.1b36-")
    assert ns["nguid"] is None and ns["uuid"] is None and ns["eui64"] is None  # QEMU reports none
    assert ns["read_only"] is False
    assert [(p["name"], p["number"], p["start_sector"], p["size_bytes"], p["dev"]) for p in ns["partitions"]] == [
        ("nvme0n1p1", 1, 2048, 1431552 * 512, "259:12"),
        ("nvme0n1p2", 2, 1433600, 661504 * 512, "259:13"),
    ]


def test_size_counts_512_byte_sectors_even_with_4k_blocks(vm_sysfs):
    ns = sysfs.read_namespace(vm_sysfs, "nvme6n2")
    assert ns["logical_block_size"] == 4096
    assert ns["size_bytes"] == 268435456
    assert ns["nsid"] == 2


def test_holders_name_md_and_dm_devices(vm_sysfs):
    md = sysfs.read_namespace(vm_sysfs, "nvme1n1")["holders"]
    assert [(h["name"], h["kind"], h["level"]) for h in md] == [("md127", "md", "raid1")]
    dm = sysfs.read_namespace(vm_sysfs, "nvme3n1")["holders"]
    assert [(h["name"], h["kind"], h["dm_name"], h["dm_target"], h["dev"]) for h in dm] == [
        ("dm-0", "dm", "vgdata-lvscratch", "lvm", "252:0")]


def test_missing_sysfs_gives_empty_lists(tmp_path):
    assert sysfs.list_controllers(str(tmp_path)) == []
    assert sysfs.list_namespaces(str(tmp_path)) == []
    assert sysfs.controller_subsystems(str(tmp_path)) == {}


def test_unknown_namespace_is_a_typed_error(vm_sysfs):
    with pytest.raises(SysfsError) as excinfo:
        sysfs.read_namespace(vm_sysfs, "nvme9n1")
    assert excinfo.value.device == "/dev/nvme9n1"
    assert "sysfs" in excinfo.value.message


def test_unreadable_attribute_is_a_typed_error(tmp_path, monkeypatch):
    path = tmp_path / "serial"
    path.write_text("X\n")

    def deny(*args, **kwargs):
        raise OSError(errno.EACCES, "Permission denied")

    monkeypatch.setattr("builtins.open", deny)
    with pytest.raises(SysfsError) as excinfo:
        sysfs.read_attr(str(path))
    assert "Permission denied" in excinfo.value.message
    assert "Fix:" in excinfo.value.message


def test_non_numeric_attribute_is_a_typed_error(tmp_path):
    (tmp_path / "size").write_text("lots\n")
    with pytest.raises(SysfsError):
        sysfs.read_int(str(tmp_path / "size"))


def test_constructed_tree_with_nguid_and_nested_holders(tmp_path):
    """md on a partition, LVM on the md: the holder tree follows the chain."""
    b = SysfsBuilder(tmp_path)
    ctrl = b.nvme_controller(0, "S6CKNT0W701234", "SAMSUNG MZQL27T6HBLA-00A07", pci="0000:3b:00.0", numa_node=1,
                             state="resetting")
    ns = b.nvme_namespace(ctrl, "nvme0n1", sectors=7501476528, lbs=4096, pbs=4096, dev="259:0",
                          nguid="36344730-5270-1234-0025-38450000abcd")
    part = b.partition(ns, "nvme0n1p1", 1, 2048, 7501474480, "259:1")
    md = b.holder(part, "md0", "9:0", md_level="raid1")
    b.holder(md, "dm-3", "252:3", dm_name="vgmd-data", dm_uuid="LVM-abc")
    root = str(tmp_path)
    ctrl_facts = sysfs.read_controller(root, "nvme0")
    assert ctrl_facts["numa_node"] == 1 and ctrl_facts["state"] == "resetting"
    facts = sysfs.read_namespace(root, "nvme0n1")
    assert facts["nguid"] == "36344730-5270-1234-0025-38450000abcd"
    assert facts["size_bytes"] == 7501476528 * 512
    assert facts["holders"] == []
    holders = facts["partitions"][0]["holders"]
    assert holders[0]["name"] == "md0" and holders[0]["kind"] == "md"
    assert holders[0]["holders"][0]["name"] == "dm-3"
    assert holders[0]["holders"][0]["dm_name"] == "vgmd-data"


def test_natural_sort():
    assert sorted(["nvme10n1", "nvme2n1", "nvme1n1"], key=sysfs.natural_key) == ["nvme1n1", "nvme2n1", "nvme10n1"]
