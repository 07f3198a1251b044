# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Plan NVMe storage: current state + desired volumes -> ordered steps, or a LayoutError.

Pure: no I/O, no clock, UUIDs come from the ``new_uuid`` callable. The input
state is what :class:`.state.StorageStateCollector` returns (the namespaces
exactly as ``nvme_facts`` reports them); :mod:`.apply` executes the steps.

Rules, all checked before any step is planned (every problem is reported at
once in one :class:`LayoutError`):

* Disks are chosen by serial (``SERIAL`` or, on a controller with several
  namespaces, ``SERIAL/NSID``) or by ``model_pattern`` (shell glob on the
  model) + ``count``; never by ``/dev`` name. A disk claimed by two volumes,
  a serial that is not there, a mount point used twice, too few disks for the
  RAID level, RAID disks of different sizes (unless ``allow_mixed_sizes``) are
  errors.
* Safe mode: a disk with partitions, a signature, a holder or a mount is
  refused, naming the disk, its serial and what is on it, unless its serial
  is in ``wipe_allowlist`` and ``wipe`` is true; then it is wiped first
  (``wipefs --all``), provided nothing uses it right now (mounted, held by an
  md/dm device, active swap): that has to be stopped by hand.
* What the layout itself would create is not a conflict but "already done":
  a member of our array (``linux_raid_member`` labelled ``<host>:<name>``), a
  PV of our volume group, our filesystem (same type, and our label or the
  UUID our fstab line mounts).

* Before a wipe, every reference to the disk and to what is on it (fstab by
  UUID, LABEL, PARTUUID, path or by-id link; mdadm.conf; crypttab; systemd
  .mount/.swap units; the LVs of its volume group) is found
  (:mod:`.references`): fstab and mdadm.conf lines are removed by planned,
  shown steps, so that the next boot does not wait for a filesystem that is
  gone; crypttab lines, units and a volume group that also lives on other
  disks are refused, naming them.

Step phases, in this order: unref (remove references to wiped disks), wipe,
create (mdadm/LVM/mkfs), persist (mdadm.conf), fstab, reload (systemd),
mount (mkdir + mount), initramfs.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shlex
import uuid as uuid_mod

from ansible_collections.baremetal.mlops.plugins.module_utils.disk import conffiles
from ansible_collections.baremetal.mlops.plugins.module_utils.disk import references as refs_mod
from ansible_collections.baremetal.mlops.plugins.module_utils.disk.exceptions import LayoutError

VOLUME_TYPES = ("filesystem", "raid", "lvm")
FS_TYPES = ("xfs", "ext4")
RAID_LEVELS = (0, 1, 10)
RAID_MIN_DISKS = {0: 2, 1: 2, 10: 4}
FS_LABEL_MAX = {"xfs": 12, "ext4": 16}
FSTAB_PASSNO = {"xfs": 0, "ext4": 2}
DEFAULT_FS_TYPE = "xfs"
DEFAULT_MOUNT_OPTIONS = "defaults,noatime"
MD_METADATA = "1.2"
MD_NAME_FIELD = 32
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")
LV_SIZE_RE = re.compile(r"^(\d+(?:\.\d+)?)([bBsSkKmMgGtTpPeE]?)$")
LV_EXTENTS_RE = re.compile(r"^(\d+)%(FREE|VG|PVS)$", re.IGNORECASE)
SIZE_UNITS = {"b": 1, "s": 512, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50, "e": 1 << 60}
LVM_EXTENT_SLACK = 4 << 20
# What a new physical volume loses to its metadata area (1 MiB) and extent rounding (4 MiB at most).
LVM_PV_OVERHEAD = 5 << 20
PHASES = ("unref", "wipe", "create", "persist", "fstab", "reload", "mount", "initramfs")
PUBLIC_STEP_KEYS = ("action", "volume", "device", "serial", "detail", "command")


# -- small helpers ---------------------------------------------------------------------


def md_label(host, name):
    """The array name mdadm stores for ``--homehost=host --name=name`` (super1.c: ``host:name`` if < 32 bytes)."""
    if host and ":" not in name and len(host) + 1 + len(name) < MD_NAME_FIELD:
        return "%s:%s" % (host, name)
    return name[:MD_NAME_FIELD - 1]


def md_device(name):
    return "/dev/md/%s" % name


def lv_device(vg_name, lv_name):
    return "/dev/%s/%s" % (vg_name, lv_name)


def lv_size_bytes(size):
    """Bytes of an absolute lvcreate ``-L`` size (MiB without a unit), None for ``%`` sizes."""
    match = LV_SIZE_RE.match(size or "")
    if not match:
        return None
    return int(float(match.group(1)) * SIZE_UNITS[(match.group(2) or "m").lower()])


def disk_name(ns):
    return "%s (serial %s)" % (ns["path"], ns["serial"])


def _sort_key(ns):
    return (ns.get("serial") or "", ns.get("nsid") or 0)


def drive_of(ns):
    """The physical drive a namespace lives on: its NVMe subsystem (one per drive, shared by the controllers of a
    multipath drive), else its first controller. Two namespaces of one drive fail together."""
    return ns.get("subsystem") or (ns.get("controllers") or [None])[0] or ns.get("path")


REDUNDANT_LEVELS = (1, 10)


def _sig_types(signatures):
    types = []
    for sig in signatures or []:
        if sig.get("type") not in types:
            types.append(sig.get("type"))
    return types


def _single_signature(signatures, sig_type=None):
    """The one signature on a device (of ``sig_type`` when given), or None."""
    sigs = signatures or []
    if len(sigs) != 1:
        return None
    if sig_type is not None and sigs[0].get("type") != sig_type:
        return None
    return sigs[0]


def _command(argv):
    return " ".join(shlex.quote(str(arg)) for arg in argv) if argv else None


def new_step(phase, action, volume, device=None, serial=None, detail="", argv=None, **params):
    """A plan step: the public keys (:data:`PUBLIC_STEP_KEYS`) plus ``phase``, ``argv`` and ``params`` for apply."""
    return {
        "phase": phase,
        "action": action,
        "volume": volume,
        "device": device,
        "serial": serial,
        "detail": detail,
        "command": _command(argv),
        "argv": list(argv) if argv else None,
        "params": params,
    }


def public_step(step):
    """What a user sees of a step: action, volume, device, serial, detail, command."""
    return dict((key, step.get(key)) for key in PUBLIC_STEP_KEYS)


# -- desired layout --------------------------------------------------------------------


def _clean(value):
    return value.strip() if isinstance(value, str) else value


def normalize_volumes(volumes):
    """Fill defaults of the desired volumes (the module's argspec does the same for module input)."""
    result = []
    for raw in volumes or []:
        vol = dict(raw or {})
        disks = dict(vol.get("disks") or {})
        vol["disks"] = {
            "serials": [_clean(s) for s in disks.get("serials") or []],
            "model_pattern": disks.get("model_pattern"),
            "count": disks.get("count"),
        }
        vol["fs_type"] = vol.get("fs_type") or DEFAULT_FS_TYPE
        vol["mount_options"] = vol.get("mount_options") or DEFAULT_MOUNT_OPTIONS
        vol["mount_point"] = vol.get("mount_point") or None
        vol["fs_label"] = vol.get("fs_label") or None
        vol["allow_mixed_sizes"] = bool(vol.get("allow_mixed_sizes"))
        vol.setdefault("raid_level", None)
        lvs = []
        for raw_lv in vol.get("lvs") or []:
            lv = dict(raw_lv or {})
            lv["size"] = str(lv.get("size") or "").strip()
            lv["fs_type"] = lv.get("fs_type") or vol["fs_type"]
            lv["mount_options"] = lv.get("mount_options") or DEFAULT_MOUNT_OPTIONS
            lv["mount_point"] = lv.get("mount_point") or None
            lv["fs_label"] = lv.get("fs_label") or None
            lvs.append(lv)
        vol["lvs"] = lvs
        result.append(vol)
    return result


def fs_label(item, name):
    """The label a filesystem gets: ``fs_label``, else the volume (or LV) name."""
    return item.get("fs_label") or name


