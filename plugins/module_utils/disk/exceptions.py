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


class LayoutError(DiskError):
    """The desired storage layout cannot be applied; nothing was changed.

    ``problems`` lists every problem found (all are checked before any
    change), each a sentence naming the volume, disk path and serial, what
    was found and the fix.
    """

    def __init__(self, problems, **kwargs):
        self.problems = list(problems)
        kwargs.setdefault("component", "nvme_storage")
        details = dict(kwargs.pop("details", None) or {})
        details["problems"] = self.problems
        if len(self.problems) == 1:
            msg = "refusing the storage layout, nothing was changed: %s" % self.problems[0]
        else:
            msg = "refusing the storage layout (%d problems), nothing was changed: %s" % (
                len(self.problems), " ".join("(%d) %s" % (i, p) for i, p in enumerate(self.problems, 1)))
        super().__init__(msg, details=details, **kwargs)


class ApplyError(DiskCommandError):
    """A step of a storage plan failed; the steps before it were applied."""
