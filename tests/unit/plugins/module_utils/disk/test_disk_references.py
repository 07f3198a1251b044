# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A wipe leaves nothing that points at the erased disk (issue 12, finding 1).

State: the vrack VM capture ``state_fresh.json`` (NVS-C holds ext4 ``precious``,
UUID a0f0a988-...), with fstab/crypttab/mdadm.conf/unit text added in the
formats those files have (fstab(5), crypttab(5), mdadm.conf(5), systemd.mount(5)).
"""

from __future__ import annotations

import copy
import json

import pytest

from ansible_collections.baremetal.mlops.plugins.module_utils.disk import conffiles, planner, references
from ansible_collections.baremetal.mlops.plugins.module_utils.disk.exceptions import LayoutError
from ansible_collections.baremetal.mlops.tests.unit.plugins.fake_host import read_fixture

UUID_C = "a0f0a988-843e-4722-a300-f2c737c8ac91"
ROOT = "/dev/vda / ext4 rw,errors=remount-ro 0 1\n"
SCRATCH = {"name": "scratch", "type": "filesystem", "disks": {"serials": ["NVS-C"]}, "mount_point": "/scratch"}
WIPE_C = dict(wipe=True, wipe_allowlist=["NVS-C"])


@pytest.fixture
def state():
    return json.loads(read_fixture("nvme", "vrack-deb12", "state_fresh.json"))


def make(state, volumes, **kwargs):
    counter = iter(range(1, 100))
    return planner.make_plan(state, volumes, new_uuid=lambda: "00000000-0000-4000-8000-%012d" % next(counter),
                             **kwargs)


@pytest.mark.parametrize("spec", ["UUID=%s" % UUID_C, 'UUID="%s"' % UUID_C.upper(), "LABEL=precious",
                                  "/dev/nvme2n1", "/dev/disk/by-uuid/%s" % UUID_C, "/dev/disk/by-label/precious",
                                  "/dev/disk/by-id/nvme-QEMU_NVMe_Ctrl_NVS-C"])
def test_every_spelling_of_the_wiped_disk_in_fstab_is_removed_by_a_shown_step(state, spec):
    old = "%s /srv/c ext4 defaults 0 2" % spec
    state["fstab"] = ROOT + old + "\n/dev/nvme0n1 /srv/a ext4 defaults 0 2\n"
    result = make(state, [SCRATCH], **WIPE_C)
    first = result["steps"][0]
    assert (first["action"], first["phase"]) == ("fstab_remove", "unref"), result["steps"]
    assert old in first["detail"] and "precious" in first["detail"] or "/dev/nvme2n1" in first["detail"]
    assert result["steps"][1]["action"] == "wipefs"
    assert old not in result["fstab"]
    assert "/dev/nvme0n1 /srv/a" in result["fstab"]  # another disk's line stays
    assert "systemd_reload" in [s["action"] for s in result["steps"]]


def test_no_reference_no_removal_step(state):
    state["fstab"] = ROOT
    result = make(state, [SCRATCH], **WIPE_C)
    assert [s["action"] for s in result["steps"]][:1] == ["wipefs"]


def test_crypttab_and_units_are_refused_naming_the_file(state, tmp_path):
    state["crypttab"] = "secret UUID=%s none luks\n" % UUID_C
    state["units"] = [{"path": "/etc/systemd/system/srv-c.mount", "what": "/dev/disk/by-label/precious"}]
    with pytest.raises(LayoutError) as excinfo:
        make(state, [SCRATCH], **WIPE_C)
    text = " | ".join(excinfo.value.problems)
    assert "/etc/crypttab still uses the ext4 on /dev/nvme2n1 (secret UUID=%s none luks)" % UUID_C in text
    assert "/etc/systemd/system/srv-c.mount still uses" in text and "What=/dev/disk/by-label/precious" in text
    assert len(excinfo.value.problems) == 2  # both at once


def test_mdadm_member_loses_its_array_line_and_the_initramfs_is_rebuilt(state):
    member_uuid = "7e2b4c1a:0f0e0d0c:0b0a0908:07060504"
    for ns in state["namespaces"]:
        if ns["serial"] == "NVS-C":
            ns["signatures"] = [{"type": "linux_raid_member", "uuid": "7e2b4c1a-0f0e-0d0c-0b0a-090807060504",
                                 "label": "old:data", "offset": 4096}]
    state["mdadm_conf"] = "HOMEHOST <system>\nARRAY /dev/md/olddata metadata=1.2 name=old:data UUID=%s\n" % member_uuid
    state["fstab"] = ROOT + "/dev/md/olddata /srv/old xfs defaults 0 0\n"
    result = make(state, [SCRATCH], **WIPE_C)
    acts = [s["action"] for s in result["steps"]]
    assert acts[:3] == ["fstab_remove", "mdadm_conf_remove", "wipefs"], acts
    assert "ARRAY" not in result["mdadm_conf"] and "HOMEHOST" in result["mdadm_conf"]
    assert "/srv/old" not in result["fstab"]
    assert acts[-1] == "update_initramfs"


def test_a_volume_group_that_also_lives_elsewhere_is_refused(state):
    state["lvm"] = {"pvs": [{"pv_name": "/dev/nvme2n1", "vg_name": "vgold"},
                            {"pv_name": "/dev/nvme3n1", "vg_name": "vgold"}],
                    "vgs": [{"vg_name": "vgold"}],
                    "lvs": [{"vg_name": "vgold", "lv_name": "lv-a", "lv_path": "/dev/vgold/lv-a",
                             "signatures": [{"type": "xfs", "uuid": "11111111-2222-3333-4444-555555555555"}]}]}
    with pytest.raises(LayoutError) as excinfo:
        make(state, [SCRATCH], **WIPE_C)
    assert "volume group vgold, which also lives on /dev/nvme3n1" in excinfo.value.problems[0]


def test_the_lvs_of_a_wiped_volume_group_lose_their_fstab_lines(state):
    state["lvm"] = {"pvs": [{"pv_name": "/dev/nvme2n1", "vg_name": "vg-old"}], "vgs": [{"vg_name": "vg-old"}],
                    "lvs": [{"vg_name": "vg-old", "lv_name": "lv-a", "lv_path": "/dev/vg-old/lv-a",
                             "signatures": [{"type": "xfs", "uuid": "11111111-2222-3333-4444-555555555555"}]}]}
    lines = ["UUID=11111111-2222-3333-4444-555555555555 /a xfs defaults 0 0",
             "/dev/mapper/vg--old-lv--a /b xfs defaults 0 0", "/dev/vg-old/lv-a /c xfs defaults 0 0"]
    state["fstab"] = ROOT + "\n".join(lines) + "\n"
    result = make(state, [SCRATCH], **WIPE_C)
    removed = [s for s in result["steps"] if s["action"] == "fstab_remove"]
    assert len(removed) == 3 and not any(line in result["fstab"] for line in lines)


def test_spec_key_spellings():
    assert references.spec_key("UUID=ABC") == ("uuid", "abc")
    assert references.spec_key("/dev/disk/by-partuuid/AB-01") == ("partuuid", "ab-01")
    assert references.spec_key("/dev//nvme0n1") == ("path", "/dev/nvme0n1")
    assert references.spec_key("proc") is None


def test_conffile_removals_are_idempotent():
    text = ROOT + "UUID=x /a xfs defaults 0 0\n"
    once, changed = conffiles.remove_fstab_lines(text, ["UUID=x  /a xfs defaults 0 0"])
    assert changed and once == ROOT
    assert conffiles.remove_fstab_lines(once, ["UUID=x /a xfs defaults 0 0"]) == (ROOT, False)
    conf = "ARRAY /dev/md/a metadata=1.2\n   UUID=7e2b4c1a:0f0e0d0c:0b0a0908:07060504\nMAILADDR root\n"
    once, changed = conffiles.remove_array(conf, "7e2b4c1a-0f0e-0d0c-0b0a-090807060504")
    assert changed and once == "MAILADDR root\n"
    assert conffiles.remove_array(once, "7e2b4c1a0f0e0d0c0b0a090807060504") == (once, False)


def test_the_plan_stays_pure(state):
    state["fstab"] = ROOT + "LABEL=precious /srv/c ext4 defaults 0 2\n"
    before = copy.deepcopy(state)
    make(state, [SCRATCH], **WIPE_C)
    assert state == before


def test_partuuid_and_partlabel_come_from_udevs_links_and_find_the_fstab_line(state, tmp_path):
    from ansible_collections.baremetal.mlops.plugins.module_utils.disk.state import partition_links

    dev = tmp_path / "dev"
    (dev / "disk" / "by-partuuid").mkdir(parents=True)
    (dev / "disk" / "by-partlabel").mkdir(parents=True)
    (dev / "nvme2n1p1").touch()
    (dev / "disk" / "by-partuuid" / "5C3B1A2E-01").symlink_to("../../nvme2n1p1")
    (dev / "disk" / "by-partlabel" / "old\\x20data").symlink_to("../../nvme2n1p1")
    links = partition_links(str(dev))
    assert links == {"nvme2n1p1": {"partuuid": "5c3b1a2e-01", "partlabel": "old data"}}
    for ns in state["namespaces"]:
        if ns["serial"] == "NVS-C":
            ns["signatures"] = [{"type": "gpt", "uuid": "5c3b1a2e", "offset": 512}]
            ns["partitions"] = [dict({"name": "nvme2n1p1", "path": "/dev/nvme2n1p1", "number": 1, "signatures": []},
                                     **links["nvme2n1p1"])]
    state["fstab"] = ROOT + "PARTUUID=5C3B1A2E-01 /old ext4 defaults 0 2\nPARTLABEL=old\\040data /o2 ext4 defaults 0 2\n"
    result = make(state, [SCRATCH], **WIPE_C)
    assert [s["action"] for s in result["steps"]][:2] == ["fstab_remove", "fstab_remove"]
    assert "PARTUUID=5C3B1A2E-01" not in result["fstab"] and "/o2" not in result["fstab"]


# Issue 26, finding 1 and 3: stacks that reach a disk nobody allowlisted. The superblock and LVM rows are in the
# formats wipefs --json and pvs --reportformat json print (as captured in the fixtures of test_disk_storage_state).
MD_SIG = {"type": "linux_raid_member", "uuid": "7e2b4c1a-0f0e-0d0c-0b0a-090807060504", "label": "old:data",
          "offset": 4096}


def _ns(state, serial):
    return next(ns for ns in state["namespaces"] if ns["serial"] == serial)


def test_a_member_of_an_array_whose_other_member_is_not_allowlisted_is_refused_even_if_stopped(state):
    # The array is not assembled (a degraded RAID1 stopped by hand, or a member failed and removed long ago):
    # only the superblocks tell that NVS-D still holds the array's data.
    _ns(state, "NVS-C")["signatures"] = [dict(MD_SIG)]
    _ns(state, "NVS-D")["signatures"] = [dict(MD_SIG)]
    with pytest.raises(LayoutError) as excinfo:
        make(state, [SCRATCH], **WIPE_C)
    text = " | ".join(excinfo.value.problems)
    assert "member of md array old:data, which also has members on /dev/nvme3n1" in text, text
    assert "mdadm --zero-superblock" in text


def test_an_array_all_of_whose_members_are_wiped_is_planned(state):
    _ns(state, "NVS-C")["signatures"] = [dict(MD_SIG)]
    d = _ns(state, "NVS-D")
    d.update(signatures=[dict(MD_SIG)], in_use=True, in_use_reasons=["linux_raid_member signature"])
    two = dict(SCRATCH, disks={"serials": ["NVS-C", "NVS-D"]}, type="raid", raid_level=1)
    result = make(state, [two], wipe=True, wipe_allowlist=["NVS-C", "NVS-D"])
    wiped = [s["device"] for s in result["steps"] if s["action"] == "wipefs"]
    assert wiped[:2] == ["/dev/nvme2n1", "/dev/nvme3n1"], result["steps"]


def test_an_assembled_arrays_member_that_is_not_nvme_is_named(state):
    _ns(state, "NVS-C")["signatures"] = [dict(MD_SIG)]
    state["md_arrays"] = [{"name": "olddata", "path": "/dev/md127", "links": ["/dev/md/olddata"], "dev": "9:127",
                           "members": ["nvme2n1", "sda2"], "uuid": "7e2b4c1a:0f0e0d0c:0b0a0908:07060504",
                           "signatures": [], "mountpoints": []}]
    with pytest.raises(LayoutError) as excinfo:
        make(state, [SCRATCH], **WIPE_C)
    assert "md array /dev/md127, which also has members on /dev/sda2" in " | ".join(excinfo.value.problems)


def test_an_lvm_signature_without_lvm2_is_refused(state):
    _ns(state, "NVS-C")["signatures"] = [{"type": "LVM2_member", "uuid": "AbCdEf-1234-5678-9012-3456-7890-AbCdEf",
                                         "offset": 536}]
    state["lvm"] = None
    with pytest.raises(LayoutError) as excinfo:
        make(state, [SCRATCH], **WIPE_C)
    assert "lvm2 is not installed" in " | ".join(excinfo.value.problems)


def test_an_active_group_that_spans_a_disk_outside_the_allowlist_is_named_not_only_its_holder(state):
    c = _ns(state, "NVS-C")
    c.update(signatures=[{"type": "LVM2_member", "uuid": "AbCdEf-1234"}], holders=["dm-0"],
             in_use_reasons=["LVM2_member signature", "held by dm-0"])
    state["lvm"] = {"pvs": [{"pv_name": "/dev/nvme2n1", "vg_name": "vgE"}, {"pv_name": "/dev/nvme3n1", "vg_name": "vgE"}],
                    "vgs": [{"vg_name": "vgE"}], "lvs": []}
    with pytest.raises(LayoutError) as excinfo:
        make(state, [SCRATCH], **WIPE_C)
    text = " | ".join(excinfo.value.problems)
    assert "held by dm-0" in text
    assert "volume group vgE, which also lives on /dev/nvme3n1" in text, text


# Issue 26, finding 2: the same drive named through any udev link, and units linked in with `systemctl link`.
# The tree is laid out as udev lays out /dev (relative links from /dev/disk/<kind>/ and /dev/mapper/).
def _dev_tree(tmp_path):
    dev = tmp_path / "dev"
    for sub in ("disk/by-path", "disk/by-diskseq", "disk/by-id", "mapper"):
        (dev / sub).mkdir(parents=True)
    (dev / "nvme2n1").touch()
    (dev / "dm-1").touch()
    (dev / "disk" / "by-path" / "pci-0000:00:06.0-nvme-1").symlink_to("../../nvme2n1")
    (dev / "disk" / "by-diskseq" / "7").symlink_to("../../nvme2n1")
    (dev / "mapper" / "secret").symlink_to("../dm-1")
    (dev / "disk" / "by-id" / "gone").symlink_to("/nowhere/else")
    return dev


def test_every_udev_link_is_resolved_to_its_kernel_device(tmp_path):
    from ansible_collections.baremetal.mlops.plugins.module_utils.disk.state import device_links

    links = device_links(str(_dev_tree(tmp_path)))
    assert links == {"/dev/disk/by-path/pci-0000:00:06.0-nvme-1": "/dev/nvme2n1", "/dev/disk/by-diskseq/7": "/dev/nvme2n1",
                     "/dev/mapper/secret": "/dev/dm-1"}


def test_fstab_by_path_is_removed_and_crypttab_by_diskseq_is_refused(state, tmp_path):
    from ansible_collections.baremetal.mlops.plugins.module_utils.disk.state import device_links

    state["dev_links"] = device_links(str(_dev_tree(tmp_path)))
    state["fstab"] = ROOT + "/dev/disk/by-path/pci-0000:00:06.0-nvme-1 /srv/c ext4 defaults 0 2\n"
    result = make(state, [SCRATCH], **WIPE_C)
    assert result["steps"][0]["action"] == "fstab_remove" and "/srv/c" not in result["fstab"]
    state["crypttab"] = "secret /dev/disk/by-diskseq/7 none luks\n"
    with pytest.raises(LayoutError) as excinfo:
        make(state, [SCRATCH], **WIPE_C)
    assert "/etc/crypttab still uses disk /dev/nvme2n1 (secret /dev/disk/by-diskseq/7 none luks)" in \
        " | ".join(excinfo.value.problems)


def test_a_unit_linked_with_systemctl_link_is_found_and_a_masked_one_is_not(state, tmp_path):
    from ansible_collections.baremetal.mlops.plugins.module_utils.disk.state import StorageStateCollector

    units, elsewhere = tmp_path / "system", tmp_path / "opt"
    units.mkdir()
    elsewhere.mkdir()
    (elsewhere / "srv-c.mount").write_text("[Mount]\nWhat=/dev/disk/by-path/pci-0000:00:06.0-nvme-1\nWhere=/srv/c\n")
    (units / "srv-c.mount").symlink_to(elsewhere / "srv-c.mount")
    (units / "srv-d.mount").symlink_to("/dev/null")
    collector = StorageStateCollector(run=None, wipefs="wipefs", unit_dirs=[str(units)])
    found = collector._units()  # pylint: disable=protected-access
    assert found == [{"path": str(units / "srv-c.mount"), "what": "/dev/disk/by-path/pci-0000:00:06.0-nvme-1",
                      "target": str(elsewhere / "srv-c.mount")}]
    state["units"] = found
    state["dev_links"] = {"/dev/disk/by-path/pci-0000:00:06.0-nvme-1": "/dev/nvme2n1"}
    with pytest.raises(LayoutError) as excinfo:
        make(state, [SCRATCH], **WIPE_C)
    assert "%s (linked from %s) still uses disk /dev/nvme2n1" % (units / "srv-c.mount", elsewhere / "srv-c.mount") in \
        " | ".join(excinfo.value.problems)


def test_an_open_luks_mapping_is_refused_naming_its_crypttab_and_fstab_lines_not_only_dm(state):
    """Issue 26, finding 5: the refusal said only "held by dm-1". The signature is wipefs's for a LUKS2 header."""
    luks = "5d0f3c2a-6b1e-4f7d-9a8c-1e2d3c4b5a69"
    c = _ns(state, "NVS-C")
    c.update(signatures=[{"type": "crypto_LUKS", "uuid": luks, "offset": 0}], holders=["dm-1"],
             in_use_reasons=["crypto_LUKS signature", "held by dm-1"])
    state["crypttab"] = "secret UUID=%s none luks\n" % luks
    state["fstab"] = ROOT + "/dev/mapper/secret /srv/secret ext4 defaults 0 2\n"
    with pytest.raises(LayoutError) as excinfo:
        make(state, [SCRATCH], **WIPE_C)
    text = " | ".join(excinfo.value.problems)
    assert "held by dm-1 (what names it: " in text, text
    assert "/etc/crypttab: secret UUID=%s none luks" % luks in text
    assert "/etc/fstab: /dev/mapper/secret /srv/secret ext4 defaults 0 2" in text


