# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Errors of the disk backend (sysfs, nvme-cli, wipefs, mountinfo)."""

from __future__ import annotations

from ansible_collections.baremetal.mlops.plugins.module_utils.common.exceptions import (
    CommandError,
    MlopsError,
    ParseError,
)


class DiskError(MlopsError):
    """Base of every disk backend error."""


class SysfsError(DiskError):
    """sysfs could not be read, or holds something the kernel never writes."""

    def __init__(self, msg, **kwargs):
        kwargs.setdefault("component", "sysfs")
        super().__init__(msg, **kwargs)


class DiskCommandError(CommandError, DiskError):
    """nvme-cli, wipefs or another disk tool failed."""


class DiskParseError(ParseError, DiskError):
    """A disk tool printed something in no format we know."""
