"""Kubernetes by kubeadm, HA, on the container rack (issue 9), for real.

Boots 5 container nodes (3 control planes, 2 workers) on a bridge of this
host (198.19.20.0/24; nothing routed off the machine), installs the
container runtime and Kubernetes from the offline bundle with
playbooks/runtime.yml and playbooks/kubernetes.yml - at versions.yml's
upgrade_from release (1.34.11, with that release's bundle), which the upgrade
test then takes to the pinned release with playbooks/upgrade.yml (a node
made to fail on the way, the canary Service counted throughout; issue 10).
Every test after the upgrade runs at the pinned release. Then it checks the cluster
through the API (baremetal.mlops.k8s_cluster_health and kubectl), re-runs the
playbook (changed=0) and in check mode, powers the first control plane off
(`scripts/vrack stop`: systemd halts, its network goes, its disk stays) and
checks that the API still answers through the node-local endpoint and a new
pod schedules, then boots it again (`scripts/vrack start`) and waits until it
has rejoined (node Ready, etcd member healthy). The first run is made at -vvv and its
output searched for the join token, certificate key and kubeconfig keys.
Needs root (runc, mounts, network namespaces), as CI runs.
"""

from __future__ import annotations

import os
import base64
import hashlib
import json
import re
import time

import pytest
import yaml
from bundle_helpers import ROOT, VENV_BIN, built_bundle, run
# The cluster is conftest.py's session fixture `cluster` (shared with test_platform_data.py), on these nodes.
from k8s_helpers import (BUSYBOX_IMAGE, CONTROL_PLANES, GPU_WORKER, UPGRADE_FROM, VERSION, WORKERS, Prober,
                         busybox_image, copy_bundle_without, recap)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="container nodes need root")


def kubelet_versions(cluster):
    out = cluster.kubectl("get", "nodes", "-o", "jsonpath={range .items[*]}{.metadata.name} "
                          "{.status.nodeInfo.kubeletVersion}{'\\n'}{end}").stdout
    return dict(line.split() for line in out.split("\n") if line)


def test_ha_cluster_is_healthy_at_the_release_it_was_installed_at(cluster):
    assert cluster.version == UPGRADE_FROM
    res = cluster.health(wait_timeout=300)
    assert res.returncode == 0, res.stdout[-3000:]
    assert kubelet_versions(cluster) == {n: f"v{UPGRADE_FROM}" for n, _ip in CONTROL_PLANES + WORKERS}


def join_credentials(cluster):
    """What a run's joins leave behind on the cluster: every bootstrap token (kubeadm keeps each as a Secret of this
    type in kube-system, also the token upload-certs makes to expire the kubeadm-certs Secret), and kubeadm-certs (the
    control-plane certificates, encrypted with the run's certificate key). `kubeadm token list` shows the tokens."""
    items = json.loads(cluster.kubectl("-n", "kube-system", "get", "secrets", "-o", "json").stdout)["items"]
    return sorted(i["metadata"]["name"] for i in items
                  if i["type"] == "bootstrap.kubernetes.io/token" or i["metadata"]["name"] == "kubeadm-certs")


def test_no_join_credential_outlives_the_install(cluster):
    """Issue 25, finding 1: kubeadm init's own 24 h token used to stay, and upload-certs' certificates with their TTL
    token for 2 h; the run's join token is deleted at the end."""
    assert join_credentials(cluster) == []


def test_secrets_do_not_appear_in_the_vvv_output(cluster):
    out = cluster.first_run.stdout + cluster.first_run.stderr
    assert "task path:" in out  # verbose output indeed (-vv and more print task paths)
    # Bootstrap tokens have this shape (kubeadm's bootstraputil.BootstrapTokenRegexp).
    assert not re.findall(r"\b[a-z0-9]{6}\.[a-z0-9]{16}\b", out)
    assert "certificate-key" not in out.lower().replace("skip-certificate-key-print", "")
    conf = yaml.safe_load(cluster.kubeconfig.read_text())
    key = conf["users"][0]["user"]["client-key-data"]
    assert key[20:80] not in out and base64.b64decode(key).decode()[40:100] not in out
    assert oct(cluster.kubeconfig.stat().st_mode & 0o777) == "0o600"


def test_second_run_changes_nothing(cluster):
    res = cluster.play("playbooks/kubernetes.yml")
    changed = {h: r["changed"] for h, r in recap(res.stdout).items()}
    assert changed and all(v == 0 for v in changed.values()), res.stdout[-4000:]


def test_check_and_diff_on_the_running_cluster_change_nothing(cluster):
    res = cluster.play("playbooks/kubernetes.yml", "--check", "--diff")
    changed = {h: r["changed"] for h, r in recap(res.stdout).items()}
    assert changed and all(v == 0 for v in changed.values()), res.stdout[-4000:]


CANARY_NS = "mlops-upgrade-canary"
# A NodePort in front of the playbook's canary pods, so that this process can ask every node in turn.
CANARY_PROBE = """
apiVersion: v1
kind: Namespace
metadata: {name: %(ns)s}
---
apiVersion: v1
kind: Service
metadata: {name: canary-probe, namespace: %(ns)s}
spec:
  type: NodePort
  selector: {app.kubernetes.io/name: upgrade-canary}
  ports: [{port: 8080, targetPort: 8080, nodePort: 30880}]
""" % {"ns": CANARY_NS}
# The fault: kubelet refuses to start once it is the new release (a systemd drop-in on that one node).
FAULTY = "k8s-cp2"
FAULT = ("mkdir -p /etc/systemd/system/kubelet.service.d && printf '[Service]\\nExecStartPre=/bin/sh -c "
         "\"! /usr/local/bin/kubelet --version | grep -q v%s\"\\n' > /etc/systemd/system/kubelet.service.d/99-fault.conf"
         % VERSION)


FAULTY_WORKER = "k8s-w2"
TAMPERED = "k8s-w1"


def containerd_pids(cluster):
    return {n: cluster.rack.ssh(n, "systemctl show --property=MainPID --value containerd").stdout.strip()
            for n, _ip in CONTROL_PLANES + WORKERS}


def upgrade_with_prober(cluster, *args):
    """Run upgrade.yml while asking the canary on every node; count from the first node's upgrade to the finish."""
    urls = [f"http://{ip}:30880/health" for _n, ip in CONTROL_PLANES + WORKERS]
    with Prober(urls) as prober:
        def on_line(line):
            if line.startswith("PLAY [Upgrade | Control planes"):
                prober.counting = True
            elif line.startswith("PLAY [Upgrade | CoreDNS"):
                prober.counting = False
        t0 = time.monotonic()
        res = cluster.play_watched("playbooks/upgrade.yml", *args, on_line=on_line)
        prober.counting = False
        seconds = time.monotonic() - t0
    print(f"upgrade.yml: rc {res.returncode} in {seconds:.0f} s; canary: {prober.requests} requests, "
          f"{len(prober.failures)} failed")
    return res, prober


