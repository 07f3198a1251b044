# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""nvme_facts main() in-process against the capture VM's sysfs, procfs and tool output."""

from __future__ import annotations

import pytest

from ansible_collections.baremetal.mlops.plugins.modules import nvme_facts
from ansible_collections.baremetal.mlops.tests.unit.plugins.fake_host import qemu_deb12_host, read_fixture
from ansible_collections.baremetal.mlops.tests.unit.plugins.modules.module_harness import run_module

BINS = {"wipefs": "/usr/sbin/wipefs", "nvme": "/usr/sbin/nvme"}


@pytest.fixture
def host(tmp_path):
    return qemu_deb12_host(tmp_path)


def run(monkeypatch, host, args=None, bins=None):
    sysfs_root, proc_root, runner = host
    return run_module(monkeypatch, nvme_facts, args or {}, BINS if bins is None else bins, runner, sysfs_root,
                      proc_root)


def test_facts(monkeypatch, host):
    outcome, result = run(monkeypatch, host)
    assert outcome == "exit"
    assert result["changed"] is False
    nvme = result["ansible_facts"]["nvme"]
    assert nvme["nvme_cli_version"] == "2.3"
    assert len(nvme["controllers"]) == 9
    free = [ns["path"] for ns in nvme["namespaces"] if not ns["in_use"]]
    assert free == ["/dev/nvme4n1", "/dev/nvme6n1", "/dev/nvme6n2", "/dev/nvme7n1"]
    assert result["warnings"] == []


def test_check_mode_gives_the_same_facts(monkeypatch, host):
    _outcome, normal = run(monkeypatch, host)
    outcome, checked = run(monkeypatch, host, {"_ansible_check_mode": True})
    assert outcome == "exit"
    assert checked["ansible_facts"] == normal["ansible_facts"]
    assert checked["changed"] is False


def test_serials_and_smart_options(monkeypatch, host):
    outcome, result = run(monkeypatch, host, {"serials": ["BMLABNVME0001"], "smart": False})
    assert outcome == "exit"
    nvme = result["ansible_facts"]["nvme"]
    assert [c["name"] for c in nvme["controllers"]] == ["nvme0"]
    assert nvme["controllers"][0]["smart"] is None
    assert [n["name"] for n in nvme["namespaces"]] == ["nvme0n1"]
    assert not any("smart-log" in call for call in host[2].calls)


def test_without_nvme_cli_warns(monkeypatch, host):
    outcome, result = run(monkeypatch, host, bins={"wipefs": "/usr/sbin/wipefs"})
    assert outcome == "exit"
    assert result["ansible_facts"]["nvme"]["nvme_cli_version"] is None
    assert result["warnings"] == [
        "nvme-cli is not installed: no SMART data and no used_bytes; install the nvme-cli package"]


def test_without_wipefs_fails(monkeypatch, host):
    outcome, result = run(monkeypatch, host, bins={"nvme": "/usr/sbin/nvme"})
    assert outcome == "fail"
    assert "wipefs" in result["msg"]


def test_not_root_fails_with_context(monkeypatch, host):
    host[2].add(["/usr/sbin/wipefs", "--json", "/dev/nvme0n1"], rc=1,
                err=read_fixture("nvme", "qemu-deb12", "wipefs_nonroot_nvme0n1.stderr"))
    outcome, result = run(monkeypatch, host)
    assert outcome == "fail"
    assert "wipefs /dev/nvme0n1: wipefs cannot read the signatures on /dev/nvme0n1" in result["msg"]
    assert "Fix: probing signatures needs root: run the task with become: true" in result["msg"]
    assert result["device"] == "/dev/nvme0n1"
    assert result["rc"] == 1
    assert result["cmd"] == "/usr/sbin/wipefs --json /dev/nvme0n1"


def test_unknown_option_is_rejected(monkeypatch, host):
    outcome, result = run(monkeypatch, host, {"sysfs_root": "/tmp"})
    assert outcome == "fail"
    assert "sysfs_root" in result["msg"]