def mount_points(volumes):
    """Every mount point of the desired volumes (volumes and their LVs)."""
    result = []
    for vol in volumes:
        for item in [vol] + list(vol.get("lvs") or []):
            if item.get("mount_point"):
                result.append(os.path.normpath(item["mount_point"]))
    return result


# Mount points refused: the system's own directories, and everything under the kernel's and the system's
# (/var/lib/<service> and /var/log stay allowed: data disks are mounted there).
SYSTEM_DIRS = ("/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/proc", "/root", "/run", "/sbin", "/sys",
               "/usr", "/var", "/var/lib")
SYSTEM_TREES = ("/boot", "/dev", "/etc", "/proc", "/run", "/sys", "/usr")


def _system_path(mount_point):
    """The system directory a mount point is or lies under (None when it is allowed)."""
    path = os.path.normpath(mount_point)
    if path in SYSTEM_DIRS:
        return path
    return next((tree for tree in SYSTEM_TREES if path.startswith(tree + "/")), None)


def _check_fs(where, item, name, problems):
    fs_type = item.get("fs_type")
    label = fs_label(item, name)
    if fs_type not in FS_TYPES:
        # The rest of the entry is still checked: every problem in one run.
        problems.append("%s: fs_type %r is not one of %s" % (where, fs_type, ", ".join(FS_TYPES)))
    elif len(label) > FS_LABEL_MAX[fs_type]:
        if item.get("fs_label"):
            problems.append("%s: fs_label %r is longer than the %d characters %s allows" % (
                where, label, FS_LABEL_MAX[fs_type], fs_type))
        else:
            problems.append("%s: the name %r is too long to be the default %s label (%d characters at most): "
                            "set fs_label" % (where, label, fs_type, FS_LABEL_MAX[fs_type]))
    if " " in label:
        problems.append("%s: fs_label %r has a blank" % (where, label))
    options = item.get("mount_options") or ""
    if not options or any(ch.isspace() for ch in options):
        problems.append("%s: mount_options %r must be one comma-separated word" % (where, options))
    mount_point = item.get("mount_point")
    if mount_point is not None:
        if not mount_point.startswith("/") or os.path.normpath(mount_point) == "/":
            problems.append("%s: mount_point %r must be an absolute path other than /" % (where, mount_point))
        elif "$" in mount_point or "~" in mount_point:
            problems.append("%s: mount_point %r has a $ or ~: it is taken as written, not expanded; give the "
                            "path itself" % (where, mount_point))
        elif any(part in (".", "..") for part in mount_point.split("/")) or "//" in mount_point:
            problems.append("%s: mount_point %r has a '.' or '..' component or a double slash: it would mount at "
                            "%s. Fix: give the path as it is meant, without them" % (
                                where, mount_point, os.path.normpath(mount_point)))
        elif _system_path(mount_point):
            problems.append("%s: mount_point %r is a directory of the operating system (%s): a filesystem mounted "
                            "there hides what the node runs from. Fix: use a path under /srv, /data, /mnt or "
                            "/var/lib/<service>" % (where, mount_point, _system_path(mount_point)))


def validate_layout(volumes):
    """Problems of the desired layout alone (no host state): list of sentences."""
    problems = []
    names = {}
    mounts = {}
    for index, vol in enumerate(volumes):
        name = vol.get("name") or ""
        where = "volume %s" % (name or "#%d" % (index + 1))
        if not NAME_RE.match(name):
            problems.append("%s: name must be 1-32 of A-Z a-z 0-9 _ . - starting with a letter or digit" % where)
        if name in names:
            problems.append("%s: the name is used by two volumes" % where)
        names[name] = True
        vtype = vol.get("type")
        if vtype not in VOLUME_TYPES:
            problems.append("%s: type %r is not one of %s" % (where, vtype, ", ".join(VOLUME_TYPES)))
            continue
        disks = vol["disks"]
        serials, pattern, count = disks["serials"], disks["model_pattern"], disks["count"]
        if serials and pattern:
            problems.append("%s: choose disks by serials or by model_pattern + count, not both" % where)
        elif not serials and not pattern:
            problems.append("%s: disks needs serials, or model_pattern and count" % where)
        elif pattern and (not isinstance(count, int) or count < 1):
            problems.append("%s: model_pattern needs count (a number of disks, 1 or more)" % where)
        elif serials and len(set(serials)) != len(serials):
            problems.append("%s: a serial is listed twice in disks.serials" % where)
        elif serials and count is not None:
            problems.append("%s: count goes with model_pattern, not with serials" % where)
        wanted = len(serials) if serials else (count if isinstance(count, int) else 0)
        if vtype == "filesystem" and wanted not in (0, 1):
            problems.append("%s: a filesystem volume takes exactly one disk, not %d (use raid or lvm for more)" % (
                where, wanted))
        if vtype == "raid":
            level = vol.get("raid_level")
            if level not in RAID_LEVELS:
                problems.append("%s: raid_level %r is not one of 0, 1, 10" % (where, level))
            elif wanted and wanted < RAID_MIN_DISKS[level]:
                problems.append("%s: RAID%d needs at least %d disks, the layout gives %d" % (
                    where, level, RAID_MIN_DISKS[level], wanted))
            elif level == 10 and wanted % 2:
                problems.append("%s: RAID10 needs an even number of disks, the layout gives %d" % (where, wanted))
        elif vol.get("raid_level") is not None:
            problems.append("%s: raid_level is only for type raid" % where)
        if vtype == "lvm":
            if vol.get("mount_point") or vol.get("fs_label"):
                problems.append("%s: an lvm volume mounts its lvs: set mount_point and fs_label on each entry "
                                "of lvs" % where)
            if not vol["lvs"]:
                problems.append("%s: an lvm volume needs lvs (one logical volume per entry)" % where)
            lv_names = {}
            for lv_index, lv in enumerate(vol["lvs"]):
                lv_name = lv.get("name") or ""
                lv_where = "%s lv %s" % (where, lv_name or "#%d" % (lv_index + 1))
                if not NAME_RE.match(lv_name):
                    problems.append("%s: name must be 1-32 of A-Z a-z 0-9 _ . - starting with a letter or digit"
                                    % lv_where)
                if lv_name in lv_names:
                    problems.append("%s: the name is used by two lvs" % lv_where)
                lv_names[lv_name] = True
                if not (LV_SIZE_RE.match(lv["size"]) or LV_EXTENTS_RE.match(lv["size"])):
                    problems.append("%s: size %r is neither a size (10G, 512M) nor a share (100%%FREE, 50%%VG)"
                                    % (lv_where, lv["size"]))
                _check_fs(lv_where, lv, lv_name, problems)
                if lv.get("mount_point"):
                    mounts.setdefault(os.path.normpath(lv["mount_point"]), []).append(lv_where)
        else:
            if vol["lvs"]:
                problems.append("%s: lvs is only for type lvm" % where)
            _check_fs(where, vol, name, problems)
            if vol.get("mount_point"):
                mounts.setdefault(os.path.normpath(vol["mount_point"]), []).append(where)
    for mount_point, users in sorted(mounts.items()):
        if len(users) > 1:
            problems.append("mount point %s is used twice: by %s" % (mount_point, " and ".join(users)))
    return problems


# -- the planner -----------------------------------------------------------------------


