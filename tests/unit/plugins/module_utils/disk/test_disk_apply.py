# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Applying a plan: order, last-moment guards, file edits, failures that name the step."""

from __future__ import annotations

import json

import pytest

from ansible_collections.baremetal.mlops.plugins.module_utils.disk import planner
from ansible_collections.baremetal.mlops.plugins.module_utils.disk.apply import Applier
from ansible_collections.baremetal.mlops.plugins.module_utils.disk.exceptions import ApplyError
from ansible_collections.baremetal.mlops.tests.unit.plugins.fake_host import FakeRunner, read_fixture

VRACK = ("nvme", "vrack-deb12")
BLANK = read_fixture("nvme", "qemu-deb12", "wipefs_nvme4n1.json")
XFS = read_fixture("nvme", "qemu-deb12", "wipefs_nvme0n1p1.json")
TOOLS = ("wipefs", "mdadm", "mkfs.xfs", "mkfs.ext4", "mount", "systemctl", "update-initramfs", "pvcreate",
         "vgcreate", "lvcreate")
BINS = dict((tool, "/usr/sbin/%s" % tool) for tool in TOOLS)
RAID1_AB = {"name": "data", "type": "raid", "raid_level": 1, "disks": {"serials": ["NVS-A", "NVS-B"]},
            "mount_point": "/data"}


class Files(object):
    """Stands in for the file writer and makedirs; reads go to real files under tmp_path."""

    def __init__(self, tmp_path):
        self.tmp_path = tmp_path
        self.written = {}
        self.dirs = []

    def write(self, path, text):
        self.written[path] = text
        with open(path, "w") as handle:
            handle.write(text)

    def makedirs(self, path):
        self.dirs.append(path)


def uuids():
    values = iter("00000000-0000-4000-8000-%012d" % i for i in range(1, 100))
    return lambda: next(values)


@pytest.fixture
def fresh(tmp_path):
    """The vrack VM before anything: real state; fstab and mdadm.conf as files under tmp_path."""
    state = json.loads(read_fixture(*VRACK + ("state_fresh.json",)))
    (tmp_path / "fstab").write_text(state["fstab"])
    (tmp_path / "mdadm.conf").write_text(state["mdadm_conf"])
    return state


def make(tmp_path, state, volumes, **kwargs):
    kwargs.setdefault("mdadm_conf", str(tmp_path / "mdadm.conf"))
    steps = planner.make_plan(state, volumes, new_uuid=uuids(), **kwargs)["steps"]
    files = Files(tmp_path)
    runner = FakeRunner()
    applier = Applier(runner, BINS, files.write, fstab_path=str(tmp_path / "fstab"), makedirs=files.makedirs,
                      udevadm="/usr/bin/udevadm")
    return steps, applier, runner, files


def answer_raid1(runner, state):
    paths = [ns["path"] for ns in state["namespaces"] if ns["serial"] in ("NVS-A", "NVS-B")]
    for device in paths + ["/dev/md/data"]:
        runner.add([BINS["wipefs"], "--json", device], out=BLANK)
    runner.add(["/usr/bin/udevadm", "settle", "--timeout=30"])
    runner.add([BINS["mdadm"], "--detail", "--brief", "/dev/md/data"],
               out=read_fixture(*VRACK + ("mdadm_detail_brief_data.txt",)))
    return paths


def test_raid1_plan_runs_in_order_and_writes_both_files(tmp_path, fresh):
    steps, applier, runner, files = make(tmp_path, fresh, [RAID1_AB])
    paths = answer_raid1(runner, fresh)
    for step in steps:
        if step["argv"] and step["action"] not in ("mdadm_conf",):
            runner.add([BINS[step["argv"][0]]] + step["argv"][1:])
    results = applier.apply(steps)
    assert [outcome for _step, outcome in results] == ["done"] * len(steps)
    ran = [call for call in runner.calls if "settle" not in call]
    assert ran == [
        (BINS["wipefs"], "--json", paths[0]), (BINS["wipefs"], "--json", paths[1]),  # still blank?
        tuple([BINS["mdadm"]] + steps[0]["argv"][1:]),
        (BINS["wipefs"], "--all", "/dev/md/data"),
        (BINS["mkfs.xfs"], "-L", "data", "-m", "uuid=00000000-0000-4000-8000-000000000002", "/dev/md/data"),
        (BINS["mdadm"], "--detail", "--brief", "/dev/md/data"),
        (BINS["systemctl"], "daemon-reload"),
        (BINS["mount"], "/data"),
        (BINS["update-initramfs"], "-u"),
    ]
    assert files.written[str(tmp_path / "mdadm.conf")].endswith(
        read_fixture(*VRACK + ("mdadm_detail_brief_data.txt",)))
    assert files.written[str(tmp_path / "fstab")].endswith(
        "UUID=00000000-0000-4000-8000-000000000002 /data xfs defaults,noatime 0 0\n")
    assert files.dirs == ["/data"]


