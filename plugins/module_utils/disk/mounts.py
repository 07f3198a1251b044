# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Parse ``/proc/self/mountinfo`` and ``/proc/swaps``.

mountinfo lines are (Documentation/filesystems/proc.rst, 3.5)::

    36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
    (1)(2)(3)   (4)   (5)      (6)      (7)   (8) (9)   (10)         (11)

with zero or more optional fields (7) ended by ``-``. Paths escape space,
tab, newline and backslash as octal (``\\040``).
"""

from __future__ import annotations

import re

from ansible_collections.baremetal.mlops.plugins.module_utils.disk.exceptions import DiskParseError

_OCTAL_RE = re.compile(r"\\([0-7]{3})")


def unescape(field):
    """Undo the kernel's octal escaping of mount paths (``\\040`` -> space)."""
    return _OCTAL_RE.sub(lambda m: chr(int(m.group(1), 8)), field)


def parse_mountinfo(text):
    """List of mounts: ``dev`` (major:minor), ``mountpoint``, ``root``, ``fstype``, ``source``, ``options``."""
    mounts = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split(" ")
        try:
            sep = fields.index("-", 6)
            mounts.append({
                "mount_id": int(fields[0]),
                "parent_id": int(fields[1]),
                "dev": fields[2],
                "root": unescape(fields[3]),
                "mountpoint": unescape(fields[4]),
                "options": fields[5],
                "fstype": fields[sep + 1],
                "source": unescape(fields[sep + 2]),
            })
        except (ValueError, IndexError):
            raise DiskParseError(
                "mountinfo line %d is not in the kernel's format: %r" % (lineno, line),
                component="/proc/self/mountinfo",
            )
    return mounts


def parse_swaps(text):
    """Active swap areas from ``/proc/swaps``: ``filename`` and ``type`` (partition/file)."""
    swaps = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 2:
            swaps.append({"filename": unescape(fields[0]), "type": fields[1]})
    return swaps
