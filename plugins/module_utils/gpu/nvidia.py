# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Gather NVIDIA GPU facts: the PCI bus says what is installed, the driver what works.

The two views are merged by PCI address. A GPU on the bus that nvidia-smi
does not list is reported with ``driver_visible: false`` and a ``state``
saying why (``unreachable`` when nvidia-smi could not get its handle, as
after "fallen off the bus"; ``no_driver`` when no driver runs;
``not_visible`` otherwise, e.g. bound to vfio-pci). A driver that is not
loaded, or an nvidia-smi that cannot reach it, is a fact
(``nvidia_driver.loaded``/``message``), not an error. Nothing is changed.
"""

from __future__ import annotations

import os

from ansible_collections.baremetal.mlops.plugins.module_utils.gpu import nvidia_smi
from ansible_collections.baremetal.mlops.plugins.module_utils.gpu.exceptions import NvidiaSmiError, NvidiaSmiParseError
from ansible_collections.baremetal.mlops.plugins.module_utils.gpu.pci import scan_nvidia_gpus

SMI_FIELDS = ("index", "name", "uuid", "serial", "vbios_version", "memory_total_mib", "driver_version",
              "persistence_mode", "ecc_enabled", "mig_enabled", "compute_mode")
PCI_FIELDS = ("vendor_id", "device_id", "subsystem_vendor_id", "subsystem_device_id", "class_id", "class_name",
              "numa_node")
# Failures after which a --query-gpu run cannot tell anything more.
FATAL_STATES = ("driver_not_loaded", "nvml_not_found", "driver_library_mismatch", "nvml_init_failed")


def _read(path):
    try:
        with open(path, "rb") as handle:
            return handle.read().decode("utf-8", "replace")
    except (IOError, OSError):
        return None


class NvidiaGpuFactsCollector(object):
    """Collect ``ansible_facts.nvidia_gpus`` and ``ansible_facts.nvidia_driver``.

    :param run: ``run(argv) -> (rc, stdout, stderr)``.
    :param nvidia_smi: path of nvidia-smi, None when it is not installed.
    """

    def __init__(self, run, nvidia_smi=None, sysfs_root="/sys", proc_root="/proc"):
        self.run = run
        self.nvidia_smi = nvidia_smi
        self.sysfs_root = sysfs_root
        self.proc_root = proc_root
        self.warnings = []

    def kernel_module(self):
        """Version and flavour of the loaded ``nvidia`` kernel module; version None when it is not loaded."""
        proc = _read(os.path.join(self.proc_root, "driver", "nvidia", "version"))
        info = nvidia_smi.parse_kernel_module_version(proc)
        sys_version = _read(os.path.join(self.sysfs_root, "module", "nvidia", "version"))
        if sys_version and sys_version.strip():
            info["version"] = sys_version.strip()
        info["loaded"] = bool(info["version"]) or os.path.isdir(os.path.join(self.sysfs_root, "module", "nvidia"))
        return info

    def _smi(self, args):
        argv = [self.nvidia_smi] + list(args)
        rc, out, err = self.run(argv)
        return argv, rc, out or "", err or ""

    def query(self):
        """Run nvidia-smi; return ``(driver_facts, gpus, unreachable)``."""
        driver = {"smi_ok": False, "message": None, "state": None, "cuda_version": None, "driver_version": None}
        argv, rc, out, err = self._smi([])
        failure = nvidia_smi.classify_failure(out + "\n" + err)
        if failure is None:
            driver.update(nvidia_smi.parse_header(out))
        else:
            driver.update(message=failure["message"], state=failure["state"])
            if failure["state"] in FATAL_STATES:
                return driver, [], []
        argv, rc, out, err = self._smi(["--query-gpu=%s" % ",".join(nvidia_smi.QUERY_FIELDS), "--format=csv,noheader,nounits"])
        failure = nvidia_smi.classify_failure(out + "\n" + err)
        if failure is not None:
            driver.update(message=failure["message"], state=failure["state"])
            return driver, [], []
        try:
            gpus, unreachable = nvidia_smi.parse_query_csv(out)
            extra, more = nvidia_smi.parse_query_csv(err)
        except NvidiaSmiParseError as exc:
            raise NvidiaSmiError(
                exc.msg, cmd=argv, rc=rc, stdout=out, stderr=err, component="nvidia-smi", hint=exc.hint,
            )
        gpus.extend(extra)
        unreachable.extend(more)
        if rc != 0 and not unreachable and not gpus:
            raise NvidiaSmiError(
                "nvidia-smi --query-gpu failed (rc=%s): %s" % (rc, (err or out).strip() or "no output"),
                cmd=argv, rc=rc, stdout=out, stderr=err, component="nvidia-smi",
                hint="run the command on the host; see RETURN VALUE in nvidia-smi(1)",
            )
        driver["smi_ok"] = True
        if unreachable:
            driver["state"] = "gpu_unreachable"
            driver["message"] = "; ".join("GPU %s: %s" % (u["bus_id"], u["error"]) for u in unreachable)
        return driver, gpus, unreachable

    def collect(self):
        """Return ``(nvidia_gpus, nvidia_driver, warnings)``."""
        pci_gpus = scan_nvidia_gpus(self.sysfs_root)
        module = self.kernel_module()
        driver = {
            "loaded": module["loaded"],
            "version": module["version"],
            "kernel_module": module["kernel_module"],
            "cuda_version": None,
            "nvidia_smi": self.nvidia_smi,
            "smi_ok": False,
            "state": None if module["loaded"] else "driver_not_loaded",
            "message": None,
        }
        smi_gpus, unreachable = [], []
        if self.nvidia_smi:
            smi_driver, smi_gpus, unreachable = self.query()
            driver["cuda_version"] = smi_driver["cuda_version"]
            driver["smi_ok"] = smi_driver["smi_ok"]
            driver["message"] = smi_driver["message"]
            driver["state"] = smi_driver["state"] or driver["state"]
            if smi_driver["state"] == "driver_not_loaded" and not module["version"]:
                driver["loaded"] = False
            if smi_driver["smi_ok"]:
                driver["loaded"] = True
                versions = [g["driver_version"] for g in smi_gpus if g["driver_version"]]
                driver["version"] = driver["version"] or smi_driver["driver_version"] or (versions[0] if versions else None)
        elif pci_gpus:
            self.warnings.append("nvidia-smi is not installed: GPUs are reported from the PCI bus only")

        gpus = self.merge(pci_gpus, smi_gpus, unreachable, driver)
        driver["gpu_count_pci"] = len(pci_gpus)
        driver["gpu_count_visible"] = len([g for g in gpus if g["driver_visible"]])
        if driver["smi_ok"] and driver["gpu_count_visible"] < len(pci_gpus):
            self.warnings.append(
                "%d of %d NVIDIA GPUs on the PCI bus are not visible to the driver: %s" % (
                    len(pci_gpus) - driver["gpu_count_visible"], len(pci_gpus),
                    ", ".join(g["bus_id"] for g in gpus if not g["driver_visible"])))
        return gpus, driver, self.warnings

    @staticmethod
    def merge(pci_gpus, smi_gpus, unreachable, driver):
        """One entry per GPU, keyed by PCI address; see the module's RETURN for the keys."""
        by_bus = {}
        for pci in pci_gpus:
            entry = dict((key, pci.get(key)) for key in PCI_FIELDS)
            entry.update(bus_id=pci["bus_id"], kernel_driver=pci.get("driver"), on_pci_bus=True)
            by_bus[pci["bus_id"]] = entry
        for smi in smi_gpus:
            entry = by_bus.setdefault(smi["bus_id"], dict(
                [(key, None) for key in PCI_FIELDS], bus_id=smi["bus_id"], kernel_driver=None, on_pci_bus=False))
            entry.update((key, smi.get(key)) for key in SMI_FIELDS)
            entry["driver_visible"] = True
            entry["errors"] = list(smi["errors"])
            entry["state"] = smi["errors"][0] if smi["errors"] else "ok"
        for lost in unreachable:
            entry = by_bus.setdefault(lost["bus_id"], dict(
                [(key, None) for key in PCI_FIELDS], bus_id=lost["bus_id"], kernel_driver=None, on_pci_bus=False))
            entry["driver_visible"] = False
            entry["state"] = "unreachable"
            entry["errors"] = [lost["error"]]
        for entry in by_bus.values():
            for key in SMI_FIELDS:
                entry.setdefault(key, None)
            entry.setdefault("errors", [])
            if "driver_visible" not in entry:
                entry["driver_visible"] = False
                if driver["smi_ok"]:
                    entry["state"] = "not_visible"
                else:
                    entry["state"] = "unknown" if driver["loaded"] else "no_driver"
        return [by_bus[bus] for bus in sorted(by_bus)]
