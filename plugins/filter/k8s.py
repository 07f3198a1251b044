# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Filters for Kubernetes values in roles.

``{{ '512Mi' | baremetal.mlops.k8s_quantity_bytes }}`` -> 536870912; -1 when
the value is not a Kubernetes quantity (roles refuse it naming the variable).

``{{ docs | baremetal.mlops.k8s_replace_images({upstream: ours}, 'Never', {ours: digest}) }}``:
an operator's release manifest with its upstream images replaced by the
platform bundle's, pod templates annotated with the images' digests (a
rebuilt image rolls its pods; module_utils/k8s/manifests.py); an error names
every container whose image has no replacement.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.baremetal.mlops.plugins.module_utils.k8s.manifests import UnknownImage, replace_images
from ansible_collections.baremetal.mlops.plugins.module_utils.k8s.quantity import quantity_bytes


def k8s_replace_images(docs, mapping, pull_policy=None, digests=None):
    try:
        return replace_images(docs, mapping, pull_policy, digests)
    except UnknownImage as exc:
        raise AnsibleFilterError(str(exc)) from exc


class FilterModule(object):
    def filters(self):
        return {"k8s_quantity_bytes": quantity_bytes, "k8s_replace_images": k8s_replace_images}
