# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""wipefs --json, /proc/self/mountinfo and /proc/swaps as captured on Debian 12 (util-linux 2.38.1, kernel 6.1)."""

from __future__ import annotations

import pytest

from ansible_collections.baremetal.mlops.plugins.module_utils.disk import mounts, signatures
from ansible_collections.baremetal.mlops.plugins.module_utils.disk.exceptions import DiskParseError
from ansible_collections.baremetal.mlops.tests.unit.plugins.fake_host import read_fixture


def wipefs(device):
    return signatures.parse_wipefs_json(read_fixture("nvme", "qemu-deb12", "wipefs_%s.json" % device), device)


def test_gpt_disk_lists_both_headers_and_the_protective_mbr():
    sigs = wipefs("nvme0n1")
    assert [(s["type"], s["offset"]) for s in sigs] == [("gpt", 0x200), ("gpt", 0x3FFFFE00), ("PMBR", 0x1FE)]
    assert signatures.signature_reasons(sigs) == ["partition table (gpt)"]


@pytest.mark.parametrize("device, reasons", [
    ("nvme0n1p1", ["xfs filesystem signature"]),
    ("nvme0n1p2", ["swap signature"]),
    ("nvme1n1", ["linux_raid_member signature"]),
    ("nvme3n1", ["LVM2_member signature"]),
    ("nvme4n1", []),
    ("nvme7n1", []),
])
def test_reasons(device, reasons):
    assert signatures.signature_reasons(wipefs(device)) == reasons


def test_filesystem_label_and_uuid_are_kept():
    assert wipefs("nvme0n1p1") == [
        {"type": "xfs", "offset": 0, "uuid": "aaa828c4-0c01-4171-88c3-31c27ffd01a1", "label": "data"}]


def test_empty_signature_list():
    # wipefs prints '"signatures": [\n\n   ]' for a blank device
    assert wipefs("nvme4n1") == []
    assert signatures.parse_wipefs_json("") == []


@pytest.mark.parametrize("sig_type, usage", [
    ("gpt", "partition_table"), ("dos", "partition_table"), ("xfs", "filesystem"), ("ext4", "filesystem"),
    ("linux_raid_member", "raid"), ("LVM2_member", "raid"), ("zfs_member", "raid"), ("crypto_LUKS", "crypto"),
    ("swap", "swap"),
])
def test_usage_of(sig_type, usage):
    assert signatures.usage_of(sig_type) == usage


def test_dos_partition_table_and_luks():
    sigs = [{"type": "dos"}, {"type": "crypto_LUKS"}]
    assert signatures.signature_reasons(sigs) == ["partition table (dos)", "crypto_LUKS signature"]


def test_wipefs_without_json_support_is_a_parse_error():
    # util-linux < 2.29 prints its table whatever the options
    text = "DEVICE  OFFSET TYPE UUID LABEL\nnvme0n1 0x200  gpt\n"
    with pytest.raises(DiskParseError) as excinfo:
        signatures.parse_wipefs_json(text, "/dev/nvme0n1")
    assert "2.29" in excinfo.value.message


def test_mountinfo_real():
    parsed = mounts.parse_mountinfo(read_fixture("nvme", "qemu-deb12", "mountinfo.txt"))
    data = [m for m in parsed if m["mountpoint"] == "/data"][0]
    assert data == {"mount_id": 92, "parent_id": 26, "dev": "259:12", "root": "/", "mountpoint": "/data",
                    "options": "rw,relatime", "fstype": "xfs", "source": "/dev/nvme0n1p1"}
    spaced = [m for m in parsed if m["dev"] == "252:0"]
    assert [m["mountpoint"] for m in spaced] == ["/scratch", "/mnt/with space"]  # \040 undone
    assert spaced[0]["source"] == "/dev/mapper/vgdata-lvscratch"


def test_mountinfo_without_optional_fields():
    line = "36 35 98:0 /mnt1 /mnt2 rw,noatime - ext3 /dev/root rw,errors=continue\n"
    assert mounts.parse_mountinfo(line)[0]["fstype"] == "ext3"


def test_mountinfo_garbage_is_a_parse_error():
    with pytest.raises(DiskParseError):
        mounts.parse_mountinfo("not a mountinfo line\n")


def test_swaps_real():
    assert mounts.parse_swaps(read_fixture("nvme", "qemu-deb12", "swaps.txt")) == [
        {"filename": "/dev/nvme0n1p2", "type": "partition"}]
    assert mounts.parse_swaps("Filename\tType\tSize\tUsed\tPriority\n") == []
