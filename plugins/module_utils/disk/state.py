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
      "md_contents": [{uuid, member, offset, signatures} or {uuid, member, error}],
                                              # what is inside arrays that are not assembled
      "lvm": None (not read) or {"pvs": [{pv_name, vg_name, pv_uuid}],
                                 "vgs": [{vg_name, vg_uuid, vg_size, vg_free}],
                                 "lvs": [{lv_name, vg_name, lv_path, size_bytes, dev,
                                          active, signatures, mountpoints[, signatures_read]}]},
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

What is inside a stack that is not running has no device node to read: the
filesystem of a stopped array or of a deactivated logical volume. Its fstab
line still names it (by UUID), and a wipe that left that line behind sent the
node to emergency mode, or let mdadm's boot-time assembly mount stale data
from a member removed long ago (issue 26, finding 3). So the collector reads
them where they lie, without assembling or activating anything: a member's
data starts at ``mdadm --examine``'s "Data Offset", a linear LV's first
extent at its PV's ``pe_start`` plus ``pvseg_start`` extents
(``pvs --segments``), and ``blkid -p -O OFFSET`` probes the filesystem there.
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
# Where each LV segment lies on its PVs: the segment that starts at the LV's first extent holds its filesystem's
# superblock (for a striped LV, the first stripe's chunk: every PV of that segment is probed).
PVSEG_FIELDS = "pv_name,pe_start,pvseg_start,vg_extent_size,lv_uuid,seg_start_pe"
DATA_OFFSET_RE = re.compile(r"^\s*Data Offset\s*:\s*(\d+)\s+sectors", re.M)


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


def command_failure(argv, rc, out, err):
    """One line saying a command failed: the command and what it printed (or its exit code)."""
    return "%s: %s" % (" ".join(argv), (err or out or "rc %d" % rc).strip())


def parse_data_offset(text):
    """Bytes from the start of a 1.x member to its data: ``mdadm --examine``'s ``Data Offset : 4096 sectors``.

    0.90 and 1.0 superblocks sit at the end of the member and print no data offset: the data starts at 0.
    """
    match = DATA_OFFSET_RE.search(text or "")
    return int(match.group(1)) * sysfs.SECTOR_BYTES if match else 0


def parse_blkid_export(text, offset=0):
    """A signature from ``blkid -p -o export``: ``{type, offset, uuid, label}``, or None without TYPE."""
    fields = {}
    for line in (text or "").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            # blkid escapes blanks and the like with a backslash (VERSION=LVM2\ 001).
            fields[key.strip()] = re.sub(r"\\(.)", r"\1", value.strip())
    if not fields.get("TYPE"):
        return None
    return {"type": fields["TYPE"], "offset": offset, "uuid": fields.get("UUID") or None,
            "label": fields.get("LABEL") or None}


def parse_unit_list(text):
    """Unit names from ``systemctl list-units --plain --no-legend`` (a failed unit's line may start with ``●``)."""
    names = []
    for line in (text or "").splitlines():
        fields = [field for field in line.split() if field != "\u25cf"]
        if fields and fields[0].endswith((".mount", ".swap")) and fields[0] not in names:
            names.append(fields[0])
    return names


def parse_systemctl_show(text):
    """``systemctl show -p ... UNIT...``: one ``{key: value}`` per unit, blocks separated by a blank line."""
    units, current = [], {}
    for line in (text or "").splitlines():
        if not line.strip():
            if current:
                units.append(current)
            current = {}
            continue
        key, sep, value = line.partition("=")
        if sep:
            current[key] = value
    if current:
        units.append(current)
    return units


