# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Gather NVMe facts: sysfs for what exists, tools for what is on it.

* sysfs (:mod:`.sysfs`): controllers, namespaces, partitions, holders.
* ``/proc/self/mountinfo`` and ``/proc/swaps`` (:mod:`.mounts`): mounts and
  active swap, matched by major:minor and by device name.
* ``wipefs --json`` (:mod:`.signatures`): signatures on each namespace and
  partition. Required: a namespace whose signatures cannot be read is not
  reported as free.
* nvme-cli (:mod:`.nvme_cli`), optional: ``nvme list -o json`` adds the
  used bytes of each namespace, ``nvme smart-log`` the wear of each
  controller. A failure there is a warning, not an error.

Nothing here writes anything; the collector is safe in check mode.
"""

from __future__ import annotations

import os

from ansible_collections.baremetal.mlops.plugins.module_utils.disk import mounts as mounts_mod
from ansible_collections.baremetal.mlops.plugins.module_utils.disk import nvme_cli
from ansible_collections.baremetal.mlops.plugins.module_utils.disk import signatures as sig_mod
from ansible_collections.baremetal.mlops.plugins.module_utils.disk import sysfs
from ansible_collections.baremetal.mlops.plugins.module_utils.disk.exceptions import (
    DiskCommandError,
    DiskError,
    SysfsError,
)

PERMISSION_MARKERS = ("Permission denied", "Operation not permitted")


def _read_text(path):
    try:
        with open(path, "rb") as handle:
            return handle.read().decode("utf-8", "replace")
    except (IOError, OSError) as exc:
        raise SysfsError(
            "cannot read %s: %s" % (path, exc.strerror or exc),
            component="procfs", hint="check that /proc is mounted on this host",
        )


def _flatten_holders(tree):
    """Depth-first list of every holder in a :func:`sysfs.holder_tree`."""
    result = []
    for holder in tree:
        result.append(holder)
        result.extend(_flatten_holders(holder.get("holders", [])))
    return result


def holder_label(holder):
    """``md127`` or ``dm-0 (vgdata-lvscratch)``."""
    if holder.get("dm_name"):
        return "%s (%s)" % (holder["name"], holder["dm_name"])
    return holder["name"]


def duplicate_serials(controllers):
    """Serials that more than one drive reports: ``[{serial, drives: [{subsystem, controllers, address}]}]``.

    A drive is an NVMe subsystem; the controllers of one multipath drive share
    it (and its serial), which is not a duplicate.
    """
    drives = {}
    for ctrl in controllers:
        key = ctrl.get("subsystem") or ctrl["name"]
        drive = drives.setdefault((ctrl.get("serial"), key),
                                  {"subsystem": ctrl.get("subsystem"), "controllers": [], "address": ctrl.get("address")})
        drive["controllers"].append(ctrl["name"])
    by_serial = {}
    for (serial, _key), drive in sorted(drives.items(), key=lambda item: (item[0][0] or "", item[0][1] or "")):
        by_serial.setdefault(serial, []).append(drive)
    return [{"serial": serial, "drives": found} for serial, found in sorted(by_serial.items(), key=lambda i: i[0] or "")
            if serial and len(found) > 1]


class NvmeFactsCollector(object):
    """Collect ``ansible_facts.nvme`` without changing anything.

    :param run: ``run(argv) -> (rc, stdout, stderr)``, see
        :func:`...common.command.command_runner`.
    :param wipefs: path of ``wipefs``; required to decide whether a
        namespace is in use.
    :param nvme: path of ``nvme`` (nvme-cli) or None when not installed.
    :param smart: read each controller's SMART log with nvme-cli.
    """

    def __init__(self, run, wipefs, nvme=None, smart=True, sysfs_root="/sys", proc_root="/proc"):
        self.run = run
        self.wipefs = wipefs
        self.nvme = nvme
        self.smart = smart
        self.sysfs_root = sysfs_root
        self.proc_root = proc_root
        self.warnings = []

    # -- tools -----------------------------------------------------------------

    def _nvme(self, args, device=None):
        """Run nvme-cli; return stdout, or None and a warning when it fails."""
        argv = [self.nvme] + list(args)
        rc, out, err = self.run(argv)
        if rc != 0:
            # nvme-cli prints the error first, then its usage text
            lines = (err or out or "").strip().splitlines()
            self.warnings.append("%s failed (rc=%s): %s" % (" ".join(argv), rc, lines[0] if lines else "no output"))
            return None
        return out

    def nvme_version(self):
        if not self.nvme:
            return {"nvme_cli": None, "libnvme": None}
        return nvme_cli.parse_version(self._nvme(["version"]) or "")

    def nvme_list(self):
        if not self.nvme:
            return {}
        out = self._nvme(["list", "-o", "json"])
        if out is None:
            return {}
        try:
            return nvme_cli.parse_list(out)
        except DiskError as exc:
            self.warnings.append(exc.message)
            return {}

    def smart_log(self, controller):
        if not (self.nvme and self.smart):
            return None
        device = "/dev/%s" % controller
        out = self._nvme(["smart-log", device, "-o", "json"], device)
        if out is None:
            return None
        try:
            return nvme_cli.parse_smart_log(out, device)
        except DiskError as exc:
            self.warnings.append(exc.message)
            return None

    def signatures(self, device):
        argv = [self.wipefs, "--json", device]
        rc, out, err = self.run(argv)
        if rc != 0:
            text = (err or out or "").strip()
            hint = "check that %s exists and is a block device" % device
            if any(marker in text for marker in PERMISSION_MARKERS):
                hint = "probing signatures needs root: run the task with become: true"
            raise DiskCommandError(
                "wipefs cannot read the signatures on %s: %s" % (device, text or "no output"),
                cmd=argv, rc=rc, stdout=out, stderr=err, component="wipefs", device=device, hint=hint,
            )
        return sig_mod.parse_wipefs_json(out, device)

    # -- assembly --------------------------------------------------------------

    def _mount_index(self):
        mountinfo = mounts_mod.parse_mountinfo(_read_text(os.path.join(self.proc_root, "self", "mountinfo")))
        swaps_path = os.path.join(self.proc_root, "swaps")
        swaps = mounts_mod.parse_swaps(_read_text(swaps_path)) if os.path.exists(swaps_path) else []
        return mountinfo, swaps

    @staticmethod
    def _mountpoints(name, dev, mountinfo, dm_name=None):
        """Mount points of a block device: same major:minor, or source naming the device."""
        sources = set(["/dev/%s" % name])
        if dm_name:
            sources.add("/dev/mapper/%s" % dm_name)
        result = []
        for mount in mountinfo:
            if (dev and mount["dev"] == dev) or mount["source"] in sources:
                if mount["mountpoint"] not in result:
                    result.append(mount["mountpoint"])
        return result

    @staticmethod
    def _is_swap(name, swaps, dm_name=None):
        names = set(["/dev/%s" % name])
        if dm_name:
            names.add("/dev/mapper/%s" % dm_name)
        return any(s["filename"] in names for s in swaps)

    def _usage(self, device, mountinfo, swaps, prefix=""):
        """Signatures, holders, mounts and the resulting reasons for one disk or partition."""
        reasons = []
        device["signatures"] = self.signatures(device["path"])
        device["mountpoints"] = self._mountpoints(device["name"], device.get("dev"), mountinfo)
        for reason in sig_mod.signature_reasons(device["signatures"]):
            reasons.append(prefix + reason)
        for mountpoint in device["mountpoints"]:
            reasons.append("%smounted at %s" % (prefix, mountpoint))
        if self._is_swap(device["name"], swaps):
            reasons.append("%sactive swap" % prefix)
        for holder in _flatten_holders(device.get("holders", [])):
            is_direct = holder in device.get("holders", [])
            if is_direct:
                reasons.append("%sholder %s" % (prefix, holder_label(holder)))
            for mountpoint in self._mountpoints(holder["name"], holder.get("dev"), mountinfo, holder.get("dm_name")):
                reasons.append("%smounted at %s via %s" % (prefix, mountpoint, holder_label(holder)))
            if self._is_swap(holder["name"], swaps, holder.get("dm_name")):
                reasons.append("%sactive swap via %s" % (prefix, holder_label(holder)))
        device["holders"] = [holder_label(h) for h in device.get("holders", [])]
        return reasons

    def collect(self, serials=None):
        """Return ``(facts, warnings)``; ``serials`` keeps only these controllers/namespaces."""
        wanted = set(s.strip() for s in serials) if serials else None
        root = self.sysfs_root
        subsystems = sysfs.controller_subsystems(root)
        controllers = [sysfs.read_controller(root, name, subsystems) for name in sysfs.list_controllers(root)]
        path_devices = sysfs.list_paths(root)
        namespaces = [sysfs.read_namespace(root, name, path_devices) for name in sysfs.list_namespaces(root)]
        if wanted is not None:
            controllers = [c for c in controllers if c["serial"] in wanted]
            namespaces = [n for n in namespaces if n["serial"] in wanted]
            found = set(c["serial"] for c in controllers)
            for serial in sorted(wanted - found):
                self.warnings.append("no NVMe controller with serial %s on this host" % serial)

        by_controller = {}
        for ns in namespaces:
            for ctrl in ns["controllers"]:
                by_controller.setdefault(ctrl, []).append(ns["name"])
        for ctrl in controllers:
            ctrl["namespaces"] = by_controller.get(ctrl["name"], [])
            ctrl["smart"] = self.smart_log(ctrl["name"])

        listed = self.nvme_list() if namespaces else {}
        mountinfo, swaps = self._mount_index()
        for ns in namespaces:
            if ns["subsystem"] is None and ns["controllers"]:
                ns["subsystem"] = subsystems.get(ns["controllers"][0])
            ns["used_bytes"] = listed.get(ns["name"], {}).get("used_bytes")
            reasons = self._usage(ns, mountinfo, swaps)
            for part in ns["partitions"]:
                part_reasons = self._usage(part, mountinfo, swaps, prefix="%s: " % part["name"])
                part["in_use"] = bool(part_reasons)
                part["in_use_reasons"] = part_reasons
                reasons.extend(part_reasons)
            if ns["partitions"] and not any(r.startswith("partition table") for r in reasons):
                reasons.insert(0, "%d partitions" % len(ns["partitions"]))
            ns["in_use"] = bool(reasons)
            ns["in_use_reasons"] = reasons

        duplicates = duplicate_serials(controllers)
        for dup in duplicates:
            self.warnings.append(
                "serial %s is reported by %d different drives (%s): cloned or buggy firmware. A serial cannot tell "
                "them apart: name them by wwid, nguid or PCI address instead" % (
                    dup["serial"], len(dup["drives"]), ", ".join("%s at %s" % (d["controllers"][0], d["address"])
                                                                 for d in dup["drives"])))
        facts = {
            "nvme_cli_version": self.nvme_version()["nvme_cli"],
            "controllers": controllers,
            "namespaces": namespaces,
            "duplicate_serials": duplicates,
        }
        return facts, self.warnings
