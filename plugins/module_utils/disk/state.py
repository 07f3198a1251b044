# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Read everything the storage planner compares against, without changing anything.

The result (``StorageStateCollector.collect()``) is the planner's input::

    {
      "host": "node1",                       # nodename, used as mdadm homehost
      "controllers": [...], "namespaces": [...],   # exactly as nvme_facts returns them
      "md_arrays": [{name, path, links, dev, level, raid_disks, members, uuid,
                     array_state, degraded, sync_action, size_bytes,
                     signatures, mountpoints}],
      "lvm": None (not read) or {"pvs": [{pv_name, vg_name, pv_uuid}],
                                 "vgs": [{vg_name, vg_uuid, vg_size, vg_free}],
                                 "lvs": [{lv_name, vg_name, lv_path, size_bytes, dev,
                                          active, signatures, mountpoints}]},
      "mounts": [{mountpoint, source, dev, fstype}],
      "fstab": "<text of /etc/fstab>",
      "mdadm_conf": "<text>" or None when the file does not exist,
      "mdadm_conf_path": "/etc/mdadm/mdadm.conf",
      "crypttab": "<text of /etc/crypttab>" or "",
      "units": [{path, what[, target]}],        # .mount/.swap units in /etc/systemd/system (target: linked)
      "dev_links": {"/dev/disk/by-path/x": "/dev/nvme2n1"},  # every udev link, resolved
      "dirs": {"/data": true},                # mount points that exist as directories
      "systemd": true,                          # /run/systemd/system exists
    }

