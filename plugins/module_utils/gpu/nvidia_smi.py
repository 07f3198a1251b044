# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Parse what nvidia-smi and the NVIDIA kernel module print.

``nvidia-smi --query-gpu=F1,F2,... --format=csv,noheader,nounits`` prints one
line per GPU, values separated by ``", "``. A value the GPU cannot give is a
bracketed word: ``[N/A]``, ``[Not Supported]``, ``[Insufficient
Permissions]``, or for a sick GPU ``[Unknown Error]``, ``[GPU requires
reset]``, ``[GPU is lost]``. A GPU whose NVML handle cannot be had (fallen
off the bus, Xid 79) is no CSV line but ``Unable to determine the device
handle for GPU 0000:3B:00.0: Unknown Error`` (some drivers print
``GPU0000:...`` without the space). Exit codes (nvidia-smi(1), RETURN
VALUE): 6 no device found, 9 driver not loaded, 12 NVML library not found,
15 a GPU fell off the bus, 255 other errors.

When no driver runs, nvidia-smi 535.261.03 prints on stdout and exits 9::

    NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running.

The plain ``nvidia-smi`` table starts with a header carrying the versions::

    | NVIDIA-SMI 550.54.15              Driver Version: 550.54.15      CUDA Version: 12.4     |

and ``nvidia-smi -q`` has ``CUDA Version : 12.4``.
"""

from __future__ import annotations

import csv
import re

from ansible_collections.baremetal.mlops.plugins.module_utils.gpu.exceptions import NvidiaSmiParseError
from ansible_collections.baremetal.mlops.plugins.module_utils.gpu.pci import normalize_bus_id

# Fields asked for, in order; all exist in drivers >= 450 (mig.mode.current came with 450).
QUERY_FIELDS = (
    "index",
    "pci.bus_id",
    "name",
    "uuid",
    "serial",
    "vbios_version",
    "memory.total",
    "driver_version",
    "persistence_mode",
    "ecc.mode.current",
    "mig.mode.current",
    "compute_mode",
)

NOT_AVAILABLE = frozenset(("[N/A]", "N/A", "[Not Supported]", "[Insufficient Permissions]", "[Not Found]"))
ERROR_STATES = {
    "[GPU requires reset]": "requires_reset",
    "[GPU is lost]": "lost",
    "[Unknown Error]": "error",
}

# Whole-run failures: (state, text that identifies it). The state becomes a fact.
FAILURES = (
    ("driver_not_loaded", "couldn't communicate with the NVIDIA driver"),
    ("nvml_not_found", "couldn't find libnvidia-ml.so"),
    ("driver_library_mismatch", "Driver/library version mismatch"),
    ("nvml_init_failed", "Failed to initialize NVML"),
    ("no_devices", "No devices were found"),
)

_HANDLE_RE = re.compile(
    r"^Unable to determine the device handle for (?:GPU|gpu)\s*([0-9A-Fa-f]+:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-7])\s*:\s*(.*)$"
)
_LOST_RE = re.compile(r"GPU ([0-9A-Fa-f]+:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-7]).*(?:is lost|fallen off the bus)", re.IGNORECASE)
_CUDA_RE = re.compile(r"CUDA Version\s*:\s*([0-9]+(?:\.[0-9]+)*)")
_DRIVER_RE = re.compile(r"Driver Version\s*:\s*([0-9]+(?:\.[0-9]+)*)")
_NVRM_RE = re.compile(
    r"NVRM version: NVIDIA UNIX (?:(Open) Kernel Module for (\S+)|(\S+) Kernel Module)\s+([0-9]+(?:\.[0-9]+)+)"
)


def classify_failure(text):
    """``{"state", "message"}`` when nvidia-smi output says the whole run failed, else None."""
    for state, marker in FAILURES:
        for line in (text or "").splitlines():
            if marker in line:
                return {"state": state, "message": line.strip()}
    return None


def parse_header(text):
    """Driver and CUDA versions from the plain ``nvidia-smi`` table or ``nvidia-smi -q``."""
    cuda = _CUDA_RE.search(text or "")
    driver = _DRIVER_RE.search(text or "")
    return {"cuda_version": cuda.group(1) if cuda else None, "driver_version": driver.group(1) if driver else None}


def parse_kernel_module_version(text):
    """``{"version", "kernel_module"}`` from ``/proc/driver/nvidia/version`` or ``/sys/module/nvidia/version``.

    ``/proc`` reads ``NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15  <date>`` for the
    proprietary module and ``NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  565.57.01  Release
    Build ...`` for the open one; ``/sys/module/nvidia/version`` holds the bare version.
    """
    text = (text or "").strip()
    match = _NVRM_RE.search(text)
    if match:
        return {"version": match.group(4), "kernel_module": "open" if match.group(1) else "proprietary"}
    if re.match(r"^[0-9]+(?:\.[0-9]+)+$", text):
        return {"version": text, "kernel_module": None}
    return {"version": None, "kernel_module": None}


def _value(raw):
    raw = raw.strip()
    if raw in NOT_AVAILABLE:
        return None
    return raw


def _mode(raw):
    """``Enabled``/``Disabled`` -> True/False; N/A -> None."""
    value = _value(raw)
    if value is None or value in ERROR_STATES:
        return None
    return {"enabled": True, "disabled": False}.get(value.lower(), value)


def _to_int(raw):
    value = _value(raw)
    if value is None or value in ERROR_STATES:
        return None
    try:
        return int(float(value))
    except ValueError:
        return None


def row_to_gpu(values, fields=QUERY_FIELDS):
    """One CSV line (already split) -> GPU dict with typed values and the error states it shows."""
    raw = dict(zip(fields, values))
    errors = []
    for field, value in raw.items():
        state = ERROR_STATES.get(value.strip())
        if state and state not in errors:
            errors.append(state)

    def text(field):
        value = _value(raw.get(field, "[N/A]"))
        return None if value in ERROR_STATES else value

    return {
        "index": _to_int(raw.get("index", "[N/A]")),
        "bus_id": normalize_bus_id(raw.get("pci.bus_id", "")),
        "name": text("name"),
        "uuid": text("uuid"),
        "serial": text("serial"),
        "vbios_version": text("vbios_version"),
        "memory_total_mib": _to_int(raw.get("memory.total", "[N/A]")),
        "driver_version": text("driver_version"),
        "persistence_mode": _mode(raw.get("persistence_mode", "[N/A]")),
        "ecc_enabled": _mode(raw.get("ecc.mode.current", "[N/A]")),
        "mig_enabled": _mode(raw.get("mig.mode.current", "[N/A]")),
        "compute_mode": text("compute_mode"),
        "errors": errors,
    }


def parse_query_csv(text, fields=QUERY_FIELDS):
    """``(gpus, unreachable)`` from ``--query-gpu`` CSV output (noheader, nounits).

    ``unreachable`` lists ``{"bus_id", "error"}`` for GPUs nvidia-smi could
    not get a handle for. Lines that are neither raise
    :class:`NvidiaSmiParseError`, except the whole-run failure messages
    (see :func:`classify_failure`), which the caller checks first.
    """
    gpus = []
    unreachable = []
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        handle = _HANDLE_RE.match(line.strip())
        if handle:
            unreachable.append({"bus_id": normalize_bus_id(handle.group(1)), "error": handle.group(2).strip()})
            continue
        lost = _LOST_RE.search(line)
        if lost and "," not in line:
            unreachable.append({"bus_id": normalize_bus_id(lost.group(1)), "error": line.strip()})
            continue
        values = next(csv.reader([line], skipinitialspace=True))
        if len(values) != len(fields):
            raise NvidiaSmiParseError(
                "expected %d comma separated values (%s), got %d: %r" % (len(fields), ",".join(fields), len(values), line),
                component="nvidia-smi",
                hint="an older driver may not know one of the fields; run nvidia-smi --help-query-gpu",
            )
        gpus.append(row_to_gpu(values, fields))
    return gpus, unreachable
