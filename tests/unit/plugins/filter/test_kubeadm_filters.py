"""The upgrade gate's pods_not_ready filter (plugins/filter/kubeadm.py), on pods captured from a real
control plane at 1.34.11 (tests/unit/fixtures/k8s/README.md); the unready cases change single fields of
that capture, each noted where done."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from ansible_collections.baremetal.mlops.plugins.filter.kubeadm import FilterModule, pods_not_ready

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "k8s" / "pods-control-plane-node-v1.34.11.json"


def pods():
    return json.loads(FIXTURE.read_text())


def test_every_pod_of_the_captured_control_plane_is_ready_at_its_own_version():
    assert pods_not_ready(pods(), "v1.34.11") == []
    assert pods_not_ready(FIXTURE.read_text(), "") == []  # kubectl's text, as the role passes it


def test_static_pods_of_the_old_release_are_named_when_the_new_one_is_asked():
    out = pods_not_ready(pods(), "v1.35.8")
    assert sorted(line.split(":")[0] for line in out) == [
        "kube-system/kube-apiserver-dev-cp1", "kube-system/kube-controller-manager-dev-cp1",
        "kube-system/kube-scheduler-dev-cp1"]
    assert all("not v1.35.8 yet" in line for line in out)
    # etcd and kube-proxy are not judged by version here (etcd has its own; kube-proxy is a DaemonSet).
    assert not any("etcd" in line or "kube-proxy" in line for line in out)


def test_a_container_waiting_or_not_ready_is_named_with_its_reason():
    data = pods()
    proxy = next(p for p in data["items"] if p["metadata"]["name"].startswith("kube-proxy"))
    # Changed: the kube-proxy container not ready, waiting in CrashLoopBackOff.
    status = proxy["status"]["containerStatuses"][0]
    status["ready"] = False
    status["state"] = {"waiting": {"reason": "CrashLoopBackOff"}}
    out = pods_not_ready(data, "")
    assert out == [f"kube-system/{proxy['metadata']['name']}: Running, container kube-proxy waiting: CrashLoopBackOff"]


def test_a_pending_pod_without_statuses_and_a_finished_one():
    data = pods()
    pending, done = copy.deepcopy(data["items"][0]), copy.deepcopy(data["items"][1])
    # Changed: one pod Pending with no container status yet, one Succeeded (a finished job's pod is fine).
    pending["metadata"]["name"] = "pending"
    pending["status"] = {"phase": "Pending"}
    done["metadata"]["name"] = "done"
    done["status"]["phase"] = "Succeeded"
    data["items"] = [pending, done]
    assert pods_not_ready(data, "") == ["kube-system/pending: Pending, no container status yet"]


def test_the_filter_is_registered():
    assert FilterModule().filters()["pods_not_ready"] is pods_not_ready


def test_the_filter_and_k8s_cluster_health_judge_a_pod_alike():
    """Both use module_utils/common/k8s_pods.py: the health module on client objects (serialized back to the
    API's JSON), the filter on kubectl's JSON. Changed per case: one container's state."""
    import pytest
    kubernetes = pytest.importorskip("kubernetes")
    from ansible_collections.baremetal.mlops.plugins.modules import k8s_cluster_health as health

    api = kubernetes.client.ApiClient()
    states = {"waiting": {"reason": "ImagePullBackOff"}, "terminated": {"reason": "Error", "exitCode": 2},
              "running": {"startedAt": "2026-12-02T10:00:00Z"}}
    expected = {"waiting": "container kube-proxy waiting: ImagePullBackOff",
                "terminated": "container kube-proxy terminated: Error (exit 2)",
                "running": "container kube-proxy not ready"}
    for kind, state in states.items():
        data = pods()
        proxy = next(p for p in data["items"] if p["metadata"]["name"].startswith("kube-proxy"))
        proxy["status"]["containerStatuses"][0].update(ready=False, state={kind: state})
        data["items"] = [proxy]
        line = pods_not_ready(data, "")
        problem = health.pod_problem(api._ApiClient__deserialize(proxy, "V1Pod"))  # pylint: disable=protected-access
        assert line == [f"kube-system/{proxy['metadata']['name']}: Running, {expected[kind]}"]
        assert problem["reason"] == expected[kind] and problem["phase"] == "Running"


# -- membership (issue 25: identity), on the Nodes of the real HA cluster (nodes-ha-ready.json: k8s-cp1..3 at
# 198.19.20.11-13, k8s-w1..2 at 198.19.20.21-22).
from ansible_collections.baremetal.mlops.plugins.filter.kubeadm import membership  # noqa: E402

NODES = (Path(__file__).resolve().parents[2] / "fixtures" / "k8s" / "nodes-ha-ready.json").read_text()
INVENTORY = [{"name": "k8s-cp1", "ip": "198.19.20.11", "member": True},
             {"name": "k8s-cp2", "ip": "198.19.20.12", "member": True},
             {"name": "k8s-cp3", "ip": "198.19.20.13", "member": True},
             {"name": "k8s-w1", "ip": "198.19.20.21", "member": True},
             {"name": "k8s-w2", "ip": "198.19.20.22", "member": True}]


def test_the_inventory_of_the_cluster_matches_its_nodes():
    assert membership(NODES, INVENTORY) == {"problems": [], "warnings": []}
    assert FilterModule().filters()["kubeadm_membership"] is membership


def test_a_host_renamed_after_it_joined_is_named_with_its_node():
    hosts = copy.deepcopy(INVENTORY)
    hosts[4]["name"] = "k8s-w9"
    out = membership(json.loads(NODES), hosts)
    assert out["problems"] == [
        "k8s-w9 (198.19.20.22) is a member of the cluster, but the cluster knows that address as node k8s-w2: the "
        "host was renamed in the inventory after it joined. Fix: give it back the name k8s-w2 in the inventory, or "
        "remove node k8s-w2 (remove_node.yml) and add k8s-w9 (add_node.yml)"]
    assert out["warnings"] == ["node k8s-w2 is in the cluster but not in the inventory: a node this inventory does "
                               "not manage (remove it with kubectl delete node, or add it to the inventory)"]
    # A run with --limit checks its own hosts; the others of the inventory are not "unmanaged".
    limited = membership(NODES, INVENTORY[:2], inventory=[h["name"] for h in INVENTORY])
    assert limited == {"problems": [], "warnings": []}


def test_a_member_the_cluster_forgot_and_a_new_host_under_a_taken_identity():
    hosts = copy.deepcopy(INVENTORY)
    hosts.append({"name": "k8s-w3", "ip": "198.19.20.23", "member": True})     # deleted, never reset
    hosts.append({"name": "k8s-w4", "ip": "198.19.20.21", "member": False})    # k8s-w1's address
    hosts[3]["member"] = False                                                 # k8s-w1 reset, still a node
    problems = membership(NODES, hosts)["problems"]
    assert [p.split(" ")[0] for p in problems] == ["k8s-w1", "k8s-w3", "k8s-w4"], problems
    assert "the cluster already has a node k8s-w1" in problems[0]
    assert "deleted from the cluster without a reset" in problems[1]
    assert "node k8s-w1 already has the address 198.19.20.21" in problems[2]
