# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The storage planner against states captured on real VMs.

* ``vrack-deb12/state_fresh.json``: a vrack VM (node ``nvsdev``) with four
  blank 1 GiB drives NVS-A..D, NVS-C then given an ext4 filesystem labelled
  ``precious`` (the Molecule scenario's prepare step).
* ``vrack-deb12/state_applied.json``: the same kind of VM after
  ``nvme_storage`` made RAID1 ``data`` (NVS-A + NVS-B, xfs on /data) and LVM
  ``vgfast`` (NVS-D, ext4 /cache + xfs /models), NVS-C still ``precious``.
* ``qemu-deb12``: the nvme_facts capture VM (GPT + xfs + swap on
  BMLABNVME0001, md127 over 0002/0003, LVM on 0004, blank 0005, two
  namespaces on BMLABMULTINS7, multipath BMLABMPATH08, no namespace on
  BMLABNOSPACE6): its real ``nvme_facts`` output, md arrays read from its
  sysfs dump and its mountinfo.

See ``tests/unit/fixtures/nvme/vrack-deb12/CAPTURE.md``.
"""

from __future__ import annotations

import copy
import itertools
import json

import pytest

from ansible_collections.baremetal.mlops.plugins.module_utils.disk import mounts as mounts_mod
from ansible_collections.baremetal.mlops.plugins.module_utils.disk import planner
from ansible_collections.baremetal.mlops.plugins.module_utils.disk import signatures
from ansible_collections.baremetal.mlops.plugins.module_utils.disk.exceptions import LayoutError
from ansible_collections.baremetal.mlops.plugins.module_utils.disk.state import read_md_arrays
from ansible_collections.baremetal.mlops.tests.unit.plugins.fake_host import (
    fixture_path,
    load_sysfs_dump,
    read_fixture,
)

VRACK = ("nvme", "vrack-deb12")
QEMU = ("nvme", "qemu-deb12")
STOCK_MDADM_CONF = "HOMEHOST <system>\n\nMAILADDR root\n"


def load_state(name):
    return json.loads(read_fixture(*VRACK + (name,)))


@pytest.fixture
def fresh():
    return load_state("state_fresh.json")


@pytest.fixture
def applied():
    return load_state("state_applied.json")


@pytest.fixture
def qemu(tmp_path):
    """The qemu-deb12 capture VM as the planner sees it (real facts, md arrays, mounts)."""
    facts = json.loads(read_fixture(*QEMU + ("module_run", "nvme_facts.json")))["ansible_facts"]["nvme"]
    sysfs_root = load_sysfs_dump(fixture_path(*QEMU + ("sysfs.json",)), str(tmp_path / "sys"))
    arrays = read_md_arrays(sysfs_root, str(tmp_path / "dev"))
    for array in arrays:
        array.update(signatures=[], mountpoints=[])
    mounts = mounts_mod.parse_mountinfo(read_fixture(*QEMU + ("mountinfo.txt",)))
    return {
        "host": "caplab",
        "controllers": facts["controllers"],
        "namespaces": facts["namespaces"],
        "md_arrays": arrays,
        "lvm": {"pvs": [], "vgs": [], "lvs": []},
        "mounts": [{"mountpoint": m["mountpoint"], "source": m["source"], "dev": m["dev"], "fstype": m["fstype"]}
                   for m in mounts],
        "fstab": "/dev/vda / ext4 rw 0 1\n",
        "mdadm_conf": STOCK_MDADM_CONF,
        "dirs": {},
        "systemd": True,
    }


def uuids():
    counter = itertools.count(1)
    return lambda: "00000000-0000-4000-8000-%012d" % next(counter)


def plan(state, volumes, **kwargs):
    kwargs.setdefault("new_uuid", uuids())
    return planner.make_plan(state, volumes, **kwargs)


def refused(state, volumes, **kwargs):
    with pytest.raises(LayoutError) as excinfo:
        plan(state, volumes, **kwargs)
    return excinfo.value


def actions(result):
    return [(step["action"], step["device"]) for step in result["steps"]]


RAID1_AB = {"name": "data", "type": "raid", "raid_level": 1, "disks": {"serials": ["NVS-A", "NVS-B"]},
            "mount_point": "/data"}
LVM_D = {"name": "vgfast", "type": "lvm", "disks": {"model_pattern": "QEMU*", "count": 1},
         "lvs": [{"name": "cache", "size": "200M", "mount_point": "/cache", "fs_type": "ext4"},
                 {"name": "models", "size": "100%FREE", "mount_point": "/models"}]}


# -- fresh disks -----------------------------------------------------------------------


def test_fresh_disks_raid1_plan(fresh):
    result = plan(fresh, [RAID1_AB])
    assert actions(result) == [
        ("mdadm_create", "/dev/md/data"),
        ("wipefs", "/dev/md/data"),
        ("mkfs", "/dev/md/data"),
        ("mdadm_conf", "/dev/md/data"),
        ("fstab", "/dev/md/data"),
        ("systemd_reload", None),
        ("mkdir", None),
        ("mount", "/dev/md/data"),
        ("update_initramfs", None),
    ]
    steps = result["steps"]
    paths = dict((ns["serial"], ns["path"]) for ns in fresh["namespaces"])
    assert steps[0]["argv"] == [
        "mdadm", "--create", "/dev/md/data", "--run", "--metadata=1.2", "--level=1", "--raid-devices=2",
        "--homehost=nvsdev", "--name=data", "--uuid=00000000-0000-4000-8000-000000000001",
        paths["NVS-A"], paths["NVS-B"]]
    assert steps[0]["serial"] == "NVS-A, NVS-B"
    assert steps[0]["command"].startswith("mdadm --create /dev/md/data --run")
    assert steps[2]["argv"] == ["mkfs.xfs", "-L", "data", "-m", "uuid=00000000-0000-4000-8000-000000000002",
                                "/dev/md/data"]
    assert steps[3]["argv"] == ["mdadm", "--detail", "--brief", "/dev/md/data"]
    assert steps[4]["params"]["line"] == "UUID=00000000-0000-4000-8000-000000000002 /data xfs defaults,noatime 0 0"
    assert steps[7]["argv"] == ["mount", "/data"]
    assert result["tools"] == ["mdadm", "mkfs.xfs", "mount", "systemctl", "update-initramfs", "wipefs"]
    assert result["fstab"].endswith("UUID=00000000-0000-4000-8000-000000000002 /data xfs defaults,noatime 0 0\n")
    assert result["mdadm_conf"].endswith(
        "ARRAY /dev/md/data metadata=1.2 name=nvsdev:data UUID=00000000:00004000:80000000:00000001\n")
    assert result["warnings"] == []
    # the user-facing step has exactly the documented keys
    assert sorted(planner.public_step(steps[0])) == ["action", "command", "detail", "device", "serial", "volume"]


def test_plan_is_pure(fresh):
    before = copy.deepcopy(fresh)
    plan(fresh, [RAID1_AB])
    assert fresh == before


def test_no_initramfs_step_when_disabled_and_ext4_gets_a_fsck_pass(fresh):
    volume = dict(RAID1_AB, fs_type="ext4", fs_label="datasets")
    result = plan(fresh, [volume], update_initramfs=False)
    assert "update_initramfs" not in [a for a, _d in actions(result)]
    mkfs = [s for s in result["steps"] if s["action"] == "mkfs"][0]
    assert mkfs["argv"] == ["mkfs.ext4", "-L", "datasets", "-U", "00000000-0000-4000-8000-000000000002",
                            "/dev/md/data"]
    fstab = [s for s in result["steps"] if s["action"] == "fstab"][0]
    assert fstab["params"]["line"].endswith(" /data ext4 defaults,noatime 0 2")


def test_filesystem_on_one_disk_without_mount_point(fresh):
    result = plan(fresh, [{"name": "raw", "type": "filesystem", "disks": {"serials": ["NVS-D"]}}])
    dev = [ns["path"] for ns in fresh["namespaces"] if ns["serial"] == "NVS-D"][0]
    assert actions(result) == [("mkfs", dev)]
    assert result["steps"][0]["params"]["devices"] == [dev]  # apply checks it is still blank


def test_model_pattern_takes_free_disks_by_serial_and_skips_used_ones(fresh):
    result = plan(fresh, [{"name": "scratch", "type": "raid", "raid_level": 0,
                           "disks": {"model_pattern": "QEMU NVMe*", "count": 3}, "mount_point": "/scratch"}])
    create = result["steps"][0]
    assert create["serial"] == "NVS-A, NVS-B, NVS-D"  # NVS-C holds ext4: skipped, not wiped


def test_model_pattern_with_too_few_usable_disks_says_why(fresh):
    error = refused(fresh, [{"name": "scratch", "type": "raid", "raid_level": 10,
                             "disks": {"model_pattern": "QEMU*", "count": 4}}])
    (problem,) = error.problems
    assert "model_pattern 'QEMU*' finds 3 usable disk(s) on nvsdev, count is 4" in problem
    assert "(serial NVS-C) in use: ext4 filesystem signature" in problem


def test_model_pattern_that_matches_nothing(fresh):
    error = refused(fresh, [{"name": "fast", "type": "filesystem", "disks": {"model_pattern": "SAMSUNG*", "count": 1}}])
    assert "finds 0 usable disk(s)" in error.problems[0]


def test_model_pattern_prefers_disks_already_in_the_volume(applied):
    volume = dict(RAID1_AB, disks={"model_pattern": "QEMU*", "count": 2})
    result = plan(applied, [volume])
    assert result["steps"] == []
    # as if NVS-C were a third member of the array: count 2 would take one out
    state = copy.deepcopy(applied)
    member = [ns for ns in state["namespaces"] if ns["serial"] == "NVS-A"][0]
    third = [ns for ns in state["namespaces"] if ns["serial"] == "NVS-C"][0]
    for key in ("signatures", "holders", "in_use", "in_use_reasons"):
        third[key] = copy.deepcopy(member[key])
    state["md_arrays"][0]["members"].append(third["name"])
    error = refused(state, [volume])
    assert error.problems[0].startswith("volume data: already has 3 disks (")
    assert error.problems[0].endswith("count is 2; taking disks out of a volume is not supported")


def test_lvm_plan_orders_fixed_sizes_first(fresh):
    volume = copy.deepcopy(LVM_D)
    volume["lvs"].reverse()  # 100%FREE listed first, still created last
    result = plan(fresh, [volume], update_initramfs=False)
    dev = [ns["path"] for ns in fresh["namespaces"] if ns["serial"] == "NVS-A"][0]
    assert [step["command"] for step in result["steps"] if step["phase"] == "create"] == [
        "pvcreate %s" % dev,
        "vgcreate vgfast %s" % dev,
        "lvcreate --yes --wipesignatures y --name cache -L 200M vgfast",
        "mkfs.ext4 -L cache -U 00000000-0000-4000-8000-000000000001 /dev/vgfast/cache",
        "lvcreate --yes --wipesignatures y --name models -l 100%FREE vgfast",
        "mkfs.xfs -L models -m uuid=00000000-0000-4000-8000-000000000002 /dev/vgfast/models",
    ]


# -- refusals --------------------------------------------------------------------------


def test_too_few_disks_for_raid10(fresh):
    error = refused(fresh, [{"name": "data", "type": "raid", "raid_level": 10,
                             "disks": {"serials": ["NVS-A", "NVS-B"]}}])
    assert error.problems == ["volume data: RAID10 needs at least 4 disks, the layout gives 2"]
    assert "nothing was changed" in error.message


def test_raid10_needs_an_even_number_and_raid1_two(fresh):
    error = refused(fresh, [
        {"name": "a", "type": "raid", "raid_level": 10, "disks": {"model_pattern": "Q*", "count": 5}},
        {"name": "b", "type": "raid", "raid_level": 1, "disks": {"serials": ["NVS-A"]}},
    ])
    assert error.problems == [
        "volume a: RAID10 needs an even number of disks, the layout gives 5",
        "volume b: RAID1 needs at least 2 disks, the layout gives 1",
    ]


def test_serial_not_present_names_the_serials_that_are(qemu):
    error = refused(qemu, [{"name": "data", "type": "filesystem", "disks": {"serials": ["S64ANS0T999"]}}])
    (problem,) = error.problems
    assert problem.startswith("volume data: no NVMe namespace with serial S64ANS0T999 on caplab; serials present: ")
    assert "BMLABNVME0005 (/dev/nvme4n1)" in problem
    assert "BMLABMULTINS7 (/dev/nvme6n1, /dev/nvme6n2)" in problem
    assert problem.endswith("controllers without namespaces: BMLABNOSPACE6")


def test_serial_with_two_namespaces_needs_the_nsid(qemu):
    error = refused(qemu, [{"name": "data", "type": "filesystem", "disks": {"serials": ["BMLABMULTINS7"]}}])
    assert "serial BMLABMULTINS7 has 2 namespaces (/dev/nvme6n1 nsid 1, /dev/nvme6n2 nsid 2): name one as " \
           "BMLABMULTINS7/NSID" in error.problems[0]
    result = plan(qemu, [{"name": "data", "type": "filesystem", "disks": {"serials": ["BMLABMULTINS7/2"]}}])
    assert actions(result) == [("mkfs", "/dev/nvme6n2")]


def test_mixed_sizes_refused_unless_allowed(qemu):
    volume = {"name": "data", "type": "raid", "raid_level": 1, "disks": {"serials": ["BMLABNVME0005", "BMLABMPATH08"]}}
    error = refused(qemu, [volume])
    (problem,) = error.problems
    assert "RAID1 disks differ in size (/dev/nvme4n1 (serial BMLABNVME0005) 1073741824 bytes, /dev/nvme7n1 " \
           "(serial BMLABMPATH08) 268435456 bytes)" in problem
    assert "set allow_mixed_sizes: true" in problem
    result = plan(qemu, [dict(volume, allow_mixed_sizes=True)])
    assert result["steps"][0]["action"] == "mdadm_create"
    assert "every member counts as the smallest, 268435456 bytes" in result["warnings"][0]


def test_in_use_disk_refused_in_safe_mode_names_serial_and_what_is_on_it(fresh):
    error = refused(fresh, [{"name": "scratch", "type": "filesystem", "disks": {"serials": ["NVS-C"]},
                             "mount_point": "/scratch"}])
    (problem,) = error.problems
    dev = [ns["path"] for ns in fresh["namespaces"] if ns["serial"] == "NVS-C"][0]
    assert problem == (
        "volume scratch: disk %s (serial NVS-C) on nvsdev is in use: ext4 filesystem signature. Safe mode refuses "
        "to touch it. Fix: use another disk, or add serial NVS-C to wipe_allowlist and set wipe: true to erase it"
        % dev)
    assert error.host == "nvsdev"
    assert error.message.startswith("nvsdev nvme_storage: refusing the storage layout, nothing was changed: ")
    assert error.fail_kwargs()["problems"] == [problem]


def test_in_use_disk_with_partitions_lists_every_reason(qemu):
    error = refused(qemu, [{"name": "data", "type": "filesystem", "disks": {"serials": ["BMLABNVME0001"]}}])
    assert ("disk /dev/nvme0n1 (serial BMLABNVME0001) on caplab is in use: partition table (gpt); nvme0n1p1: xfs "
            "filesystem signature; nvme0n1p1: mounted at /data; nvme0n1p2: swap signature; nvme0n1p2: active swap"
            in error.problems[0])


def test_allowlist_without_wipe_and_wipe_without_allowlist_say_what_is_missing(fresh):
    volume = {"name": "scratch", "type": "filesystem", "disks": {"serials": ["NVS-C"]}}
    error = refused(fresh, [volume], wipe_allowlist=["NVS-C"])
    assert error.problems[0].endswith("Fix: its serial is in wipe_allowlist: set wipe: true to erase it")
    error = refused(fresh, [volume], wipe=True, wipe_allowlist=["NVS-A"])
    assert error.problems[0].endswith("Fix: wipe is true but serial NVS-C is not in wipe_allowlist: add it to erase "
                                      "the disk")


def test_allowlisted_and_wipe_puts_wipefs_first(fresh):
    volume = {"name": "scratch", "type": "filesystem", "disks": {"serials": ["NVS-C"]}, "mount_point": "/scratch"}
    dev = [ns["path"] for ns in fresh["namespaces"] if ns["serial"] == "NVS-C"][0]
    result = plan(fresh, [RAID1_AB, volume], wipe=True, wipe_allowlist=["NVS-C", "NVS-A"])
    first = result["steps"][0]
    assert (first["action"], first["device"], first["serial"]) == ("wipefs", dev, "NVS-C")
    assert first["argv"] == ["wipefs", "--all", dev]
    assert "ext4 filesystem signature" in first["detail"]
    # NVS-A is allowlisted but blank: nothing to wipe
    assert [s["device"] for s in result["steps"] if s["action"] == "wipefs"] == [dev, "/dev/md/data"]
    assert ("mkfs", dev) in actions(result)


def test_allowlisted_disk_in_use_right_now_is_not_wiped(qemu):
    error = refused(qemu, [{"name": "data", "type": "raid", "raid_level": 1,
                            "disks": {"serials": ["BMLABNVME0002", "BMLABNVME0003"]}}],
                    wipe=True, wipe_allowlist=["BMLABNVME0002", "BMLABNVME0003"])
    assert len(error.problems) == 2
    assert ("disk /dev/nvme1n1 (serial BMLABNVME0002) on caplab is allowlisted for wiping but in use right now: "
            "nvme1n1 held by md127" in error.problems[0])


def test_wipe_of_a_partitioned_disk_erases_partitions_last_first(qemu):
    for ns in qemu["namespaces"]:  # as if /data were unmounted and the swap off
        if ns["serial"] == "BMLABNVME0001":
            for part in ns["partitions"]:
                part["mountpoints"] = []
            ns["in_use_reasons"] = [r for r in ns["in_use_reasons"] if "mounted" not in r and "active swap" not in r]
    result = plan(qemu, [{"name": "data", "type": "filesystem", "disks": {"serials": ["BMLABNVME0001"]}}],
                  wipe=True, wipe_allowlist=["BMLABNVME0001"])
    assert actions(result) == [("wipefs", "/dev/nvme0n1p2"), ("wipefs", "/dev/nvme0n1p1"), ("wipefs", "/dev/nvme0n1"),
                               ("mkfs", "/dev/nvme0n1")]


def test_two_volumes_claiming_one_disk(fresh):
    error = refused(fresh, [RAID1_AB, {"name": "other", "type": "filesystem", "disks": {"serials": ["NVS-B"]}}])
    (problem,) = error.problems
    assert problem.startswith("disk ")
    assert "(serial NVS-B) is claimed by volume data and volume other" in problem


def test_mount_point_used_twice(fresh):
    error = refused(fresh, [RAID1_AB, {"name": "other", "type": "filesystem", "disks": {"serials": ["NVS-D"]},
                                       "mount_point": "/data/"}])
    assert error.problems == ["mount point /data is used twice: by volume data and volume other"]


def test_mount_point_in_use_by_something_else(qemu):
    error = refused(qemu, [{"name": "other", "type": "filesystem", "disks": {"serials": ["BMLABNVME0005"]},
                            "mount_point": "/scratch"}])
    assert error.problems == [
        "volume other: mount point /scratch on caplab is in use: /dev/mapper/vgdata-lvscratch (ext4) is mounted "
        "there. Fix: unmount it or choose another mount_point"]


def test_every_problem_is_reported_at_once(fresh):
    error = refused(fresh, [
        {"name": "a", "type": "filesystem", "disks": {"serials": ["NVS-C"]}},
        {"name": "b", "type": "filesystem", "disks": {"serials": ["NOPE"]}},
        {"name": "c", "type": "raid", "raid_level": 1, "disks": {"serials": ["NVS-A", "NVS-B"]},
         "fs_label": "much-too-long-for-xfs"},
    ])
    # One run, every problem: the layout's (volume c) and the host's (volumes a and b), not in rounds.
    assert len(error.problems) == 3, error.problems
    assert "fs_label 'much-too-long-for-xfs' is longer than the 12 characters xfs allows" in error.problems[0]
    assert {p.split(":")[0] for p in error.problems[1:]} == {"volume a", "volume b"}
    error = refused(fresh, [
        {"name": "a", "type": "filesystem", "disks": {"serials": ["NVS-C"]}},
        {"name": "b", "type": "filesystem", "disks": {"serials": ["NOPE"]}},
    ])
    assert [p.split(":")[0] for p in error.problems] == ["volume b", "volume a"]
    assert "(2 problems)" in error.message


def test_five_problems_in_one_layout_are_reported_in_one_run(fresh):
    """Issue 26, finding 4: with an unknown fs_type, a '..' mount point, and a one-disk mirror, the
    logical volume that cannot fit on its (sound) volume was not reported: planning ran only without problems."""
    error = refused(fresh, [
        {"name": "a", "type": "filesystem", "disks": {"serials": ["NVS-A"]}, "fs_type": "ext5"},
        {"name": "b", "type": "filesystem", "disks": {"serials": ["NVS-B"]}, "mount_point": "/srv/../etc"},
        {"name": "c", "type": "raid", "raid_level": 1, "disks": {"serials": ["NVS-C"]}},
        dict(LVM_D, lvs=[{"name": "big", "size": "100G", "mount_point": "/big"}]),
    ])
    assert [p.split(":")[0] for p in error.problems] == ["volume a", "volume b", "volume c", "volume vgfast"], \
        error.problems
    assert "fs_type 'ext5' is not one of xfs, ext4" in error.problems[0]
    assert "it would mount at /etc" in error.problems[1]
    assert "RAID1 needs at least 2 disks" in error.problems[2]
    assert "the new logical volumes (big 100G) need 107374182400 bytes" in error.problems[3]


@pytest.mark.parametrize("volume, problem", [
    ({"name": "x", "type": "filesystem", "disks": {"serials": ["NVS-A", "NVS-B"]}},
     "volume x: a filesystem volume takes exactly one disk, not 2 (use raid or lvm for more)"),
    ({"name": "x", "type": "filesystem", "disks": {}}, "volume x: disks needs serials, or model_pattern and count"),
    ({"name": "x", "type": "filesystem", "disks": {"serials": ["NVS-A"], "model_pattern": "Q*", "count": 1}},
     "volume x: choose disks by serials or by model_pattern + count, not both"),
    ({"name": "x", "type": "filesystem", "disks": {"model_pattern": "Q*"}},
     "volume x: model_pattern needs count (a number of disks, 1 or more)"),
    ({"name": "x", "type": "raid", "raid_level": 5, "disks": {"serials": ["NVS-A", "NVS-B"]}},
     "volume x: raid_level 5 is not one of 0, 1, 10"),
    ({"name": "a-name-that-is-too-long", "type": "filesystem", "disks": {"serials": ["NVS-A"]}},
     "volume a-name-that-is-too-long: the name 'a-name-that-is-too-long' is too long to be the default xfs label "
     "(12 characters at most): set fs_label"),
    ({"name": "x", "type": "filesystem", "disks": {"serials": ["NVS-A"]}, "mount_point": "data"},
     "volume x: mount_point 'data' must be an absolute path other than /"),
    ({"name": "x", "type": "lvm", "disks": {"serials": ["NVS-A"]}, "mount_point": "/x",
      "lvs": [{"name": "l", "size": "10G"}]},
     "volume x: an lvm volume mounts its lvs: set mount_point and fs_label on each entry of lvs"),
    ({"name": "x", "type": "lvm", "disks": {"serials": ["NVS-A"]}, "lvs": [{"name": "l", "size": "ten"}]},
     "volume x lv l: size 'ten' is neither a size (10G, 512M) nor a share (100%FREE, 50%VG)"),
    ({"name": "bad/name", "type": "filesystem", "disks": {"serials": ["NVS-A"]}},
     "volume bad/name: name must be 1-32 of A-Z a-z 0-9 _ . - starting with a letter or digit"),
])
def test_layout_problems(fresh, volume, problem):
    assert problem in refused(fresh, [volume]).problems


@pytest.mark.parametrize("mount_point, start", [
    # Issue 26, finding 4: the plan would have mounted at /etc.
    ("/srv/../etc", "mount_point '/srv/../etc' has a '.' or '..' component or a double slash: it would mount at /etc."),
    ("/srv/./x", "mount_point '/srv/./x' has a '.' or '..' component or a double slash: it would mount at /srv/x."),
    ("//srv", "mount_point '//srv' has a '.' or '..' component or a double slash"),
    ("/etc", "mount_point '/etc' is a directory of the operating system (/etc)"),
    ("/usr/local", "mount_point '/usr/local' is a directory of the operating system (/usr)"),
    ("/var/lib", "mount_point '/var/lib' is a directory of the operating system (/var/lib)"),
])
def test_mount_points_that_are_not_what_they_read_or_that_hide_the_system_are_refused(fresh, mount_point, start):
    volume = {"name": "x", "type": "filesystem", "disks": {"serials": ["NVS-A"]}, "mount_point": mount_point}
    problems = refused(fresh, [volume]).problems
    assert len(problems) == 1 and problems[0].startswith("volume x: " + start), problems
    assert "Fix:" in problems[0]


def test_data_mount_points_under_var_lib_and_srv_are_allowed(fresh):
    for mount_point in ("/var/lib/containerd", "/srv/data", "/data/"):
        volume = {"name": "x", "type": "filesystem", "disks": {"serials": ["NVS-A"]}, "mount_point": mount_point}
        assert plan(fresh, [volume])["steps"], mount_point


def test_logical_volumes_that_cannot_fit_are_refused_before_any_pvcreate(fresh):
    """Issue 26, finding 4: 100G on a 1 GiB drive used to pass planning and fail in lvcreate after pvcreate and
    vgcreate had run. The drives of the fixture are 1 GiB (the vrack VM's, as nvme facts reported them)."""
    volume = dict(LVM_D, lvs=[{"name": "big", "size": "100G", "mount_point": "/big"},
                              {"name": "rest", "size": "100%FREE", "mount_point": "/rest"}])
    problems = refused(fresh, [volume]).problems
    assert len(problems) == 1, problems
    assert problems[0].startswith("volume vgfast: the new logical volumes (big 100G) need 107374182400 bytes, but "
                                  "volume group vgfast would have about 1068498944 bytes free on nvsdev."), problems
    assert "Fix: smaller sizes" in problems[0]
    # What fits is planned (1 GiB less the PV's metadata and rounding).
    fits = dict(LVM_D, lvs=[{"name": "big", "size": "1000M", "mount_point": "/big"}])
    assert ("pvcreate", "/dev/nvme0n1") in actions(plan(fresh, [fits]))


# -- already done ------------------------------------------------------------------------


def test_already_applied_layout_gives_an_empty_plan(applied):
    result = plan(applied, [RAID1_AB, LVM_D], wipe=True, wipe_allowlist=["NVS-A", "NVS-B", "NVS-D"])
    assert result["steps"] == []
    assert result["warnings"] == []
    assert result["fstab"] == applied["fstab"]
    assert result["mdadm_conf"] == applied["mdadm_conf"]


def test_safe_mode_still_refuses_the_disk_that_is_not_ours(applied):
    error = refused(applied, [RAID1_AB, {"name": "scratch", "type": "filesystem", "disks": {"serials": ["NVS-C"]}}])
    assert len(error.problems) == 1
    assert "(serial NVS-C) on nvsdev is in use: ext4 filesystem signature" in error.problems[0]


def test_array_missing_from_mdadm_conf_and_fstab_is_put_back(applied):
    state = copy.deepcopy(applied)
    state["mdadm_conf"] = STOCK_MDADM_CONF
    state["fstab"] = "/dev/vda / ext4 rw,errors=remount-ro 0 1\n"
    result = plan(state, [RAID1_AB])
    assert actions(result) == [("mdadm_conf", "/dev/md/data"), ("fstab", "/dev/md/data"), ("systemd_reload", None),
                               ("update_initramfs", None)]
    assert result["steps"][1]["params"]["line"] == \
        "UUID=92ca8ef8-5787-4ba5-b1d9-277243fb2c6a /data xfs defaults,noatime 0 0"


def test_unmounted_filesystem_is_mounted_again(applied):
    state = copy.deepcopy(applied)
    state["md_arrays"][0]["mountpoints"] = []
    state["mounts"] = [m for m in state["mounts"] if m["mountpoint"] != "/data"]
    result = plan(state, [RAID1_AB])
    assert actions(result) == [("mount", "/dev/md/data")]


def test_changed_mount_options_replace_the_fstab_line(applied):
    result = plan(applied, [dict(RAID1_AB, mount_options="defaults,noatime,nofail")])
    assert actions(result) == [("fstab", "/dev/md/data"), ("systemd_reload", None)]
    assert result["steps"][0]["detail"] == (
        "replace in /etc/fstab: UUID=92ca8ef8-5787-4ba5-b1d9-277243fb2c6a /data xfs defaults,noatime 0 0 -> "
        "UUID=92ca8ef8-5787-4ba5-b1d9-277243fb2c6a /data xfs defaults,noatime,nofail 0 0")


def test_changing_what_exists_is_refused_not_destroyed(applied):
    error = refused(applied, [dict(RAID1_AB, raid_level=0), dict(LVM_D, fs_type="ext4",
                                                                 lvs=[{"name": "models", "size": "1G"}])])
    assert any("is raid1, the layout says raid0; changing the level is not supported" in p for p in error.problems)
    assert any("holds xfs, the layout wants ext4; reformatting is not supported" in p for p in error.problems)


def test_growing_an_array_is_refused(applied):
    error = refused(applied, [dict(RAID1_AB, disks={"serials": ["NVS-A", "NVS-B", "NVS-C"]})],
                    wipe=True, wipe_allowlist=["NVS-C"])
    (problem,) = error.problems
    assert "(serial NVS-C) do not; adding or replacing members is not supported" in problem


def test_fs_of_a_filesystem_volume_is_recognised_by_its_label(fresh):
    state = copy.deepcopy(fresh)
    volume = {"name": "precious", "type": "filesystem", "fs_type": "ext4", "disks": {"serials": ["NVS-C"]}}
    assert plan(state, [volume])["steps"] == []
    # another type or label is somebody else's filesystem
    assert refused(state, [dict(volume, fs_type="xfs", fs_label="precious")]).problems
    assert refused(state, [dict(volume, fs_label="other")]).problems


# -- describing what is there -----------------------------------------------------------------


def test_describe_and_summary_of_the_applied_state(applied):
    described = planner.describe_volumes(applied, [RAID1_AB, LVM_D])
    raid = described[0]
    assert raid["device"] == "/dev/md/data"
    assert raid["raid"]["level"] == "raid1"
    assert raid["raid"]["label"] == "nvsdev:data"
    assert raid["raid"]["state"] == "clean"
    assert raid["filesystems"] == [{"lv": None, "device": "/dev/md/data", "fs_type": "xfs", "label": "data",
                                    "uuid": "92ca8ef8-5787-4ba5-b1d9-277243fb2c6a", "mount_point": "/data",
                                    "mounted": True}]
    assert [fs["device"] for fs in described[1]["filesystems"]] == ["/dev/vgfast/cache", "/dev/vgfast/models"]
    text = planner.summary_text(described)
    assert "data: raid /dev/md/data on NVS-A=" in text
    assert "raid1 UUID bbe5a50c:90b64f12:bd65f949:d59a685f name nvsdev:data" in text
    assert "  /dev/vgfast/cache: ext4 UUID=ffa60a2b-9c48-4b44-a0f9-ff6fc6140d50 LABEL=cache, mounted at /cache" in text


def test_predicted_summary_of_a_fresh_plan_matches_the_described_shape(fresh):
    result = plan(fresh, [RAID1_AB])
    text = planner.summary_text(result["predicted"])
    assert "raid1 UUID 00000000:00004000:80000000:00000001 name nvsdev:data" in text
    assert "/dev/md/data: xfs UUID=00000000-0000-4000-8000-000000000002 LABEL=data, mounted at /data" in text
    before = planner.summary_text(planner.describe_volumes(fresh, [RAID1_AB]))
    # Before: no array yet, so no device is claimed (the diff's "before" is what is there now).
    assert before == "data: raid - on NVS-A=/dev/nvme0n1 NVS-B=/dev/nvme1n1\n", before
    assert "xfs" not in before


def test_md_label_is_what_mdadm_wrote_on_the_members():
    # wipefs --json of a member of the array nvme_storage created on vrack VM nvsdev
    sig = signatures.parse_wipefs_json(read_fixture(*VRACK + ("wipefs_nvme0n1.json",)), "/dev/nvme0n1")[0]
    assert sig["type"] == "linux_raid_member"
    assert sig["label"] == planner.md_label("nvsdev", "data")
    # mdadm keeps the host only while "host:name" fits its 32-byte name field
    assert planner.md_label("gpu-node-017.dc1.example.com", "datasets") == "datasets"


# -- issue 12: redundancy, identity, one round of problems ---------------------------------


def test_a_mirror_on_two_namespaces_of_one_drive_is_refused(qemu):
    error = refused(qemu, [{"name": "data", "type": "raid", "raid_level": 1,
                            "disks": {"serials": ["BMLABMULTINS7/1", "BMLABMULTINS7/2"]}}])
    assert len(error.problems) == 1
    assert ("RAID1 members /dev/nvme6n1 and /dev/nvme6n2 are namespaces of one drive (nvme-subsys6, serial "
            "BMLABMULTINS7): a mirror on one drive has no redundancy" in error.problems[0])
    # RAID0 on them is the operator's business: no redundancy was promised.
    assert plan(qemu, [{"name": "fast", "type": "raid", "raid_level": 0,
                        "disks": {"serials": ["BMLABMULTINS7/1", "BMLABMULTINS7/2"]}}])["steps"]


def test_model_pattern_mirrors_across_drives_and_says_why(qemu):
    # Free: nvme4n1 (1 GiB, alone in its size), nvme6n1 + nvme6n2 (one drive), nvme7n1 (multipath drive).
    # Sorting by serial (the old rule) took BMLABMULTINS7/1 + /2: a mirror on one drive.
    result = plan(qemu, [{"name": "data", "type": "raid", "raid_level": 1,
                          "disks": {"model_pattern": "QEMU*", "count": 2}}])
    disks = result["predicted"][0]["disks"]
    assert sorted(d["path"] for d in disks) == ["/dev/nvme6n1", "/dev/nvme7n1"], disks
    assert all("which no other member is on" in d["why"] for d in disks), disks
    assert {d["drive"] for d in disks} == {"nvme-subsys6", "nvme-subsys7"}
    # ... and the plan itself says so, in the step that creates the array.
    create = next(s for s in result["steps"] if s["action"] == "mdadm_create")
    assert "chosen by model_pattern: " in create["detail"], create["detail"]
    assert "/dev/nvme6n1 (serial BMLABMULTINS7) - free, 268435456 bytes, on drive nvme-subsys6" in create["detail"]


def test_model_pattern_too_few_distinct_drives_for_a_mirror_says_so(qemu):
    for ns in qemu["namespaces"]:
        if ns["serial"] in ("BMLABNVME0005", "BMLABMPATH08"):
            ns["model"] = "Other"
    error = refused(qemu, [{"name": "data", "type": "raid", "raid_level": 1,
                            "disks": {"model_pattern": "QEMU*", "count": 2}}])
    assert "on drive nvme-subsys6, which already holds a member" in error.problems[0], error.problems


def clone_drive(state, serial, name="nvme9", address="0000:00:0e.0"):
    """A second drive reporting ``serial``: its own subsystem, controller, PCI address and wwid."""
    original = next(ns for ns in state["namespaces"] if ns["serial"] == serial)
    clone = copy.deepcopy(original)
    clone.update(name="%sn1" % name, path="/dev/%sn1" % name, subsystem="nvme-subsys9", controllers=[name],
                 wwid=original["wwid"].replace("-00000001", "-0000c10e"))
    state["namespaces"].append(clone)
    ctrl = copy.deepcopy(next(c for c in state["controllers"] if c["serial"] == serial))
    ctrl.update(name=name, path="/dev/%s" % name, address=address, subsystem="nvme-subsys9")
    state["controllers"].append(ctrl)
    return original, clone


def test_a_serial_two_drives_report_is_refused_and_an_unambiguous_name_accepted(qemu):
    original, clone = clone_drive(qemu, "BMLABNVME0005")
    volume = {"name": "data", "type": "filesystem", "disks": {"serials": ["BMLABNVME0005"]}}
    error = refused(qemu, [volume])
    text = error.problems[0]
    assert "BMLABNVME0005 names 2 different drives (nvme-subsys4, nvme-subsys9)" in text, text
    assert "pci:0000:00:09.0/1" in text and "wwid:%s" % clone["wwid"] in text
    for name, path in (("pci:0000:00:09.0/1", original["path"]), ("wwid:%s" % clone["wwid"], clone["path"]),
                       ("pci:0000:00:0e.0", clone["path"])):
        result = plan(qemu, [dict(volume, disks={"serials": [name]})])
        assert result["predicted"][0]["disks"][0]["path"] == path, name


def test_a_wipe_allowlist_entry_that_covers_two_drives_is_refused(qemu):
    clone_drive(qemu, "BMLABNVME0005")
    volume = {"name": "data", "type": "filesystem", "disks": {"serials": ["pci:0000:00:09.0"]}}
    error = refused(qemu, [volume], wipe=True, wipe_allowlist=["BMLABNVME0005"])
    assert error.problems[0].startswith("wipe_allowlist: BMLABNVME0005 names 2 different drives"), error.problems


@pytest.mark.parametrize("mount_point", ["/srv/$DATA", "/home/~ops/data"])
def test_a_mount_point_is_taken_as_written(fresh, mount_point):
    error = refused(fresh, [{"name": "x", "type": "filesystem", "disks": {"serials": ["NVS-A"]},
                             "mount_point": mount_point}])
    assert "is taken as written, not expanded" in error.problems[0]


def test_the_fix_for_a_mounted_disk_says_unmount_first_then_allowlist(qemu):
    error = refused(qemu, [{"name": "data", "type": "filesystem", "disks": {"serials": ["BMLABNVME0001"]}}])
    fix = error.problems[0].split("Fix: ", 1)[1]
    assert fix.index("unmount it") < fix.index("wipe_allowlist"), fix


def test_a_clone_with_the_same_wwid_is_offered_only_its_pci_address(qemu):
    # As qemu clones (and cloned firmware) do: the wwid is derived from serial and model, so it is cloned too.
    original, clone = clone_drive(qemu, "BMLABNVME0005")
    clone["wwid"] = original["wwid"]
    text = refused(qemu, [{"name": "d", "type": "filesystem", "disks": {"serials": ["BMLABNVME0005"]}}]).problems[0]
    assert "wwid:" not in text and "pci:0000:00:09.0/1" in text and "pci:0000:00:0e.0/1" in text, text
    error = refused(qemu, [{"name": "d", "type": "filesystem", "disks": {"serials": ["wwid:%s" % clone["wwid"]]}}])
    assert "names 2 different drives" in error.problems[0]


def test_members_behind_one_pcie_root_are_warned_about():
    from ansible_collections.baremetal.mlops.plugins.module_utils.disk.sysfs import pci_root

    assert pci_root("/sys/devices/pci0000:00/0000:00:01.1/0000:02:00.0/nvme/nvme0") == "0000:00:01.1"
    assert pci_root("/sys/devices/pci0000:00/0000:00:03.0/nvme/nvme0") == "pci0000:00"
    assert pci_root("/sys/devices/virtual/nvme-fabrics/ctl/nvme0") is None


def test_a_mirror_behind_one_host_bridge_plans_with_a_warning(qemu):
    for ctrl in qemu["controllers"]:
        ctrl["pci_root"] = "pci0000:00"  # every qemu q35 NVMe device sits on the root complex
    result = plan(qemu, [{"name": "m", "type": "raid", "raid_level": 1,
                          "disks": {"serials": ["BMLABNVME0005", "BMLABMPATH08"]}, "allow_mixed_sizes": True}])
    assert any("behind one PCIe root (pci0000:00)" in w for w in result["warnings"]), result["warnings"]
    for ctrl in qemu["controllers"]:
        ctrl["pci_root"] = ctrl["name"]  # each behind its own root port
    result = plan(qemu, [{"name": "m", "type": "raid", "raid_level": 1,
                          "disks": {"serials": ["BMLABNVME0005", "BMLABMPATH08"]}, "allow_mixed_sizes": True}])
    assert not any("PCIe root" in w for w in result["warnings"])


def test_serial_slash_nsid_of_a_cloned_serial_is_ambiguous_too(qemu):
    clone_drive(qemu, "BMLABNVME0005")
    error = refused(qemu, [{"name": "d", "type": "filesystem", "disks": {"serials": ["BMLABNVME0005/1"]}}])
    assert "BMLABNVME0005/1 names 2 different drives" in error.problems[0]
