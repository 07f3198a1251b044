# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Merging the PCI view and the nvidia-smi view into ansible_facts.nvidia_gpus / nvidia_driver."""

from __future__ import annotations

import pytest

from ansible_collections.baremetal.mlops.plugins.module_utils.gpu.exceptions import NvidiaSmiError
from ansible_collections.baremetal.mlops.plugins.module_utils.gpu.nvidia import NvidiaGpuFactsCollector
from ansible_collections.baremetal.mlops.plugins.module_utils.gpu.nvidia_smi import QUERY_FIELDS
from ansible_collections.baremetal.mlops.tests.unit.plugins.fake_host import (
    FakeRunner,
    a100_mig_pci,
    gpu_host,
    hgx_h100_pci,
    read_fixture,
    rtx2080ti_x4_pci,
    rtx_a4000_pci,
)

SMI = "/usr/bin/nvidia-smi"
QUERY = (SMI, "--query-gpu=%s" % ",".join(QUERY_FIELDS), "--format=csv,noheader,nounits")


def smi_runner(table=None, query=None, table_rc=0, query_rc=0):
    runner = FakeRunner()
    if table is not None:
        runner.add([SMI], rc=table_rc, out=read_fixture("gpu", table))
    if query is not None:
        runner.add(QUERY, rc=query_rc, out=read_fixture("gpu", query))
    return runner


def collect(host, runner, nvidia_smi=SMI):
    sysfs_root, proc_root = host
    return NvidiaGpuFactsCollector(runner, nvidia_smi, sysfs_root=sysfs_root, proc_root=proc_root).collect()


def test_eight_gpu_hgx(tmp_path):
    host = gpu_host(tmp_path, hgx_h100_pci, proc_version="proc_driver_nvidia_version_open.txt")
    gpus, driver, warnings = collect(host, smi_runner("nvidia_smi_8x_h100_hgx.txt", "query_8x_h100_hgx.csv"))
    assert warnings == []
    assert len(gpus) == 8
    assert all(g["driver_visible"] and g["state"] == "ok" and g["on_pci_bus"] for g in gpus)
    assert [g["index"] for g in gpus] == list(range(8))
    first = gpus[0]
    assert (first["bus_id"], first["device_id"], first["numa_node"], first["kernel_driver"]) == (
        "0000:53:00.0", "0x2330", 0, "nvidia")
    assert (first["name"], first["memory_total_mib"], first["ecc_enabled"], first["mig_enabled"]) == (
        "NVIDIA H100 80GB HBM3", 81559, True, False)
    assert driver == {
        "loaded": True, "version": "570.133.20", "kernel_module": "open", "cuda_version": "12.8",
        "nvidia_smi": SMI, "smi_ok": True, "state": None, "message": None, "gpu_count_pci": 8,
        "gpu_count_visible": 8,
    }


def test_one_gpu_workstation(tmp_path):
    host = gpu_host(tmp_path, rtx_a4000_pci, sys_module_version="525.85.12")
    gpus, driver, _warnings = collect(host, smi_runner("nvidia_smi_8x_h100_hgx.txt", "query_1x_rtx_a4000.csv"))
    assert [(g["bus_id"], g["class_name"], g["name"], g["state"]) for g in gpus] == [
        ("0000:65:00.0", "VGA compatible controller", "NVIDIA RTX A4000", "ok")]
    assert driver["version"] == "525.85.12"  # /sys/module/nvidia/version wins over the table
    assert driver["kernel_module"] is None


def test_mig_enabled(tmp_path):
    host = gpu_host(tmp_path, a100_mig_pci, proc_version="proc_driver_nvidia_version_proprietary.txt")
    gpus, driver, _warnings = collect(host, smi_runner("nvidia_smi_2x_a100_mig.txt", "query_2x_a100_mig.csv"))
    assert [(g["bus_id"], g["mig_enabled"]) for g in gpus] == [("0000:31:00.0", True), ("0000:b1:00.0", True)]
    assert driver["cuda_version"] == "11.8" and driver["kernel_module"] == "proprietary"


def test_gpu_fallen_off_the_bus(tmp_path):
    host = gpu_host(tmp_path, rtx2080ti_x4_pci, sys_module_version="520.61.05")
    runner = smi_runner("nvidia_smi_fallen_off_bus.txt", "query_4x_2080ti_fallen_off_bus.csv", table_rc=15,
                        query_rc=15)
    gpus, driver, warnings = collect(host, runner)
    assert [(g["bus_id"], g["driver_visible"], g["state"]) for g in gpus] == [
        ("0000:0a:00.0", True, "ok"),
        ("0000:0b:00.0", False, "unreachable"),
        ("0000:41:00.0", True, "ok"),
        ("0000:42:00.0", True, "ok"),
    ]
    lost = gpus[1]
    assert lost["errors"] == ["Unknown Error"] and lost["uuid"] is None and lost["device_id"] == "0x1e07"
    assert driver["state"] == "gpu_unreachable"
    assert driver["message"] == "GPU 0000:0b:00.0: Unknown Error"
    assert driver["cuda_version"] is None  # the table run printed only the error
    assert (driver["gpu_count_pci"], driver["gpu_count_visible"]) == (4, 3)
    assert warnings == ["1 of 4 NVIDIA GPUs on the PCI bus are not visible to the driver: 0000:0b:00.0"]


