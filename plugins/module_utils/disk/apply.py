# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Execute a storage plan (:func:`.planner.make_plan`) step by step.

Steps run in plan order; the first failure stops the run with an
:class:`ApplyError` that names the step, the device and serial, the tool's
error, and which steps were applied. Nothing here decides *what* to do: that
is the planner's job. Apply only adds last-moment guards:

* before ``mdadm --create``, ``pvcreate`` and ``mkfs`` on a device the plan
  found blank, ``wipefs --json`` must still find nothing on it (nothing
  appeared since the plan was made);
* ``mdadm.conf`` gets the ARRAY line ``mdadm --detail --brief`` prints for
  the running array, and ``update-initramfs`` runs only when that changed
  the file;
* ``udevadm settle`` after steps that make or change block devices, so that
  ``/dev/md/<name>`` and ``/dev/disk/by-uuid`` links exist for the next step.
"""

from __future__ import annotations

import os
import tempfile

from ansible_collections.baremetal.mlops.plugins.module_utils.disk import conffiles
from ansible_collections.baremetal.mlops.plugins.module_utils.disk import signatures as sig_mod
from ansible_collections.baremetal.mlops.plugins.module_utils.disk.exceptions import ApplyError, DiskError
from ansible_collections.baremetal.mlops.plugins.module_utils.disk.planner import public_step
from ansible_collections.baremetal.mlops.plugins.module_utils.disk.state import read_text_file

SETTLE_AFTER = frozenset(("wipefs", "mdadm_create", "pvcreate", "vgcreate", "vgextend", "lvcreate", "mkfs"))


def file_writer(module):
    """``write(path, text)``: write a whole file atomically (temp file + ``module.atomic_move``).

    An existing file keeps its owner, mode and SELinux context; a new one is
    0644 in a directory created 0755 when missing.
    """

    def write(path, text):
        directory = os.path.dirname(path) or "."
        if not os.path.isdir(directory):
            os.makedirs(directory, 0o755)
        handle, tmp = tempfile.mkstemp(prefix=".nvme_storage.", dir=directory)
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(text.encode("utf-8"))
                out.flush()
                os.fsync(out.fileno())
            os.chmod(tmp, 0o644)
            module.atomic_move(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    return write


class Applier(object):
    """Run plan steps.

    :param run: ``run(argv) -> (rc, stdout, stderr)``.
    :param bins: tool name (``argv[0]`` of a step) -> path, e.g. from ``module.get_bin_path``.
    :param write: ``write(path, text)``, see :func:`file_writer`.
    :param fstab_path: the fstab file fstab steps edit.
    :param makedirs: ``makedirs(path)`` for mount points.
    :param udevadm: path of udevadm, or None to not wait for udev.
    """

    def __init__(self, run, bins, write, fstab_path="/etc/fstab", makedirs=None, udevadm=None):
        self.run = run
        self.bins = dict(bins)
        self.write = write
        self.fstab_path = fstab_path
        self.makedirs = makedirs or (lambda path: os.makedirs(path, 0o755))
        self.udevadm = udevadm
        self.applied = []
        self.conf_changed = False

    # -- helpers ---------------------------------------------------------------------------

    def _fail(self, step, msg, argv=None, rc=None, out=None, err=None, hint=None):
        index = len(self.applied) + 1
        raise ApplyError(
            "step %d (%s%s%s) failed: %s; %d step(s) before it were applied%s" % (
                index, step["action"], " on %s" % step["device"] if step.get("device") else "",
                " serial %s" % step["serial"] if step.get("serial") else "", msg, len(self.applied),
                ": " + ", ".join("%s %s" % (s["action"], s["device"] or "") for s in self.applied)
                if self.applied else ""),
            cmd=argv, rc=rc, stdout=out, stderr=err, component="nvme_storage", device=step.get("device"),
            hint=hint or "fix the cause by hand and run again: the plan is made anew from what is on the disks",
            details={"failed_step": public_step(step), "applied": [public_step(s) for s in self.applied]},
        )

    def _argv(self, argv):
        tool = argv[0]
        if tool not in self.bins:
            raise KeyError(tool)
        return [self.bins[tool]] + list(argv[1:])

    def _exec(self, step, argv=None):
        argv = self._argv(argv or step["argv"])
        rc, out, err = self.run(argv)
        if rc != 0:
            text = (err or out or "no output").strip().splitlines()
            self._fail(step, "%s exited with %s: %s" % (os.path.basename(argv[0]), rc, " ".join(text[:3])),
                       argv, rc, out, err)
        return out

    def _settle(self):
        if self.udevadm:
            self.run([self.udevadm, "settle", "--timeout=30"])

    def _ensure_blank(self, step, devices):
        for device in devices:
            argv = self._argv(["wipefs", "--json", device])
            rc, out, err = self.run(argv)
            if rc != 0:
                self._fail(step, "cannot read the signatures on %s: %s" % (device, (err or out).strip()), argv, rc,
                           out, err)
            found = sig_mod.signature_reasons(sig_mod.parse_wipefs_json(out, device))
            if found:
                self._fail(step, "%s is no longer blank (%s): something wrote to it after the plan was made" % (
                    device, "; ".join(found)), hint="find out what uses the disk; run again to get a new plan")

    # -- steps -------------------------------------------------------------------------------

    def _mdadm_conf(self, step):
        out = self._exec(step)
        lines = [line for line in out.splitlines() if line.startswith("ARRAY ")]
        if not lines:
            self._fail(step, "mdadm --detail --brief printed no ARRAY line: %r" % out[:200], step["argv"])
        path = step["params"]["path"]
        before = read_text_file(path)
        after, changed = conffiles.set_array_line(before, lines[0])
        if changed:
            self.write(path, after)
            self.conf_changed = True

    def _fstab(self, step):
        before = read_text_file(self.fstab_path) or ""
        after, changed = conffiles.set_fstab_entry(before, step["params"]["line"], step["params"]["mount_point"])
        if changed:
            self.write(self.fstab_path, after)

    def _fstab_remove(self, step):
        before = read_text_file(self.fstab_path) or ""
        after, changed = conffiles.remove_fstab_lines(before, [step["params"]["line"]])
        if changed:
            self.write(self.fstab_path, after)

    def _mdadm_conf_remove(self, step):
        path = step["params"]["path"]
        before = read_text_file(path)
        after, changed = conffiles.remove_array(before, step["params"]["uuid"])
        if changed:
            self.write(path, after)
            self.conf_changed = True

    def _step(self, step):
        action = step["action"]
        if action in ("mdadm_create", "pvcreate", "mkfs"):
            self._ensure_blank(step, step["params"].get("devices") or [])
        if action == "mdadm_conf":
            self._mdadm_conf(step)
        elif action == "fstab":
            self._fstab(step)
        elif action == "fstab_remove":
            self._fstab_remove(step)
        elif action == "mdadm_conf_remove":
            self._mdadm_conf_remove(step)
        elif action == "mkdir":
            self.makedirs(step["params"]["path"])
        elif action == "update_initramfs":
            if not self.conf_changed:
                return "skipped: mdadm.conf did not change"
            self._exec(step)
        elif step["argv"]:
            self._exec(step)
        else:
            raise KeyError(action)
        if action in SETTLE_AFTER:
            self._settle()
        return "done"

    def apply(self, steps):
        """Run every step; returns ``[(public step, outcome)]``. Raises :class:`ApplyError` on the first failure."""
        results = []
        for step in steps:
            try:
                outcome = self._step(step)
            except ApplyError:
                raise
            except KeyError as exc:
                self._fail(step, "no tool or handler for %s" % exc,
                           hint="this is a bug of nvme_storage: report it with the plan")
            except (IOError, OSError) as exc:
                self._fail(step, "%s: %s" % (getattr(exc, "filename", None) or "", exc.strerror or exc))
            except DiskError as exc:
                self._fail(step, exc.message)
            self.applied.append(step)
            results.append((public_step(step), outcome))
        return results