def test_upgrade_stops_at_a_node_whose_kubelet_fails_then_resumes_and_the_canary_never_fails(cluster):
    """A real upgrade from versions.yml's upgrade_from to its pinned release, 3 control planes + 2 workers.

    First in check mode: it names the nodes it would upgrade and changes nothing (no snapshot, no canary, no
    cordon). Then k8s-cp2's kubelet is made to refuse to start on the new release: the first run upgrades
    k8s-cp1, stops at k8s-cp2 (left cordoned, named in the message) and touches no later node. Repaired, and
    k8s-w2's kubelet made to fail instead, the second run (both workers in one batch) skips k8s-cp1, upgrades
    the other control planes, fails at k8s-w2 and stops k8s-w1 of the same batch at that step (both cordoned,
    both named). Repaired, the third run (at -vvv) skips the control planes, resumes both and completes;
    k8s-w1, whose containerd binary was not the bundle's, got the bundle's and a restarted containerd, and no
    other node's containerd was restarted. The canary Service answered every request made during the runs
    (counted through a NodePort on every node in turn); one more run changes nothing.
    """
    cluster.kubectl("apply", "-f", "-", stdin=CANARY_PROBE)
    cluster.bundle, cluster.version = cluster.new_bundle, VERSION
    backups = cluster.tmp / "upgrade-backups"
    # A dry run first, with the upgrade pending on every node: it says what it would upgrade and changes
    # nothing - no snapshot, no canary, no node cordoned, every kubelet still at the old release.
    res = cluster.play("playbooks/upgrade.yml", "--check", "--diff", "-e", f"etcd_backup_dest={backups}",
                       check=False)
    out = " ".join(res.stdout.split())
    assert res.returncode == 0, out[-3000:]
    pending = re.search(rf"Upgrading to v{re.escape(VERSION)}: ([\w, -]+)", out)
    assert pending and set(pending[1].split(", ")) == {n for n, _ip in CONTROL_PLANES + WORKERS}, out[-3000:]
    assert "check mode: no snapshot taken" in out
    assert not backups.exists() or not any(backups.rglob("*")), sorted(backups.rglob("*"))
    assert kubelet_versions(cluster) == {n: f"v{UPGRADE_FROM}" for n, _ip in CONTROL_PLANES + WORKERS}
    for node, _ip in CONTROL_PLANES + WORKERS:
        assert cluster.rack.ssh(node, "kubelet --version").stdout.split()[-1] == f"v{UPGRADE_FROM}"
    assert "true" not in cluster.kubectl("get", "nodes", "-o", "jsonpath={.items[*].spec.unschedulable}").stdout
    assert cluster.kubectl("get", "deployments", "-n", CANARY_NS, "-o", "name").stdout.strip() == ""
    annotations = cluster.kubectl("get", "nodes", "-o", "jsonpath={.items[*].metadata.annotations}").stdout
    assert "baremetal.mlops/upgrade" not in annotations

    # k8s-w1's containerd is not the bundle's (a byte appended: another build, as a node repaired by hand may
    # have): its upgrade puts the bundle's back and restarts containerd; every other node's keeps running.
    cluster.rack.ssh(TAMPERED, "cp /usr/local/bin/containerd /tmp/c && printf x >> /tmp/c && "
                               "mv /tmp/c /usr/local/bin/containerd")
    pids = containerd_pids(cluster)
    cluster.rack.ssh(FAULTY, FAULT)
    try:
        res, prober = upgrade_with_prober(cluster, "-e", f"etcd_backup_dest={backups}")
    finally:
        cluster.rack.ssh(FAULTY, "rm -f /etc/systemd/system/kubelet.service.d/99-fault.conf && systemctl daemon-reload")
    out = " ".join(res.stdout.split())
    assert res.returncode != 0, out[-3000:]
    assert f"{FAULTY}: the upgrade to v{VERSION} stopped at this node" in out, out[-3000:]
    assert f"{FAULTY} stays cordoned and no later node was touched. Fix it" in out
    assert "run playbooks/upgrade.yml again" in out
    # The backup came first and was verified.
    assert "etcd snapshot of pytest at revision" in out
    assert len(list((backups / "pytest").iterdir())) == 1
    versions = kubelet_versions(cluster)
    assert versions["k8s-cp1"] == f"v{VERSION}"
    assert {n: versions[n] for n in ("k8s-cp3", "k8s-w1", "k8s-w2")} == {n: f"v{UPGRADE_FROM}" for n in
                                                                         ("k8s-cp3", "k8s-w1", "k8s-w2")}
    for node in ("k8s-cp3", "k8s-w1", "k8s-w2"):
        assert cluster.rack.ssh(node, "kubelet --version").stdout.split()[-1] == f"v{UPGRADE_FROM}"
    assert cluster.kubectl("get", "node", FAULTY, "-o", "jsonpath={.spec.unschedulable}").stdout == "true"
    assert prober.requests > 100 and prober.failures == [], prober.failures[:20]

    # Resumed with both workers in one batch, k8s-w2's kubelet now the one that refuses the new release: the
    # control planes complete, the batch starts, k8s-w2 fails and k8s-w1 is stopped at the same step.
    cluster.rack.ssh(FAULTY_WORKER, FAULT)
    try:
        res, prober = upgrade_with_prober(cluster, "-e", f"etcd_backup_dest={backups}",
                                          "-e", "kubeadm_upgrade_worker_batch=2")
    finally:
        cluster.rack.ssh(FAULTY_WORKER, "rm -f /etc/systemd/system/kubelet.service.d/99-fault.conf && "
                                        "systemctl daemon-reload")
    out = " ".join(res.stdout.split())
    assert res.returncode != 0, out[-3000:]
    assert "k8s-cp1 runs v%s already: skipped." % VERSION in out
    assert f"{FAULTY_WORKER}: the upgrade to v{VERSION} stopped at this node" in out, out[-3000:]
    assert (f"{FAULTY_WORKER} stays cordoned and no later node was touched; the other nodes of its batch (k8s-w1) "
            "were stopped at the same step, stay cordoned and resume too") in out, out[-3000:]
    assert "(kubelet: Active: " in out  # the failed node's kubelet state, from systemctl
    assert (f"k8s-w1: its upgrade to v{VERSION} was stopped, not failed: {FAULTY_WORKER} of its batch failed"
            in out), out[-3000:]
    versions = kubelet_versions(cluster)
    assert {n: versions[n] for n, _ip in CONTROL_PLANES} == {n: f"v{VERSION}" for n, _ip in CONTROL_PLANES}
    assert versions[FAULTY_WORKER] == f"v{UPGRADE_FROM}"
    for node in (FAULTY_WORKER, "k8s-w1"):
        assert cluster.kubectl("get", "node", node, "-o", "jsonpath={.spec.unschedulable}").stdout == "true"
    assert prober.requests > 100 and prober.failures == [], prober.failures[:20]

    # At -vvv: the admin kubeconfig it fetches again at the end (kubeadm renewed its certificate) stays out.
    res, prober = upgrade_with_prober(cluster, "-vvv", "-e", f"etcd_backup_dest={backups}",
                                      "-e", "kubeadm_upgrade_worker_batch=2")
    out = " ".join(res.stdout.split())
    assert res.returncode == 0, res.stdout[-5000:]
    assert "task path:" in res.stdout
    key = yaml.safe_load(cluster.kubeconfig.read_text())["users"][0]["user"]["client-key-data"]
    assert key[20:80] not in res.stdout and base64.b64decode(key).decode()[40:100] not in res.stdout
    for node, _ip in CONTROL_PLANES:
        assert f"{node} runs v{VERSION} already: skipped." in out
    assert prober.requests > 20 and prober.failures == [], prober.failures[:20]
    assert kubelet_versions(cluster) == {n: f"v{VERSION}" for n, _ip in CONTROL_PLANES + WORKERS}
    bundled = hashlib.sha256((cluster.new_bundle / "bin" / "containerd").read_bytes()).hexdigest()
    assert cluster.rack.ssh(TAMPERED, "sha256sum /usr/local/bin/containerd").stdout.split()[0] == bundled
    pids_after = containerd_pids(cluster)
    assert pids_after.pop(TAMPERED) != pids.pop(TAMPERED)
    assert pids_after == pids  # the bundle's containerd already: not restarted
    unschedulable = cluster.kubectl("get", "nodes", "-o", "jsonpath={.items[*].spec.unschedulable}").stdout
    assert "true" not in unschedulable
    res = cluster.health(wait_timeout=300)
    assert res.returncode == 0 and '"healthy": true' in res.stdout, res.stdout[-3000:]
    assert cluster.kubectl("get", "namespace", CANARY_NS, "--ignore-not-found", "-o", "name").stdout.strip() in (
        "", f"namespace/{CANARY_NS}")  # being deleted (--wait=false) or gone
    # Nothing left to do.
    res = cluster.play("playbooks/upgrade.yml", "-e", f"etcd_backup_dest={backups}")
    changed = {h: r["changed"] for h, r in recap(res.stdout).items()}
    assert changed and all(v == 0 for v in changed.values()), res.stdout[-4000:]
    assert "nothing to upgrade" in res.stdout
    # Back to the older release: refused before anything changes, naming the nodes.
    res = cluster.play("playbooks/upgrade.yml", "-e", f"mlops_kubernetes_version={UPGRADE_FROM}",
                       check=False, bundle=built_bundle(UPGRADE_FROM))
    out = " ".join(res.stdout.split())
    assert res.returncode != 0 and f"runs kubelet v{VERSION}, newer than the target v{UPGRADE_FROM}" in out, out[-2000:]
    assert not re.search(r"changed=[1-9]", res.stdout)


