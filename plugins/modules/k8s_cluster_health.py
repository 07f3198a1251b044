#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: k8s_cluster_health
short_description: Health of a Kubernetes cluster as every later play needs it, optionally waiting for it
version_added: 0.2.0
description:
  - Reads, through the Kubernetes API (the client of C(kubernetes.core)), what decides whether a cluster is usable and
    returns it with a list of problems, each naming the node, pod or member and what was seen.
  - C(/version) of the apiserver against O(version); every node in O(nodes) registered, Ready, and running kubelet
    O(version); every pod in O(namespaces) Running with all containers ready (or Succeeded); C(/readyz) of every
    apiserver in O(api_servers); with O(etcd_members), the etcd member list and the health of every member, read with
    C(etcdctl) inside a running etcd pod (kubeadm's stacked etcd).
  - O(api_servers) lists the apiservers to try in turn; the first that answers is used for the reads, so the module
    works while any one control plane is down.
  - With O(wait_timeout=0) it checks once and returns the problems without failing (C(verify.yml) judges them). With
    O(wait_timeout) > 0 it checks every O(interval) seconds until there are no problems, and fails listing the
    problems of the last check when the time runs out. It fails at once when no apiserver answers at all.
author:
  - baremetal.mlops contributors (@baremetal-mlops)
extends_documentation_fragment:
  - baremetal.mlops.attributes
  - baremetal.mlops.attributes.info
requirements:
  - kubernetes >= 24.2.0 (Python)
options:
  kubeconfig:
    description: Path of a kubeconfig with read access to nodes, pods and pod exec in C(kube-system).
    type: path
    required: true
  context:
    description: Context of O(kubeconfig) to use (default, its current context).
    type: str
  api_servers:
    description:
      - Apiserver URLs to try in turn, for example every control plane's C(https://ADDRESS:6443). Their certificates
        must name those addresses (kubeadm's do).
      - Empty, the kubeconfig's server only.
    type: list
    elements: str
    default: []
  version:
    description: Kubernetes version every node's kubelet and the apiserver must report, like V(1.35.8).
    type: str
  nodes:
    description: Node names that must be registered and Ready. Empty, every registered node must be Ready.
    type: list
    elements: str
    default: []
  namespaces:
    description: Namespaces whose pods must all be ready.
    type: list
    elements: str
    default: [kube-system]
  etcd_members:
    description:
      - Number of etcd members there must be, all healthy; 0 skips the etcd checks (an external or k3s datastore).
    type: int
    default: 0
  skip_nodes:
    description:
      - Nodes left out of this run (for example a control plane powered off and left out with C(--limit)). Their
        readiness, their pods in O(namespaces) and their etcd member are not judged; the healthy etcd members must
        still be a majority (quorum). Their apiserver should not be in O(api_servers).
    type: list
    elements: str
    default: []
  wait_timeout:
    description: Seconds to wait for no problems; 0 checks once and does not fail on problems.
    type: int
    default: 0
  interval:
    description: Seconds between checks while waiting.
    type: int
    default: 5
  request_timeout:
    description: Seconds each API request may take.
    type: int
    default: 10
"""

EXAMPLES = r"""
- name: Wait for the new cluster
  baremetal.mlops.k8s_cluster_health:
    kubeconfig: inventories/lab/artifacts/mlops-admin.conf
    api_servers: [https://198.51.100.11:6443, https://198.51.100.12:6443, https://198.51.100.13:6443]
    version: 1.35.8
    nodes: "{{ groups['k8s_cluster'] }}"
    etcd_members: 3
    wait_timeout: 600

- name: Read it once (verify.yml)
  baremetal.mlops.k8s_cluster_health:
    kubeconfig: ~/.kube/config
    version: 1.35.8
  register: health
"""

RETURN = r"""
healthy:
  description: Whether the last check found no problem.
  returned: success
  type: bool
problems:
  description: Every problem of the last check, each naming its node, pod, apiserver or etcd member.
  returned: always
  type: list
  elements: str
  sample: ["node lab-w1: not Ready (Ready=Unknown, NodeStatusUnknown: Kubelet stopped posting node status.)"]
api_server:
  description: The apiserver URL the reads went to.
  returned: success
  type: str
server_version:
  description: The apiserver's C(gitVersion).
  returned: success
  type: str
api_servers:
  description: Every URL of O(api_servers) with whether its C(/readyz) answered ok, and the error if not.
  returned: success
  type: list
  elements: dict
nodes:
  description: Every registered node - name, ready, kubelet_version, control_plane, pod_cidr.
  returned: success
  type: list
  elements: dict
pods_not_ready:
  description: Pods of O(namespaces) that are not ready - namespace, name, node, phase, reason (not those of O(skip_nodes)).
  returned: success
  type: list
  elements: dict
etcd:
  description:
    - With O(etcd_members) - members (name, id, client_urls, healthy, learner, error, skipped - its node is in
      O(skip_nodes)) and the pod the reads ran in.
  returned: when etcd_members > 0
  type: dict
checks:
  description: How many checks ran.
  returned: success
  type: int
elapsed:
  description: Seconds spent.
  returned: success
  type: float
"""

import json
import time
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.baremetal.mlops.plugins.module_utils.common.k8s_pods import pod_not_ready_reason

try:
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client
    from kubernetes.client import ApiClient, CoreV1Api
    from kubernetes.stream import stream
    HAS_K8S = True
    K8S_IMPORT_ERROR = None
except ImportError:
    HAS_K8S = False
    K8S_IMPORT_ERROR = traceback.format_exc()

ETCDCTL = [
    "etcdctl", "--endpoints=https://127.0.0.1:2379",
    "--cacert=/etc/kubernetes/pki/etcd/ca.crt",
    "--cert=/etc/kubernetes/pki/etcd/healthcheck-client.crt",
    "--key=/etc/kubernetes/pki/etcd/healthcheck-client.key",
    "--command-timeout=5s", "-w", "json",
]


def want_version(version):
    if not version:
        return None
    return version if version.startswith("v") else "v" + version


def connect(params):
    """Return (core_api, url, version, errors): the first apiserver of api_servers that answers /version,
    with the version it reported (its /version body)."""
    errors = []
    for url in params["api_servers"] or [None]:
        kwargs = {"kubeconfig": params["kubeconfig"], "context": params["context"]}
        if url:
            kwargs["host"] = url
        try:
            api = get_api_client(**kwargs).client.client  # kubernetes.client.ApiClient
            status, body = raw_get(api, "/version", params["request_timeout"])
            if status != 200:
                raise RuntimeError("HTTP %s from /version: %s" % (status, body[:200]))
            return CoreV1Api(api), url or api.configuration.host, json.loads(body), errors
        except Exception as exc:  # pylint: disable=broad-except
            errors.append("%s: %s" % (url or "the kubeconfig's server", short_error(exc)))
    return None, None, None, errors


def raw_get(api, path, timeout):
    """(HTTP status, body text) of a GET with the client's credentials (kubernetes >= 31 and older clients)."""
    if hasattr(api, "param_serialize"):
        method, url, headers, body, post = api.param_serialize(method="GET", resource_path=path,
                                                               auth_settings=["BearerToken"])
        resp = api.call_api(method, url, headers, body, post, _request_timeout=timeout)
        resp.read()
        return resp.status, (resp.data or b"").decode("utf-8", "replace")
    try:
        resp = api.call_api(path, "GET", auth_settings=["BearerToken"], _preload_content=False,
                            _request_timeout=timeout, _return_http_data_only=True)
        return resp.status, resp.data.decode("utf-8", "replace")
    except Exception as exc:  # pylint: disable=broad-except
        if getattr(exc, "status", None):
            return exc.status, getattr(exc, "body", "") or ""
        raise


def short_error(exc):
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]


def readyz(params, url):
    """(ok, detail) of one apiserver's /readyz, read with the kubeconfig's credentials."""
    try:
        api = get_api_client(kubeconfig=params["kubeconfig"], context=params["context"], host=url).client.client
        status, body = raw_get(api, "/readyz", params["request_timeout"])
        failed = [line.strip() for line in body.splitlines() if line.strip().startswith("[-]")]
        return status == 200 and body.strip() == "ok", (body.strip() if status == 200 else
                                                        "HTTP %s: %s" % (status, "; ".join(failed) or body[:200]))
    except Exception as exc:  # pylint: disable=broad-except
        return False, short_error(exc)


def node_facts(node):
    conds = {c.type: c for c in (node.status.conditions or [])}
    ready = conds.get("Ready")
    labels = node.metadata.labels or {}
    return {
        "name": node.metadata.name,
        "ready": bool(ready and ready.status == "True"),
        "ready_status": ready.status if ready else "missing",
        "ready_reason": ("%s: %s" % (ready.reason, ready.message)) if ready else "no Ready condition",
        "kubelet_version": node.status.node_info.kubelet_version if node.status.node_info else None,
        "control_plane": "node-role.kubernetes.io/control-plane" in labels,
        "pod_cidr": node.spec.pod_cidr,
        "unschedulable": bool(node.spec.unschedulable),
    }


def pod_problem(pod, serializer=None):
    """None for a ready (or finished) pod, else a dict saying why not (module_utils/common/k8s_pods.py)."""
    reason = pod_not_ready_reason((serializer or ApiClient()).sanitize_for_serialization(pod))
    if reason is None:
        return None
    return {"namespace": pod.metadata.namespace, "name": pod.metadata.name, "node": pod.spec.node_name,
            "phase": pod.status.phase, "reason": reason}


def etcd_state(core, params, problems):
    pods = core.list_namespaced_pod("kube-system", label_selector="component=etcd",
                                    _request_timeout=params["request_timeout"]).items
    running = [p for p in pods if p.status.phase == "Running" and not pod_problem(p)]
    if not running:
        problems.append("etcd: no running etcd pod in kube-system (component=etcd) to read the members from")
        return {"members": [], "pod": None}
    last_error = None
    for pod in running:
        try:
            members = json.loads(exec_in(core, pod, ETCDCTL + ["member", "list"]))
            health_out = exec_in(core, pod, ETCDCTL + ["endpoint", "health", "--cluster"], allow_fail=True)
            break
        except Exception as exc:  # pylint: disable=broad-except
            last_error = "%s: %s" % (pod.metadata.name, short_error(exc))
    else:
        problems.append("etcd: etcdctl could not read the members in any etcd pod (%s)" % last_error)
        return {"members": [], "pod": None}
    result, member_problems = judge_members(members, health_out, params["etcd_members"], params["skip_nodes"])
    problems.extend(member_problems)
    return {"members": result, "pod": pod.metadata.name}


def judge_members(members, health_out, expected, skip=()):
    """``(members, problems)`` from ``etcdctl member list`` (JSON) and ``endpoint health --cluster`` (JSON).

    The member of a node in ``skip`` (left out of the run, e.g. powered off) may be unhealthy, but the healthy
    members must still be a majority of all of them (quorum)."""
    health = {}
    try:
        for item in json.loads(health_out or "[]"):
            health[item.get("endpoint")] = (item.get("health"), item.get("error"))
    except ValueError:
        pass
    result = []
    problems = []
    for m in members.get("members", []):
        urls = m.get("clientURLs") or []
        ok, err = False, "no health answer"
        for u in urls:
            if u in health:
                ok, err = health[u][0], health[u][1]
        name = m.get("name") or "(unstarted %x)" % m.get("ID", 0)
        result.append({"name": name, "id": "%x" % m.get("ID", 0), "client_urls": urls, "healthy": bool(ok),
                       "learner": bool(m.get("isLearner")), "error": err, "skipped": name in skip})
        if not ok and name not in skip:
            where = ", ".join(urls) or "no client URL"
            problems.append("etcd member %s (%s): unhealthy: %s" % (name, where, err or "no error given"))
        elif ok and m.get("isLearner"):
            problems.append("etcd member %s: still a learner (not yet promoted)" % name)
    healthy = [r["name"] for r in result if r["healthy"] and not r["learner"]]
    if result and len(healthy) * 2 <= len(result):
        problems.append("etcd: %d of %d members healthy (%s): no quorum" % (
            len(healthy), len(result), ", ".join(healthy) or "none"))
    if len(result) != expected:
        problems.append("etcd: %d members (%s), expected %d" % (
            len(result), ", ".join(r["name"] for r in result) or "none", expected))
    return result, problems


def exec_in(core, pod, command, allow_fail=False):
    resp = stream(core.connect_get_namespaced_pod_exec, pod.metadata.name, "kube-system", command=command,
                  container=pod.spec.containers[0].name, stderr=True, stdin=False, stdout=True, tty=False,
                  _preload_content=False)
    resp.run_forever(timeout=15)
    out = resp.read_stdout() or ""
    err = resp.read_stderr() or ""
    code = resp.returncode
    resp.close()
    if code not in (0, None) and not allow_fail:
        raise RuntimeError("%s exited %s: %s" % (" ".join(command[:1] + command[-2:]), code, err.strip()[:200]))
    return out


def check(params):
    """One pass. Returns (result dict, problems list); raises nothing for cluster problems."""
    problems = []
    core, url, version, errors = connect(params)
    if core is None:
        return None, ["no apiserver answered: " + "; ".join(errors)]
    timeout = params["request_timeout"]
    result = {"api_server": url}
    want = want_version(params["version"])
    result["server_version"] = version.get("gitVersion")
    if want and result["server_version"] != want:
        problems.append("apiserver %s: version %s, expected %s" % (url, result["server_version"], want))
    servers = []
    for u in params["api_servers"]:
        ok, detail = readyz(params, u)
        servers.append({"url": u, "ready": ok, "detail": detail})
        if not ok:
            problems.append("apiserver %s: not ready (%s)" % (u, detail))
    result["api_servers"] = servers

    nodes = [node_facts(n) for n in core.list_node(_request_timeout=timeout).items]
    result["nodes"] = nodes
    by_name = {n["name"]: n for n in nodes}
    for name in params["nodes"]:
        if name not in by_name:
            problems.append("node %s: not registered with the API (registered: %s)" % (
                name, ", ".join(sorted(by_name)) or "none"))
    for n in nodes:
        if (params["nodes"] and n["name"] not in params["nodes"]) or n["name"] in params["skip_nodes"]:
            continue
        if not n["ready"]:
            problems.append("node %s: not Ready (Ready=%s, %s)" % (n["name"], n["ready_status"], n["ready_reason"]))
        if want and n["kubelet_version"] != want:
            problems.append("node %s: kubelet %s, expected %s" % (n["name"], n["kubelet_version"], want))

    not_ready = []
    serializer = ApiClient()
    for ns in params["namespaces"]:
        for pod in core.list_namespaced_pod(ns, _request_timeout=timeout).items:
            prob = pod_problem(pod, serializer)
            if prob and prob["node"] in params["skip_nodes"]:
                continue
            if prob:
                not_ready.append(prob)
                problems.append("pod %s/%s on %s: %s, %s" % (prob["namespace"], prob["name"],
                                                             prob["node"] or "no node", prob["phase"], prob["reason"]))
    result["pods_not_ready"] = not_ready
    if params["etcd_members"] > 0:
        result["etcd"] = etcd_state(core, params, problems)
    return result, problems


def main():
    module = AnsibleModule(
        argument_spec=dict(
            kubeconfig=dict(type="path", required=True),
            context=dict(type="str"),
            api_servers=dict(type="list", elements="str", default=[]),
            version=dict(type="str"),
            nodes=dict(type="list", elements="str", default=[]),
            namespaces=dict(type="list", elements="str", default=["kube-system"]),
            etcd_members=dict(type="int", default=0),
            skip_nodes=dict(type="list", elements="str", default=[]),
            wait_timeout=dict(type="int", default=0),
            interval=dict(type="int", default=5),
            request_timeout=dict(type="int", default=10),
        ),
        supports_check_mode=True,
    )
    if not HAS_K8S:
        module.fail_json(msg=missing_required_lib("kubernetes"), exception=K8S_IMPORT_ERROR)
    params = module.params
    for key in ("wait_timeout", "interval", "request_timeout", "etcd_members"):
        if params[key] < 0 or (key in ("interval", "request_timeout") and params[key] == 0):
            module.fail_json(msg="%s must be %s, not %s" % (key, "positive" if key in ("interval", "request_timeout")
                                                            else ">= 0", params[key]))
    start = time.monotonic()
    checks = 0
    while True:
        checks += 1
        try:
            result, problems = check(params)
        except Exception as exc:  # pylint: disable=broad-except
            result, problems = None, ["reading the cluster failed: %s" % short_error(exc)]
        elapsed = round(time.monotonic() - start, 1)
        if not problems:
            module.exit_json(changed=False, healthy=True, problems=[], checks=checks, elapsed=elapsed, **result)
        waited_out = elapsed + params["interval"] > params["wait_timeout"]
        if result is None and (params["wait_timeout"] == 0 or waited_out):
            module.fail_json(msg="Kubernetes API unreachable with %s: %s. Fix: start kubelet and the apiserver on a "
                             "control plane, or check the kubeconfig's address and credentials" % (
                                 params["kubeconfig"], problems[0]), problems=problems, checks=checks,
                             elapsed=elapsed)
        if params["wait_timeout"] == 0:
            module.exit_json(changed=False, healthy=False, problems=problems, checks=checks, elapsed=elapsed,
                             **result)
        if waited_out:
            module.fail_json(msg="cluster not healthy after %ss (%d checks): %s" % (
                elapsed, checks, "; ".join(problems)), healthy=False, problems=problems, checks=checks,
                elapsed=elapsed, **(result or {}))
        time.sleep(params["interval"])


if __name__ == "__main__":
    main()