def test_the_filesystem_inside_a_luks_mapping_is_a_reference_of_the_disk(state):
    luks = "5d0f3c2a-6b1e-4f7d-9a8c-1e2d3c4b5a69"
    _ns(state, "NVS-C")["signatures"] = [{"type": "crypto_LUKS", "uuid": luks, "offset": 0}]
    state["crypttab"] = "secret /dev/disk/by-uuid/%s none luks\n" % luks
    state["fstab"] = ROOT + "/dev/mapper/secret /srv/secret ext4 defaults 0 2\n"
    kinds = sorted((r["kind"], r["line"]) for r in references.references(_ns(state, "NVS-C"), state))
    assert kinds == [("crypttab", "secret /dev/disk/by-uuid/%s none luks" % luks),
                     ("fstab", "/dev/mapper/secret /srv/secret ext4 defaults 0 2")], kinds


# Issue 26, finding 3: what is inside a stack that is not running. The collector reads it where it lies (the
# array member's data offset, the deactivated LV's first extent) with blkid -p -O; see test_disk_storage_state.
OLD_XFS = {"type": "xfs", "offset": 2097152, "uuid": "5d1e7f0a-9a53-4c56-8d6c-1c2b3a4d5e6f", "label": "old"}


def test_the_filesystem_of_a_stopped_array_loses_its_fstab_line_with_the_members(state):
    _ns(state, "NVS-C")["signatures"] = [dict(MD_SIG)]
    d = _ns(state, "NVS-D")
    d.update(signatures=[dict(MD_SIG)], in_use=True, in_use_reasons=["linux_raid_member signature"])
    state["md_contents"] = [{"uuid": "7e2b4c1a:0f0e0d0c:0b0a0908:07060504", "member": path, "offset": 2097152,
                             "signatures": [dict(OLD_XFS)]} for path in ("/dev/nvme2n1", "/dev/nvme3n1")]
    line = "UUID=%s /srv/old xfs defaults 0 0" % OLD_XFS["uuid"].upper()
    state["fstab"] = ROOT + line + "\n"
    two = dict(SCRATCH, disks={"serials": ["NVS-C", "NVS-D"]}, type="raid", raid_level=1)
    result = make(state, [two], wipe=True, wipe_allowlist=["NVS-C", "NVS-D"])
    removed = [s for s in result["steps"] if s["action"] == "fstab_remove"]
    assert len(removed) == 1, result["steps"]
    assert line in removed[0]["detail"]
    assert "the xfs inside array old:data (not assembled; read on member /dev/nvme2n1)" in removed[0]["detail"]
    assert line not in result["fstab"]