def test_ha_cluster_is_healthy_at_the_pinned_version(cluster):
    res = cluster.health(wait_timeout=300)
    assert res.returncode == 0, res.stdout[-3000:]
    assert '"healthy": true' in res.stdout
    version = cluster.kubectl("version", "-o", "yaml").stdout
    assert f"gitVersion: v{VERSION}" in version.split("serverVersion:")[1]
    nodes = cluster.kubectl("get", "nodes", "-o", "jsonpath={range .items[*]}{.metadata.name} "
                            "{.status.nodeInfo.kubeletVersion}{'\\n'}{end}").stdout.split("\n")
    assert sorted(line for line in nodes if line) == sorted(f"{n} v{VERSION}" for n, _ip in CONTROL_PLANES + WORKERS)
    etcd = cluster.kubectl("-n", "kube-system", "get", "pods", "-l", "component=etcd", "-o", "name").stdout.split()
    assert len(etcd) == 3


# Requests through a worker's node-local HAProxy while a control plane is powered off (issue 25, finding 3: the
# outside tester saw an unexpected EOF and two 500s in 80 requests). Measured and printed, not asserted: a
# request in flight on the node that dies cannot be saved by a load balancer.
LB_PROBE = ("n=0; f=0; end=$(( $(date +%s) + {seconds} )); while [ $(date +%s) -lt $end ]; do n=$((n+1)); "
            "kubectl --kubeconfig=/etc/kubernetes/kubelet.conf get --raw /readyz --request-timeout=3s >/dev/null "
            "2>>/tmp/lb-probe.err || f=$((f+1)); sleep 0.2; done; echo LB $n $f; sort /tmp/lb-probe.err | uniq -c "
            "| sort -rn | head -5; rm -f /tmp/lb-probe.err")


def test_losing_the_first_control_plane_keeps_the_api_and_scheduling_and_it_rejoins(cluster):
    import threading

    probe = {}
    thread = threading.Thread(target=lambda: probe.update(out=cluster.rack.ssh(
        "k8s-w1", LB_PROBE.format(seconds=45), check=False).stdout))
    thread.start()
    time.sleep(5)
    # Powered off for real (systemd halts, its network goes; its disk stays), then booted again.
    cluster.rack.stop("k8s-cp1")
    thread.join(timeout=120)
    lines = (probe.get("out") or "LB 0 0").strip().splitlines()
    print("HAProxy during the power-off of k8s-cp1: %s" % " | ".join(lines))
    try:
        # Through the node-local endpoint of another node (HAProxy marks cp1 down in ~4 s).
        deadline = time.monotonic() + 60
        while True:
            res = cluster.rack.ssh("k8s-w1", "kubectl --kubeconfig=/etc/kubernetes/kubelet.conf get node k8s-w1 "
                                             "-o name --request-timeout=5s", check=False)
            if res.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(2)
        assert res.stdout.strip() == "node/k8s-w1", res.stderr
        server = f"https://{CONTROL_PLANES[1][1]}:6443"
        cluster.kubectl("run", "after-loss", "--image=registry.k8s.io/pause:3.10.1", "--image-pull-policy=Never",
                        "--restart=Never", server=server)
        deadline = time.monotonic() + 120
        phase = ""
        while time.monotonic() < deadline:
            phase = cluster.kubectl("get", "pod", "after-loss", "-o", "jsonpath={.status.phase}",
                                    server=server, check=False).stdout
            if phase == "Running":
                break
            time.sleep(3)
        assert phase == "Running"
        # The API knows it lost a node and etcd a member.
        res = cluster.health()
        assert '"healthy": false' in res.stdout and "k8s-cp1" in res.stdout, res.stdout[-3000:]
        # Issue 25, finding 3: the controller is not locked out. A no-op run without the dead control plane goes
        # through the next member (it used to skip every play of control_plane[0], the admin kubeconfig's
        # included). Its two changes, both on k8s-cp2: the controller's kubeconfig now names it, and it gets the
        # cluster's kubeadm configuration, which the primary needs to upload certificates for a control plane
        # that joins through it.
        res = cluster.play("playbooks/kubernetes.yml", "--limit", "!k8s-cp1")
        changed = {h: r["changed"] for h, r in recap(res.stdout).items()}
        assert "k8s-cp1" not in changed and changed.pop("k8s-cp2") == 2, res.stdout[-4000:]
        assert "Kubeconfig | Put the admin kubeconfig on the controller" in res.stdout
        assert all(v == 0 for v in changed.values()), res.stdout[-4000:]
        assert "Kubernetes | Wait for a healthy cluster" in res.stdout  # the primary's plays ran, on k8s-cp2
        server = yaml.safe_load(cluster.kubeconfig.read_text())["clusters"][0]["cluster"]["server"]
        assert server == f"https://{CONTROL_PLANES[1][1]}:6443", server
        assert "node/k8s-w1" in cluster.kubectl("get", "nodes", "-o", "name").stdout.split()
        res = cluster.play("playbooks/kubernetes.yml", "--limit", "!k8s-cp1")
        changed = {h: r["changed"] for h, r in recap(res.stdout).items()}
        assert changed and all(v == 0 for v in changed.values()), res.stdout[-4000:]
    finally:
        cluster.rack.start("k8s-cp1")
    # Booted from its disk: kubelet, its static pods and its etcd member come back on their own.
    res = cluster.health(wait_timeout=420)
    assert res.returncode == 0 and '"healthy": true' in res.stdout, res.stdout[-3000:]
    cluster.kubectl("delete", "pod", "after-loss", "--wait=false")
    # After the reboot the playbook has nothing to do on it (routes, units, endpoint all came back), and the
    # controller's kubeconfig stays on k8s-cp2, a member of the run. One change, once (seen in the 2026-12-08 run):
    # its credentials are read from the primary, k8s-cp1 again, and each control plane's admin.conf has its own
    # client certificate. A third run changes nothing.
    res = cluster.play("playbooks/kubernetes.yml")
    changed = {h: r["changed"] for h, r in recap(res.stdout).items()}
    assert changed.pop("k8s-cp1") <= 1 and changed and all(v == 0 for v in changed.values()), res.stdout[-4000:]
    res = cluster.play("playbooks/kubernetes.yml")
    changed = {h: r["changed"] for h, r in recap(res.stdout).items()}
    assert changed and all(v == 0 for v in changed.values()), res.stdout[-4000:]
    text = cluster.kubeconfig.read_text()
    assert f"server: https://{CONTROL_PLANES[1][1]}:6443" in text
    # The tests after this one expect the kubeconfig of an install (the first control plane).
    cluster.kubeconfig.write_text(text.replace(f"https://{CONTROL_PLANES[1][1]}:", f"https://{CONTROL_PLANES[0][1]}:"))


