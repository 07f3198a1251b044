# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Find NVIDIA GPUs on the PCI bus from sysfs, without lspci or a driver.

``bus/pci/devices/DDDD:BB:DD.F`` links to each PCI function; its attribute
files (Documentation/ABI/testing/sysfs-bus-pci) read ``0x10de`` (``vendor``,
``device``, ``subsystem_vendor``, ``subsystem_device``) and ``0x030200``
(``class``: base class, subclass, programming interface). ``numa_node`` is
``-1`` where the platform has no NUMA information; ``driver`` links to the
bound driver (``nvidia``, ``nouveau``, ``vfio-pci``) and is absent when none
is bound.

A GPU is vendor ``0x10de`` with base class ``0x03`` (display controller:
``0x0300`` VGA, ``0x0302`` 3D controller). The other functions NVIDIA boards
expose are not GPUs: HD audio (``0x0403``), USB host (``0x0c03``), USB-C UCSI
(``0x0c80``) and NVSwitch bridges (``0x0680``).
"""

from __future__ import annotations

import errno
import os
import re

from ansible_collections.baremetal.mlops.plugins.module_utils.gpu.exceptions import PciScanError

NVIDIA_VENDOR_ID = 0x10DE
DISPLAY_BASE_CLASS = 0x03
CLASS_NAMES = {0x0300: "VGA compatible controller", 0x0301: "XGA compatible controller", 0x0302: "3D controller"}

_BUS_ID_RE = re.compile(r"^([0-9a-fA-F]{1,8}):([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2})\.([0-7])$")


def normalize_bus_id(bus_id):
    """Canonical sysfs form of a PCI address: ``0000:3b:00.0``.

    nvidia-smi prints ``00000000:3B:00.0`` (32-bit domain, upper case), and
    its error messages sometimes ``0000:3B:00.0``; sysfs uses a 16-bit
    domain in lower case. Returns None for something that is no PCI address.
    """
    match = _BUS_ID_RE.match((bus_id or "").strip())
    if not match:
        return None
    domain, bus, device, function = match.groups()
    return "%04x:%02x:%02x.%s" % (int(domain, 16), int(bus, 16), int(device, 16), function)


def _read(path):
    try:
        with open(path, "rb") as handle:
            return handle.read().decode("ascii", "replace").strip()
    except (IOError, OSError) as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.ENODEV):
            return None
        raise PciScanError("cannot read %s: %s" % (path, exc.strerror or exc), hint="check that sysfs is mounted")


def _hex(value):
    try:
        return int(value, 16) if value is not None else None
    except ValueError:
        return None


def read_pci_function(sysfs_root, bus_id):
    """Identity of one PCI function; ids as ``0x%04x`` strings like sysfs has them."""
    base = os.path.join(sysfs_root, "bus", "pci", "devices", bus_id)
    vendor = _hex(_read(os.path.join(base, "vendor")))
    device = _hex(_read(os.path.join(base, "device")))
    pci_class = _hex(_read(os.path.join(base, "class")))
    if vendor is None or pci_class is None:
        raise PciScanError("PCI function %s has no vendor or class file" % bus_id, device=bus_id)
    numa = _read(os.path.join(base, "numa_node"))
    try:
        numa = int(numa) if numa else None
    except ValueError:
        numa = None
    driver_link = os.path.join(base, "driver")
    driver = os.path.basename(os.path.realpath(driver_link)) if os.path.lexists(driver_link) else None
    sub_vendor = _hex(_read(os.path.join(base, "subsystem_vendor")))
    sub_device = _hex(_read(os.path.join(base, "subsystem_device")))
    return {
        "bus_id": bus_id,
        "vendor_id": "0x%04x" % vendor,
        "device_id": "0x%04x" % device if device is not None else None,
        "subsystem_vendor_id": "0x%04x" % sub_vendor if sub_vendor is not None else None,
        "subsystem_device_id": "0x%04x" % sub_device if sub_device is not None else None,
        "class_id": "0x%06x" % pci_class,
        "class_name": CLASS_NAMES.get(pci_class >> 8),
        "numa_node": numa if numa is not None and numa >= 0 else None,
        "driver": driver,
    }


def is_nvidia_gpu(function):
    return int(function["vendor_id"], 16) == NVIDIA_VENDOR_ID and int(function["class_id"], 16) >> 16 == DISPLAY_BASE_CLASS


def scan_nvidia_gpus(sysfs_root):
    """NVIDIA GPUs on the PCI bus, ordered by bus id; an empty list on a node without any."""
    devices_dir = os.path.join(sysfs_root, "bus", "pci", "devices")
    try:
        entries = sorted(os.listdir(devices_dir))
    except (IOError, OSError) as exc:
        if exc.errno == errno.ENOENT:
            return []
        raise PciScanError("cannot list %s: %s" % (devices_dir, exc.strerror or exc), hint="check that sysfs is mounted")
    gpus = []
    for bus_id in entries:
        vendor = _hex(_read(os.path.join(devices_dir, bus_id, "vendor")))
        if vendor != NVIDIA_VENDOR_ID:
            continue
        function = read_pci_function(sysfs_root, bus_id)
        if is_nvidia_gpu(function):
            gpus.append(function)
    return gpus