def test_initramfs_is_skipped_when_mdadm_conf_already_had_the_line(tmp_path, fresh):
    steps, applier, runner, files = make(tmp_path, fresh, [RAID1_AB])
    (tmp_path / "mdadm.conf").write_text(fresh["mdadm_conf"] + read_fixture(*VRACK + ("mdadm_detail_brief_data.txt",)))
    answer_raid1(runner, fresh)
    for step in steps:
        if step["argv"] and step["action"] != "mdadm_conf":
            runner.add([BINS[step["argv"][0]]] + step["argv"][1:])
    results = applier.apply(steps)
    assert results[-1] == (planner.public_step(steps[-1]), "skipped: mdadm.conf did not change")
    assert str(tmp_path / "mdadm.conf") not in files.written
    assert (BINS["update-initramfs"], "-u") not in runner.calls


def test_a_disk_that_is_no_longer_blank_stops_the_run_before_mdadm(tmp_path, fresh):
    steps, applier, runner, _files = make(tmp_path, fresh, [RAID1_AB])
    paths = [ns["path"] for ns in fresh["namespaces"] if ns["serial"] in ("NVS-A", "NVS-B")]
    runner.add([BINS["wipefs"], "--json", paths[0]], out=BLANK)
    runner.add([BINS["wipefs"], "--json", paths[1]], out=XFS.replace("nvme0n1p1", paths[1][5:]))
    with pytest.raises(ApplyError) as excinfo:
        applier.apply(steps)
    error = excinfo.value
    assert "step 1 (mdadm_create on /dev/md/data serial NVS-A, NVS-B) failed: %s is no longer blank (xfs " \
           "filesystem signature)" % paths[1] in error.message
    assert "0 step(s) before it were applied" in error.message
    assert error.fail_kwargs()["failed_step"]["action"] == "mdadm_create"
    assert error.fail_kwargs()["applied"] == []
    assert not any("--create" in call for call in runner.calls)


def test_a_failing_command_names_the_step_and_what_was_applied(tmp_path, fresh):
    steps, applier, runner, _files = make(tmp_path, fresh, [RAID1_AB])
    answer_raid1(runner, fresh)
    runner.add([BINS["mdadm"]] + steps[0]["argv"][1:])
    runner.add([BINS["wipefs"], "--all", "/dev/md/data"])
    runner.add([BINS["mkfs.xfs"]] + steps[2]["argv"][1:], rc=1,
               err="mkfs.xfs: /dev/md/data appears to contain an existing filesystem (xfs).\n"
                   "mkfs.xfs: Use the -f option to force overwrite.\n")
    with pytest.raises(ApplyError) as excinfo:
        applier.apply(steps)
    kwargs = excinfo.value.fail_kwargs()
    assert ("step 3 (mkfs on /dev/md/data serial NVS-A, NVS-B) failed: mkfs.xfs exited with 1: mkfs.xfs: "
            "/dev/md/data appears to contain an existing filesystem (xfs).") in kwargs["msg"]
    assert "2 step(s) before it were applied: mdadm_create /dev/md/data, wipefs /dev/md/data" in kwargs["msg"]
    assert "Fix: fix the cause by hand and run again" in kwargs["msg"]
    assert kwargs["rc"] == 1
    assert [s["action"] for s in kwargs["applied"]] == ["mdadm_create", "wipefs"]


def test_a_tool_missing_from_bins_is_reported_as_a_bug(tmp_path, fresh):
    steps, _applier, runner, files = make(tmp_path, fresh, [RAID1_AB])
    applier = Applier(runner, {"wipefs": BINS["wipefs"]}, files.write, fstab_path=str(tmp_path / "fstab"))
    answer_raid1(runner, fresh)
    with pytest.raises(ApplyError) as excinfo:
        applier.apply(steps)
    assert "no tool or handler for 'mdadm'" in excinfo.value.message


def test_removing_the_fstab_line_of_a_wiped_disk_writes_fstab_before_the_wipe(tmp_path, fresh):
    old = "UUID=a0f0a988-843e-4722-a300-f2c737c8ac91 /srv/c ext4 defaults 0 2"
    fresh["fstab"] += old + "\n"
    (tmp_path / "fstab").write_text(fresh["fstab"])
    volume = {"name": "scratch", "type": "filesystem", "disks": {"serials": ["NVS-C"]}}
    steps, applier, runner, files = make(tmp_path, fresh, [volume], wipe=True, wipe_allowlist=["NVS-C"])
    assert [s["action"] for s in steps][:2] == ["fstab_remove", "wipefs"]
    dev = steps[1]["device"]
    runner.add([BINS["wipefs"], "--all", dev])
    runner.add(["/usr/bin/udevadm", "settle", "--timeout=30"])
    runner.add([BINS["wipefs"], "--json", dev], out=BLANK)
    for step in steps[2:]:
        if step["argv"]:
            runner.add([BINS[step["argv"][0]]] + step["argv"][1:])
    applier.apply(steps)
    assert old not in (tmp_path / "fstab").read_text()
    assert "/dev/vda / ext4" in (tmp_path / "fstab").read_text()
    # Applying the same removal again changes nothing (the line is gone).
    writes = dict(files.written)
    applier.apply(steps[:1])
    assert files.written == writes