def test_health_names_the_node_whose_kubelet_stopped(cluster):
    cluster.rack.ssh("k8s-w2", "systemctl stop kubelet")
    try:
        deadline = time.monotonic() + 120
        while True:
            res = cluster.health()
            if "node k8s-w2: not Ready" in res.stdout or time.monotonic() > deadline:
                break
            time.sleep(5)
        assert res.returncode == 0 and '"healthy": false' in res.stdout
        assert "node k8s-w2: not Ready" in res.stdout
    finally:
        cluster.rack.ssh("k8s-w2", "systemctl start kubelet")
    assert cluster.health(wait_timeout=300).returncode == 0


PODS = """
apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}}
spec:
  nodeName: k8s-w2
  containers:
  - name: web
    image: %(image)s
    imagePullPolicy: Never
    command: [httpd, -f, -p, "8080", -h, /www]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  nodeName: k8s-w1
  containers:
  - name: client
    image: %(image)s
    imagePullPolicy: Never
    command: [sleep, "3600"]
""" % {"image": BUSYBOX_IMAGE}


@pytest.fixture(scope="module")
def pods(cluster, tmp_path_factory):
    archive = busybox_image(tmp_path_factory.mktemp("img") / "busybox.tar")
    cluster.load_image(archive, ["k8s-w1", "k8s-w2"])
    cluster.kubectl("apply", "-f", "-", stdin=PODS)
    cluster.wait_pod("web")
    cluster.wait_pod("client")
    yield cluster
    cluster.kubectl("delete", "pod", "web", "client", "--wait=false", check=False)


def exec_client(cluster, command):
    return cluster.kubectl("exec", "client", "--", "sh", "-c", command, check=False)


def test_a_pod_resolves_cluster_names_and_nothing_else(pods):
    res = exec_client(pods, "nslookup kubernetes.default.svc.cluster.local")
    assert res.returncode == 0 and "198.18.128.1" in res.stdout, res.stdout + res.stderr
    # CoreDNS forwards nowhere in the lab: a name outside the cluster does not resolve.
    res = exec_client(pods, "nslookup -timeout=3 deb.debian.org")
    assert res.returncode != 0 or "203.0.113" not in res.stdout, res.stdout


def test_a_pod_reaches_a_pod_on_another_node_and_a_service(pods):
    web_ip = pods.kubectl("get", "pod", "web", "-o", "jsonpath={.status.podIP}").stdout
    assert web_ip.startswith("198.18.")
    # busybox nc, not wget: Debian's busybox-static wget segfaults (on this host too).
    request = "printf 'GET /index.html HTTP/1.0\\r\\n\\r\\n' | nc -w 5"
    res = exec_client(pods, f"{request} {web_ip} 8080")
    assert res.stdout.strip().splitlines()[-1:] == ["baremetal.mlops test pod"], res.stdout + res.stderr
    res = exec_client(pods, f"{request} web.default.svc.cluster.local 80")
    assert res.stdout.strip().splitlines()[-1:] == ["baremetal.mlops test pod"], res.stdout + res.stderr


def test_verify_kubernetes_layer_passes_then_names_a_stopped_kubelet_and_a_wrong_version(cluster, tmp_path):
    def verify(name, gpu=False):
        # gpu=False: the GPU worker's allocatable check is left out (its node has no GPU here).
        env = {**cluster.env(), "MLOPS_VERIFY_REPORT_DIR": str(tmp_path / name)}
        res = run([VENV_BIN / "ansible-playbook", "-i", cluster.inventory, "verify.yml", "--tags", "kubernetes",
                   "-e", f"verify_kubernetes_kubeconfig={cluster.kubeconfig}",
                   *([] if gpu else ["-e", '{"verify_kubernetes_gpu_nodes": []}'])],
                  timeout=600, check=False,
                  cwd=ROOT, env=env)
        return res, (tmp_path / name / "verify-report.json")

    # The GPU worker has no GPU here: verify's allocatable check runs against the real node and fails naming it.
    res = verify("gpu", gpu=True)[0]
    out = res.stdout + res.stderr
    assert res.returncode != 0 and f"{GPU_WORKER} allocatable nvidia.com/gpu=0" in out, out[-3000:]
    res, report = verify("green")
    assert res.returncode == 0, res.stdout[-3000:]
    assert report.exists()
    # k8s-w1's kubelet stopped: first (within the node grace period, still Ready) it is made to report
    # another kubelet version, as a node that missed an upgrade does (its status patched: a running
    # kubelet would write its own back within seconds); then it goes NotReady.
    cluster.rack.ssh("k8s-w1", "systemctl stop kubelet")
    try:
        cluster.kubectl("patch", "node", "k8s-w1", "--subresource=status", "--type=merge",
                        "-p", '{"status":{"nodeInfo":{"kubeletVersion":"v1.34.11"}}}')
        res = verify("version")[0]
        out = res.stdout + res.stderr
        assert res.returncode != 0 and "k8s-w1 kubelet v1.34.11" in out and f"v{VERSION}" in out, out[-3000:]
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline:
            if "node k8s-w1: not Ready" in cluster.health().stdout:
                break
            time.sleep(5)
        res = verify("stopped")[0]
        out = res.stdout + res.stderr
        assert res.returncode != 0 and re.search(r"FAIL\s+kubernetes/nodes\s+k8s-w1 Ready", out), out[-3000:]
    finally:
        cluster.rack.ssh("k8s-w1", "systemctl start kubelet")
    assert cluster.health(wait_timeout=300).returncode == 0