class _Planner(object):
    def __init__(self, state, volumes, wipe, wipe_allowlist, mdadm_conf, update_initramfs, new_uuid):
        self.state = state
        self.host = state.get("host") or ""
        self.volumes = volumes
        self.wipe = wipe
        self.allowlist = set(s.strip() for s in wipe_allowlist or [])
        self.mdadm_conf_path = mdadm_conf
        self.update_initramfs = update_initramfs
        self.new_uuid = new_uuid
        self.problems = []
        self.warnings = []
        self.steps = []
        self.claims = {}
        self.why = {}
        self.fstab = state.get("fstab") or ""
        self.mdadm_conf = state.get("mdadm_conf")
        self.predicted = []
        self.namespaces = sorted(state.get("namespaces") or [], key=_sort_key)
        self.by_serial = {}
        for ns in self.namespaces:
            self.by_serial.setdefault(ns.get("serial"), []).append(ns)
        self.controller_address = dict((c.get("name"), c.get("address")) for c in state.get("controllers") or [])
        self.controller_root = dict((c.get("name"), c.get("pci_root")) for c in state.get("controllers") or [])

    # -- lookups -------------------------------------------------------------------

    def _present_serials(self):
        present = ["%s (%s)" % (serial, ", ".join(ns["path"] for ns in nss))
                   for serial, nss in sorted(self.by_serial.items(), key=lambda item: item[0] or "")]
        empty = sorted(c["serial"] for c in self.state.get("controllers") or []
                       if not c.get("namespaces") and c.get("serial") not in self.by_serial)
        text = "serials present: %s" % (", ".join(present) or "none")
        if empty:
            text += "; controllers without namespaces: %s" % ", ".join(empty)
        return text

    def _pci(self, ns):
        return self.controller_address.get((ns.get("controllers") or [None])[0])

    def _identify(self, ns):
        """Names that name this namespace and no other, for messages: wwid, nguid, PCI address/nsid.

        A cloned drive often clones its wwid too (qemu derives it from serial and model): only names that
        match exactly one namespace are offered."""
        names = ["%s:%s" % (kind, ns[kind]) for kind in ("wwid", "nguid", "uuid") if ns.get(kind)]
        if self._pci(ns):
            names.append("pci:%s/%s" % (self._pci(ns), ns.get("nsid")))
        names = [name for name in names if self.matches(name) == [ns]]
        return " or ".join(names) or "no unambiguous name (wwid, nguid, uuid, PCI address) is known"

    def matches(self, entry):
        """Namespaces a disk entry names: ``SERIAL``, ``SERIAL/NSID``, ``wwid:``, ``nguid:``, ``uuid:`` or
        ``pci:ADDRESS[/NSID]`` (the controller's PCI address)."""
        kind, sep, value = entry.partition(":")
        if sep and kind in ("wwid", "nguid", "uuid"):
            return [ns for ns in self.namespaces if (ns.get(kind) or "").lower() == value.lower()]
        if sep and kind == "pci":
            address, _sep, nsid = value.partition("/")
            return [ns for ns in self.namespaces if self._pci(ns) == address and (not nsid or str(ns.get("nsid")) == nsid)]
        if entry in self.by_serial:
            return list(self.by_serial[entry])
        serial, sep, nsid = entry.rpartition("/")
        if sep and nsid.isdigit() and serial in self.by_serial:
            return [ns for ns in self.by_serial[serial] if ns.get("nsid") == int(nsid)]
        return []

    def _ambiguity(self, entry, found):
        """A problem text when ``found`` (what ``entry`` matches) is more than one namespace, or None."""
        if len(found) < 2:
            return None
        drives = sorted(set(drive_of(ns) for ns in found))
        if len(drives) > 1:
            return ("%s names %d different drives (%s): they report one serial (cloned or buggy firmware), so it "
                    "cannot tell them apart. Fix: name the one you mean by %s" % (
                        entry, len(drives), ", ".join(drives), "; or ".join(
                            "%s: %s" % (ns["path"], self._identify(ns)) for ns in found)))
        return "serial %s has %d namespaces (%s): name one as %s/NSID" % (
            entry, len(found), ", ".join("%s nsid %s" % (ns["path"], ns["nsid"]) for ns in found), entry)

    def _lookup(self, where, entry):
        """The namespace a disk entry names (see :meth:`matches`), or None with a problem recorded."""
        found = self.matches(entry)
        if len(found) == 1:
            return found[0]
        if found:
            self.problems.append("%s: %s" % (where, self._ambiguity(entry, found)))
            return None
        serial, sep, nsid = entry.rpartition("/")
        if sep and nsid.isdigit() and serial in self.by_serial:
            self.problems.append("%s: serial %s has no namespace %s (it has nsid %s)" % (
                where, serial, nsid, ", ".join(str(ns["nsid"]) for ns in self.by_serial[serial])))
            return None
        self.problems.append("%s: no NVMe namespace with serial %s on %s; %s" % (
            where, entry, self.host, self._present_serials()))
        return None

    def _check_allowlist(self):
        """A wipe_allowlist entry that names several drives would allow wiping a disk nobody picked."""
        for entry in sorted(self.allowlist):
            found = self.matches(entry)
            if len(set(drive_of(ns) for ns in found)) > 1:
                self.problems.append("wipe_allowlist: %s" % self._ambiguity(entry, found))

    def _md_arrays(self):
        return self.state.get("md_arrays") or []

    def _array_by_uuid(self, uuid):
        wanted = conffiles.mdadm_uuid(uuid)
        for array in self._md_arrays():
            if wanted and conffiles.mdadm_uuid(array.get("uuid")) == wanted:
                return array
        return None

    def _array_of_members(self, names):
        for array in self._md_arrays():
            if set(names) & set(array.get("members") or []):
                return array
        return None

    def _lvm(self):
        return self.state.get("lvm") or {"pvs": [], "vgs": [], "lvs": []}

    def _fstab_uuid(self, mount_point):
        if not mount_point:
            return None
        return conffiles.fstab_uuid(conffiles.fstab_entry(self.state.get("fstab") or "", os.path.normpath(mount_point)))

    # -- what is on a disk -----------------------------------------------------------

    def _raid_uuid(self, ns, vol):
        """Array UUID when the disk is a member of this volume's array (our label), else None."""
        if ns.get("partitions"):
            return None
        sig = _single_signature(ns.get("signatures"), "linux_raid_member")
        if sig is None or sig.get("label") not in (md_label(self.host, vol["name"]), vol["name"]):
            return None
        holders = ns.get("holders") or []
        if len(holders) > 1 or (holders and not holders[0].startswith("md")):
            return None
        return sig.get("uuid")

    def _is_our_pv(self, ns, vol):
        if ns.get("partitions") or _single_signature(ns.get("signatures"), "LVM2_member") is None:
            return False
        return any(pv.get("pv_name") == ns["path"] and pv.get("vg_name") == vol["name"] for pv in self._lvm()["pvs"])

    def _our_fs(self, signatures, item, name):
        """The fs signature if it is the filesystem this item would create (type + label or fstab UUID)."""
        sig = _single_signature(signatures, item["fs_type"])
        if sig is None:
            return None
        if sig.get("label") == fs_label(item, name):
            return sig
        fstab_uuid = self._fstab_uuid(item.get("mount_point"))
        if fstab_uuid and (sig.get("uuid") or "").lower() == fstab_uuid:
            return sig
        return None

    def _classify(self, ns, vol):
        """``ours`` (what the layout creates is there), ``free`` or ``busy``."""
        if vol["type"] == "filesystem":
            if not ns.get("partitions") and not ns.get("holders") and self._our_fs(ns.get("signatures"), vol, vol["name"]):
                return "ours"
        elif vol["type"] == "raid":
            if self._raid_uuid(ns, vol):
                return "ours"
        elif vol["type"] == "lvm" and self._is_our_pv(ns, vol):
            return "ours"
        return "busy" if ns.get("in_use") else "free"

    def _allowlisted(self, ns):
        return any(ns in self.matches(entry) for entry in self.allowlist)

    @staticmethod
    def _active_use(ns):
        """What keeps a disk busy right now (mounts, holders, swap), on it or its partitions."""
        found = []
        for dev in [ns] + list(ns.get("partitions") or []):
            for mount_point in dev.get("mountpoints") or []:
                found.append("%s mounted at %s" % (dev["name"], mount_point))
            for holder in dev.get("holders") or []:
                found.append("%s held by %s" % (dev["name"], holder))
        # mounts through holders come with a holder (listed above); swap only shows in the reasons
        found.extend(reason for reason in ns.get("in_use_reasons") or [] if "active swap" in reason)
        return found

    def _decide(self, vol, ns):
        """``ours``, ``free``, ``wipe``, or None when the disk is refused (problem recorded)."""
        kind = self._classify(ns, vol)
        if kind in ("ours", "free"):
            return kind
        where = "volume %s" % vol["name"]
        reasons = "; ".join(ns.get("in_use_reasons") or ["in use"])
        if self._allowlisted(ns) and self.wipe:
            active = self._active_use(ns)
            if active:
                # Name what uses it, not only the kernel's holder (dm-1 says nothing of a crypttab line).
                named = ["%s: %s" % (ref["file"], ref["line"]) for ref in refs_mod.references(ns, self.state)]
                self.problems.append(
                    "%s: disk %s on %s is allowlisted for wiping but in use right now: %s%s. Fix: unmount it, stop "
                    "the md/LVM devices on it and turn its swap off by hand, then run again" % (
                        where, disk_name(ns), self.host, "; ".join(active),
                        " (what names it: %s)" % "; ".join(named) if named else ""))
                # And what stopping them would not make safe: a group or array that reaches past the allowlist.
                allowlisted = [other["path"] for other in self.state.get("namespaces") or [] if self._allowlisted(other)]
                self.problems.extend(self._span_problems(where, ns, allowlisted))
                return None
            return "wipe"
        active = self._active_use(ns)
        first = ("it is in use right now (%s): unmount it, stop the md/LVM devices on it and turn its swap off by "
                 "hand first; then " % "; ".join(active)) if active else ""
        if self._allowlisted(ns):
            fix = first + "its serial is in wipe_allowlist: set wipe: true to erase it"
        elif self.wipe:
            fix = first + "wipe is true but serial %s is not in wipe_allowlist: add it to erase the disk" % ns["serial"]
        else:
            fix = "use another disk, or %sadd serial %s to wipe_allowlist and set wipe: true to erase it" % (
                first, ns["serial"])
        self.problems.append("%s: disk %s on %s is in use: %s. Safe mode refuses to touch it. Fix: %s" % (
            where, disk_name(ns), self.host, reasons, fix))
        return None

    # -- disk selection ----------------------------------------------------------------

    def _claim(self, vol, ns):
        other = self.claims.get(ns["path"])
        if other is not None and other != vol["name"]:
            self.problems.append("disk %s is claimed by volume %s and volume %s: a disk belongs to one volume" % (
                disk_name(ns), other, vol["name"]))
            return False
        self.claims[ns["path"]] = vol["name"]
        return True

    @staticmethod
    def _wanted(vol):
        """How many disks the volume names (its serials, or model_pattern's count)."""
        return len(vol["disks"]["serials"]) if vol["disks"]["serials"] else vol["disks"]["count"]

    def _select_serials(self, vol):
        where = "volume %s" % vol["name"]
        chosen = []
        for entry in vol["disks"]["serials"]:
            ns = self._lookup(where, entry)
            if ns is not None and self._claim(vol, ns):
                chosen.append(ns)
        return chosen

    def _select_model(self, vol):
        pattern, count = vol["disks"]["model_pattern"], vol["disks"]["count"]
        ranked = {"ours": [], "free": [], "wipe": []}
        rejected = []
        for ns in self.namespaces:
            if not fnmatch.fnmatchcase(ns.get("model") or "", pattern):
                continue
            if ns["path"] in self.claims:
                rejected.append("%s claimed by volume %s" % (disk_name(ns), self.claims[ns["path"]]))
                continue
            if ns.get("read_only"):
                rejected.append("%s read only" % disk_name(ns))
                continue
            kind = self._classify(ns, vol)
            if kind == "busy" and self._allowlisted(ns) and self.wipe and not self._active_use(ns):
                kind = "wipe"
            if kind == "busy":
                rejected.append("%s in use: %s" % (disk_name(ns), "; ".join(ns.get("in_use_reasons") or [])))
                continue
            ranked[kind].append(ns)
        if len(ranked["ours"]) > count:
            self.problems.append("volume %s: already has %d disks (%s), count is %d; taking disks out of a volume is "
                                 "not supported" % (vol["name"], len(ranked["ours"]),
                                                    ", ".join(disk_name(ns) for ns in ranked["ours"]), count))
            return []
        redundant = vol["type"] == "raid" and vol.get("raid_level") in REDUNDANT_LEVELS
        chosen = self._pick(ranked, count, redundant)
        if redundant and len(chosen) < count:
            same = [ns for ns in ranked["free"] + ranked["wipe"] if ns not in chosen]
            rejected.extend("%s on drive %s, which already holds a member" % (disk_name(ns), drive_of(ns))
                            for ns in same)
        if len(chosen) < count:
            self.problems.append(
                "volume %s: model_pattern %r finds %d usable disk(s) on %s, count is %d; usable: %s; not usable: %s"
                % (vol["name"], pattern, len(chosen), self.host, count,
                   ", ".join(disk_name(ns) for ns in chosen) or "none", "; ".join(rejected) or "none"))
            return []
        for ns in chosen:
            self._claim(vol, ns)
        self.why[vol["name"]] = dict((ns["path"], self._why(ns, ranked, chosen, redundant)) for ns in chosen)
        return sorted(chosen, key=_sort_key)

    @staticmethod
    def _pick(ranked, count, redundant):
        """Members for a model_pattern volume: ours first; then free disks before wipeable ones, each on a drive no
        member is on yet, of one size (the largest that gives enough), larger first. Without redundancy a drive may
        give several members once distinct drives run out."""
        candidates = ranked["free"] + ranked["wipe"]
        sizes = sorted(set(ns.get("size_bytes") or 0 for ns in candidates), reverse=True) or [0]
        first = None
        for size in sizes:
            ordered = sorted(candidates, key=lambda ns, size=size: (
                ns in ranked["wipe"], (ns.get("size_bytes") or 0) != size, -(ns.get("size_bytes") or 0), _sort_key(ns)))
            chosen = list(ranked["ours"])
            used = set(drive_of(ns) for ns in chosen)
            for ns in ordered:
                if len(chosen) < count and drive_of(ns) not in used:
                    chosen.append(ns)
                    used.add(drive_of(ns))
            if not redundant:
                chosen += [ns for ns in ordered if ns not in chosen][:count - len(chosen)]
            if len(chosen) == count and len(set(ns.get("size_bytes") for ns in chosen)) == 1:
                return chosen
            first = first or chosen
        return first

    @staticmethod
    def _why(ns, ranked, chosen, redundant):
        if ns in ranked["ours"]:
            return "already a member of the volume"
        parts = ["allowlisted for wiping" if ns in ranked["wipe"] else "free",
                 "%d bytes" % (ns.get("size_bytes") or 0)]
        if redundant or len(set(drive_of(n) for n in chosen)) == len(chosen):
            parts.append("on drive %s, which no other member is on" % drive_of(ns))
        else:
            parts.append("on drive %s" % drive_of(ns))
        return ", ".join(parts)

    # -- steps -------------------------------------------------------------------------

    def _add(self, *args, **kwargs):
        step = new_step(*args, **kwargs)
        self.steps.append(step)
        return step

    def _check_references(self, vol, ns, wiped_paths):
        """Refuse what a wipe would leave dangling and cannot be removed safely; return the removable references."""
        where = "volume %s" % vol["name"]
        found = refs_mod.references(ns, self.state)
        for ref in found:
            if ref["kind"] in ("crypttab", "unit"):
                self.problems.append(
                    "%s: disk %s on %s is allowlisted for wiping, but %s still uses %s (%s): after the wipe it "
                    "would wait for a device that is gone. Fix: remove that %s by hand (close the mapping, disable "
                    "the unit), then run again" % (where, disk_name(ns), self.host, ref["file"], ref["what"],
                                                   ref["line"], "line" if ref["kind"] == "crypttab" else "unit"))
        self.problems.extend(self._span_problems(where, ns, wiped_paths))
        return [ref for ref in found if ref["kind"] in ("fstab", "mdadm_conf")]

    def _span_problems(self, where, ns, wiped_paths):
        """Stacks on the disk that also live on disks not being wiped (or that cannot be told): one problem each."""
        problems = []
        for vg, others in refs_mod.lvm_spans(ns, self.state, wiped_paths):
            problems.append(
                "%s: disk %s on %s is a physical volume of volume group %s, which also lives on %s: wiping it "
                "destroys every logical volume that spans them. Fix: remove the group by hand (vgremove) or "
                "allowlist and wipe all its disks" % (where, disk_name(ns), self.host, vg, ", ".join(others)))
        for array, others in refs_mod.md_spans(ns, self.state, wiped_paths):
            problems.append(
                "%s: disk %s on %s is a member of md array %s, which also has members on %s (a member removed "
                "from the array keeps its superblock, and the next boot may assemble the array from it with "
                "stale data): wiping this one alone leaves the array behind. Fix: stop the array and erase its "
                "superblock on every member by hand (mdadm --zero-superblock), or allowlist and wipe them all" % (
                    where, disk_name(ns), self.host, array, ", ".join(others)))
        for what in refs_mod.unreadable(ns, self.state):
            problems.append(
                "%s: disk %s on %s holds %s, which could not be read, so the fstab, crypttab and unit lines that "
                "name it cannot be found before the wipe. Fix: install mdadm and util-linux (blkid), or assemble "
                "the array / activate the volume group, then run again" % (where, disk_name(ns), self.host, what))
        if refs_mod.lvm_unknown(ns, self.state):
            problems.append(
                "%s: disk %s on %s carries an LVM physical volume signature, but lvm2 is not installed, so the "
                "volume group it belongs to (and whether it spans other disks) cannot be read. Fix: install "
                "lvm2, then run again" % (where, disk_name(ns), self.host))
        return problems

    def _unref_steps(self, vol, ns, found):
        for ref in found:
            if ref["kind"] == "fstab":
                self.fstab, changed = conffiles.remove_fstab_lines(self.fstab, [ref["line"]])
                if changed:
                    self._add("unref", "fstab_remove", vol["name"], ns["path"], ns["serial"],
                              "remove from /etc/fstab the line for %s, which the wipe erases: %s" % (
                                  ref["what"], ref["line"]), None, line=ref["line"])
            else:
                self.mdadm_conf, changed = conffiles.remove_array(self.mdadm_conf, ref["uuid"])
                if changed:
                    self._add("unref", "mdadm_conf_remove", vol["name"], ns["path"], ns["serial"],
                              "remove from %s the ARRAY line of %s, which the wipe erases: %s" % (
                                  self.mdadm_conf_path, ref["what"], ref["line"]), None,
                              path=self.mdadm_conf_path, uuid=ref["uuid"])

    def _wipe_steps(self, vol, ns):
        for part in sorted(ns.get("partitions") or [], key=lambda p: p.get("number") or 0, reverse=True):
            self._add("wipe", "wipefs", vol["name"], part["path"], ns["serial"],
                      "erase the signatures of partition %s: %s" % (
                          part["name"], "; ".join(part.get("in_use_reasons") or ["none"])),
                      ["wipefs", "--all", part["path"]])
        self._add("wipe", "wipefs", vol["name"], ns["path"], ns["serial"],
                  "erase every signature on the disk (allowlisted, wipe: true): %s" % "; ".join(
                      ns.get("in_use_reasons") or ["none"]),
                  ["wipefs", "--all", ns["path"]])

    def _mkfs(self, vol_name, device, serial, item, name, check_blank=True):
        fs_uuid = str(self.new_uuid())
        label = fs_label(item, name)
        if item["fs_type"] == "xfs":
            argv = ["mkfs.xfs", "-L", label, "-m", "uuid=%s" % fs_uuid, device]
        else:
            argv = ["mkfs.ext4", "-L", label, "-U", fs_uuid, device]
        self._add("create", "mkfs", vol_name, device, serial,
                  "create an %s filesystem labelled %s with UUID %s" % (item["fs_type"], label, fs_uuid), argv,
                  fs_type=item["fs_type"], uuid=fs_uuid, devices=[device] if check_blank else [])
        return fs_uuid

    def _existing_fs(self, where, device, signatures, item, name):
        """The fs on one of our devices (array, LV): its UUID, None when the device is empty, False on a problem."""
        if not signatures:
            return None
        sig = _single_signature(signatures, item["fs_type"])
        if sig is None:
            self.problems.append("%s: %s holds %s, the layout wants %s; reformatting is not supported. Fix: set "
                                 "fs_type back, or clear the device by hand" % (
                                     where, device, ", ".join(str(t) for t in _sig_types(signatures)),
                                     item["fs_type"]))
            return False
        label = fs_label(item, name)
        if sig.get("label") != label:
            self.warnings.append("%s: the filesystem on %s is labelled %r, the layout says %r; relabelling is not "
                                 "supported" % (where, device, sig.get("label"), label))
        return sig.get("uuid")

    def _target(self, vol_name, device, dev, fs_uuid, item, name, mountpoints, lv=None, new=False):
        return {
            "volume": vol_name, "lv": lv, "device": device, "dev": dev, "uuid": fs_uuid, "fs_type": item["fs_type"],
            "label": fs_label(item, name), "mount_point": os.path.normpath(item["mount_point"])
            if item.get("mount_point") else None, "options": item["mount_options"],
            "mountpoints": list(mountpoints or []), "new": new,
        }

    # -- per volume type ----------------------------------------------------------------

    def _plan_filesystem(self, vol, disks):
        ns, kind = disks[0]
        if kind == "ours":
            sig = self._our_fs(ns.get("signatures"), vol, vol["name"])
            target = self._target(vol["name"], ns["path"], ns.get("dev"), sig.get("uuid"), vol, vol["name"],
                                  ns.get("mountpoints"))
        else:
            fs_uuid = self._mkfs(vol["name"], ns["path"], ns["serial"], vol, vol["name"])
            target = self._target(vol["name"], ns["path"], None, fs_uuid, vol, vol["name"], [], new=True)
        return {"device": ns["path"], "raid": None, "vg": None}, [target]

    def _check_sizes(self, vol, namespaces):
        sizes = sorted(set(ns.get("size_bytes") for ns in namespaces))
        if len(sizes) < 2:
            return True
        listing = ", ".join("%s %d bytes" % (disk_name(ns), ns.get("size_bytes") or 0) for ns in namespaces)
        if vol["allow_mixed_sizes"]:
            self.warnings.append("volume %s: disks of different sizes (%s): every member counts as the smallest, "
                                 "%d bytes" % (vol["name"], listing, sizes[0]))
            return True
        self.problems.append("volume %s: RAID%d disks differ in size (%s): the array would only use %d bytes of "
                             "each. Fix: choose disks of one size, or set allow_mixed_sizes: true" % (
                                 vol["name"], vol["raid_level"], listing, sizes[0]))
        return False

    def _check_redundancy(self, vol, namespaces, existing):
        """RAID1/10 members on one drive give no redundancy: refused for a new array, a warning for ours."""
        if vol["raid_level"] not in REDUNDANT_LEVELS:
            return True
        drives = {}
        for ns in namespaces:
            drives.setdefault(drive_of(ns), []).append(ns)
        shared = [(drive, nss) for drive, nss in sorted(drives.items()) if len(nss) > 1]
        for drive, nss in shared:
            text = ("volume %s: RAID%d members %s are namespaces of one drive (%s, serial %s): a mirror on one drive "
                    "has no redundancy" % (vol["name"], vol["raid_level"], " and ".join(ns["path"] for ns in nss),
                                           drive, nss[0].get("serial")))
            if existing:
                self.warnings.append(text + "; rebuild the array on separate drives")
            else:
                self.problems.append(text + ". Fix: choose members on different drives (by serial, or a "
                                            "model_pattern that matches more drives)")
        roots = set(self.controller_root.get((ns.get("controllers") or [None])[0]) for ns in namespaces)
        if not shared and len(roots) == 1 and None not in roots and len(namespaces) > 1:
            self.warnings.append("volume %s: every RAID%d member is behind one PCIe root (%s): a failure there takes "
                                 "them all; where the server has several root ports, put members behind different "
                                 "ones" % (vol["name"], vol["raid_level"], roots.pop()))
        return existing or not shared

    def _plan_raid(self, vol, disks):
        name, level = vol["name"], vol["raid_level"]
        device = md_device(name)
        where = "volume %s" % name
        if not self._check_redundancy(vol, [ns for ns, _kind in disks],
                                      existing=all(kind == "ours" for _ns, kind in disks)):
            return None
        ours = [ns for ns, kind in disks if kind == "ours"]
        others = [ns for ns, kind in disks if kind != "ours"]
        label = md_label(self.host, name)
        result = {"device": device, "raid": {"level": "raid%d" % level, "uuid": None, "label": label}, "vg": None}
        if ours and others:
            self.problems.append("%s: %s belong to array %s but %s do not; adding or replacing members is not "
                                 "supported. Fix: add them by hand (mdadm --manage %s --add ...)" % (
                                     where, ", ".join(disk_name(ns) for ns in ours), device,
                                     ", ".join(disk_name(ns) for ns in others), device))
            return None
        if ours:
            uuids = set(conffiles.mdadm_uuid(self._raid_uuid(ns, vol)) for ns in ours)
            if len(uuids) > 1:
                self.problems.append("%s: the disks carry superblocks of %d different arrays named %s (%s); "
                                     "fix them by hand" % (where, len(uuids), name, ", ".join(sorted(uuids))))
                return None
            array_uuid = self._raid_uuid(ours[0], vol)
            result["raid"]["uuid"] = array_uuid
            array = self._array_by_uuid(array_uuid) or self._array_of_members([ns["name"] for ns in ours])
            if array is None or not array.get("size_bytes"):
                self.problems.append("%s: the disks are members of array %s (UUID %s) but it is not running. Fix: "
                                     "assemble it (mdadm --assemble --scan) and run again" % (
                                         where, device, array_uuid))
                return None
            members = set(array.get("members") or [])
            wanted = set(ns["name"] for ns in ours)
            if members != wanted:
                self.problems.append("%s: array %s (%s) has members %s, the layout gives %s; changing members is "
                                     "not supported" % (where, device, array["name"], ", ".join(sorted(members)),
                                                        ", ".join(sorted(wanted))))
                return None
            if array.get("level") != "raid%d" % level:
                self.problems.append("%s: array %s (%s) is %s, the layout says raid%d; changing the level is not "
                                     "supported" % (where, device, array["name"], array.get("level"), level))
                return None
            if array.get("degraded"):
                self.warnings.append("volume %s: array %s (%s) is degraded (%s missing)" % (
                    name, device, array["name"], array.get("degraded")))
            md_path = device if device in (array.get("links") or []) else array["path"]
            fs_uuid = self._existing_fs(where, md_path, array.get("signatures"), vol, name)
            if fs_uuid is False:
                return None
            if fs_uuid is None:
                fs_uuid = self._mkfs(name, md_path, ", ".join(ns["serial"] for ns in ours), vol, name)
                target = self._target(name, md_path, None, fs_uuid, vol, name, [], new=True)
            else:
                target = self._target(name, md_path, array.get("dev"), fs_uuid, vol, name, array.get("mountpoints"))
            self._persist_array(name, device, label, array_uuid)
            return result, [target]
        # nothing of ours yet: a new array
        namespaces = [ns for ns, _kind in disks]
        if not self._check_sizes(vol, namespaces):
            return None
        taken = [array for array in self._md_arrays() if device in (array.get("links") or [])]
        if taken:
            self.problems.append("%s: %s already exists (%s on %s): choose another volume name" % (
                where, device, taken[0]["name"], ", ".join(taken[0].get("members") or [])))
            return None
        array_uuid = str(self.new_uuid())
        result["raid"]["uuid"] = array_uuid
        serials = ", ".join(ns["serial"] for ns in namespaces)
        argv = ["mdadm", "--create", device, "--run", "--metadata=%s" % MD_METADATA, "--level=%d" % level,
                "--raid-devices=%d" % len(namespaces), "--homehost=%s" % self.host, "--name=%s" % name,
                "--uuid=%s" % array_uuid] + [ns["path"] for ns in namespaces]
        self._add("create", "mdadm_create", name, device, serials,
                  "create RAID%d array %s (name %s, UUID %s) on %s" % (
                      level, device, label, array_uuid, ", ".join(disk_name(ns) for ns in namespaces)),
                  argv, devices=[ns["path"] for ns in namespaces])
        # A new array shows whatever its members held at the data offset (a
        # filesystem of an earlier array on the same disks is typical): none of
        # it is data, the array did not exist before this step.
        self._add("create", "wipefs", name, device, serials,
                  "erase leftovers an earlier use of the disks left inside the new array", ["wipefs", "--all", device])
        fs_uuid = self._mkfs(name, device, serials, vol, name, check_blank=False)
        self._persist_array(name, device, label, array_uuid)
        return result, [self._target(name, device, None, fs_uuid, vol, name, [], new=True)]

    def _persist_array(self, name, device, label, array_uuid):
        if conffiles.has_array(self.mdadm_conf, array_uuid):
            return
        line = conffiles.array_line(device, MD_METADATA, label, array_uuid)
        self.mdadm_conf, _changed = conffiles.set_array_line(self.mdadm_conf, line)
        self._add("persist", "mdadm_conf", name, device, None,
                  "add the array's ARRAY line to %s (expected: %s)" % (self.mdadm_conf_path, line),
                  ["mdadm", "--detail", "--brief", device], path=self.mdadm_conf_path, uuid=array_uuid)

    def _check_lv_room(self, vol, vg, new_disks, lvm):
        """The new fixed-size LVs fit in what the group will have (checked before pvcreate/vgcreate run, so that a
        layout that cannot fit changes nothing; issue 26)."""
        name = vol["name"]
        existing = set(item.get("lv_name") for item in lvm["lvs"] if item.get("vg_name") == name)
        wanted = [(lv["name"], lv_size_bytes(lv["size"])) for lv in vol["lvs"] if lv["name"] not in existing]
        need = sum(size for _name, size in wanted if size)
        # Each new PV loses its metadata area (1 MiB) and up to one extent (4 MiB) to rounding.
        room = sum(max((ns.get("size_bytes") or 0) - LVM_PV_OVERHEAD, 0) for ns in new_disks)
        if vg is not None:
            room += vg.get("vg_free") or 0
        if need <= room:
            return True
        self.problems.append(
            "volume %s: the new logical volumes (%s) need %d bytes, but volume group %s would have about %d bytes free "
            "on %s. Fix: smaller sizes (or a share such as 100%%FREE), or more disks in the volume" % (
                name, ", ".join("%s %s" % (lv["name"], lv["size"]) for lv in vol["lvs"] if lv["name"] not in existing
                                and lv_size_bytes(lv["size"])),
                need, name, room, self.host))
        return False

    def _plan_lvm(self, vol, disks):
        name = vol["name"]
        where = "volume %s" % name
        lvm = self.state.get("lvm")
        if lvm is None:
            self.problems.append("%s: LVM state was not read on %s; install lvm2" % (where, self.host))
            return None
        vg = next((v for v in lvm["vgs"] if v.get("vg_name") == name), None)
        paths = set(ns["path"] for ns, _kind in disks)
        new = [ns for ns, kind in disks if kind != "ours"]
        result = {"device": "/dev/%s" % name, "raid": None, "vg": name}
        if vg is not None:
            extra = sorted(pv["pv_name"] for pv in lvm["pvs"] if pv.get("vg_name") == name and pv["pv_name"] not in paths)
            if extra:
                self.problems.append("%s: volume group %s also has PVs %s that the layout does not list; removing "
                                     "PVs is not supported. Fix: list their serials in the volume" % (
                                         where, name, ", ".join(extra)))
                return None
        for ns in new:
            self._add("create", "pvcreate", name, ns["path"], ns["serial"], "make %s an LVM physical volume" % (
                disk_name(ns)), ["pvcreate", ns["path"]], devices=[ns["path"]])
        if vg is None:
            self._add("create", "vgcreate", name, "/dev/%s" % name, ", ".join(ns["serial"] for ns, _k in disks),
                      "create volume group %s on %s" % (name, ", ".join(disk_name(ns) for ns, _k in disks)),
                      ["vgcreate", name] + [ns["path"] for ns, _k in disks])
        else:
            for ns in new:
                self._add("create", "vgextend", name, "/dev/%s" % name, ns["serial"],
                          "add %s to volume group %s" % (disk_name(ns), name), ["vgextend", name, ns["path"]])
        if not self._check_lv_room(vol, vg, new, lvm):
            return None
        targets = []
        ordered = [lv for lv in vol["lvs"] if not LV_EXTENTS_RE.match(lv["size"])]
        ordered += [lv for lv in vol["lvs"] if LV_EXTENTS_RE.match(lv["size"])]
        for lv in ordered:
            lv_where = "%s lv %s" % (where, lv["name"])
            device = lv_device(name, lv["name"])
            existing = next((item for item in lvm["lvs"]
                             if item.get("vg_name") == name and item.get("lv_name") == lv["name"]), None)
            if existing is None:
                flag = "-l" if LV_EXTENTS_RE.match(lv["size"]) else "-L"
                self._add("create", "lvcreate", name, device, None, "create logical volume %s/%s of %s" % (
                    name, lv["name"], lv["size"]),
                    ["lvcreate", "--yes", "--wipesignatures", "y", "--name", lv["name"], flag, lv["size"], name])
                fs_uuid = self._mkfs(name, device, None, lv, lv["name"], check_blank=False)
                targets.append(self._target(name, device, None, fs_uuid, lv, lv["name"], [], lv=lv["name"], new=True))
                continue
            if not existing.get("active"):
                self.problems.append("%s: %s exists but is not active. Fix: vgchange -ay %s" % (lv_where, device, name))
                continue
            wanted = lv_size_bytes(lv["size"])
            if wanted is not None and abs(wanted - (existing.get("size_bytes") or 0)) > LVM_EXTENT_SLACK:
                self.warnings.append("volume %s: %s is %d bytes, the layout says %s; resizing is not supported" % (
                    name, device, existing.get("size_bytes") or 0, lv["size"]))
            fs_uuid = self._existing_fs(lv_where, device, existing.get("signatures"), lv, lv["name"])
            if fs_uuid is False:
                continue
            if fs_uuid is None:
                fs_uuid = self._mkfs(name, device, None, lv, lv["name"])
                targets.append(self._target(name, device, None, fs_uuid, lv, lv["name"], [], lv=lv["name"], new=True))
            else:
                targets.append(self._target(name, device, existing.get("dev"), fs_uuid, lv, lv["name"],
                                            existing.get("mountpoints"), lv=lv["name"]))
        return result, targets

    # -- mounts --------------------------------------------------------------------------

    def _check_mount_point(self, target):
        """Problems with the mount point itself: something else mounted there."""
        mount_point = target["mount_point"]
        for mount in self.state.get("mounts") or []:
            if mount["mountpoint"] == mount_point and (target["new"] or mount["dev"] != target["dev"]):
                self.problems.append("volume %s: mount point %s on %s is in use: %s (%s) is mounted there. Fix: "
                                     "unmount it or choose another mount_point" % (
                                         target["volume"], mount_point, self.host, mount["source"], mount["fstype"]))
                return False
        return True

    def _plan_mount(self, target):
        mount_point = target["mount_point"]
        if not mount_point:
            return
        line = conffiles.fstab_line(target["uuid"], mount_point, target["fs_type"], target["options"],
                                    FSTAB_PASSNO[target["fs_type"]])
        before = conffiles.fstab_entry(self.fstab, mount_point)
        self.fstab, changed = conffiles.set_fstab_entry(self.fstab, line, mount_point)
        if changed:
            detail = "add to /etc/fstab: %s" % line
            if before is not None:
                detail = "replace in /etc/fstab: %s -> %s" % (before["line"].strip(), line)
            self._add("fstab", "fstab", target["volume"], target["device"], None, detail, None,
                      mount_point=mount_point, line=line)
        for entry in conffiles.fstab_entries(self.state.get("fstab") or ""):
            if conffiles.fstab_uuid(entry) == (target["uuid"] or "").lower() and entry["mount_point"] != mount_point:
                self.warnings.append("volume %s: /etc/fstab also mounts UUID=%s at %s; that line is kept" % (
                    target["volume"], target["uuid"], entry["mount_point"]))
        if mount_point in target["mountpoints"]:
            return
        if not self.state.get("dirs", {}).get(mount_point):
            self._add("mount", "mkdir", target["volume"], None, None, "create the mount point %s" % mount_point,
                      None, path=mount_point)
        self._add("mount", "mount", target["volume"], target["device"], None,
                  "mount UUID=%s at %s (from /etc/fstab)" % (target["uuid"], mount_point), ["mount", mount_point])

    # -- main ------------------------------------------------------------------------------

    def plan(self):
        # Every problem at once: those of the layout, of the allowlist, and of the host for each volume whose own
        # layout is sound (a volume with layout problems is not looked for on the host).
        self.problems.extend(validate_layout(self.volumes))
        self._check_allowlist()
        sound = [vol for vol in self.volumes if not validate_layout([vol])]
        selected = {}
        for vol in sound:
            if vol["disks"]["serials"]:
                selected[vol["name"]] = self._select_serials(vol)
        for vol in sound:
            if not vol["disks"]["serials"]:
                selected[vol["name"]] = self._select_model(vol)
        # Every disk of every volume is judged before anything is planned; a
        # refused disk (None) has its problem recorded, and so is every reference a wipe would leave dangling.
        decided = dict((vol["name"], [(ns, self._decide(vol, ns)) for ns in selected[vol["name"]]])
                       for vol in sound)
        wiped_paths = [ns["path"] for disks in decided.values() for ns, kind in disks if kind == "wipe"]
        removable = {}
        for vol in sound:
            for ns, kind in decided[vol["name"]]:
                if kind == "wipe":
                    removable[ns["path"]] = self._check_references(vol, ns, wiped_paths)
        # The steps of each volume whose disks were all accepted are planned even when another volume was
        # refused: planning finds problems of its own (an LV that cannot fit, a mount point in use), and every
        # problem is reported in one run (issue 26). Nothing is applied unless there is no problem at all.
        for vol in sound:
            disks = decided[vol["name"]]
            if not disks or any(kind is None for _ns, kind in disks) or len(disks) != self._wanted(vol):
                continue
            for ns, kind in disks:
                if kind == "wipe":
                    self._unref_steps(vol, ns, removable[ns["path"]])
                    self._wipe_steps(vol, ns)
            planner = {"filesystem": self._plan_filesystem, "raid": self._plan_raid, "lvm": self._plan_lvm}
            outcome = planner[vol["type"]](vol, disks)
            if outcome is None:
                continue
            info, targets = outcome
            targets = [t for t in targets if not t["mount_point"] or self._check_mount_point(t)]
            for target in targets:
                self._plan_mount(target)
            summary = _summary(vol, [ns for ns, _kind in disks], info, targets)
            why = self.why.get(vol["name"]) or {}
            first = next((s for s in self.steps if s["volume"] == vol["name"] and s["phase"] == "create"), None)
            if why and first is not None:
                # The plan says why model_pattern took these disks (RV(plan) is what the operator reads).
                first["detail"] += "; chosen by model_pattern: %s" % "; ".join(
                    "%s - %s" % (disk_name(ns), why.get(ns["path"])) for ns, _kind in disks)
            for disk, (ns, kind) in zip(summary["disks"], disks):
                disk["drive"] = drive_of(ns)
                disk["why"] = why.get(ns["path"]) or ("named by serial" if kind != "ours" else
                                                      "named by serial, already a member")
            self.predicted.append(summary)
        if self.problems:
            raise LayoutError(self.problems, host=self.host or None)
        if self.update_initramfs and any(step["action"] in ("mdadm_conf", "mdadm_conf_remove") for step in self.steps):
            self._add("initramfs", "update_initramfs", None, None, None,
                      "rebuild the initramfs so that it has the new %s" % self.mdadm_conf_path,
                      ["update-initramfs", "-u"])
        if self.state.get("systemd") and any(step["action"] in ("fstab", "fstab_remove") for step in self.steps):
            self._add("reload", "systemd_reload", None, None, None,
                      "let systemd read the new /etc/fstab before mounting", ["systemctl", "daemon-reload"])
        steps = sorted(self.steps, key=lambda step: PHASES.index(step["phase"]))
        tools = sorted(set(step["argv"][0] for step in steps if step["argv"]))
        return {
            "steps": steps,
            "warnings": self.warnings,
            "fstab": self.fstab,
            "mdadm_conf": self.mdadm_conf,
            "predicted": self.predicted,
            "tools": tools,
        }


