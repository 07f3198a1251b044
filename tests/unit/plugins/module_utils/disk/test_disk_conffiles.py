# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""fstab and mdadm.conf edits: idempotent, everything else kept byte for byte."""

from __future__ import annotations

import json

import pytest

from ansible_collections.baremetal.mlops.plugins.module_utils.disk import conffiles
from ansible_collections.baremetal.mlops.tests.unit.plugins.fake_host import read_fixture

VRACK = ("nvme", "vrack-deb12")
LINE = "UUID=92ca8ef8-5787-4ba5-b1d9-277243fb2c6a /data xfs defaults,noatime 0 0"


def test_fstab_line_escapes_blanks():
    assert conffiles.fstab_line("u-1", "/mnt/with space", "ext4", "defaults", 2) == \
        "UUID=u-1 /mnt/with\\040space ext4 defaults 0 2"


def test_fstab_append_then_no_change():
    text = "/dev/vda / ext4 rw,errors=remount-ro 0 1"  # no final newline
    after, changed = conffiles.set_fstab_entry(text, LINE, "/data")
    assert changed
    assert after == "/dev/vda / ext4 rw,errors=remount-ro 0 1\n%s\n" % LINE
    again, changed = conffiles.set_fstab_entry(after, LINE, "/data")
    assert not changed
    assert again == after


def test_fstab_blank_differences_are_not_changes():
    text = "# comment\nUUID=92ca8ef8-5787-4ba5-b1d9-277243fb2c6a\t/data  xfs defaults,noatime 0 0\n"
    after, changed = conffiles.set_fstab_entry(text, LINE, "/data")
    assert not changed
    assert after == text


def test_fstab_replaces_the_entry_of_the_mount_point_in_place():
    text = "# keep me\n/dev/sdb1 /data ext4 defaults 0 2\n/dev/vda / ext4 rw 0 1\n"
    after, changed = conffiles.set_fstab_entry(text, LINE, "/data")
    assert changed
    assert after == "# keep me\n%s\n/dev/vda / ext4 rw 0 1\n" % LINE


def test_fstab_entry_and_uuid_of_the_captured_fstab():
    state = json.loads(read_fixture(*VRACK + ("state_applied.json",)))
    entry = conffiles.fstab_entry(state["fstab"], "/cache")
    assert entry["fs_type"] == "ext4"
    assert conffiles.fstab_uuid(entry) == "ffa60a2b-9c48-4b44-a0f9-ff6fc6140d50"
    assert conffiles.fstab_entry(state["fstab"], "/nope") is None
    assert conffiles.fstab_uuid(conffiles.fstab_entry(state["fstab"], "/")) is None


def test_mdadm_uuid_spellings():
    assert conffiles.mdadm_uuid("bbe5a50c-90b6-4f12-bd65-f949d59a685f") == "bbe5a50c:90b64f12:bd65f949:d59a685f"
    assert conffiles.mdadm_uuid("BBE5A50C:90B64F12:BD65F949:D59A685F") == "bbe5a50c:90b64f12:bd65f949:d59a685f"
    assert conffiles.mdadm_uuid("nope") is None
    assert conffiles.mdadm_uuid(None) is None


def test_array_line_is_what_mdadm_detail_brief_prints():
    real = read_fixture(*VRACK + ("mdadm_detail_brief_data.txt",)).strip()
    assert conffiles.array_line("/dev/md/data", "1.2", "nvsdev:data", "bbe5a50c-90b6-4f12-bd65-f949d59a685f") == real


def test_set_array_line_on_the_captured_mdadm_conf_is_idempotent():
    state = json.loads(read_fixture(*VRACK + ("state_applied.json",)))
    line = read_fixture(*VRACK + ("mdadm_detail_brief_data.txt",)).strip()
    after, changed = conffiles.set_array_line(state["mdadm_conf"], line)
    assert not changed
    assert after == state["mdadm_conf"]
    assert conffiles.has_array(state["mdadm_conf"], "bbe5a50c-90b6-4f12-bd65-f949d59a685f")


def test_set_array_line_appends_to_a_stock_conf_and_keeps_the_rest():
    stock = "HOMEHOST <system>\n\nMAILADDR root\n"
    line = "ARRAY /dev/md/data metadata=1.2 name=n:data UUID=00000000:00000000:00000000:00000001"
    after, changed = conffiles.set_array_line(stock, line)
    assert changed
    assert after == stock + line + "\n"
    assert conffiles.set_array_line(None, line) == (line + "\n", True)


def test_set_array_line_replaces_a_stale_line_of_the_same_name_with_its_continuation():
    text = ("HOMEHOST <system>\n"
            "ARRAY /dev/md/data metadata=1.2 name=n:data\n"
            "   UUID=11111111:11111111:11111111:11111111\n"
            "ARRAY /dev/md/other metadata=1.2 UUID=22222222:22222222:22222222:22222222\n")
    line = "ARRAY /dev/md/data metadata=1.2 name=n:data UUID=00000000:00000000:00000000:00000001"
    after, changed = conffiles.set_array_line(text, line)
    assert changed
    assert after == ("HOMEHOST <system>\n" + line + "\n"
                     "ARRAY /dev/md/other metadata=1.2 UUID=22222222:22222222:22222222:22222222\n")
    entries = conffiles.array_entries(text)
    assert entries[0] == {"devname": "/dev/md/data", "uuid": "11111111:11111111:11111111:11111111",
                          "line": "ARRAY /dev/md/data metadata=1.2 name=n:data UUID=11111111:11111111:11111111:11111111"}


def test_set_array_line_rejects_other_lines():
    with pytest.raises(ValueError):
        conffiles.set_array_line("", "MAILADDR root")
