# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Filters of playbooks/bundle.yml: what to download for an offline bundle.

``{{ mlops_versions | baremetal.mlops.bundle_plan('1.35.8', 'amd64') }}``
returns the plan of ``module_utils/bundle/plan.py`` (downloads, images,
unpinned, errors). ``{{ release_entry | baremetal.mlops.bundle_image_names('1.35.8') }}``
returns the image names kubeadm lists for that release (the same rule).
"""

from __future__ import annotations

from ansible_collections.baremetal.mlops.plugins.module_utils.bundle.plan import (
    download_plan,
    file_entries,
    image_entry,
    image_names,
    pins_of,
)


def bundle_plan(versions, release=None, arch="amd64"):
    return download_plan(versions, release, arch)


def bundle_image_names(rel, release):
    """Sorted image names of one release entry of versions.yml (kubernetes.releases.<release>)."""
    return sorted(image_names(release, rel))


class FilterModule(object):
    def filters(self):
        return {
            "bundle_plan": bundle_plan,
            "bundle_pins": pins_of,
            "bundle_image_entry": image_entry,
            "bundle_file_entries": file_entries,
            "bundle_image_names": bundle_image_names,
        }
