"""The judging of k8s_cluster_health on API objects captured from a real
kubeadm cluster (tests/unit/fixtures/k8s/README.md); the unhealthy cases
change one field of those objects. The module runs for real against a
cluster in tests/integration/test_kubeadm_cluster.py."""

import copy
import json
from pathlib import Path

import pytest

kubernetes = pytest.importorskip("kubernetes")

from ansible_collections.baremetal.mlops.plugins.modules import k8s_cluster_health as mod  # noqa: E402

FIXTURES = Path(__file__).resolve().parents[3] / "unit" / "fixtures" / "k8s"


def load(name, kind):
    data = json.loads((FIXTURES / name).read_text())
    api = kubernetes.client.ApiClient()
    return [api._ApiClient__deserialize(item, kind) for item in data["items"]], data  # pylint: disable=protected-access


def test_ready_nodes_of_the_real_cluster_read_as_ready_at_their_version():
    nodes = load("nodes-ha-ready.json", "V1Node")[0]
    facts = [mod.node_facts(n) for n in nodes]
    assert [f["ready"] for f in facts] == [True] * 5
    assert {f["kubelet_version"] for f in facts} == {"v1.35.8"}
    assert sorted(f["name"] for f in facts if f["control_plane"]) == ["k8s-cp1", "k8s-cp2", "k8s-cp3"]
    assert all(f["pod_cidr"].startswith("198.18.") for f in facts)


def test_a_node_whose_kubelet_stopped_posting_is_not_ready_with_the_reason():
    data = load("nodes-ha-ready.json", "V1Node")[1]
    item = copy.deepcopy(data["items"][0])
    for cond in item["status"]["conditions"]:
        if cond["type"] == "Ready":  # what the node lifecycle controller writes
            cond.update(status="Unknown", reason="NodeStatusUnknown", message="Kubelet stopped posting node status.")
    node = kubernetes.client.ApiClient()._ApiClient__deserialize(item, "V1Node")  # pylint: disable=protected-access
    facts = mod.node_facts(node)
    assert not facts["ready"] and facts["ready_status"] == "Unknown"
    assert "Kubelet stopped posting node status." in facts["ready_reason"]


def test_ready_pods_pass_and_a_crashing_container_is_named():
    pods, data = load("pods-kube-system-ready.json", "V1Pod")
    assert [mod.pod_problem(p) for p in pods] == [None, None]
    item = copy.deepcopy(data["items"][0])
    status = item["status"]["containerStatuses"][0]
    status.update(ready=False, state={"waiting": {"reason": "CrashLoopBackOff"}})
    pod = kubernetes.client.ApiClient()._ApiClient__deserialize(item, "V1Pod")  # pylint: disable=protected-access
    problem = mod.pod_problem(pod)
    assert problem["name"].startswith("coredns-") and problem["node"]
    assert problem["reason"] == "container coredns waiting: CrashLoopBackOff"


def test_wanted_version_gets_its_v():
    assert mod.want_version("1.35.8") == "v1.35.8" and mod.want_version("v1.35.8") == "v1.35.8"
    assert mod.want_version(None) is None


# etcdctl's JSON as `etcdctl -w json member list` and `endpoint health --cluster` print it (etcd 3.6; the shape of
# what the module reads in the real cluster test): three members, k8s-cp1's endpoint down.
MEMBERS = {"members": [
    {"ID": 1, "name": "k8s-cp1", "clientURLs": ["https://198.19.20.11:2379"]},
    {"ID": 2, "name": "k8s-cp2", "clientURLs": ["https://198.19.20.12:2379"]},
    {"ID": 3, "name": "k8s-cp3", "clientURLs": ["https://198.19.20.13:2379"]}]}
HEALTH = json.dumps([
    {"endpoint": "https://198.19.20.11:2379", "health": False, "error": "context deadline exceeded"},
    {"endpoint": "https://198.19.20.12:2379", "health": True},
    {"endpoint": "https://198.19.20.13:2379", "health": True}])


def test_an_unhealthy_member_is_a_problem_unless_its_node_is_left_out_of_the_run():
    _result, problems = mod.judge_members(MEMBERS, HEALTH, 3)
    assert problems == ["etcd member k8s-cp1 (https://198.19.20.11:2379): unhealthy: context deadline exceeded"]
    result, problems = mod.judge_members(MEMBERS, HEALTH, 3, skip=["k8s-cp1"])
    assert problems == [] and [r["skipped"] for r in result] == [True, False, False]


def test_left_out_or_not_the_healthy_members_must_be_a_majority():
    health = json.loads(HEALTH)
    health[1]["health"] = False
    _result, problems = mod.judge_members(MEMBERS, json.dumps(health), 3, skip=["k8s-cp1", "k8s-cp2"])
    assert problems == ["etcd: 1 of 3 members healthy (k8s-cp3): no quorum"]
