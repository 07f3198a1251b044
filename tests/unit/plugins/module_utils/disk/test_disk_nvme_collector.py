# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The NVMe facts collector on the capture VM: sysfs, procfs and tool output all from the same real host."""

from __future__ import annotations

import json

import pytest

from ansible_collections.baremetal.mlops.plugins.module_utils.disk.exceptions import DiskCommandError
from ansible_collections.baremetal.mlops.plugins.module_utils.disk.nvme import NvmeFactsCollector
from ansible_collections.baremetal.mlops.tests.unit.plugins.fake_host import qemu_deb12_host, read_fixture

NVME = "/usr/sbin/nvme"
WIPEFS = "/usr/sbin/wipefs"


@pytest.fixture
def host(tmp_path):
    return qemu_deb12_host(tmp_path)


def collect(host, serials=None, **kwargs):
    sysfs_root, proc_root, runner = host
    kwargs.setdefault("nvme", NVME)
    collector = NvmeFactsCollector(runner, WIPEFS, sysfs_root=sysfs_root, proc_root=proc_root, **kwargs)
    return collector.collect(serials=serials)


def by_name(items):
    return dict((item["name"], item) for item in items)


def test_in_use_reasons_for_every_layout(host):
    facts, warnings = collect(host)
    assert warnings == []
    reasons = dict((ns["name"], ns["in_use_reasons"]) for ns in facts["namespaces"])
    assert reasons == {
        "nvme0n1": [
            "partition table (gpt)",
            "nvme0n1p1: xfs filesystem signature",
            "nvme0n1p1: mounted at /data",
            "nvme0n1p2: swap signature",
            "nvme0n1p2: active swap",
        ],
        "nvme1n1": ["linux_raid_member signature", "holder md127"],
        "nvme2n1": ["linux_raid_member signature", "holder md127"],
        "nvme3n1": [
            "LVM2_member signature",
            "holder dm-0 (vgdata-lvscratch)",
            "mounted at /scratch via dm-0 (vgdata-lvscratch)",
            "mounted at /mnt/with space via dm-0 (vgdata-lvscratch)",
        ],
        "nvme4n1": [],
        "nvme6n1": [],
        "nvme6n2": [],
        "nvme7n1": [],
    }
    in_use = dict((ns["name"], ns["in_use"]) for ns in facts["namespaces"])
    assert [name for name, used in sorted(in_use.items()) if not used] == [
        "nvme4n1", "nvme6n1", "nvme6n2", "nvme7n1"]


def test_namespace_record(host):
    facts, _warnings = collect(host)
    ns = by_name(facts["namespaces"])["nvme0n1"]
    assert ns["path"] == "/dev/nvme0n1"
    assert ns["serial"] == "BMLABNVME0001"
    assert ns["model"] == "QEMU NVMe Ctrl"
    assert ns["size_bytes"] == 1073741824
    assert ns["used_bytes"] == 1073741824  # from nvme list
    assert ns["logical_block_size"] == 512
    assert ns["subsystem"] == "nvme-subsys0"
    assert ns["holders"] == [] and ns["mountpoints"] == []
    p1, p2 = ns["partitions"]
    assert p1["mountpoints"] == ["/data"] and p1["in_use"] is True
    assert p1["signatures"][0]["type"] == "xfs"
    assert p2["in_use_reasons"] == ["nvme0n1p2: swap signature", "nvme0n1p2: active swap"]
    lvm = by_name(facts["namespaces"])["nvme3n1"]
    assert lvm["holders"] == ["dm-0 (vgdata-lvscratch)"]


def test_controllers_with_smart_and_namespaces(host):
    facts, _warnings = collect(host)
    ctrls = by_name(facts["controllers"])
    assert sorted(ctrls) == ["nvme%d" % i for i in range(9)]
    assert ctrls["nvme5"]["namespaces"] == []  # controller without namespaces
    assert ctrls["nvme6"]["namespaces"] == ["nvme6n1", "nvme6n2"]
    assert ctrls["nvme7"]["namespaces"] == ["nvme7n1"] and ctrls["nvme8"]["namespaces"] == ["nvme7n1"]
    assert ctrls["nvme0"]["smart"]["temperature_celsius"] == 50
    assert ctrls["nvme0"]["smart"]["percent_used"] == 0
    assert facts["nvme_cli_version"] == "2.3"
    ns = by_name(facts["namespaces"])["nvme7n1"]
    assert ns["controllers"] == ["nvme7", "nvme8"] and ns["multipath"] is True


def test_serial_filter_and_unknown_serial_warning(host):
    facts, warnings = collect(host, serials=["BMLABMPATH08", "NOSUCHSERIAL"])
    assert [c["name"] for c in facts["controllers"]] == ["nvme7", "nvme8"]
    assert [n["name"] for n in facts["namespaces"]] == ["nvme7n1"]
    assert warnings == ["no NVMe controller with serial NOSUCHSERIAL on this host"]


def test_without_nvme_cli(host):
    facts, warnings = collect(host, nvme=None)
    assert facts["nvme_cli_version"] is None
    assert all(c["smart"] is None for c in facts["controllers"])
    assert all(n["used_bytes"] is None for n in facts["namespaces"])
    assert warnings == []
    _sysfs, _proc, runner = host
    assert all(call[0] == WIPEFS for call in runner.calls)


