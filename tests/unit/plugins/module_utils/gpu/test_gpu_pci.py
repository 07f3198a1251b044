# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""PCI scan from sysfs: a real VM bus (no NVIDIA) and constructed GPU nodes in the same layout."""

from __future__ import annotations

import pytest

from ansible_collections.baremetal.mlops.plugins.module_utils.gpu import pci
from ansible_collections.baremetal.mlops.tests.unit.plugins.fake_host import (
    SysfsBuilder,
    a100_mig_pci,
    fixture_path,
    hgx_h100_pci,
    load_sysfs_dump,
    rtx2080ti_x4_pci,
    rtx_a4000_pci,
)


@pytest.mark.parametrize("raw, expected", [
    ("00000000:3B:00.0", "0000:3b:00.0"),   # nvidia-smi --query-gpu=pci.bus_id
    ("0000:3B:00.0", "0000:3b:00.0"),       # "Unable to determine the device handle for GPU 0000:3B:00.0"
    ("0000:3b:00.0", "0000:3b:00.0"),       # sysfs
    ("00000001:C1:00.1", "0001:c1:00.1"),
    (" 00000000:53:00.0 ", "0000:53:00.0"),
    ("[N/A]", None),
    ("", None),
    (None, None),
])
def test_normalize_bus_id(raw, expected):
    assert pci.normalize_bus_id(raw) == expected


def build(tmp_path, layout):
    builder = SysfsBuilder(tmp_path)
    layout(builder)
    return str(tmp_path)


def test_real_vm_bus_has_no_nvidia_gpu_even_with_a_vga_controller(tmp_path):
    # QEMU's std VGA is 1234:1111 class 0x030000: a display controller, not NVIDIA
    root = load_sysfs_dump(fixture_path("gpu", "qemu_deb12_pci_sysfs.json"), str(tmp_path))
    assert pci.read_pci_function(root, "0000:00:01.0")["class_id"] == "0x030000"
    assert pci.scan_nvidia_gpus(root) == []


def test_no_pci_bus_at_all(tmp_path):
    assert pci.scan_nvidia_gpus(str(tmp_path)) == []


def test_hgx_h100_eight_gpus_without_nvswitches(tmp_path):
    gpus = pci.scan_nvidia_gpus(build(tmp_path, hgx_h100_pci))
    assert [g["bus_id"] for g in gpus] == [
        "0000:53:00.0", "0000:64:00.0", "0000:75:00.0", "0000:86:00.0",
        "0000:97:00.0", "0000:a8:00.0", "0000:b9:00.0", "0000:ca:00.0"]
    assert gpus[0] == {
        "bus_id": "0000:53:00.0", "vendor_id": "0x10de", "device_id": "0x2330", "subsystem_vendor_id": "0x10de",
        "subsystem_device_id": "0x16c1", "class_id": "0x030200", "class_name": "3D controller", "numa_node": 0,
        "driver": "nvidia",
    }
    assert [g["numa_node"] for g in gpus] == [0, 0, 0, 0, 1, 1, 1, 1]


def test_audio_usb_and_ucsi_functions_are_not_gpus(tmp_path):
    gpus = pci.scan_nvidia_gpus(build(tmp_path, rtx2080ti_x4_pci))
    assert [g["bus_id"] for g in gpus] == ["0000:0a:00.0", "0000:0b:00.0", "0000:41:00.0", "0000:42:00.0"]
    assert set(g["class_name"] for g in gpus) == set(["VGA compatible controller"])


def test_workstation_gpu_without_driver(tmp_path):
    gpus = pci.scan_nvidia_gpus(build(tmp_path, lambda b: rtx_a4000_pci(b, driver=None)))
    assert len(gpus) == 1
    assert gpus[0]["driver"] is None and gpus[0]["numa_node"] is None


def test_vfio_bound_gpu_reports_its_driver(tmp_path):
    gpus = pci.scan_nvidia_gpus(build(tmp_path, lambda b: rtx_a4000_pci(b, driver="vfio-pci")))
    assert gpus[0]["driver"] == "vfio-pci"


def test_a100(tmp_path):
    gpus = pci.scan_nvidia_gpus(build(tmp_path, a100_mig_pci))
    assert [(g["bus_id"], g["device_id"]) for g in gpus] == [("0000:31:00.0", "0x20b2"), ("0000:b1:00.0", "0x20b2")]