def test_gpu_requires_reset(tmp_path):
    host = gpu_host(tmp_path, hgx_h100_pci, sys_module_version="570.133.20")
    gpus, driver, warnings = collect(host, smi_runner("nvidia_smi_8x_h100_hgx.txt", "query_8x_h100_requires_reset.csv"))
    assert [g["state"] for g in gpus] == ["ok", "ok", "ok", "requires_reset", "ok", "error", "ok", "ok"]
    assert all(g["driver_visible"] for g in gpus)
    assert warnings == []
    assert driver["state"] is None


def test_driver_not_loaded_is_a_fact(tmp_path):
    host = gpu_host(tmp_path, hgx_h100_pci)
    runner = smi_runner("nvidia_smi_driver_not_loaded.txt", table_rc=9)
    gpus, driver, warnings = collect(host, runner)
    assert runner.calls == [(SMI,)]  # no --query-gpu after that
    assert driver["loaded"] is False and driver["smi_ok"] is False
    assert driver["state"] == "driver_not_loaded"
    assert driver["message"].startswith("NVIDIA-SMI has failed because it couldn't communicate")
    assert len(gpus) == 8
    assert all(g["driver_visible"] is False and g["state"] == "no_driver" and g["index"] is None for g in gpus)
    assert warnings == []


def test_nvml_library_missing(tmp_path):
    host = gpu_host(tmp_path, rtx_a4000_pci, sys_module_version="525.85.12")
    gpus, driver, _warnings = collect(host, smi_runner("nvidia_smi_nvml_not_found.txt", table_rc=12))
    assert driver["loaded"] is True  # the kernel module is there, userspace is broken
    assert driver["state"] == "nvml_not_found" and driver["smi_ok"] is False
    assert gpus[0]["state"] == "unknown"


def test_node_without_gpu_and_without_driver(tmp_path):
    host = gpu_host(tmp_path)  # the capture VM's real PCI bus
    gpus, driver, warnings = collect(host, FakeRunner(), nvidia_smi=None)
    assert gpus == []
    assert driver["loaded"] is False and driver["state"] == "driver_not_loaded"
    assert (driver["gpu_count_pci"], driver["gpu_count_visible"]) == (0, 0)
    assert warnings == []


def test_no_devices_found(tmp_path):
    host = gpu_host(tmp_path, sys_module_version="570.133.20")
    runner = smi_runner("nvidia_smi_no_devices.txt", "nvidia_smi_no_devices.txt", table_rc=6, query_rc=6)
    gpus, driver, _warnings = collect(host, runner)
    assert gpus == [] and driver["state"] == "no_devices" and driver["loaded"] is True


def test_gpus_without_nvidia_smi_installed(tmp_path):
    host = gpu_host(tmp_path, a100_mig_pci, sys_module_version="570.133.20")
    gpus, driver, warnings = collect(host, FakeRunner(), nvidia_smi=None)
    assert [g["state"] for g in gpus] == ["unknown", "unknown"]
    assert driver["loaded"] is True and driver["nvidia_smi"] is None
    assert warnings == ["nvidia-smi is not installed: GPUs are reported from the PCI bus only"]


def test_gpu_hidden_from_the_driver(tmp_path):
    """A GPU bound to vfio-pci next to one the driver runs: the second is not_visible."""
    def layout(builder):
        builder.pci_device("0000:65:00.0", "0x10de", "0x24b0", "0x030000", driver="nvidia")
        builder.pci_device("0000:b3:00.0", "0x10de", "0x24b0", "0x030000", driver="vfio-pci")
    host = gpu_host(tmp_path, layout, sys_module_version="525.85.12")
    gpus, _driver, warnings = collect(host, smi_runner("nvidia_smi_8x_h100_hgx.txt", "query_1x_rtx_a4000.csv"))
    assert [(g["bus_id"], g["state"], g["kernel_driver"]) for g in gpus] == [
        ("0000:65:00.0", "ok", "nvidia"), ("0000:b3:00.0", "not_visible", "vfio-pci")]
    assert warnings == ["1 of 2 NVIDIA GPUs on the PCI bus are not visible to the driver: 0000:b3:00.0"]


def test_smi_gpu_missing_from_sysfs_is_kept(tmp_path):
    """In a container sysfs may not show the bus; nvidia-smi's GPUs are still reported."""
    host = gpu_host(tmp_path)
    gpus, _driver, _warnings = collect(host, smi_runner("nvidia_smi_2x_a100_mig.txt", "query_2x_a100_mig.csv"))
    assert [(g["bus_id"], g["on_pci_bus"], g["device_id"], g["state"]) for g in gpus] == [
        ("0000:31:00.0", False, None, "ok"), ("0000:b1:00.0", False, None, "ok")]


def test_unparseable_query_output_is_a_typed_error(tmp_path):
    host = gpu_host(tmp_path, rtx_a4000_pci)
    runner = FakeRunner()
    runner.add([SMI], out=read_fixture("gpu", "nvidia_smi_8x_h100_hgx.txt"))
    runner.add(QUERY, rc=2, out='Field "mig.mode.current" is not a valid field to query.\n\n')
    with pytest.raises(NvidiaSmiError) as excinfo:
        collect(host, runner)
    err = excinfo.value
    assert err.component == "nvidia-smi"
    assert err.fail_kwargs()["rc"] == 2
    assert "mig.mode.current" in err.fail_kwargs()["stdout"]