def held_static_pod(cluster, node, component):
    """Move a static pod's manifest out of /etc/kubernetes/manifests on `node` and wait until the kubelet has
    stopped its container; returns the command that puts it back."""
    cluster.rack.ssh(node, f"mkdir -p /root/held && mv /etc/kubernetes/manifests/{component}.yaml /root/held/")
    deadline = time.monotonic() + 120
    while cluster.rack.ssh(node, f"crictl ps -q --name '^{component}$'", check=False).stdout.strip():
        assert time.monotonic() < deadline, f"{component} still runs on {node}"
        time.sleep(3)
    return f"mv /root/held/{component}.yaml /etc/kubernetes/manifests/"


def test_verify_names_a_stopped_etcd_member_and_reads_through_another_apiserver(cluster, tmp_path):
    """Issue 25, finding 2: with etcd stopped on one control plane, verify's kubernetes layer passed; it now judges
    every etcd member and apiserver as k8s_cluster_health does, within one run. Finding 3 (verify's part): with the
    apiserver the kubeconfig names stopped, verify reads through another control plane and names the stopped one."""
    def verify(name):
        env = {**cluster.env(), "MLOPS_VERIFY_REPORT_DIR": str(tmp_path / name)}
        res = run([VENV_BIN / "ansible-playbook", "-i", cluster.inventory, "verify.yml", "--tags", "kubernetes",
                   "-e", f"verify_kubernetes_kubeconfig={cluster.kubeconfig}",
                   "-e", '{"verify_kubernetes_gpu_nodes": []}'], timeout=600, check=False, cwd=ROOT, env=env)
        return res.returncode, res.stdout + res.stderr

    (cp1, ip1), (cp2, _ip2) = CONTROL_PLANES[:2]
    back = held_static_pod(cluster, cp2, "etcd")
    try:
        rc, out = verify("etcd-down")
        assert rc != 0 and re.search(rf"FAIL\s+kubernetes/etcd\s+etcd member {cp2} healthy", out), out[-3000:]
        assert f"on {cp2}: crictl ps -a --name etcd" in out
        assert not re.search(rf"FAIL\s+kubernetes/etcd\s+etcd member {cp1} healthy", out)
    finally:
        cluster.rack.ssh(cp2, back)
    assert cluster.health(wait_timeout=420).returncode == 0

    server = yaml.safe_load(cluster.kubeconfig.read_text())["clusters"][0]["cluster"]["server"]
    assert server == f"https://{ip1}:6443", server  # the admin kubeconfig names the first control plane
    back = held_static_pod(cluster, cp1, "kube-apiserver")
    try:
        rc, out = verify("apiserver-down")
        assert rc != 0 and re.search(rf"FAIL\s+kubernetes/apiserver\s+https://{re.escape(ip1)}:6443 /readyz", out), \
            out[-3000:]
        assert not re.search(r"FAIL\s+kubernetes/(api|nodes|etcd)\s", out), out[-3000:]
    finally:
        cluster.rack.ssh(cp1, back)
    assert cluster.health(wait_timeout=420).returncode == 0


def plugin_pods(cluster):
    out = cluster.kubectl("-n", "kube-system", "get", "pods", "-l", "app.kubernetes.io/name=nvidia-device-plugin",
                          "-o", "jsonpath={range .items[*]}{.spec.nodeName} {.status.phase}{'\\n'}{end}").stdout
    return sorted(line for line in out.split("\n") if line)


def test_device_plugin_lands_on_the_gpu_worker_and_no_other_node(cluster):
    # The scheduling rule, proven on the real cluster; no GPU here, so the plugin only waits
    # (FAIL_ON_INIT_ERROR false) and nvidia.com/gpu allocatable is not checked here.
    assert plugin_pods(cluster) == [f"{GPU_WORKER} Running"]
    labelled = cluster.kubectl("get", "nodes", "-l", "baremetal.mlops/gpu=true", "-o", "name").stdout.split()
    assert labelled == [f"node/{GPU_WORKER}"]
    log = cluster.kubectl("-n", "kube-system", "logs", "daemonset/nvidia-device-plugin").stdout
    assert "0.19.1" in log, log[-2000:]
    # A stray GPU label on another node puts a plugin pod there; the next run takes the label off again.
    cluster.kubectl("label", "node", "k8s-w1", "baremetal.mlops/gpu=true")
    deadline = time.monotonic() + 60
    while "k8s-w1" not in " ".join(plugin_pods(cluster)) and time.monotonic() < deadline:
        time.sleep(2)
    res = cluster.play("playbooks/kubernetes.yml", "--tags", "gpu")
    assert "Take the label off nodes that are not GPU workers" in res.stdout
    deadline = time.monotonic() + 120
    while plugin_pods(cluster) != [f"{GPU_WORKER} Running"] and time.monotonic() < deadline:
        time.sleep(3)
    assert plugin_pods(cluster) == [f"{GPU_WORKER} Running"]
    assert cluster.kubectl("get", "node", "k8s-w1", "-o", "jsonpath={.metadata.labels}").stdout.find(
        "baremetal.mlops/gpu") == -1


def test_device_plugin_without_nvml_fails_naming_the_node_and_the_fix(cluster):
    # Upstream's default (exit when NVML cannot start) on a GPU worker without a driver: the play names the node.
    res = cluster.play("playbooks/kubernetes.yml", "--tags", "gpu", "-e", "nvidia_device_plugin_fail_on_init_error=true",
                       "-e", "nvidia_device_plugin_wait_timeout=30", check=False)
    out = " ".join(res.stdout.split())
    try:
        assert res.returncode != 0, out[-2000:]
        assert f"not ready on every node of gpu_workers after 30 s: {GPU_WORKER}: pod nvidia-device-plugin-" in out
        assert "NVML not found means the node's driver or the NVIDIA container toolkit is missing" in out
    finally:
        cluster.play("playbooks/kubernetes.yml", "--tags", "gpu")
    deadline = time.monotonic() + 60
    while plugin_pods(cluster) != [f"{GPU_WORKER} Running"] and time.monotonic() < deadline:
        time.sleep(2)
    assert plugin_pods(cluster) == [f"{GPU_WORKER} Running"]


