# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Read NVMe controllers, namespaces, partitions and holders from sysfs.

Every function takes ``sysfs_root`` (``/sys`` on a host, a fake tree in unit
tests) and only reads. The layout is the kernel's (drivers/nvme/host/core.c,
sysfs.c and multipath.c; Documentation/ABI/testing/sysfs-block and
sysfs-class-nvme):

* ``class/nvme/nvmeX`` -> controller directory with ``serial``, ``model``,
  ``firmware_rev`` (space padded to the Identify field width), ``transport``,
  ``address``, ``subsysnqn``, ``state``, ``cntlid``, ``numa_node``.
* ``class/nvme-subsystem/nvme-subsysN/nvmeX`` -> links to the subsystem's
  controllers; the subsystem also has ``serial``, ``model``, ``firmware_rev``.
* ``block/nvmeXnY`` -> a namespace block device. Without native multipath it
  sits under its controller (``device`` links to the controller). With native
  multipath (``nvme_core.multipath=Y`` and a subsystem that reports several
  controllers) ``nvmeSnH`` is a head under the subsystem (``device`` links to
  ``nvme-subsysS``) and each controller ``nvmeC`` has a hidden path device
  ``nvmeScCnH`` (``hidden`` is 1, no ``/dev`` node).
* ``size`` counts 512-byte sectors whatever the logical block size;
  ``queue/logical_block_size`` and ``queue/physical_block_size`` are bytes.
* partitions are subdirectories with a ``partition`` file; ``holders/`` of a
  disk or partition link to md/dm devices built on it.
