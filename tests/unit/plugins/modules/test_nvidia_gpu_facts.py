# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""nvidia_gpu_facts main() in-process against fake PCI trees and nvidia-smi output."""

from __future__ import annotations

from ansible_collections.baremetal.mlops.plugins.module_utils.gpu.nvidia_smi import QUERY_FIELDS
from ansible_collections.baremetal.mlops.plugins.modules import nvidia_gpu_facts
from ansible_collections.baremetal.mlops.tests.unit.plugins.fake_host import (
    FakeRunner,
    gpu_host,
    hgx_h100_pci,
    read_fixture,
    rtx2080ti_x4_pci,
)
from ansible_collections.baremetal.mlops.tests.unit.plugins.modules.module_harness import run_module

SMI = "/usr/bin/nvidia-smi"
QUERY = [SMI, "--query-gpu=%s" % ",".join(QUERY_FIELDS), "--format=csv,noheader,nounits"]


def run(monkeypatch, host, runner, bins=None, args=None):
    sysfs_root, proc_root = host
    bins = {"nvidia-smi": SMI} if bins is None else bins
    return run_module(monkeypatch, nvidia_gpu_facts, args or {}, bins, runner, sysfs_root, proc_root)


def test_eight_gpus(monkeypatch, tmp_path):
    host = gpu_host(tmp_path, hgx_h100_pci, proc_version="proc_driver_nvidia_version_open.txt")
    runner = FakeRunner()
    runner.add([SMI], out=read_fixture("gpu", "nvidia_smi_8x_h100_hgx.txt"))
    runner.add(QUERY, out=read_fixture("gpu", "query_8x_h100_hgx.csv"))
    outcome, result = run(monkeypatch, host, runner)
    assert outcome == "exit" and result["changed"] is False
    facts = result["ansible_facts"]
    assert len(facts["nvidia_gpus"]) == 8
    assert facts["nvidia_driver"]["cuda_version"] == "12.8"
    assert facts["nvidia_driver"]["loaded"] is True
    assert result["warnings"] == []


def test_check_mode(monkeypatch, tmp_path):
    host = gpu_host(tmp_path)
    outcome, result = run(monkeypatch, host, FakeRunner(), bins={}, args={"_ansible_check_mode": True})
    assert outcome == "exit"
    assert result["ansible_facts"]["nvidia_gpus"] == []


def test_driver_not_loaded_does_not_fail(monkeypatch, tmp_path):
    host = gpu_host(tmp_path, hgx_h100_pci)
    runner = FakeRunner()
    runner.add([SMI], rc=9, out=read_fixture("gpu", "nvidia_smi_driver_not_loaded.txt"))
    outcome, result = run(monkeypatch, host, runner)
    assert outcome == "exit"
    driver = result["ansible_facts"]["nvidia_driver"]
    assert driver["loaded"] is False
    assert "couldn't communicate with the NVIDIA driver" in driver["message"]
    assert [g["state"] for g in result["ansible_facts"]["nvidia_gpus"]] == ["no_driver"] * 8


def test_fallen_off_bus_warns(monkeypatch, tmp_path):
    host = gpu_host(tmp_path, rtx2080ti_x4_pci, sys_module_version="520.61.05")
    runner = FakeRunner()
    runner.add([SMI], rc=15, out=read_fixture("gpu", "nvidia_smi_fallen_off_bus.txt"))
    runner.add(QUERY, rc=15, out=read_fixture("gpu", "query_4x_2080ti_fallen_off_bus.csv"))
    outcome, result = run(monkeypatch, host, runner)
    assert outcome == "exit"
    lost = [g for g in result["ansible_facts"]["nvidia_gpus"] if not g["driver_visible"]]
    assert [(g["bus_id"], g["state"]) for g in lost] == [("0000:0b:00.0", "unreachable")]
    assert result["warnings"] == ["1 of 4 NVIDIA GPUs on the PCI bus are not visible to the driver: 0000:0b:00.0"]


def test_no_gpu_node(monkeypatch, tmp_path):
    outcome, result = run(monkeypatch, gpu_host(tmp_path), FakeRunner(), bins={})
    assert outcome == "exit"
    assert result["ansible_facts"]["nvidia_gpus"] == []
    assert result["ansible_facts"]["nvidia_driver"]["nvidia_smi"] is None
    assert result["warnings"] == []


def test_parse_error_fails_with_context(monkeypatch, tmp_path):
    host = gpu_host(tmp_path, hgx_h100_pci, sys_module_version="570.133.20")
    runner = FakeRunner()
    runner.add([SMI], out=read_fixture("gpu", "nvidia_smi_8x_h100_hgx.txt"))
    runner.add(QUERY, out="0, 00000000:53:00.0\n")
    outcome, result = run(monkeypatch, host, runner)
    assert outcome == "fail"
    assert "nvidia-smi: expected 12 comma separated values" in result["msg"]
    assert "Fix:" in result["msg"]
    assert result["cmd"].startswith(SMI + " --query-gpu=index,pci.bus_id")
