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


def membership(nodes, hosts, inventory=None):
    """Inventory against the cluster's Nodes (issue 25: identity): ``{"problems": [...], "warnings": [...]}``.

    ``nodes``: ``kubectl get nodes --output=json`` (text or parsed). ``hosts``: one ``{name, ip, member}`` per
    inventory host of the run (``member``: it has /etc/kubernetes/kubelet.conf). ``inventory``: every node name of
    the inventory (default: the hosts' names), for the warning about Nodes nobody manages. A node's name is its inventory
    name (kubeadm's nodeRegistration.name), so:

    * a member whose name is no Node, while its address is another Node's: renamed in the inventory after it
      joined (a problem: joins and pod subnets would go to the wrong name);
    * a member whose name and address are no Node: deleted from the cluster but not reset (a problem);
    * a host that is not a member, while a Node already has its name or its address (a problem: a second
      machine under a taken identity);
    * a Node that no inventory host names (a warning: a node this inventory does not manage).
    """
    if isinstance(nodes, str):
        nodes = json.loads(nodes or "{}")
    by_name, by_ip = {}, {}
    for node in nodes.get("items", []):
        name = node.get("metadata", {}).get("name", "")
        by_name[name] = node
        for address in node.get("status", {}).get("addresses", []):
            if address.get("type") == "InternalIP":
                by_ip[address.get("address")] = name
    problems, warnings = [], []
    for host in hosts:
        name, ip, member = host["name"], host.get("ip"), bool(host.get("member"))
        other = by_ip.get(ip)
        if member and name not in by_name:
            if other:
                problems.append(
                    "%s (%s) is a member of the cluster, but the cluster knows that address as node %s: the host was "
                    "renamed in the inventory after it joined. Fix: give it back the name %s in the inventory, or "
                    "remove node %s (remove_node.yml) and add %s (add_node.yml)" % (name, ip, other, other, other, name))
            else:
                problems.append(
                    "%s (%s) has a kubelet configuration, but the cluster has no node %s and none at %s: it was "
                    "deleted from the cluster without a reset. Fix: reset it (reset.yml --limit %s), then add it "
                    "(add_node.yml --limit %s)" % (name, ip, name, ip, name, name))
        elif not member and name in by_name:
            problems.append(
                "%s (%s) is not a member (no kubelet configuration), but the cluster already has a node %s: another "
                "machine holds that name, or this one was reset without being removed. Fix: remove node %s "
                "(remove_node.yml) first, or name this host differently" % (name, ip, name, name))
        elif not member and other:
            problems.append(
                "%s (%s) is not a member, but node %s already has the address %s: two machines, or one renamed. "
                "Fix: correct the address in the inventory, or remove node %s first" % (name, ip, other, ip, other))
    names = set(inventory if inventory is not None else [host["name"] for host in hosts])
    for name in sorted(by_name):
        if name not in names:
            warnings.append("node %s is in the cluster but not in the inventory: a node this inventory does not "
                            "manage (remove it with kubectl delete node, or add it to the inventory)" % name)
    return {"problems": problems, "warnings": warnings}


class FilterModule(object):
    def filters(self):
        return {"pods_not_ready": pods_not_ready, "kubeadm_membership": membership}