def make_plan(state, volumes, wipe=False, wipe_allowlist=None, mdadm_conf="/etc/mdadm/mdadm.conf",
              update_initramfs=True, new_uuid=None):
    """Plan the changes that take ``state`` to ``volumes``.

    Returns ``{"steps", "warnings", "fstab", "mdadm_conf", "predicted", "tools"}``:
    the ordered steps (:func:`new_step`), warnings, the predicted text of
    fstab and mdadm.conf, the predicted volume summaries (:func:`describe_volumes`
    shape) and the tools the steps run. ``new_uuid`` makes the UUIDs of new
    arrays and filesystems (default :func:`uuid.uuid4`). Raises :class:`LayoutError` with every
    problem found; then nothing may be changed.
    """
    planner = _Planner(state, normalize_volumes(volumes), wipe, wipe_allowlist, mdadm_conf, update_initramfs,
                       new_uuid or uuid_mod.uuid4)
    return planner.plan()


# -- describing what is there ------------------------------------------------------------


def _summary(vol, namespaces, info, targets):
    """The predicted :func:`describe_volumes` entry of a volume once its plan is applied."""
    if vol["type"] == "raid":
        holds = "linux_raid_member %r" % info["raid"]["label"]
    elif vol["type"] == "lvm":
        holds = "LVM2_member"
    else:
        holds = "%s %r" % (vol["fs_type"], fs_label(vol, vol["name"]))
    return {
        "name": vol["name"],
        "type": vol["type"],
        "device": info["device"],
        "disks": [{"serial": ns.get("serial"), "path": ns["path"], "size_bytes": ns.get("size_bytes"), "holds": holds}
                  for ns in namespaces],
        "raid": info["raid"],
        "vg": info["vg"],
        "filesystems": [{
            "lv": t["lv"], "device": t["device"], "fs_type": t["fs_type"], "uuid": t["uuid"], "label": t["label"],
            "mount_point": t["mount_point"], "mounted": bool(t["mount_point"]),
        } for t in targets],
    }


