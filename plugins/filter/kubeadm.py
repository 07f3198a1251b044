# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Filters of the kubeadm role's upgrade gate (roles/kubeadm/tasks/upgrade_gate.yml).

``{{ kubectl_get_pods_json | baremetal.mlops.pods_not_ready('v1.35.8') }}`` takes
the output of ``kubectl get pods --output=json`` (a List, as text or parsed) and
returns one line per pod that is not ready: not Succeeded, and not Running with
every container ready (module_utils/common/k8s_pods.py, the rule k8s_cluster_health
uses too). With a
version, the static pods of the control plane (kube-apiserver,
kube-controller-manager, kube-scheduler mirror pods) must also run an image of
that version: a control plane whose kubelet still runs the old manifests is not
upgraded, however ready it is.
"""

from __future__ import annotations

import json

from ansible_collections.baremetal.mlops.plugins.module_utils.common.k8s_pods import pod_not_ready_reason

STATIC_COMPONENTS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler")


def pods_not_ready(pods, static_version=""):
    """Lines naming each pod of the list that is not ready, or not at static_version (see the module docstring)."""
    if isinstance(pods, str):
        pods = json.loads(pods or "{}")
    out = []
    for pod in pods.get("items", []):
        meta, spec, status = pod.get("metadata", {}), pod.get("spec", {}), pod.get("status", {})
        name = "%s/%s" % (meta.get("namespace", ""), meta.get("name", ""))
        reason = pod_not_ready_reason(pod)
        if reason:
            out.append("%s: %s, %s" % (name, status.get("phase") or "no phase", reason))
            continue
        if status.get("phase") == "Succeeded":
            continue
        component = meta.get("labels", {}).get("component", "")
        if static_version and component in STATIC_COMPONENTS:
            images = [c.get("image", "") for c in spec.get("containers", [])]
            if not all(image.endswith(":" + static_version) for image in images):
                out.append("%s: runs %s, not %s yet" % (name, ", ".join(images), static_version))
    return out


class FilterModule(object):
    def filters(self):
        return {"pods_not_ready": pods_not_ready}
