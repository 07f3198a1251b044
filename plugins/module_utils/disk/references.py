# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What on the host still points at a disk that is about to be wiped.

Pure. A wiped disk's ``/etc/fstab`` line stops the next boot in emergency
mode ("Local File Systems" fails); its ARRAY line in mdadm.conf, its
crypttab line and a systemd .mount/.swap unit do the same or worse. Before a
wipe, :func:`identities` lists every name the disk and what is on it go by
(device paths, filesystem UUIDs and labels, partition UUIDs, by-id links,
the LVs of its volume group, the array it is a member of) and
:func:`references` finds every line that uses one of them.
"""

from __future__ import annotations

import os

from ansible_collections.baremetal.mlops.plugins.module_utils.disk import conffiles
from ansible_collections.baremetal.mlops.plugins.module_utils.disk.mounts import unescape

BY = {"by-uuid": "uuid", "by-label": "label", "by-partuuid": "partuuid", "by-partlabel": "partlabel"}
TAGS = {"UUID": "uuid", "LABEL": "label", "PARTUUID": "partuuid", "PARTLABEL": "partlabel"}
CASELESS = ("uuid", "partuuid")
STACKS = {"LVM2_member": "an LVM physical volume", "crypto_LUKS": "a LUKS volume",
          "linux_raid_member": "an md array member"}


def spec_key(spec):
    """A device spec of fstab/crypttab/a unit (``UUID=x``, ``/dev/disk/by-uuid/x``, ``/dev/x``) as ``(kind, value)``."""
    spec = unescape((spec or "").strip().strip("\"'"))
    tag, sep, value = spec.partition("=")
    if sep and tag.upper() in TAGS:
        kind = TAGS[tag.upper()]
        value = value.strip("\"'")
        return kind, value.lower() if kind in CASELESS else value
    if spec.startswith("/dev/disk/"):
        parts = spec.split("/")
        if len(parts) == 5 and parts[3] in BY:
            kind = BY[parts[3]]
            return kind, parts[4].lower() if kind in CASELESS else parts[4]
    if spec.startswith("/"):
        return "path", os.path.normpath(spec)
    return None


def _add(found, key, what):
    if key and key[1]:
        found.setdefault(key, what)


def _fs_ids(found, device, signatures, what):
    _add(found, ("path", device), what)
    for sig in signatures or []:
        label = "the %s on %s" % (sig.get("type") or "signature", device)
        if sig.get("uuid"):
            _add(found, ("uuid", str(sig["uuid"]).lower()), label)
        if sig.get("label"):
            _add(found, ("label", str(sig["label"])), label)


def by_id_name(model, serial):
    """The /dev/disk/by-id name udev gives an NVMe namespace: ``nvme-<model>_<serial>`` (blanks as ``_``)."""
    return "nvme-%s_%s" % ("_".join((model or "").split()), "_".join((serial or "").split()))


def identities(ns, state):
    """``{(kind, value): what}`` for every name of the disk ``ns`` and of what is on it."""
    found = {}
    _fs_ids(found, ns["path"], ns.get("signatures"), "disk %s" % ns["path"])
    by_id = by_id_name(ns.get("model"), ns.get("serial"))
    _add(found, ("path", "/dev/disk/by-id/%s" % by_id), "disk %s" % ns["path"])
    for part in ns.get("partitions") or []:
        _fs_ids(found, part["path"], part.get("signatures"), "partition %s" % part["path"])
        if part.get("number"):
            _add(found, ("path", "/dev/disk/by-id/%s-part%s" % (by_id, part["number"])), "partition %s" % part["path"])
        for kind in ("partuuid", "partlabel"):
            if part.get(kind):
                _add(found, (kind, str(part[kind]).lower() if kind in CASELESS else str(part[kind])),
                     "partition %s" % part["path"])
    for dev in [ns] + list(ns.get("partitions") or []):
        for sig in dev.get("signatures") or []:
            if sig.get("type") != "linux_raid_member" or not conffiles.mdadm_uuid(sig.get("uuid")):
                continue
            uuid = conffiles.mdadm_uuid(sig.get("uuid"))
            _add(found, ("md_uuid", uuid), "array %s (member %s)" % (sig.get("label") or uuid, dev["path"]))
            for entry in conffiles.array_entries(state.get("mdadm_conf")):
                if entry["uuid"] == uuid and entry["devname"]:
                    _add(found, ("path", os.path.normpath(entry["devname"])), "array %s" % entry["devname"])
            # The filesystem inside an array that is not assembled (read on its members at the data offset):
            # its fstab line goes with the wipe too (issue 26, finding 3).
            for content in state.get("md_contents") or []:
                if content.get("uuid") == uuid:
                    for inner in content.get("signatures") or []:
                        what = "the %s inside array %s (not assembled; read on member %s)" % (
                            inner.get("type"), sig.get("label") or uuid, content["member"])
                        if inner.get("uuid"):
                            _add(found, ("uuid", str(inner["uuid"]).lower()), what)
                        if inner.get("label"):
                            _add(found, ("label", str(inner["label"])), what)
    # An assembled array the disk is a member of: by the UUID in the member's superblock, or by the array's member
    # list (sysfs may not give the array's UUID).
    names = set([ns.get("name")] + [p.get("name") for p in ns.get("partitions") or []]) - {None}
    for array in state.get("md_arrays") or []:
        if ("md_uuid", conffiles.mdadm_uuid(array.get("uuid"))) in found or names & set(array.get("members") or []):
            what = "array %s" % array.get("path")
            for path in [array.get("path")] + list(array.get("links") or []):
                _fs_ids(found, path, array.get("signatures") if path == array.get("path") else [], what)
    # The LUKS mappings crypttab opens from the disk or what is on it: the filesystem inside goes with the
    # wipe, so an fstab line or unit naming /dev/mapper/<name> is a reference too (issue 26, finding 5).
    for entry in conffiles.crypttab_entries(state.get("crypttab")):
        if any(key in found for key in spec_keys(entry["source"], state)):
            mapper = "/dev/mapper/%s" % entry["name"]
            what = "LUKS mapping %s (crypttab: %s)" % (entry["name"], entry["line"].strip())
            _add(found, ("path", mapper), what)
            target = (state.get("dev_links") or {}).get(mapper)
            if target:
                _add(found, ("path", os.path.normpath(target)), what)
    # The LVs of the volume groups on the disk, or on what is stacked on it (an assembled array it is a member of,
    # a LUKS mapping opened from it): every layer goes with the wipe.
    lvm = state.get("lvm") or {}
    for vg in _vgs_on(_devices(found), lvm):
        for lv in lvm.get("lvs") or []:
            if lv.get("vg_name") != vg:
                continue
            what = "logical volume %s/%s" % (vg, lv.get("lv_name"))
            _fs_ids(found, lv.get("lv_path") or "/dev/%s/%s" % (vg, lv.get("lv_name")), lv.get("signatures"), what)
            _add(found, ("path", "/dev/mapper/%s-%s" % (vg.replace("-", "--"), str(lv.get("lv_name")).replace("-", "--"))),
                 what)
    return found


def _devices(found):
    """The device paths among the identities (the disk, partitions, arrays, mappings, links)."""
    return set(key[1] for key in found if key[0] == "path")


def _vgs_on(devices, lvm):
    return sorted(set(pv.get("vg_name") for pv in lvm.get("pvs") or [] if pv.get("pv_name") in devices) - {None})


def spec_keys(spec, state):
    """The keys a spec matches: its own, and for a udev link (by-path, by-diskseq, /dev/mapper, ...) the kernel
    device it points at on this host (``state["dev_links"]``)."""
    key = spec_key(spec)
    if key is None:
        return []
    keys = [key]
    if key[0] == "path":
        target = (state.get("dev_links") or {}).get(key[1])
        if target:
            keys.append(("path", os.path.normpath(target)))
    return keys


def _match(spec, state, ids):
    return next((key for key in spec_keys(spec, state) if key in ids), None)


def references(ns, state):
    """Every line that names the disk ``ns`` or what is on it: ``[{kind, file, line, what, key}]``.

    ``kind``: ``fstab`` and ``mdadm_conf`` (the plan removes them),
    ``crypttab`` and ``unit`` (the plan refuses: they may hide more set-up).
    """
    ids = identities(ns, state)
    refs = []
    for entry in conffiles.fstab_entries(state.get("fstab")):
        key = _match(entry["spec"], state, ids)
        if key:
            refs.append({"kind": "fstab", "file": "/etc/fstab", "line": entry["line"].strip(), "what": ids[key],
                         "key": key})
    for entry in conffiles.array_entries(state.get("mdadm_conf")):
        key = ("md_uuid", entry["uuid"])
        if key in ids:
            refs.append({"kind": "mdadm_conf", "file": state.get("mdadm_conf_path") or "mdadm.conf",
                         "line": entry["line"], "what": ids[key], "uuid": entry["uuid"], "key": key})
    for entry in conffiles.crypttab_entries(state.get("crypttab")):
        key = _match(entry["source"], state, ids)
        if key:
            refs.append({"kind": "crypttab", "file": "/etc/crypttab", "line": entry["line"].strip(),
                         "what": ids[key], "key": key})
    for unit in state.get("units") or []:
        key = _match(unit.get("what"), state, ids)
        if key:
            where = unit["path"] + (" (linked from %s)" % unit["target"] if unit.get("target") else "")
            refs.append({"kind": "unit", "file": where, "line": "What=%s" % unit.get("what"),
                         "what": ids[key], "key": key})
    return refs


def lvm_spans(ns, state, wiped_paths):
    """Volume groups on the disk that also live on disks not being wiped: ``[(vg, [other pv paths])]``."""
    lvm = state.get("lvm") or {}
    devices = _devices(identities(ns, state))
    result = []
    for vg in _vgs_on(devices, lvm):
        others = sorted(pv["pv_name"] for pv in lvm.get("pvs") or []
                        if pv.get("vg_name") == vg and pv.get("pv_name") not in devices
                        and not _wiped(pv["pv_name"], wiped_paths))
        if others:
            result.append((vg, others))
    return result


def _wiped(path, wiped_paths):
    return any(path == p or path.startswith(p + "p") for p in wiped_paths)


def md_spans(ns, state, wiped_paths):
    """Arrays the disk is a member of that have members on disks not being wiped: ``[(array, [other members])]``.

    Members are found by the array UUID in their superblocks (every NVMe namespace and partition, assembled
    or not: a member failed and removed long ago still carries it, and mdadm's assembly at boot would start
    the array from it) and by the assembled arrays' member lists (members that are not NVMe).
    """
    devices = [ns] + list(ns.get("partitions") or [])
    paths = set(d["path"] for d in devices)
    result = []
    for uuid, label in sorted(set((conffiles.mdadm_uuid(sig.get("uuid")), sig.get("label") or "")
                                  for dev in devices for sig in dev.get("signatures") or []
                                  if sig.get("type") == "linux_raid_member" and conffiles.mdadm_uuid(sig.get("uuid")))):
        others = set()
        for other in state.get("namespaces") or []:
            for dev in [other] + list(other.get("partitions") or []):
                if dev["path"] in paths or _wiped(dev["path"], wiped_paths):
                    continue
                if any(sig.get("type") == "linux_raid_member" and conffiles.mdadm_uuid(sig.get("uuid")) == uuid
                       for sig in dev.get("signatures") or []):
                    others.add(dev["path"])
        name = label or uuid
        for array in state.get("md_arrays") or []:
            if conffiles.mdadm_uuid(array.get("uuid")) != uuid:
                continue
            name = array.get("path") or name
            for member in array.get("members") or []:
                path = "/dev/%s" % member
                if path not in paths and not _wiped(path, wiped_paths):
                    others.add(path)
        if others:
            result.append((name, sorted(others)))
    return result


def lvm_unknown(ns, state):
    """True when the disk or a partition carries an LVM signature but LVM was not read (lvm2 missing)."""
    return state.get("lvm") is None and any(
        sig.get("type") == "LVM2_member"
        for dev in [ns] + list(ns.get("partitions") or []) for sig in dev.get("signatures") or [])


def unreadable(ns, state):
    """What is on the disk that could not be read, so a reference to it cannot be found: ``[text]``.

    The filesystem inside a member of an array that is not assembled (mdadm or blkid missing or failing), or
    inside a deactivated logical volume of a group on the disk.
    """
    devices = [ns["path"]] + [p["path"] for p in ns.get("partitions") or []]
    found = []
    for content in state.get("md_contents") or []:
        if content["member"] not in devices:
            continue
        if content.get("error"):
            found.append("what is inside array %s on %s (%s)" % (content["uuid"], content["member"], content["error"]))
        for inner in content.get("signatures") or []:
            if inner.get("type") in STACKS:
                # A PV, LUKS volume or nested array inside a stopped array: its own layers (logical volumes, the
                # filesystem behind the mapping) cannot be read until the array runs.
                found.append("%s inside array %s on %s (stopped: what is stacked on it cannot be read)" % (
                    STACKS[inner["type"]], content["uuid"], content["member"]))
    lvm = state.get("lvm") or {}
    vgs = _vgs_on(devices, lvm)
    for lv in lvm.get("lvs") or []:
        if lv.get("vg_name") in vgs and lv.get("signatures_error"):
            found.append("the filesystem of deactivated logical volume %s/%s (%s)" % (
                lv["vg_name"], lv.get("lv_name"), lv["signatures_error"]))
    return found