def _fs_of(signatures):
    sig = _single_signature(signatures)
    if sig is None or sig.get("type") not in FS_TYPES:
        return None
    return sig


def describe_volumes(state, volumes):
    """What is on the host for each desired volume, as far as it can be told (never raises).

    Each entry: ``name``, ``type``, ``device``, ``disks`` [{serial, path,
    size_bytes}], ``raid`` (level, uuid, label, state, degraded, sync_action,
    md name) or None, ``vg``, ``filesystems`` [{lv, device, fs_type, uuid,
    label, mount_point, mounted}].
    """
    volumes = normalize_volumes(volumes)
    host = state.get("host") or ""
    namespaces = sorted(state.get("namespaces") or [], key=_sort_key)
    by_serial = {}
    for ns in namespaces:
        by_serial.setdefault(ns.get("serial"), []).append(ns)
    result = []
    for vol in volumes:
        disks = []
        for entry in vol["disks"]["serials"]:
            serial, sep, nsid = entry.rpartition("/")
            if entry in by_serial:
                disks.extend(by_serial[entry][:1])
            elif sep and serial in by_serial:
                disks.extend(ns for ns in by_serial[serial] if str(ns.get("nsid")) == nsid)
        if vol["disks"]["model_pattern"]:
            disks = [ns for ns in namespaces if fnmatch.fnmatchcase(ns.get("model") or "", vol["disks"]["model_pattern"])
                     and _owned(ns, vol, host, state)]
        entry = {"name": vol["name"], "type": vol["type"], "device": None, "raid": None, "vg": None,
                 "disks": [{"serial": ns.get("serial"), "path": ns["path"], "size_bytes": ns.get("size_bytes"),
                            "holds": _holds(ns)} for ns in disks],
                 "filesystems": []}
        if vol["type"] == "filesystem" and disks:
            ns = disks[0]
            entry["device"] = ns["path"]
            entry["filesystems"].append(_fs_entry(None, ns["path"], ns.get("signatures"), ns.get("mountpoints"),
                                                  vol.get("mount_point")))
        elif vol["type"] == "raid":
            names = set(ns["name"] for ns in disks)
            array = next((a for a in state.get("md_arrays") or [] if names and names & set(a.get("members") or [])),
                         None)
            if array is not None:
                entry["device"] = md_device(vol["name"])
                label = None
                uuid = array.get("uuid")
                for ns in disks:
                    sig = _single_signature(ns.get("signatures"), "linux_raid_member")
                    if sig:
                        label, uuid = sig.get("label"), uuid or sig.get("uuid")
                device = entry["device"] if entry["device"] in (array.get("links") or []) else array["path"]
                entry["device"] = device
                entry["raid"] = {"md": array["name"], "level": array.get("level"), "uuid": uuid, "label": label,
                                 "members": sorted(array.get("members") or []), "state": array.get("array_state"),
                                 "degraded": array.get("degraded"), "sync_action": array.get("sync_action")}
                entry["filesystems"].append(_fs_entry(None, device, array.get("signatures"), array.get("mountpoints"),
                                                      vol.get("mount_point")))
        elif vol["type"] == "lvm":
            lvm = state.get("lvm") or {"vgs": [], "lvs": []}
            if any(vg.get("vg_name") == vol["name"] for vg in lvm["vgs"]):
                entry["vg"] = vol["name"]
                entry["device"] = "/dev/%s" % vol["name"]
            for lv in vol["lvs"]:
                found = next((item for item in lvm["lvs"]
                              if item.get("vg_name") == vol["name"] and item.get("lv_name") == lv["name"]), None)
                if found is not None:
                    entry["filesystems"].append(_fs_entry(lv["name"], found.get("lv_path"), found.get("signatures"),
                                                          found.get("mountpoints"), lv.get("mount_point")))
        result.append(entry)
    return result


