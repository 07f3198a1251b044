# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Kubernetes resource quantities (``512Mi``, ``1G``, ``2e9``) as numbers.

The suffixes are those of k8s.io/apimachinery's resource.Quantity: binary
(Ki Mi Gi Ti Pi Ei), decimal (k M G T P E) and ``m`` (milli). A quantity that
is not one of these forms is ``None``, never a guess.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_BINARY = {"Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30, "Ti": 2 ** 40, "Pi": 2 ** 50, "Ei": 2 ** 60}
_DECIMAL = {"m": Decimal("0.001"), "": 1, "k": 10 ** 3, "M": 10 ** 6, "G": 10 ** 9, "T": 10 ** 12,
            "P": 10 ** 15, "E": 10 ** 18}
_QUANTITY = re.compile(r"^([+]?[0-9]+(?:\.[0-9]*)?|[+]?\.[0-9]+)(?:(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E)|[eE]([+-]?[0-9]+))?$")


def parse_quantity(value):
    """A quantity string (or a number) -> Decimal, or None when it is not a Kubernetes quantity."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return Decimal(str(value)) if value >= 0 else None
    m = _QUANTITY.match(str(value).strip())
    if not m:
        return None
    number, suffix, exponent = m.groups()
    try:
        n = Decimal(number)
    except InvalidOperation:
        return None
    if exponent is not None:
        return n * (Decimal(10) ** int(exponent))
    if suffix in _BINARY:
        return n * _BINARY[suffix]
    return n * _DECIMAL[suffix or ""]


def quantity_bytes(value):
    """A memory or storage quantity in whole bytes (rounded up), or -1 when it is not a quantity."""
    q = parse_quantity(value)
    if q is None:
        return -1
    whole = int(q)
    return whole + 1 if q > whole else whole