def test_device_plugin_refuses_a_gpu_worker_without_its_image(cluster, tmp_path):
    inv = yaml.safe_load(cluster.inventory.read_text())
    inv["all"]["children"]["k8s_cluster"]["children"]["gpu_workers"]["vars"]["container_runtime_extra_images"] = []
    bad = tmp_path / "no-plugin-image.yml"
    bad.write_text(yaml.safe_dump(inv))
    res = run([VENV_BIN / "ansible-playbook", "-i", bad, "playbooks/kubernetes.yml", "--tags", "gpu",
               "-e", f"mlops_bundle_dir={cluster.bundle}"], timeout=300, check=False, cwd=ROOT, env=cluster.env())
    assert res.returncode != 0, res.stdout[-2000:]
    assert f"{GPU_WORKER}: in group gpu_workers" in res.stdout and "container_runtime_extra_images" in res.stdout
    assert not re.search(r"changed=[1-9]", res.stdout)


def test_preflight_refuses_bad_input_naming_the_host_and_the_fix(cluster, tmp_path):
    def preflight(*args, bundle=None):
        return cluster.play("playbooks/kubernetes_preflight.yml", *args, check=False, bundle=bundle)

    res = preflight("-e", "kubeadm_control_plane_endpoint=api.nowhere.invalid:6443")
    out = res.stdout
    assert res.returncode != 0 and "the control-plane endpoint api.nowhere.invalid:6443 does not resolve" in out
    assert re.search(r"k8s-(cp|w)\d: the control-plane endpoint", out)

    broken = copy_bundle_without(cluster.bundle, tmp_path / "bundle", "registry.k8s.io/etcd:3.6.6-0")
    res = preflight(bundle=broken)
    assert res.returncode != 0 and "lacks registry.k8s.io/etcd:3.6.6-0" in res.stdout, res.stdout[-2000:]
    assert "scripts/bundle build" in res.stdout

    # A node without bridge netfilter (hidden under an empty tmpfs) and one with a cgroup controller gone.
    cluster.rack.ssh("k8s-w1", "mount -t tmpfs none /proc/sys/net/bridge")
    try:
        res = preflight("--limit", "k8s-w1")
        assert res.returncode != 0 and "k8s-w1: bridge netfilter is missing" in res.stdout, res.stdout[-2000:]
        assert "modprobe br_netfilter" in res.stdout
    finally:
        cluster.rack.ssh("k8s-w1", "umount /proc/sys/net/bridge")
    res = preflight("--limit", "k8s-w1", "-e", '{"kubeadm_required_cgroup_controllers": ["cpu", "memory", "hugetlb_missing"]}')
    assert res.returncode != 0 and "k8s-w1: cgroup controllers hugetlb_missing are not enabled" in res.stdout

    # A member whose installed kubelet is another version (a stand-in binary over the path; the running
    # kubelet is not touched): kubernetes.yml would swap it in place without a drain, so it is refused.
    cluster.rack.ssh("k8s-w1", "printf '#!/bin/sh\\necho Kubernetes v1.34.11\\n' > /tmp/old-kubelet && "
                               "chmod +x /tmp/old-kubelet && mount --bind /tmp/old-kubelet /usr/local/bin/kubelet")
    try:
        res = preflight("--limit", "k8s-w1")
        out = " ".join(res.stdout.split())
        assert res.returncode != 0 and "k8s-w1 is a member of the cluster with kubelet v1.34.11" in out, out[-2000:]
        assert "playbooks/upgrade.yml" in out
    finally:
        cluster.rack.ssh("k8s-w1", "umount /usr/local/bin/kubelet")


def test_even_number_of_control_planes_is_refused_before_anything(cluster, tmp_path):
    inv = yaml.safe_load(cluster.inventory.read_text())
    cps = inv["all"]["children"]["k8s_cluster"]["children"]["control_plane"]["hosts"]
    cps.pop("k8s-cp3")
    even = tmp_path / "even.yml"
    even.write_text(yaml.safe_dump(inv))
    res = run([VENV_BIN / "ansible-playbook", "-i", even, "site.yml", "-e", f"mlops_bundle_dir={cluster.bundle}"],
              timeout=300, check=False, cwd=ROOT, env=cluster.env())
    assert res.returncode != 0 and "group control_plane has 2 hosts" in res.stdout, res.stdout[-2000:]
    assert not re.search(r"^k8s-\S+\s+:.*changed=[1-9]", res.stdout, re.M)


def test_a_host_renamed_after_it_joined_is_refused_before_anything(cluster, tmp_path):
    """Issue 25, identity's neighbours: k8s-w2 renamed k8s-w9 in the inventory (same machine, same address). The
    run would have joined it again under the new name; kubernetes.yml's preflight (and site.yml's) refuses it
    before any play changes a node, naming both names and the fix."""
    inv = yaml.safe_load(cluster.inventory.read_text())
    groups = inv["all"]["children"]["k8s_cluster"]["children"]
    groups["workers"]["hosts"]["k8s-w9"] = groups["workers"]["hosts"].pop("k8s-w2")
    groups["gpu_workers"]["hosts"] = {"k8s-w9" if h == "k8s-w2" else h: v for h, v in groups["gpu_workers"]["hosts"].items()}
    renamed = tmp_path / "renamed.yml"
    renamed.write_text(yaml.safe_dump(inv))
    res = run([VENV_BIN / "ansible-playbook", "-i", renamed, "playbooks/kubernetes.yml",
               "-e", f"mlops_bundle_dir={cluster.bundle}"], timeout=600, check=False, cwd=ROOT, env=cluster.env())
    out = " ".join(res.stdout.split())
    assert res.returncode != 0, out[-3000:]
    assert ("k8s-w9 (198.19.20.22) is a member of the cluster, but the cluster knows that address as node k8s-w2: "
            "the host was renamed in the inventory after it joined") in out, out[-3000:]
    assert not re.search(r"^k8s-\S+\s+:.*changed=[1-9]", res.stdout, re.M)
    assert "Kubernetes | Install" not in res.stdout  # refused in the preflight play, before the first change


PVC_POD = """
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: Pod
metadata: {name: writer}
spec:
  restartPolicy: Never
  containers:
  - name: writer
    image: %(image)s
    imagePullPolicy: Never
    command: [sh, -c, "echo written-by-pod > /data/file && cat /data/file && ls /data"]
    volumeMounts: [{name: data, mountPath: /data}]
  volumes: [{name: data, persistentVolumeClaim: {claimName: data}}]
""" % {"image": BUSYBOX_IMAGE}