def merge_units(files, loaded):
    """Unit files found in the directories, then the loaded units whose file is not among them."""
    seen = set(unit["path"] for unit in files) | set(unit.get("target") for unit in files if unit.get("target"))
    return list(files) + [unit for unit in loaded if unit["path"] not in seen]


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
    :param blkid: path of ``blkid``, to read the filesystem inside a stopped array or a deactivated LV
        (None: not read; such a filesystem is then reported unreadable).
    :param mdadm: path of ``mdadm``, for the data offset of a member of a stopped array.
    :param systemctl: path of ``systemctl``: the .mount/.swap units systemd has loaded, wherever their files lie
        (None, or systemd not running: the unit directories only).
    """

    def __init__(self, run, wipefs, lvm=None, sysfs_root="/sys", proc_root="/proc", dev_root="/dev",
                 fstab_path="/etc/fstab", mdadm_conf_path="/etc/mdadm/mdadm.conf",
                 systemd_dir="/run/systemd/system", mount_points=(), host=None, crypttab_path="/etc/crypttab",
                 unit_dirs=("/etc/systemd/system", "/run/systemd/system"), blkid=None, mdadm=None,
                 systemctl=None):
        self.run = run
        self.wipefs = wipefs
        self.lvm = lvm
        self.blkid = blkid
        self.mdadm = mdadm
        self.systemctl = systemctl
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

    def _probe(self, device, offset):
        """``(signature or None, error or None)`` of what lies at ``offset`` bytes into ``device`` (read only)."""
        if not self.blkid:
            return None, "blkid (util-linux) is not installed"
        argv = [self.blkid, "-p", "-o", "export", "-O", str(offset), device]
        rc, out, err = self.run(argv)
        if rc == 2:  # nothing identified there
            return None, None
        if rc != 0:
            return None, command_failure(argv, rc, out, err)
        return parse_blkid_export(out, offset), None

    def _md_contents(self, namespaces, arrays):
        """What is inside each array member that no running array holds (a stopped array, or a member failed and
        removed from a running one): read at the member's data offset."""
        running = set(member for array in arrays if array.get("size_bytes") for member in array.get("members") or [])
        contents = []
        for ns in namespaces:
            for dev in [ns] + list(ns.get("partitions") or []):
                if dev["name"] in running:
                    continue
                for sig in dev.get("signatures") or []:
                    uuid = conffiles.mdadm_uuid(sig.get("uuid"))
                    if sig.get("type") != "linux_raid_member" or not uuid:
                        continue
                    entry = {"uuid": uuid, "member": dev["path"]}
                    if not self.mdadm:
                        entry["error"] = "mdadm is not installed"
                    else:
                        argv = [self.mdadm, "--examine", dev["path"]]
                        rc, out, err = self.run(argv)
                        if rc != 0:
                            entry["error"] = command_failure(argv, rc, out, err)
                        else:
                            entry["offset"] = parse_data_offset(out)
                            found, error = self._probe(dev["path"], entry["offset"])
                            entry["signatures"] = [found] if found else []
                            if error:
                                entry["error"] = error
                    contents.append(entry)
        return contents

    def _inactive_lv_signatures(self, lvs):
        """Read the filesystem of each deactivated LV at its first extent on its PV(s); set ``signatures`` and
        ``signatures_read`` (where it was read) or ``signatures_error``."""
        inactive = dict((lv["lv_uuid"], lv) for lv in lvs if not lv["active"] and lv.get("lv_uuid"))
        if not inactive:
            return
        try:
            argv = [self.lvm["pvs"], "--segments"] + LVM_COMMON + ["-o", PVSEG_FIELDS]
            rc, out, err = self.run(argv)
            if rc != 0:
                raise DiskCommandError("pvs --segments failed: %s" % (err or out or "no output").strip(), cmd=argv,
                                       rc=rc, stdout=out, stderr=err, component="lvm2")
            rows = parse_lvm_report(out, "pvseg", "pvs --segments")
        except DiskError as exc:
            for lv in inactive.values():
                lv["signatures_error"] = str(exc)
            return
        for row in rows:
            lv = inactive.get(row.get("lv_uuid"))
            if lv is None or _int(row.get("seg_start_pe"), -1) != 0:
                continue
            offset = _int(row.get("pe_start"), 0) + _int(row.get("pvseg_start"), 0) * _int(row.get("vg_extent_size"), 0)
            found, error = self._probe(row["pv_name"], offset)
            if found and found not in lv["signatures"]:
                lv["signatures"].append(found)
                lv["signatures_read"] = "%s at offset %d" % (row["pv_name"], offset)
            if error:
                lv["signatures_error"] = error

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
        self._inactive_lv_signatures(lvs)
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

    def _loaded_units(self):
        """The .mount and .swap units systemd has loaded (``systemctl list-units --all``), with their ``What=``:
        the ground truth of what it would mount or swap on, wherever the file lies (/etc, /run, /usr/lib).
        Units made from /etc/fstab by its generator are left out: their fstab lines are references already."""
        if not self.systemctl or not os.path.isdir(self.systemd_dir):
            return []

        def read(argv):
            rc, out, err = self.run(argv)
            if rc != 0:
                self.warnings.append("%s failed (%s): only the unit files in %s were read" % (
                    " ".join(argv[:4]), (err or out).strip(), ", ".join(self.unit_dirs)))
                return None
            return out

        out = read([self.systemctl, "list-units", "--all", "--type=mount,swap", "--plain", "--no-legend",
                    "--no-pager"])
        names = parse_unit_list(out)
        if not names:
            return []
        out = read([self.systemctl, "show", "--no-pager", "--property=Id,What,FragmentPath,SourcePath", "--"] + names)
        if out is None:
            return []
        units = []
        for unit in parse_systemctl_show(out):
            source, fragment = unit.get("SourcePath") or "", unit.get("FragmentPath") or ""
            # No file: a mount made by hand (its source is mountinfo); the disk is in use and refused as such.
            if not unit.get("What") or not fragment or source == self.fstab_path \
                    or fragment.startswith("/run/systemd/generator"):
                continue
            units.append({"path": fragment or unit.get("Id"), "what": unit["What"], "loaded": unit.get("Id")})
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
            "md_contents": self._md_contents(nvme["namespaces"], arrays),
            "lvm": self._read_lvm(mountinfo) if self.lvm else None,
            "mounts": [{"mountpoint": m["mountpoint"], "source": m["source"], "dev": m["dev"], "fstype": m["fstype"]}
                       for m in mountinfo],
            "fstab": read_text_file(self.fstab_path) or "",
            "mdadm_conf": read_text_file(self.mdadm_conf_path),
            "mdadm_conf_path": self.mdadm_conf_path,
            "crypttab": read_text_file(self.crypttab_path) or "",
            "units": merge_units(self._units(), self._loaded_units()),
            "dev_links": device_links(self.dev_root),
            "dirs": dict((path, os.path.isdir(path)) for path in self.mount_points),
            "systemd": os.path.isdir(self.systemd_dir),
        }