def test_the_filesystem_of_a_deactivated_logical_volume_loses_its_fstab_line(state):
    c = _ns(state, "NVS-C")
    c.update(signatures=[{"type": "LVM2_member", "uuid": "AbCdEf-1234"}],
             in_use_reasons=["LVM2_member signature"])
    gone = {"type": "ext4", "offset": 1048576, "uuid": "0b6f2a3c-1111-4222-8333-944455566677", "label": "gone"}
    state["lvm"] = {"pvs": [{"pv_name": "/dev/nvme2n1", "vg_name": "vggone"}], "vgs": [{"vg_name": "vggone"}],
                    "lvs": [{"lv_name": "lvgone", "vg_name": "vggone", "lv_path": "/dev/vggone/lvgone",
                             "active": False, "dev": None, "signatures": [gone], "mountpoints": [],
                             "signatures_read": "/dev/nvme2n1 at offset 1048576"}]}
    line = "UUID=%s /srv/gone ext4 defaults 0 2" % gone["uuid"]
    state["fstab"] = ROOT + line + "\n"
    result = make(state, [SCRATCH], **WIPE_C)
    assert result["steps"][0]["action"] == "fstab_remove"
    assert "the ext4 on /dev/vggone/lvgone" in result["steps"][0]["detail"]
    assert line not in result["fstab"]


