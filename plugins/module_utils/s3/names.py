# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""S3 bucket names: what a general purpose bucket may be called.

Pure. The rules are AWS's "Bucket naming rules" for general purpose buckets
(SeaweedFS and MinIO accept a superset; a name that passes here works on
both and on AWS): 3 to 63 characters, lowercase letters, digits, dots and
hyphens, beginning and ending with a letter or digit, no two adjacent dots,
not shaped like an IP address, none of the reserved prefixes and suffixes.
"""

from __future__ import annotations

import re

_ALLOWED = re.compile(r"^[a-z0-9.-]+$")
_IPV4 = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")
RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def bucket_name_problems(name):
    """Every reason ``name`` is not a valid bucket name (empty list: valid)."""
    if not isinstance(name, str):
        return ["%r is not a string" % (name,)]
    problems = []
    if not 3 <= len(name) <= 63:
        problems.append("has %d characters, not 3 to 63" % len(name))
    if not _ALLOWED.match(name or "-"):
        problems.append("may hold only lowercase letters, digits, dots and hyphens")
    if name and not (name[0].isalnum() and name[-1].isalnum()):
        problems.append("must begin and end with a letter or digit")
    if ".." in name:
        problems.append("has two adjacent dots")
    if _IPV4.match(name):
        problems.append("is shaped like an IP address")
    for prefix in RESERVED_PREFIXES:
        if name.startswith(prefix):
            problems.append("begins with the reserved prefix %s" % prefix)
    for suffix in RESERVED_SUFFIXES:
        if name.endswith(suffix):
            problems.append("ends with the reserved suffix %s" % suffix)
    return problems