"""

from __future__ import annotations

import errno
import os
import re

from ansible_collections.baremetal.mlops.plugins.module_utils.disk.exceptions import SysfsError

SECTOR_BYTES = 512

CONTROLLER_RE = re.compile(r"^nvme(\d+)$")
NAMESPACE_RE = re.compile(r"^nvme(\d+)n(\d+)$")
PATH_RE = re.compile(r"^nvme(\d+)c(\d+)n(\d+)$")
_NATURAL_RE = re.compile(r"(\d+)")


def natural_key(name):
    """Sort key putting nvme2n1 before nvme10n1."""
    return [int(part) if part.isdigit() else part for part in _NATURAL_RE.split(name)]


def read_attr(path, default=None):
    """Return the stripped text of a sysfs attribute, ``default`` when it is absent.

    NVMe identify strings are space padded (``serial`` reads
    ``"S64ANS0T123456      \\n"``); both ends are stripped.
    """
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except (IOError, OSError) as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.ENODEV, errno.ENXIO):
            return default
        raise SysfsError(
            "cannot read %s: %s" % (path, exc.strerror or exc),
            hint="check that sysfs is mounted and readable on this host",
        )
    return data.decode("utf-8", "replace").strip()


def read_int(path, default=None):
    value = read_attr(path)
    if value is None or value == "":
        return default
    try:
        return int(value, 0)
    except ValueError:
        raise SysfsError("%s holds %r, not a number" % (path, value))


def _listdir(path):
    try:
        return sorted(os.listdir(path), key=natural_key)
    except (IOError, OSError) as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return []
        raise SysfsError(
            "cannot list %s: %s" % (path, exc.strerror or exc),
            hint="check that sysfs is mounted and readable on this host",
        )


def _link_name(path):
    """Base name of the directory a sysfs link points to, or None."""
    if not os.path.lexists(path):
        return None
    return os.path.basename(os.path.realpath(path))


def controller_dir(sysfs_root, name):
    return os.path.join(sysfs_root, "class", "nvme", name)


def block_dir(sysfs_root, name):
    return os.path.join(sysfs_root, "class", "block", name)


def list_controllers(sysfs_root):
    """Names of the NVMe controllers (``nvme0``, ``nvme1``, ...)."""
    return [n for n in _listdir(os.path.join(sysfs_root, "class", "nvme")) if CONTROLLER_RE.match(n)]


def controller_subsystems(sysfs_root):
    """Map controller name -> subsystem name from ``class/nvme-subsystem``."""
    result = {}
    base = os.path.join(sysfs_root, "class", "nvme-subsystem")
    for subsys in _listdir(base):
        for entry in _listdir(os.path.join(base, subsys)):
            if CONTROLLER_RE.match(entry):
                result[entry] = subsys
    return result


def _block_names(sysfs_root):
    names = _listdir(os.path.join(sysfs_root, "class", "block"))
    if not names:
        names = _listdir(os.path.join(sysfs_root, "block"))
    return names


def list_namespaces(sysfs_root):
    """Names of the namespace block devices users see (``nvme0n1``), hidden paths excluded."""
    return [n for n in _block_names(sysfs_root) if NAMESPACE_RE.match(n)]


def list_paths(sysfs_root):
    """Hidden native-multipath path devices (``nvme0c1n1``) as name -> (subsys, ctrl, head) numbers."""
    result = {}
    for name in _block_names(sysfs_root):
        match = PATH_RE.match(name)
        if match:
            result[name] = tuple(int(g) for g in match.groups())
    return result


def _sysfs_block_path(sysfs_root, name):
    path = block_dir(sysfs_root, name)
    if not os.path.lexists(path):
        path = os.path.join(sysfs_root, "block", name)
    return path


PCI_FUNCTION_RE = re.compile(r"^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$")


def pci_root(device_path):
    """The PCIe root a device hangs off: its root port (the first PCI function below the host bridge), or the host
    bridge itself (``pci0000:00``) for a device on the root complex; None when the path is not a PCI device's.

    ``/sys/devices/pci0000:00/0000:00:01.1/0000:02:00.0/nvme/nvme0`` -> ``0000:00:01.1``.
    """
    parts = (device_path or "").split("/")
    bridges = [i for i, part in enumerate(parts) if part.startswith("pci") and ":" in part]
    if not bridges:
        return None
    functions = [part for part in parts[bridges[0] + 1:] if PCI_FUNCTION_RE.match(part)]
    if not functions:
        return None
    return functions[0] if len(functions) > 1 else parts[bridges[0]]


def read_controller(sysfs_root, name, subsystems=None):
    """Facts of one controller; identify strings are stripped of their padding."""
    base = controller_dir(sysfs_root, name)
    if not os.path.isdir(base):
        raise SysfsError("controller %s has no directory %s" % (name, base), device="/dev/%s" % name)
    numa = read_int(os.path.join(base, "numa_node"))
    if subsystems is None:
        subsystems = controller_subsystems(sysfs_root)
    return {
        "name": name,
        "path": "/dev/%s" % name,
        "serial": read_attr(os.path.join(base, "serial")),
        "model": read_attr(os.path.join(base, "model")),
        "firmware_rev": read_attr(os.path.join(base, "firmware_rev")),
        "transport": read_attr(os.path.join(base, "transport")),
        "address": read_attr(os.path.join(base, "address")),
        "subsysnqn": read_attr(os.path.join(base, "subsysnqn")),
        "state": read_attr(os.path.join(base, "state")),
        "cntlid": read_int(os.path.join(base, "cntlid")),
        "numa_node": None if numa is None or numa < 0 else numa,
        "subsystem": subsystems.get(name),
        "pci_root": pci_root(os.path.realpath(base)),
    }


def _holders(path):
    return _listdir(os.path.join(path, "holders"))


def read_holder(sysfs_root, name):
    """What a holder device is: md array, device-mapper target (LVM, crypt, multipath), or other."""
    base = _sysfs_block_path(sysfs_root, name)
    info = {"name": name, "kind": "other", "dev": read_attr(os.path.join(base, "dev"))}
    if os.path.isdir(os.path.join(base, "md")) or name.startswith("md"):
        info["kind"] = "md"
        info["level"] = read_attr(os.path.join(base, "md", "level"))
    elif os.path.isdir(os.path.join(base, "dm")) or name.startswith("dm-"):
        info["kind"] = "dm"
        info["dm_name"] = read_attr(os.path.join(base, "dm", "name"))
        uuid = read_attr(os.path.join(base, "dm", "uuid")) or ""
        info["dm_target"] = uuid.split("-", 1)[0].lower() if "-" in uuid else None
    return info


def holder_tree(sysfs_root, name, _depth=0):
    """Holders of a block device and, transitively, their holders (md on dm on nvme ...)."""
    if _depth > 16:
        return []
    result = []
    for holder in _holders(_sysfs_block_path(sysfs_root, name)):
        info = read_holder(sysfs_root, holder)
        info["holders"] = holder_tree(sysfs_root, holder, _depth + 1)
        result.append(info)
    return result


def read_partitions(sysfs_root, name):
    """Partitions of a disk: subdirectories that have a ``partition`` file."""
    base = os.path.realpath(_sysfs_block_path(sysfs_root, name))
    result = []
    for entry in _listdir(base):
        part_dir = os.path.join(base, entry)
        if not os.path.isfile(os.path.join(part_dir, "partition")):
            continue
        sectors = read_int(os.path.join(part_dir, "size"), 0)
        result.append({
            "name": entry,
            "path": "/dev/%s" % entry,
            "number": read_int(os.path.join(part_dir, "partition")),
            "start_sector": read_int(os.path.join(part_dir, "start")),
            "size_bytes": sectors * SECTOR_BYTES,
            "dev": read_attr(os.path.join(part_dir, "dev")),
            "holders": holder_tree(sysfs_root, entry),
        })
    return result


def read_namespace(sysfs_root, name, path_devices=None):
    """Facts of one namespace block device as sysfs has them.

    ``path_devices`` is :func:`list_paths`' result; the native multipath
    paths of head ``nvmeSnH`` are the ``nvmeScCnH`` among them, and
    controller ``nvmeC`` serves each.
    """
    link = _sysfs_block_path(sysfs_root, name)
    if not os.path.lexists(link):
        raise SysfsError("namespace %s is not in %s" % (name, os.path.dirname(link)), device="/dev/%s" % name)
    base = os.path.realpath(link)
    device = os.path.join(base, "device")
    parent = _link_name(device)
    match = NAMESPACE_RE.match(name)
    if path_devices is None:
        path_devices = list_paths(sysfs_root)
    paths = sorted(
        (p for p, (subsys, _ctrl, head) in path_devices.items()
         if (subsys, head) == (int(match.group(1)), int(match.group(2)))),
        key=natural_key,
    )
    if paths:
        controllers = ["nvme%d" % path_devices[p][1] for p in paths]
    elif parent and CONTROLLER_RE.match(parent):
        controllers = [parent]
    else:
        controllers = []
    sectors = read_int(os.path.join(base, "size"), 0)
    return {
        "name": name,
        "path": "/dev/%s" % name,
        "nsid": read_int(os.path.join(base, "nsid")),
        "dev": read_attr(os.path.join(base, "dev")),
        "size_bytes": sectors * SECTOR_BYTES,
        "logical_block_size": read_int(os.path.join(base, "queue", "logical_block_size")),
        "physical_block_size": read_int(os.path.join(base, "queue", "physical_block_size")),
        "read_only": read_int(os.path.join(base, "ro"), 0) == 1,
        "wwid": read_attr(os.path.join(base, "wwid")),
        "nguid": read_attr(os.path.join(base, "nguid")),
        "uuid": read_attr(os.path.join(base, "uuid")),
        "eui64": read_attr(os.path.join(base, "eui")),
        # device -> controller (no multipath) or nvme-subsystem (multipath head):
        # both carry the identify strings of the hardware behind the namespace.
        "serial": read_attr(os.path.join(device, "serial")),
        "model": read_attr(os.path.join(device, "model")),
        "firmware_rev": read_attr(os.path.join(device, "firmware_rev")),
        "subsystem": parent if parent and parent.startswith("nvme-subsys") else None,
        "multipath": bool(paths),
        "paths": paths,
        "controllers": controllers,
        "holders": holder_tree(sysfs_root, name),
        "partitions": read_partitions(sysfs_root, name),
    }