@pytest.mark.parametrize("where, error", [
    ("md", "mdadm is not installed"),
    ("lv", "blkid (util-linux) is not installed"),
])
def test_what_cannot_be_read_inside_a_stack_to_wipe_is_refused(state, where, error):
    c = _ns(state, "NVS-C")
    if where == "md":
        d = _ns(state, "NVS-D")
        for ns in (c, d):
            ns.update(signatures=[dict(MD_SIG)], in_use=True, in_use_reasons=["linux_raid_member signature"])
        state["md_contents"] = [{"uuid": "7e2b4c1a:0f0e0d0c:0b0a0908:07060504", "member": "/dev/nvme2n1",
                                 "error": error}]
        volume = dict(SCRATCH, disks={"serials": ["NVS-C", "NVS-D"]}, type="raid", raid_level=1)
        kwargs = dict(wipe=True, wipe_allowlist=["NVS-C", "NVS-D"])
    else:
        c.update(signatures=[{"type": "LVM2_member", "uuid": "AbCdEf-1234"}], in_use_reasons=["LVM2_member signature"])
        state["lvm"] = {"pvs": [{"pv_name": "/dev/nvme2n1", "vg_name": "vggone"}], "vgs": [{"vg_name": "vggone"}],
                        "lvs": [{"lv_name": "lvgone", "vg_name": "vggone", "active": False, "signatures": [],
                                 "signatures_error": error}]}
        volume, kwargs = SCRATCH, WIPE_C
    with pytest.raises(LayoutError) as excinfo:
        make(state, [volume], **kwargs)
    text = " | ".join(excinfo.value.problems)
    assert "could not be read, so the fstab, crypttab and unit lines that name it cannot be found" in text, text
    assert error in text