def _holds(ns):
    """What is on a disk now, in words: its signatures (type and label) and partitions; "" when blank."""
    parts = ["%s%s" % (sig.get("type"), " %r" % sig["label"] if sig.get("label") else "")
             for sig in ns.get("signatures") or []]
    if ns.get("partitions"):
        parts.append("%d partitions" % len(ns["partitions"]))
    return ", ".join(parts)


def _owned(ns, vol, host, state):
    sig = _single_signature(ns.get("signatures"))
    if sig is None:
        return False
    if vol["type"] == "raid":
        return sig.get("type") == "linux_raid_member" and sig.get("label") in (md_label(host, vol["name"]), vol["name"])
    if vol["type"] == "lvm":
        pvs = (state.get("lvm") or {}).get("pvs") or []
        return any(pv.get("pv_name") == ns["path"] and pv.get("vg_name") == vol["name"] for pv in pvs)
    return sig.get("type") == vol["fs_type"] and sig.get("label") == fs_label(vol, vol["name"])


def _fs_entry(lv, device, signatures, mountpoints, mount_point):
    sig = _fs_of(signatures)
    mount_point = os.path.normpath(mount_point) if mount_point else None
    return {
        "lv": lv, "device": device,
        "fs_type": sig.get("type") if sig else None,
        "uuid": sig.get("uuid") if sig else None,
        "label": sig.get("label") if sig else None,
        "mount_point": mount_point,
        "mounted": bool(mount_point and mount_point in (mountpoints or [])),
    }


STABLE_RAID_KEYS = ("level", "uuid", "label", "members")


def summary_text(described):
    """Device summary lines for the diff: volatile state (resync, degraded) left out."""
    lines = []
    for vol in described:
        disks = " ".join("%s=%s%s" % (d["serial"], d["path"], " (holds %s)" % d["holds"] if d.get("holds") else "")
                         for d in vol["disks"]) or "no disks"
        head = "%s: %s %s on %s" % (vol["name"], vol["type"], vol["device"] or "-", disks)
        if vol.get("raid"):
            raid = vol["raid"]
            head += "; %s UUID %s name %s" % (raid.get("level"), conffiles.mdadm_uuid(raid.get("uuid")), raid.get("label"))
        if vol.get("vg"):
            head += "; volume group %s" % vol["vg"]
        lines.append(head)
        for fs in vol["filesystems"]:
            if fs["fs_type"] is None:
                lines.append("  %s: no filesystem" % fs["device"])
                continue
            lines.append("  %s: %s UUID=%s LABEL=%s%s" % (
                fs["device"], fs["fs_type"], fs["uuid"], fs["label"],
                (", mounted at %s" % fs["mount_point"]) if fs["mounted"] else ""))
    return "\n".join(lines) + ("\n" if lines else "")