def test_a_claim_binds_on_the_local_storage_class_and_a_pod_writes_and_reads_back(pods):
    cluster = pods
    assert "(default)" in cluster.kubectl("get", "storageclass", "local-data").stdout
    cluster.kubectl("apply", "-f", "-", stdin=PVC_POD)
    try:
        cluster.wait_pod("writer", phase="Succeeded")
        assert cluster.kubectl("logs", "writer").stdout.split()[0] == "written-by-pod"
        assert cluster.kubectl("get", "pvc", "data", "-o", "jsonpath={.status.phase}").stdout == "Bound"
        pv = cluster.kubectl("get", "pvc", "data", "-o", "jsonpath={.spec.volumeName}").stdout
        node = cluster.kubectl("get", "pod", "writer", "-o", "jsonpath={.spec.nodeName}").stdout
        assert pv.startswith(f"local-data-{node}-vol")
        path = cluster.kubectl("get", "pv", pv, "-o", "jsonpath={.spec.local.path}").stdout
        assert cluster.rack.ssh(node, f"cat {path}/file").stdout.strip() == "written-by-pod"
    finally:
        cluster.kubectl("delete", "pod", "writer", "--wait=false", check=False)


# ---- Day 2 (issue 10) on the same cluster: backup and restore, remove, reset, add ----

def test_backup_is_verified_and_kept_and_a_restore_rolls_the_cluster_back(cluster, tmp_path):
    dest = tmp_path / "backups"
    cluster.kubectl("create", "configmap", "before-backup", "--from-literal=k=v")
    for keep in (2, 2, 1):
        res = cluster.play("playbooks/backup.yml", "-e", f"etcd_backup_dest={dest}", "-e", f"etcd_backup_keep={keep}")
        assert "etcd snapshot of pytest at revision" in res.stdout
        time.sleep(1)  # the backups are named by the second
    kept = sorted((dest / "pytest").iterdir())
    assert len(kept) == 1  # retention: the newest one
    backup = kept[0]
    meta = json.loads((backup / "backup.json").read_text())
    assert sorted(meta["members"]) == [n for n, _ip in CONTROL_PLANES]
    assert int(meta["revision"]) > 0 and int(meta["total_keys"]) > 0
    assert oct(backup.stat().st_mode & 0o777) == "0o700"
    assert {oct(f.stat().st_mode & 0o777) for f in backup.iterdir()} == {"0o600"}
    assert (backup / meta["pki"]).exists() and (backup / meta["snapshot"]).stat().st_size == int(meta["size"])
    cluster.kubectl("create", "configmap", "after-backup", "--from-literal=k=v")

    res = cluster.play("playbooks/restore_etcd.yml", "-e", f"etcd_backup_restore_from={backup}", check=False)
    assert res.returncode != 0 and "-e restore_confirm=pytest" in " ".join(res.stdout.split())
    assert not re.search(r"changed=[1-9]", res.stdout)
    res = cluster.play("playbooks/restore_etcd.yml", "-e", f"etcd_backup_restore_from={backup}",
                       "-e", "restore_confirm=pytest")
    maps = cluster.kubectl("get", "configmap", "-o", "name").stdout.split()
    assert "configmap/before-backup" in maps and "configmap/after-backup" not in maps
    assert cluster.health(wait_timeout=300).returncode == 0


def test_removing_a_control_plane_that_would_lose_quorum_is_refused(cluster):
    cluster.rack.stop("k8s-cp3")
    try:
        res = cluster.play("playbooks/remove_node.yml", "-e", "remove_node=k8s-cp2", "-e", "remove_confirm=k8s-cp2",
                           check=False)
        out = " ".join(res.stdout.split())
        assert res.returncode != 0, out[-2000:]
        assert "Removing control plane k8s-cp2 would leave etcd without quorum" in out
        assert "only 1 are healthy (k8s-cp1)" in out
        assert not re.search(r"changed=[1-9]", res.stdout)
    finally:
        cluster.rack.start("k8s-cp3")
    assert "node/k8s-cp2" in cluster.kubectl("get", "nodes", "-o", "name").stdout.split()
    assert cluster.health(wait_timeout=420).returncode == 0


def worker_routes(cluster, node):
    return cluster.rack.ssh(node, "ip route show proto 77").stdout


@pytest.mark.cluster_end
def test_remove_node_drains_deletes_and_resets_it_and_leaves_its_data_volume_alone(cluster):
    node = "k8s-w2"
    keep = cluster.rack.ssh(node, "mkdir -p /data/k8s-volumes/vol1 && head -c 2000000 /dev/urandom "
                                  "> /data/k8s-volumes/vol1/keep.bin && sha256sum /data/k8s-volumes/vol1/keep.bin").stdout
    cidr = cluster.kubectl("get", "node", node, "-o", "jsonpath={.spec.podCIDR}").stdout
    assert cidr in worker_routes(cluster, "k8s-w1")
    res = cluster.play("playbooks/remove_node.yml", "-e", f"remove_node={node}", check=False)
    assert res.returncode != 0 and "-e remove_confirm=NAME" in " ".join(res.stdout.split())
    # Bare pods (the module's test pods) would stop the drain; they are done with.
    cluster.kubectl("delete", "pod", "web", "client", "--ignore-not-found")
    res = cluster.play("playbooks/remove_node.yml", "-e", f"remove_node={node}", "-e", f"remove_confirm={node}")
    assert f"node/{node}" not in cluster.kubectl("get", "nodes", "-o", "name").stdout.split()
    assert cluster.rack.ssh(node, "sha256sum /data/k8s-volumes/vol1/keep.bin").stdout == keep
    state = cluster.rack.ssh(node, "systemctl is-active kubelet; ls /etc/kubernetes/kubelet.conf 2>&1; "
                                   "ip route show proto 77", check=False).stdout
    assert state.startswith("inactive") and "No such file" in state and "via" not in state
    # The other nodes drop its pod network by themselves (the route keeper, every 20 s).
    deadline = time.monotonic() + 60
    while cidr in worker_routes(cluster, "k8s-w1") and time.monotonic() < deadline:
        time.sleep(3)
    assert cidr not in worker_routes(cluster, "k8s-w1")


def delegated_hosts(stdout, node):
    """The hosts other than the controller that `node`'s tasks were delegated to ("ok: [node -> host]")."""
    return set(re.findall(rf"^\w+: \[{node} -> ([\w-]+)", stdout, re.M)) - {"localhost"}


