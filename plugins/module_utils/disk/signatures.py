# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""On-disk signatures as ``wipefs --json DEVICE`` lists them (util-linux >= 2.29).

Listing is read-only: without ``--all``/``--offset`` wipefs erases nothing.
Output (util-linux 2.38.1, Debian 12)::

    {
       "signatures": [
          {
             "device": "nvme0n1",
             "offset": "0x200",
             "type": "gpt",
             "uuid": null,
             "label": null
          }, ...
       ]
    }

A GPT disk shows its primary and backup header (``gpt`` twice) and the
protective MBR (``PMBR``). A disk without signatures prints an empty list.
"""

from __future__ import annotations

import json

from ansible_collections.baremetal.mlops.plugins.module_utils.disk.exceptions import DiskParseError

# libblkid partition table prober names (libblkid/src/partitions/*.c)
PARTITION_TABLE_TYPES = frozenset(("gpt", "PMBR", "dos", "atari", "bsd", "mac", "sgi", "sun", "solaris", "unixware", "minix", "aix", "ultrix"))
# libblkid superblock probers with usage "raid" (libblkid/src/superblocks/*.c)
RAID_TYPES = frozenset((
    "linux_raid_member", "LVM2_member", "LVM1_member", "zfs_member", "isw_raid_member",
    "ddf_raid_member", "adaptec_raid_member", "promise_fasttrack_raid_member", "silicon_medley_raid_member",
    "nvidia_raid_member", "via_raid_member", "jmicron_raid_member", "hpt45x_raid_member", "hpt37x_raid_member",
    "lsi_mega_raid_member", "bcache", "ceph_bluestore", "drbd", "VMFS_volume_member", "DM_integrity", "stratis",
))
CRYPTO_TYPES = frozenset(("crypto_LUKS", "BitLocker", "TrueCrypt", "VeraCrypt"))


def parse_wipefs_json(text, device=None):
    """Signatures found on one device: list of ``{type, offset, uuid, label}``."""
    if not text.strip():
        return []
    try:
        data = json.loads(text)
        entries = data["signatures"]
    except (ValueError, KeyError, TypeError):
        raise DiskParseError(
            "wipefs --json printed no 'signatures' list: %r" % text[:200],
            component="wipefs", device=device,
            hint="use util-linux 2.29 or later, whose wipefs supports --json",
        )
    result = []
    for entry in entries:
        offset = entry.get("offset")
        try:
            offset = int(offset, 16) if isinstance(offset, str) else offset
        except ValueError:
            pass
        result.append({
            "type": entry.get("type"),
            "offset": offset,
            "uuid": entry.get("uuid"),
            "label": entry.get("label"),
        })
    return result


def usage_of(sig_type):
    """``partition_table``, ``raid``, ``crypto``, ``swap`` or ``filesystem`` for a signature type."""
    if sig_type in PARTITION_TABLE_TYPES:
        return "partition_table"
    if sig_type in RAID_TYPES:
        return "raid"
    if sig_type in CRYPTO_TYPES:
        return "crypto"
    if sig_type == "swap":
        return "swap"
    return "filesystem"


def signature_reasons(signatures):
    """Human readable reasons a device with these signatures is in use, without duplicates.

    A GPT disk shows as one ``partition table (gpt)``: its backup header and
    protective MBR belong to it.
    """
    types = []
    for sig in signatures:
        if sig.get("type") and sig["type"] not in types:
            types.append(sig["type"])
    if "gpt" in types and "PMBR" in types:
        types.remove("PMBR")
    reasons = []
    for sig_type in types:
        usage = usage_of(sig_type)
        if usage == "partition_table":
            reasons.append("partition table (%s)" % sig_type)
        elif usage == "filesystem":
            reasons.append("%s filesystem signature" % sig_type)
        else:
            reasons.append("%s signature" % sig_type)
    return reasons
