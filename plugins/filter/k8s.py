# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Filters for Kubernetes values in roles.

``{{ '512Mi' | baremetal.mlops.k8s_quantity_bytes }}`` -> 536870912; -1 when
the value is not a Kubernetes quantity (roles refuse it naming the variable).
"""

from __future__ import annotations

from ansible_collections.baremetal.mlops.plugins.module_utils.k8s.quantity import quantity_bytes


class FilterModule(object):
    def filters(self):
        return {"k8s_quantity_bytes": quantity_bytes}