@pytest.mark.cluster_end
def test_add_node_joins_touching_only_it_and_one_control_plane_and_refuses_a_member(cluster):
    node = "k8s-w2"
    # A join that fails half way (kubeadm join's own preflight finds a CA certificate already on the node; ours does
    # not look there) leaves no credential behind: the run's token is deleted on the control plane, the join file on
    # the node (issue 25: "after a failed join").
    cluster.rack.ssh(node, "mkdir -p /etc/kubernetes/pki && echo stale > /etc/kubernetes/pki/ca.crt")
    try:
        res = cluster.play("playbooks/add_node.yml", "--limit", node, check=False)
    finally:
        cluster.rack.ssh(node, "rm -f /etc/kubernetes/pki/ca.crt")
    out = " ".join(res.stdout.split())
    assert res.returncode != 0 and f"{node}: kubeadm join failed" in out, out[-3000:]
    assert "FileAvailable--etc-kubernetes-pki-ca.crt" in out
    assert join_credentials(cluster) == []
    assert "No such file" in cluster.rack.ssh(node, "ls /etc/kubernetes/kubeadm-join.yaml 2>&1", check=False).stdout
    assert f"node/{node}" not in cluster.kubectl("get", "nodes", "-o", "name").stdout.split()

    res = cluster.play("playbooks/add_node.yml", "--limit", node)
    hosts = recap(res.stdout)
    assert list(hosts) == [node], hosts
    delegated = delegated_hosts(res.stdout, node)
    assert len(delegated) == 1 and delegated <= {n for n, _ip in CONTROL_PLANES}, delegated
    assert cluster.health(wait_timeout=300).returncode == 0
    cidr = cluster.kubectl("get", "node", node, "-o", "jsonpath={.spec.podCIDR}").stdout
    deadline = time.monotonic() + 60
    while cidr not in worker_routes(cluster, "k8s-w1") and time.monotonic() < deadline:
        time.sleep(3)
    assert cidr in worker_routes(cluster, "k8s-w1")
    assert join_credentials(cluster) == []  # the join's token is gone with the run
    # A GPU worker gets its label back, so the device plugin runs there again.
    deadline = time.monotonic() + 120
    while plugin_pods(cluster) != [f"{GPU_WORKER} Running"] and time.monotonic() < deadline:
        time.sleep(3)
    assert plugin_pods(cluster) == [f"{GPU_WORKER} Running"]
    res = cluster.play("playbooks/add_node.yml", "--limit", node, check=False)
    out = " ".join(res.stdout.split())
    assert res.returncode != 0 and f"{node} already is in the cluster" in out
    assert not re.search(r"changed=[1-9]", res.stdout)


def test_reset_without_its_confirmation_changes_nothing(cluster):
    res = cluster.play("playbooks/reset.yml", check=False)
    assert res.returncode != 0 and "-e reset_confirm=pytest" in " ".join(res.stdout.split())
    assert not re.search(r"changed=[1-9]", res.stdout)


def etcd_members(cluster, via="k8s-cp1"):
    """etcdctl member list -w json inside the etcd static pod of `via`: {name: (id, peer URLs)}."""
    out = cluster.kubectl("-n", "kube-system", "exec", f"etcd-{via}", "--", "etcdctl", "--endpoints=https://127.0.0.1:2379",
                          "--cacert=/etc/kubernetes/pki/etcd/ca.crt",
                          "--cert=/etc/kubernetes/pki/etcd/healthcheck-client.crt",
                          "--key=/etc/kubernetes/pki/etcd/healthcheck-client.key", "member", "list", "-w", "json").stdout
    return {m.get("name", ""): ("%x" % m["ID"], tuple(m["peerURLs"])) for m in json.loads(out)["members"]}


def readyz(cluster, control_plane):
    """/readyz of that control plane's own API server (not through the node-local endpoint)."""
    return cluster.kubectl("get", "--raw", "/readyz", server=f"https://{dict(CONTROL_PLANES)[control_plane]}:6443").stdout.strip()


@pytest.mark.cluster_end
def test_removing_a_control_plane_takes_it_out_of_etcd_and_add_node_joins_it_back(cluster):
    node = "k8s-cp3"
    before = etcd_members(cluster)
    assert sorted(before) == [n for n, _ip in CONTROL_PLANES], before
    cluster.play("playbooks/remove_node.yml", "-e", f"remove_node={node}", "-e", f"remove_confirm={node}")
    assert f"node/{node}" not in cluster.kubectl("get", "nodes", "-o", "name").stdout.split()
    after = etcd_members(cluster)
    assert sorted(after) == ["k8s-cp1", "k8s-cp2"], after  # its member left etcd before the Node was deleted
    state = cluster.rack.ssh(node, "systemctl is-active kubelet; ls /var/lib/etcd /etc/kubernetes/manifests", check=False)
    assert state.stdout.split()[0] == "inactive" and "member" not in state.stdout, state.stdout
    for name in ("k8s-cp1", "k8s-cp2"):  # two of two members: the API and etcd serve on both
        assert readyz(cluster, name) == "ok"

    res = cluster.play("playbooks/add_node.yml", "--limit", node)
    assert list(recap(res.stdout)) == [node]
    delegated = delegated_hosts(res.stdout, node)
    assert len(delegated) == 1 and delegated <= {"k8s-cp1", "k8s-cp2"}, delegated
    joined = etcd_members(cluster)
    assert sorted(joined) == [n for n, _ip in CONTROL_PLANES], joined
    assert joined[node][0] != before[node][0]  # a new member, not the old one brought back
    assert joined[node][1] == (f"https://{dict(CONTROL_PLANES)[node]}:2380",)
    assert join_credentials(cluster) == []  # the token and the uploaded certificates (a control plane joined)
    assert cluster.health(wait_timeout=300).returncode == 0
    # The re-joined control plane serves the API itself.
    assert readyz(cluster, node) == "ok"


@pytest.mark.cluster_end
def test_reset_with_its_confirmation_removes_kubernetes_and_leaves_the_data_volumes(cluster):
    # Last test: the cluster is gone after it.
    keep = {}
    for node in ("k8s-cp1", "k8s-w1"):
        keep[node] = cluster.rack.ssh(node, "mkdir -p /data/k8s-volumes/reset && head -c 1000000 /dev/urandom "
                                            "> /data/k8s-volumes/reset/keep.bin && sha256sum /data/k8s-volumes/reset/keep.bin").stdout
    res = cluster.play("playbooks/reset.yml", "-e", "reset_confirm=pytest")
    assert set(recap(res.stdout)) == {n for n, _ip in CONTROL_PLANES + WORKERS}
    stopped = re.search(r"Stop every pod on the node.*?\n\n", res.stdout, re.S).group(0)
    assert "changed: [k8s-cp1]" in stopped  # it had pods (the API's static pods) and stopped them
    for node, sha in keep.items():
        assert cluster.rack.ssh(node, "sha256sum /data/k8s-volumes/reset/keep.bin").stdout == sha
    for node, _ip in CONTROL_PLANES + WORKERS:
        state = cluster.rack.ssh(node, "systemctl is-active kubelet containerd; ls /etc/kubernetes/kubelet.conf 2>&1; "
                                       "ls -A /etc/kubernetes/manifests /var/lib/etcd 2>/dev/null; ip route show proto 77",
                                 check=False).stdout.split("\n")
        assert state[:2] == ["inactive", "active"], (node, state)  # the runtime stays
        assert "No such file" in state[2] and ".yaml" not in "".join(state) and "member" not in "".join(state), (node, state)
        assert not any("via" in line for line in state), (node, state)
    res = cluster.play("playbooks/reset.yml", "-e", "reset_confirm=pytest")
    assert not re.search(r"changed=[1-9]", res.stdout), res.stdout[-3000:]
