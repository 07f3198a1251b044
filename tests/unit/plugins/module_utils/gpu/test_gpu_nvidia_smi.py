# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""nvidia-smi and kernel module output: real captures where a driver-less host can make them, else the documented formats."""

from __future__ import annotations

import pytest

from ansible_collections.baremetal.mlops.plugins.module_utils.gpu import nvidia_smi
from ansible_collections.baremetal.mlops.plugins.module_utils.gpu.exceptions import NvidiaSmiParseError
from ansible_collections.baremetal.mlops.tests.unit.plugins.fake_host import read_fixture


def gpu(name):
    return read_fixture("gpu", name)


@pytest.mark.parametrize("fixture, state", [
    ("nvidia_smi_driver_not_loaded.txt", "driver_not_loaded"),  # real, nvidia-smi 535.261.03, rc 9
    ("nvidia_smi_nvml_not_found.txt", "nvml_not_found"),        # real, rc 12
    ("nvidia_smi_no_devices.txt", "no_devices"),
])
def test_classify_whole_run_failures(fixture, state):
    failure = nvidia_smi.classify_failure(gpu(fixture))
    assert failure["state"] == state
    assert "\n" not in failure["message"]


def test_driver_not_loaded_message_is_kept_verbatim():
    failure = nvidia_smi.classify_failure(gpu("nvidia_smi_driver_not_loaded.txt"))
    assert failure["message"] == (
        "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. "
        "Make sure that the latest NVIDIA driver is installed and running.")


def test_version_mismatch():
    text = "Failed to initialize NVML: Driver/library version mismatch\nNVML library version: 570.133\n"
    assert nvidia_smi.classify_failure(text)["state"] == "driver_library_mismatch"
    assert nvidia_smi.classify_failure("Failed to initialize NVML: Unknown Error\n")["state"] == "nvml_init_failed"


def test_healthy_output_is_no_failure():
    assert nvidia_smi.classify_failure(gpu("query_8x_h100_hgx.csv")) is None
    assert nvidia_smi.classify_failure(gpu("nvidia_smi_8x_h100_hgx.txt")) is None


@pytest.mark.parametrize("fixture, cuda, driver", [
    ("nvidia_smi_8x_h100_hgx.txt", "12.8", "570.133.20"),  # >= 535 table layout
    ("nvidia_smi_2x_a100_mig.txt", "11.8", "520.61.05"),   # older 79-column layout
    ("nvidia_smi_q_header.txt", "12.8", "570.124.06"),     # nvidia-smi -q
    ("nvidia_smi_fallen_off_bus.txt", None, None),
])
def test_parse_header(fixture, cuda, driver):
    assert nvidia_smi.parse_header(gpu(fixture)) == {"cuda_version": cuda, "driver_version": driver}


@pytest.mark.parametrize("text, expected", [
    (gpu("proc_driver_nvidia_version_proprietary.txt"), {"version": "535.183.01", "kernel_module": "proprietary"}),
    (gpu("proc_driver_nvidia_version_open.txt"), {"version": "570.133.20", "kernel_module": "open"}),
    ("NVRM version: NVIDIA UNIX Open Kernel Module for aarch64  565.57.01  Release Build  (b@h)  Thu Oct 10 2024\n",
     {"version": "565.57.01", "kernel_module": "open"}),
    ("570.133.20\n", {"version": "570.133.20", "kernel_module": None}),  # /sys/module/nvidia/version
    (None, {"version": None, "kernel_module": None}),
    ("", {"version": None, "kernel_module": None}),
])
def test_kernel_module_version(text, expected):
    assert nvidia_smi.parse_kernel_module_version(text) == expected


def test_eight_h100():
    gpus, unreachable = nvidia_smi.parse_query_csv(gpu("query_8x_h100_hgx.csv"))
    assert unreachable == []
    assert [g["index"] for g in gpus] == list(range(8))
    assert gpus[5] == {
        "index": 5, "bus_id": "0000:a8:00.0", "name": "NVIDIA H100 80GB HBM3",
        "uuid": "GPU-fe17c557-e956-c114-0796-99af26a4228a", "serial": "1650923028266",
        "vbios_version": "96.00.99.00.01", "memory_total_mib": 81559, "driver_version": "570.133.20",
        "persistence_mode": False, "ecc_enabled": True, "mig_enabled": False, "compute_mode": "Default", "errors": [],
    }


def test_one_workstation_gpu_with_na_fields():
    gpus, _unreachable = nvidia_smi.parse_query_csv(gpu("query_1x_rtx_a4000.csv"))
    assert len(gpus) == 1
    assert gpus[0]["serial"] is None          # [N/A]
    assert gpus[0]["mig_enabled"] is None     # [N/A]: no MIG on this GPU
    assert gpus[0]["ecc_enabled"] is False
    assert gpus[0]["errors"] == []


def test_mig_enabled():
    gpus, _unreachable = nvidia_smi.parse_query_csv(gpu("query_2x_a100_mig.csv"))
    assert [(g["bus_id"], g["mig_enabled"], g["persistence_mode"]) for g in gpus] == [
        ("0000:31:00.0", True, True), ("0000:b1:00.0", True, True)]


def test_fallen_off_the_bus():
    gpus, unreachable = nvidia_smi.parse_query_csv(gpu("query_4x_2080ti_fallen_off_bus.csv"))
    assert [g["bus_id"] for g in gpus] == ["0000:0a:00.0", "0000:41:00.0", "0000:42:00.0"]
    assert unreachable == [{"bus_id": "0000:0b:00.0", "error": "Unknown Error"}]


@pytest.mark.parametrize("line", [
    "Unable to determine the device handle for GPU 0000:0B:00.0: Unknown Error",
    "Unable to determine the device handle for GPU0000:0B:00.0: Unknown Error",   # 5xx drivers drop the space
    "Unable to determine the device handle for gpu 0000:0B:00.0: Unknown Error",
    "Unable to determine the device handle for GPU 00000000:0B:00.0: Unknown Error",
])
def test_device_handle_message_variants(line):
    assert nvidia_smi.parse_query_csv(line + "\n")[1] == [{"bus_id": "0000:0b:00.0", "error": "Unknown Error"}]


def test_gpu_requires_reset_and_unknown_error_fields():
    gpus, unreachable = nvidia_smi.parse_query_csv(gpu("query_8x_h100_requires_reset.csv"))
    assert unreachable == []
    sick = gpus[3]
    assert sick["errors"] == ["requires_reset"]
    assert sick["memory_total_mib"] is None and sick["ecc_enabled"] is None and sick["mig_enabled"] is None
    assert sick["uuid"].startswith("GPU-")
    assert gpus[5]["errors"] == ["error"] and gpus[5]["ecc_enabled"] is None
    assert [g["errors"] for i, g in enumerate(gpus) if i not in (3, 5)] == [[]] * 6


def test_unknown_field_count_is_a_parse_error():
    # an old driver that does not know a field answers with a message, here simulated with a short line
    with pytest.raises(NvidiaSmiParseError) as excinfo:
        nvidia_smi.parse_query_csv("0, 00000000:65:00.0, NVIDIA RTX A4000\n")
    assert "--help-query-gpu" in excinfo.value.message


def test_empty_output_means_no_gpu():
    assert nvidia_smi.parse_query_csv("") == ([], [])