def test_smart_disabled_runs_no_smart_log(host):
    facts, _warnings = collect(host, smart=False)
    assert all(c["smart"] is None for c in facts["controllers"])
    assert not any("smart-log" in call for call in host[2].calls)


def test_smart_log_failure_is_a_warning(host):
    runner = host[2]
    runner.add([NVME, "smart-log", "/dev/nvme0", "-o", "json"], rc=1,
               err=read_fixture("nvme", "qemu-deb12", "smart_log_nonroot_nvme0.stderr"))
    facts, warnings = collect(host)
    assert by_name(facts["controllers"])["nvme0"]["smart"] is None
    assert warnings == ["/usr/sbin/nvme smart-log /dev/nvme0 -o json failed (rc=1): /dev/nvme0: Permission denied"]


def test_nvme_list_failure_is_a_warning(host):
    runner = host[2]
    runner.add([NVME, "list", "-o", "json"], rc=1, err="Failed to scan topology: No such file or directory\n")
    facts, warnings = collect(host)
    assert all(n["used_bytes"] is None for n in facts["namespaces"])
    assert warnings == ["/usr/sbin/nvme list -o json failed (rc=1): Failed to scan topology: No such file or directory"]


def test_wipefs_permission_denied_fails_with_a_become_hint(host):
    runner = host[2]
    runner.add([WIPEFS, "--json", "/dev/nvme0n1"], rc=1,
               err=read_fixture("nvme", "qemu-deb12", "wipefs_nonroot_nvme0n1.stderr"))
    with pytest.raises(DiskCommandError) as excinfo:
        collect(host)
    err = excinfo.value
    assert err.device == "/dev/nvme0n1"
    assert "probing initialization failed: Permission denied" in err.message
    assert "become: true" in err.message
    assert err.fail_kwargs()["rc"] == 1


def test_wipefs_missing_device_hint(host):
    runner = host[2]
    runner.add([WIPEFS, "--json", "/dev/nvme4n1"], rc=1,
               err=read_fixture("nvme", "qemu-deb12", "wipefs_missing_nvme9n1.stderr"))
    with pytest.raises(DiskCommandError) as excinfo:
        collect(host)
    assert "is a block device" in excinfo.value.message


def test_host_without_nvme(tmp_path):
    (tmp_path / "sys").mkdir()
    (tmp_path / "proc" / "self").mkdir(parents=True)
    (tmp_path / "proc" / "self" / "mountinfo").write_text("")
    collector = NvmeFactsCollector(lambda argv: (0, "nvme version 2.3 (git 2.3)\n", ""), WIPEFS, NVME,
                                   sysfs_root=str(tmp_path / "sys"), proc_root=str(tmp_path / "proc"))
    facts, warnings = collector.collect()
    assert facts == {"nvme_cli_version": "2.3", "controllers": [], "namespaces": [], "duplicate_serials": []}
    assert warnings == []


def test_replayed_fixtures_agree_with_the_module_run_on_the_real_vm(host):
    """module_run/nvme_facts.json is nvme_facts run inside the capture VM (CAPTURE.md, run 3)."""
    real = json.loads(read_fixture("nvme", "qemu-deb12", "module_run", "nvme_facts.json"))["ansible_facts"]["nvme"]
    replayed, _warnings = collect(host)
    keys = ("name", "path", "serial", "model", "controllers", "paths", "multipath", "size_bytes",
            "logical_block_size", "used_bytes", "holders", "in_use", "in_use_reasons")
    assert [dict((k, ns[k]) for k in keys) for ns in replayed["namespaces"]] == \
        [dict((k, ns[k]) for k in keys) for ns in real["namespaces"]]
    # not "address": run 3 had two more PCI devices, so the controllers moved two slots
    ckeys = ("name", "serial", "model", "transport", "state", "subsystem", "namespaces")
    assert [dict((k, c[k]) for k in ckeys) for c in replayed["controllers"]] == \
        [dict((k, c[k]) for k in ckeys) for c in real["controllers"]]


def test_real_module_run_as_non_root_failed_with_the_become_hint():
    result = json.loads(read_fixture("nvme", "qemu-deb12", "module_run", "nvme_facts_nonroot.json"))
    assert result["failed"] is True
    assert result["device"] == "/dev/nvme0n1"
    assert result["msg"].endswith("Fix: probing signatures needs root: run the task with become: true")


def test_duplicate_serials_are_drives_not_multipath_paths():
    from ansible_collections.baremetal.mlops.plugins.module_utils.disk.nvme import duplicate_serials

    controllers = [
        {"name": "nvme3", "serial": "CLONE1", "subsystem": "nvme-subsys3", "address": "0000:05:00.0"},
        {"name": "nvme5", "serial": "CLONE1", "subsystem": "nvme-subsys5", "address": "0000:06:00.0"},
        # one multipath drive: two controllers, one subsystem
        {"name": "nvme6", "serial": "MPATH", "subsystem": "nvme-subsys6", "address": "0000:07:00.0"},
        {"name": "nvme7", "serial": "MPATH", "subsystem": "nvme-subsys6", "address": "0000:08:00.0"},
        {"name": "nvme8", "serial": "UNIQUE", "subsystem": "nvme-subsys8", "address": "0000:09:00.0"},
    ]
    dups = duplicate_serials(controllers)
    assert [d["serial"] for d in dups] == ["CLONE1"]
    assert [d["controllers"] for d in dups[0]["drives"]] == [["nvme3"], ["nvme5"]]
