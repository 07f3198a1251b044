# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Parse nvme-cli JSON output across the versions in the field.

Formats (nvme-print.c in 2.3, nvme-print-json.c from 2.4 on):

``nvme list -o json``
    ``{"Devices": [{"NameSpace": 1, "DevicePath": "/dev/nvme0n1", "Firmware",
    "ModelNumber", "SerialNumber", "UsedBytes", "MaximumLBA", "PhysicalSize",
    "SectorSize"}]}``; 2.5 and later add ``"GenericPath": "/dev/ng0n1"``.
``nvme list -o json -v``
    ``{"Devices": [{"HostNQN", "HostID", "Subsystems": [{"Subsystem",
    "SubsystemNQN", "Controllers": [{"Controller", "SerialNumber",
    "ModelNumber", "Firmware", "Transport", "Address", "Namespaces": [...],
    "Paths": [...]}], "Namespaces": [...]}]}]}`` where a namespace is
    ``{"NameSpace": "nvme0n1", "NSID": 1, "UsedBytes", ...}``. With
    ``--output-format-version=2`` (2.7+) a multipath subsystem lists
    ``Namespaces`` each with its ``Paths`` (and the controller fields).
``nvme smart-log DEV -o json``
    ``critical_warning`` (an int, or with ``-H`` an object whose ``value``
    -- ``Value`` in 2.7 -- is the int), ``temperature`` in Kelvin (spelled
    ``Temperature`` in 2.7 only), ``avail_spare``, ``spare_thresh``,
    ``percent_used``, and 128-bit counters (``power_on_hours``,
    ``media_errors``, ...) that nvme-cli 2.3 prints as JSON strings and later
    versions as numbers.
"""

from __future__ import annotations

import json
import re

from ansible_collections.baremetal.mlops.plugins.module_utils.disk.exceptions import DiskParseError

KELVIN_OFFSET = 273

_VERSION_RE = re.compile(r"^nvme version (\S+)", re.MULTILINE)
_LIBNVME_RE = re.compile(r"^libnvme version (\S+)", re.MULTILINE)


def parse_version(text):
    """``{"nvme_cli": "2.3", "libnvme": "1.3"}`` from ``nvme version``; values None when absent."""
    nvme = _VERSION_RE.search(text or "")
    lib = _LIBNVME_RE.search(text or "")
    return {"nvme_cli": nvme.group(1) if nvme else None, "libnvme": lib.group(1) if lib else None}


def _load(text, what, device=None):
    try:
        return json.loads(text)
    except ValueError:
        raise DiskParseError(
            "%s did not print JSON: %r" % (what, (text or "")[:200]),
            component="nvme-cli", device=device,
        )


def _int(value):
    """nvme-cli prints 64/128-bit counters as numbers or as decimal strings."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    try:
        return int(str(value).strip(), 0)
    except ValueError:
        return None


def _ns_entry(entry, serial=None, model=None, firmware=None):
    return {
        "nsid": _int(entry.get("NSID", entry.get("NameSpace"))),
        "used_bytes": _int(entry.get("UsedBytes")),
        "maximum_lba": _int(entry.get("MaximumLBA")),
        "physical_size": _int(entry.get("PhysicalSize")),
        "sector_size": _int(entry.get("SectorSize")),
        "serial": (entry.get("SerialNumber") or serial or "").strip() or None,
        "model": (entry.get("ModelNumber") or model or "").strip() or None,
        "firmware": (entry.get("Firmware") or firmware or "").strip() or None,
    }


def parse_list(text):
    """Namespaces from ``nvme list -o json`` (simple or verbose), keyed by block device name."""
    if not (text or "").strip():
        return {}
    data = _load(text, "nvme list -o json")
    if not isinstance(data, dict) or not isinstance(data.get("Devices", []), list):
        raise DiskParseError("nvme list -o json has no 'Devices' list: %r" % text[:200], component="nvme-cli")
    result = {}
    for item in data.get("Devices", []):
        if "DevicePath" in item:  # simple list, one namespace per item
            name = item["DevicePath"].rsplit("/", 1)[-1]
            result[name] = _ns_entry(item)
            continue
        for subsys in item.get("Subsystems", []):  # verbose list, per host
            for ctrl in subsys.get("Controllers", []):
                for ns in ctrl.get("Namespaces", []):
                    result[ns["NameSpace"]] = _ns_entry(
                        ns, ctrl.get("SerialNumber"), ctrl.get("ModelNumber"), ctrl.get("Firmware"))
            for ns in subsys.get("Namespaces", []):
                ctrl = (ns.get("Paths") or [{}])[0]
                result[ns["NameSpace"]] = _ns_entry(
                    ns, ctrl.get("SerialNumber"), ctrl.get("ModelNumber"), ctrl.get("Firmware"))
    return result


def _get(data, key):
    """Look a smart-log key up regardless of case (2.7 wrote ``Temperature``)."""
    if key in data:
        return data[key]
    lowered = dict((k.lower(), v) for k, v in data.items())
    return lowered.get(key.lower())


def parse_smart_log(text, device=None):
    """Health of a controller from ``nvme smart-log DEV -o json`` (with or without ``-H``)."""
    data = _load(text, "nvme smart-log -o json", device)
    if not isinstance(data, dict) or _get(data, "percent_used") is None:
        raise DiskParseError(
            "nvme smart-log printed no percent_used: %r" % (text or "")[:200],
            component="nvme-cli", device=device,
        )
    warning = _get(data, "critical_warning")
    if isinstance(warning, dict):
        warning = _get(warning, "value")
    kelvin = _int(_get(data, "temperature"))
    return {
        "critical_warning": _int(warning),
        "temperature_kelvin": kelvin,
        "temperature_celsius": None if kelvin is None else kelvin - KELVIN_OFFSET,
        "available_spare": _int(_get(data, "avail_spare")),
        "available_spare_threshold": _int(_get(data, "spare_thresh")),
        "percent_used": _int(_get(data, "percent_used")),
        "media_errors": _int(_get(data, "media_errors")),
        "num_err_log_entries": _int(_get(data, "num_err_log_entries")),
        "power_on_hours": _int(_get(data, "power_on_hours")),
        "power_cycles": _int(_get(data, "power_cycles")),
        "unsafe_shutdowns": _int(_get(data, "unsafe_shutdowns")),
        "data_units_read": _int(_get(data, "data_units_read")),
        "data_units_written": _int(_get(data, "data_units_written")),
    }