Sources: nvme facts (:mod:`.nvme`), md arrays from sysfs (``block/mdN/md/``
and ``slaves/``; names from the ``/dev/md/*`` links), LVM from
``pvs/vgs/lvs --reportformat json`` (lvm2 2.02.158 and later), signatures
from ``wipefs --json``, mounts from ``/proc/self/mountinfo``.
"""

from __future__ import annotations

import json
import os
import platform
import re

from ansible_collections.baremetal.mlops.plugins.module_utils.disk import conffiles
from ansible_collections.baremetal.mlops.plugins.module_utils.disk import mounts as mounts_mod
from ansible_collections.baremetal.mlops.plugins.module_utils.disk import sysfs
from ansible_collections.baremetal.mlops.plugins.module_utils.disk.exceptions import (
    DiskCommandError,
    DiskError,
    DiskParseError,
)
from ansible_collections.baremetal.mlops.plugins.module_utils.disk.nvme import NvmeFactsCollector

MD_RE = re.compile(r"^md\d+$")
LVM_COMMON = ["--reportformat", "json", "--units", "b", "--nosuffix"]
PVS_FIELDS = "pv_name,vg_name,pv_uuid"
VGS_FIELDS = "vg_name,vg_uuid,vg_size,vg_free"
LVS_FIELDS = "lv_name,vg_name,lv_path,lv_size,lv_uuid,lv_kernel_major,lv_kernel_minor,lv_active"


def read_text_file(path):
    """Text of a file, or None when it does not exist."""
    try:
        with open(path, "rb") as handle:
            return handle.read().decode("utf-8", "replace")
    except (IOError, OSError) as exc:
        if not os.path.exists(path):
            return None
        raise DiskError("cannot read %s: %s" % (path, exc.strerror or exc), component="files", device=path,
                        hint="run the task as root (become: true)")


def _int(value, default=None):
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def parse_lvm_report(text, kind, cmd=None):
    """Rows of ``pvs/vgs/lvs --reportformat json``: ``{"report": [{"pv": [...]}]}`` -> list of dicts."""
    try:
        data = json.loads(text)
        rows = []
        for report in data["report"]:
            rows.extend(report.get(kind, []))
    except (ValueError, KeyError, TypeError, AttributeError):
        raise DiskParseError(
            "%s printed no JSON report: %r" % (cmd or kind + "s", (text or "")[:200]),
            component="lvm2", hint="use lvm2 2.02.158 or later (--reportformat json)",
        )
    return rows


def md_links(dev_root):
    """Map md kernel name -> its ``/dev/md/<name>`` links."""
    result = {}
    base = os.path.join(dev_root, "md")
    try:
        names = sorted(os.listdir(base))
    except OSError:
        return result
    for name in names:
        path = os.path.join(base, name)
        if os.path.islink(path):
            target = os.path.basename(os.readlink(path))
            result.setdefault(target, []).append("/dev/md/%s" % name)
    return result


def _names(path):
    try:
        return sorted(os.listdir(path), key=sysfs.natural_key)
    except OSError:
        return []


def partition_links(dev_root="/dev"):
    """``{partition name: {partuuid, partlabel}}`` from udev's ``/dev/disk/by-partuuid`` and ``by-partlabel`` links.

    Neither sysfs nor wipefs has a partition's GPT UUID; fstab can name a partition by it (``PARTUUID=``), and a
    wipe must find that line. udev writes blanks and slashes of a label as ``\\x20``/``\\x2f``.
    """
    found = {}
    for kind, folder in (("partuuid", "by-partuuid"), ("partlabel", "by-partlabel")):
        directory = os.path.join(dev_root, "disk", folder)
        for link in _names(directory):
            target = os.path.basename(os.path.realpath(os.path.join(directory, link)))
            value = re.sub(r"\\x([0-9a-fA-F]{2})", lambda m: chr(int(m.group(1), 16)), link)
            found.setdefault(target, {})[kind] = value.lower() if kind == "partuuid" else value
    return found


def device_links(dev_root="/dev"):
    """``{link: device}`` for every udev link under ``/dev/disk/*/`` and ``/dev/mapper/`` (by-id, by-path,
    by-diskseq, by-uuid, ... whatever this udev writes), each resolved to its kernel device (``/dev/nvme2n1``,
    ``/dev/dm-1``): fstab, crypttab and units may name a device by any of them (issue 26, finding 2). Paths are
    reported under ``/dev`` whatever ``dev_root`` is (a test's tree)."""
    found = {}
    real_root = os.path.realpath(dev_root)
    kinds = _names(os.path.join(dev_root, "disk"))
    directories = [os.path.join(dev_root, "mapper")] + [os.path.join(dev_root, "disk", d) for d in kinds]
    for directory in directories:
        for link in _names(directory):
            path = os.path.join(directory, link)
            if not os.path.islink(path):
                continue
            target = os.path.realpath(path)
            if not target.startswith(real_root + os.sep):
                continue
            found["/dev" + path[len(dev_root):]] = "/dev" + target[len(real_root):]
    return found


def read_md_arrays(sysfs_root, dev_root="/dev"):
    """md arrays from sysfs: level, members, state and ``/dev/md/*`` names; signatures and mounts not included."""
    links = md_links(dev_root)
    arrays = []
    block = os.path.join(sysfs_root, "class", "block")
    if not os.path.isdir(block):
        block = os.path.join(sysfs_root, "block")
    for name in _names(block):
        if not MD_RE.match(name):
            continue
        base = os.path.realpath(os.path.join(block, name))
        md_dir = os.path.join(base, "md")
        if not os.path.isdir(md_dir):
            continue
        members = _names(os.path.join(base, "slaves"))
        uuid = sysfs.read_attr(os.path.join(md_dir, "uuid"))
        arrays.append({
            "name": name,
            "path": "/dev/%s" % name,
            "links": links.get(name, []),
            "dev": sysfs.read_attr(os.path.join(base, "dev")),
            "level": sysfs.read_attr(os.path.join(md_dir, "level")),
            "raid_disks": sysfs.read_int(os.path.join(md_dir, "raid_disks")),
            "members": members,
            "uuid": uuid.lower() if uuid else None,
            "array_state": sysfs.read_attr(os.path.join(md_dir, "array_state")),
            "degraded": sysfs.read_int(os.path.join(md_dir, "degraded"), 0),
            "sync_action": sysfs.read_attr(os.path.join(md_dir, "sync_action")),
            "metadata_version": sysfs.read_attr(os.path.join(md_dir, "metadata_version")),
            "size_bytes": sysfs.read_int(os.path.join(base, "size"), 0) * sysfs.SECTOR_BYTES,
        })
    return arrays


class StorageStateCollector(object):
    """Collect the planner's input (see the module docstring); reads only.

    :param run: ``run(argv) -> (rc, stdout, stderr)`` (:func:`...common.command.command_runner`).
    :param wipefs: path of ``wipefs``.
    :param lvm: ``{"pvs": path, "vgs": path, "lvs": path}`` to read LVM, or None not to.
    :param mount_points: directories whose existence the planner needs to know.
    """

    def __init__(self, run, wipefs, lvm=None, sysfs_root="/sys", proc_root="/proc", dev_root="/dev",
                 fstab_path="/etc/fstab", mdadm_conf_path="/etc/mdadm/mdadm.conf",
                 systemd_dir="/run/systemd/system", mount_points=(), host=None, crypttab_path="/etc/crypttab",
                 unit_dirs=("/etc/systemd/system",)):
        self.run = run
        self.wipefs = wipefs
        self.lvm = lvm
        self.sysfs_root = sysfs_root
        self.proc_root = proc_root
        self.dev_root = dev_root
        self.fstab_path = fstab_path
        self.mdadm_conf_path = mdadm_conf_path
        self.systemd_dir = systemd_dir
        self.crypttab_path = crypttab_path
        self.unit_dirs = tuple(unit_dirs)
        self.mount_points = list(mount_points)
        self.host = host
        self.warnings = []

    def _nvme_collector(self):
        # nvme-cli adds nothing the planner needs (SMART, used bytes): sysfs and wipefs only.
        return NvmeFactsCollector(self.run, wipefs=self.wipefs, nvme=None, smart=False,
                                  sysfs_root=self.sysfs_root, proc_root=self.proc_root)

    def _signatures(self, device):
        return self._nvme_collector().signatures(device)

    def _nvme(self):
        facts, warnings = self._nvme_collector().collect()
        self.warnings.extend(warnings)
        return facts

    def _lvm_rows(self, tool, fields, kind):
        argv = [self.lvm[tool]] + LVM_COMMON + ["-o", fields]
        rc, out, err = self.run(argv)
        if rc != 0:
            raise DiskCommandError(
                "%s failed: %s" % (tool, (err or out or "no output").strip()),
                cmd=argv, rc=rc, stdout=out, stderr=err, component="lvm2",
                hint="check that lvm2 works on this host (run %s by hand)" % tool,
            )
        return parse_lvm_report(out, kind, tool)

    def _read_lvm(self, mountinfo):
        pvs = self._lvm_rows("pvs", PVS_FIELDS, "pv")
        vgs = self._lvm_rows("vgs", VGS_FIELDS, "vg")
        lvs = []
        for row in self._lvm_rows("lvs", LVS_FIELDS, "lv"):
            major, minor = _int(row.get("lv_kernel_major"), -1), _int(row.get("lv_kernel_minor"), -1)
            active = major >= 0 and minor >= 0
            lv = {
                "lv_name": row.get("lv_name"),
                "vg_name": row.get("vg_name"),
                "lv_path": row.get("lv_path") or "/dev/%s/%s" % (row.get("vg_name"), row.get("lv_name")),
                "lv_uuid": row.get("lv_uuid"),
                "size_bytes": _int(row.get("lv_size"), 0),
                "dev": "%d:%d" % (major, minor) if active else None,
                "active": active,
            }
            lv["signatures"] = self._signatures(lv["lv_path"]) if active else []
            lv["mountpoints"] = self._mountpoints(lv["dev"], mountinfo)
            lvs.append(lv)
        return {
            "pvs": [{"pv_name": r.get("pv_name"), "vg_name": r.get("vg_name") or None, "pv_uuid": r.get("pv_uuid")}
                    for r in pvs],
            "vgs": [{"vg_name": r.get("vg_name"), "vg_uuid": r.get("vg_uuid"), "vg_size": _int(r.get("vg_size"), 0),
                     "vg_free": _int(r.get("vg_free"), 0)} for r in vgs],
            "lvs": lvs,
        }

    @staticmethod
    def _mountpoints(dev, mountinfo):
        if not dev:
            return []
        result = []
        for mount in mountinfo:
            if mount["dev"] == dev and mount["mountpoint"] not in result:
                result.append(mount["mountpoint"])
        return result

    def _units(self):
        """The .mount and .swap units an administrator wrote (``What=``), which a wipe would leave dangling."""
        units = []
        for directory in self.unit_dirs:
            try:
                names = sorted(os.listdir(directory))
            except OSError:
                continue
            for name in names:
                path = os.path.join(directory, name)
                if not name.endswith((".mount", ".swap")) or not os.path.isfile(path):
                    continue
                # A unit linked in with `systemctl link` is a symlink to its file elsewhere: systemd loads it
                # all the same (issue 26, finding 2). A masked unit links to /dev/null and is not a file.
                units.append({"path": path, "what": conffiles.unit_what(read_text_file(path)),
                              **({"target": os.path.realpath(path)} if os.path.islink(path) else {})})
        return units

    def collect(self):
        """Return the planner's input; :attr:`warnings` has what nvme facts warned about."""
        self.warnings = []
        nvme = self._nvme()
        links = partition_links(self.dev_root)
        for ns in nvme["namespaces"]:
            for part in ns.get("partitions") or []:
                part.update(links.get(part["name"], {}))
        mountinfo = mounts_mod.parse_mountinfo(read_text_file(os.path.join(self.proc_root, "self", "mountinfo")) or "")
        arrays = read_md_arrays(self.sysfs_root, self.dev_root)
        for array in arrays:
            usable = array["size_bytes"] > 0 and array["array_state"] not in ("inactive", "clear")
            array["signatures"] = self._signatures(array["path"]) if usable else []
            array["mountpoints"] = self._mountpoints(array["dev"], mountinfo)
        return {
            "host": self.host or platform.node(),
            "controllers": nvme["controllers"],
            "namespaces": nvme["namespaces"],
            "md_arrays": arrays,
            "lvm": self._read_lvm(mountinfo) if self.lvm else None,
            "mounts": [{"mountpoint": m["mountpoint"], "source": m["source"], "dev": m["dev"], "fstype": m["fstype"]}
                       for m in mountinfo],
            "fstab": read_text_file(self.fstab_path) or "",
            "mdadm_conf": read_text_file(self.mdadm_conf_path),
            "mdadm_conf_path": self.mdadm_conf_path,
            "crypttab": read_text_file(self.crypttab_path) or "",
            "units": self._units(),
            "dev_links": device_links(self.dev_root),
            "dirs": dict((path, os.path.isdir(path)) for path in self.mount_points),
            "systemd": os.path.isdir(self.systemd_dir),
        }