def test_a_volume_group_on_an_array_of_wiped_disks_loses_its_fstab_lines(state):
    """Every layer of a stack: NVS-C and NVS-D hold an assembled array (found by its member list), the array is a
    physical volume, the LV's filesystem is in fstab. The LV's line goes with the members' wipe."""
    for serial in ("NVS-C", "NVS-D"):
        _ns(state, serial).update(signatures=[dict(MD_SIG)], in_use=True,
                                  in_use_reasons=["linux_raid_member signature"])
    state["md_arrays"] = [{"name": "md127", "path": "/dev/md127", "links": ["/dev/md/olddata"], "dev": "9:127",
                           "members": ["nvme2n1", "nvme3n1"], "uuid": None, "signatures": [], "mountpoints": []}]
    lv_xfs = {"type": "xfs", "uuid": "1c0ffee0-0000-4000-8000-00000000abcd", "label": "onmd"}
    state["lvm"] = {"pvs": [{"pv_name": "/dev/md127", "vg_name": "vgmd"}], "vgs": [{"vg_name": "vgmd"}],
                    "lvs": [{"lv_name": "onmd", "vg_name": "vgmd", "lv_path": "/dev/vgmd/onmd", "active": True,
                             "dev": "252:3", "signatures": [lv_xfs], "mountpoints": []}]}
    line = "UUID=%s /srv/onmd xfs defaults 0 0" % lv_xfs["uuid"]
    state["fstab"] = ROOT + line + "\n"
    two = dict(SCRATCH, disks={"serials": ["NVS-C", "NVS-D"]}, type="raid", raid_level=1)
    result = make(state, [two], wipe=True, wipe_allowlist=["NVS-C", "NVS-D"])
    removed = [s["detail"] for s in result["steps"] if s["action"] == "fstab_remove"]
    assert len(removed) == 1 and line in removed[0] and "/dev/vgmd/onmd" in removed[0], result["steps"]


