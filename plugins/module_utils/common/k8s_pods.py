# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""One rule for "is this pod ready", shared by the k8s_cluster_health module and
the upgrade gate's pods_not_ready filter.

A pod is fine when it has Succeeded, or is Running with every container ready.
:func:`pod_not_ready_reason` takes a pod as the API serves it (JSON, camelCase
keys: what ``kubectl get pods -o json`` prints, or a client object passed
through ``ApiClient().sanitize_for_serialization``) and returns ``None`` for a
fine pod, else a short reason naming the first container that is not ready.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


def _container_reason(statuses):
    for status in statuses:
        if status.get("ready"):
            continue
        state = status.get("state") or {}
        if state.get("waiting"):
            return "container %s waiting: %s" % (status.get("name"), state["waiting"].get("reason", "?"))
        if state.get("terminated"):
            term = state["terminated"]
            return "container %s terminated: %s (exit %s)" % (status.get("name"), term.get("reason", "?"),
                                                              term.get("exitCode", "?"))
        return "container %s not ready" % status.get("name")
    return ""


def pod_not_ready_reason(pod):
    """None for a ready or finished pod, else why it is not ready (see the module docstring)."""
    status = pod.get("status") or {}
    phase = status.get("phase") or ""
    if phase == "Succeeded":
        return None
    statuses = status.get("containerStatuses") or []
    if phase == "Running" and statuses and all(s.get("ready") for s in statuses):
        return None
    return _container_reason(statuses) or status.get("reason") or "no container status yet"
