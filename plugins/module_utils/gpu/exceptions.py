# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Errors of the GPU backend (PCI sysfs, nvidia-smi)."""

from __future__ import annotations

from ansible_collections.baremetal.mlops.plugins.module_utils.common.exceptions import (
    CommandError,
    MlopsError,
    ParseError,
)


class GpuError(MlopsError):
    """Base of every GPU backend error."""


class PciScanError(GpuError):
    """The PCI bus in sysfs could not be read."""

    def __init__(self, msg, **kwargs):
        kwargs.setdefault("component", "sysfs")
        super().__init__(msg, **kwargs)


class NvidiaSmiError(CommandError, GpuError):
    """nvidia-smi failed in a way that is not a fact about the host (bad arguments, crash)."""


class NvidiaSmiParseError(ParseError, GpuError):
    """nvidia-smi printed something in no format we know."""