def test_a_volume_group_on_an_array_that_also_lives_elsewhere_is_refused(state):
    for serial in ("NVS-C", "NVS-D"):
        _ns(state, serial).update(signatures=[dict(MD_SIG)], in_use=True,
                                  in_use_reasons=["linux_raid_member signature"])
    state["md_arrays"] = [{"name": "md127", "path": "/dev/md127", "links": [], "dev": "9:127",
                           "members": ["nvme2n1", "nvme3n1"], "uuid": None, "signatures": [], "mountpoints": []}]
    state["lvm"] = {"pvs": [{"pv_name": "/dev/md127", "vg_name": "vgmd"}, {"pv_name": "/dev/sdb", "vg_name": "vgmd"}],
                    "vgs": [{"vg_name": "vgmd"}], "lvs": []}
    two = dict(SCRATCH, disks={"serials": ["NVS-C", "NVS-D"]}, type="raid", raid_level=1)
    with pytest.raises(LayoutError) as excinfo:
        make(state, [two], wipe=True, wipe_allowlist=["NVS-C", "NVS-D"])
    assert "volume group vgmd, which also lives on /dev/sdb" in " | ".join(excinfo.value.problems)


def test_a_physical_volume_inside_a_stopped_array_is_refused_until_the_array_runs(state):
    for serial in ("NVS-C", "NVS-D"):
        _ns(state, serial).update(signatures=[dict(MD_SIG)], in_use=True,
                                  in_use_reasons=["linux_raid_member signature"])
    state["md_contents"] = [{"uuid": "7e2b4c1a:0f0e0d0c:0b0a0908:07060504", "member": "/dev/nvme2n1", "offset": 2097152,
                             "signatures": [{"type": "LVM2_member", "uuid": "AbCdEf-1234"}]}]
    two = dict(SCRATCH, disks={"serials": ["NVS-C", "NVS-D"]}, type="raid", raid_level=1)
    with pytest.raises(LayoutError) as excinfo:
        make(state, [two], wipe=True, wipe_allowlist=["NVS-C", "NVS-D"])
    text = " | ".join(excinfo.value.problems)
    assert "an LVM physical volume inside array 7e2b4c1a:0f0e0d0c:0b0a0908:07060504 on /dev/nvme2n1" in text, text
    assert "assemble the array" in text
