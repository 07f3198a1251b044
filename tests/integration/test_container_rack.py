"""The container rack (issue 8): runc system containers as nodes, for real.

Boots racks of container nodes with scripts/vrack on bridges of this host
(198.19.0.0/16 addresses, reserved for benchmarking; nothing routed off the machine), reaches them with
Ansible, installs containerd from the offline bundle with the
container_runtime role and runs a pod sandbox from the bundled pause image
with crictl, then stops the rack and looks for anything left behind.
Needs root (runc, mounts, network namespaces), as CI runs.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import socket
import subprocess
import time

import pytest
from bundle_helpers import VRACK, ContainerRack, built_bundle, run

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="container nodes need root")

CIDR = "198.19.10.0/24"


@pytest.fixture(scope="module")
def bundle():
    return built_bundle()


@pytest.fixture(scope="module")
def rack(tmp_path_factory):
    r = ContainerRack(tmp_path_factory.mktemp("rack"), "pytest-ct2", CIDR,
                      [("ct-a", "198.19.10.11"), ("ct-b", "198.19.10.12")])
    r.up()
    print(f"2 container nodes up in {r.boot_seconds:.1f} s")
    yield r
    r.down()
    assert r.leftovers() == []


def test_two_container_nodes_boot_and_ansible_reaches_both(rack):
    res = rack.ansible_adhoc("all", "-m", "ansible.builtin.setup", "-a", "gather_subset=!all,!min,virtual")
    for node in ("ct-a", "ct-b"):
        assert re.search(rf"^{node} \| SUCCESS", res.stdout, re.M), res.stdout
    assert "ansible_virtualization_role: guest" in res.stdout
    assert rack.boot_seconds < 120  # generous: the benchmark prints the real figure


def test_each_node_is_a_system_container_with_its_own_identity(rack):
    seen = {}
    for node in ("ct-a", "ct-b"):
        out = rack.ssh(node, "systemctl is-system-running; cat /etc/machine-id /etc/vrack/product_uuid; "
                             "hostname; findmnt -n -o FSTYPE /var; findmnt -n -o FSTYPE /; stat -c %t:%T /dev/kmsg; "
                             "cat /proc/sys/net/ipv4/ip_forward /proc/sys/net/bridge/bridge-nf-call-iptables; "
                             "findmnt -n -o TARGET /sys/fs/cgroup/memory/kubelet; cat /run/systemd/container",
                       check=False).stdout.split()
        state, machine_id, product, hostname, var_fs, root_fs, kmsg, fwd, brnf, kubelet_cg, ctype = out
        assert state in ("running", "degraded"), out
        assert hostname == node and var_fs != "overlay" and root_fs == "overlay"
        assert kmsg == "1:b"  # char 1:11
        assert (fwd, brnf) == ("1", "1")
        assert kubelet_cg == "/sys/fs/cgroup/memory/kubelet"
        assert ctype == "runc"
        seen[node] = (machine_id, product)
    assert seen["ct-a"][0] != seen["ct-b"][0] and seen["ct-a"][1] != seen["ct-b"][1]


def host_gateway():
    routes = json.loads(run(["ip", "-j", "-4", "route", "show", "default"]).stdout or "[]")
    return routes[0]["gateway"] if routes else None


def test_nodes_reach_each_other_and_nothing_beyond_this_machine(rack):
    """What keeps the rack in: this machine does not forward (vrack up refuses to start a container rack if it
    does). Proven without sending anything toward a real network (issue 25 found one ping to this machine's real
    gateway): a network namespace made here stands for "outside", one /30 away from the host over a veth; a node
    pings it through its default route to the host, and the namespace counts the echo requests that arrive."""
    assert rack.ssh("ct-a", "ping -c1 -W2 ct-b", check=False).returncode == 0
    assert open("/proc/sys/net/ipv4/ip_forward").read().strip() == "0"
    ns, host_if, ns_if, host_ip, outside_ip = "mlops-outside", "mlops-out0", "mlops-out1", "198.18.251.2", "198.18.251.1"
    run(["ip", "netns", "delete", ns], check=False)
    run(["ip", "link", "delete", host_if], check=False)
    try:
        run(["ip", "netns", "add", ns])
        run(["ip", "link", "add", host_if, "type", "veth", "peer", "name", ns_if, "netns", ns])
        run(["ip", "addr", "add", f"{host_ip}/30", "dev", host_if])
        run(["ip", "link", "set", host_if, "up"])
        run(["ip", "-n", ns, "addr", "add", f"{outside_ip}/30", "dev", ns_if])
        run(["ip", "-n", ns, "link", "set", ns_if, "up"])
        run(["ip", "-n", ns, "link", "set", "lo", "up"])
        run(["ip", "-n", ns, "route", "add", "default", "via", host_ip])

        def counters():
            out = run(["ip", "netns", "exec", ns, "nstat", "-az", "IcmpInEchos", "UdpNoPorts"]).stdout
            return {line.split()[0]: int(line.split()[1]) for line in out.splitlines() if line.startswith(("Icmp", "Udp"))}

        # The host itself reaches "outside" (the veth and the counters work: a datagram to a closed port) ...
        start = counters()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(b"probe", (outside_ip, 9))
        deadline = time.monotonic() + 5
        while counters()["UdpNoPorts"] == start["UdpNoPorts"] and time.monotonic() < deadline:
            time.sleep(0.2)
        before = counters()
        assert before["UdpNoPorts"] == start["UdpNoPorts"] + 1, (start, before)
        # ... the node's only way out is its default route, to this machine ...
        route = rack.ssh("ct-a", f"ip -4 route get {outside_ip}").stdout
        assert " via " in route, route
        # ... which does not forward: the echo request never arrives.
        assert rack.ssh("ct-a", f"ping -c2 -W2 {outside_ip}", check=False).returncode != 0
        after = counters()
        assert after["IcmpInEchos"] == before["IcmpInEchos"], (before, after)
    finally:
        run(["ip", "netns", "delete", ns], check=False)
        run(["ip", "link", "delete", host_if], check=False)


def test_a_lan_over_the_hosts_own_network_is_refused(tmp_path):
    gateway = host_gateway()
    spec = {"rack": "pytest-clash", "lan_cidr": f"{gateway}/30", "nodes": [
        {"name": "x", "kind": "container", "lan_ip": str(ipaddress.IPv4Address(gateway) + 1)}]}
    spec["lan_cidr"] = str(ipaddress.IPv4Network(spec["lan_cidr"], strict=False))
    (tmp_path / "clash.json").write_text(json.dumps(spec))
    res = run([VRACK, "up", "--spec", tmp_path / "clash.json"], check=False)
    assert res.returncode == 1, res.stderr
    assert "give this rack another vrack_lan_cidr" in res.stderr
    r = ContainerRack(tmp_path, "pytest-clash", spec["lan_cidr"], [("x", spec["nodes"][0]["lan_ip"])])
    assert r.leftovers() == []


def test_the_storage_layer_says_a_container_node_has_nothing_to_lay_out(rack):
    res = rack.ansible("tests/integration/targets/nvme_storage_container/playbook.yml", timeout=300)
    assert "ct-a is a container node: it has no NVMe drives of its own" in res.stdout
    assert re.search(r"ct-a\s+: ok=\d+\s+changed=0 .*failed=0", res.stdout), res.stdout[-1500:]
    gather = res.stdout.split("NVMe storage | Gather NVMe facts")[1].split("TASK")[0]
    assert "skipping: [ct-a]" in gather and "ok: [ct-a]" not in gather  # the drives are not even read


def test_a_corrupted_bundle_is_refused_before_a_node_changes(rack, bundle, tmp_path):
    from test_bundle_build import linked_copy

    copy = linked_copy(bundle, tmp_path / "bad", corrupt="bin/runc")
    res = rack.ansible("tests/integration/targets/container_runtime/playbook.yml",
                       "-e", f"container_runtime_bundle_dir={copy}", check=False)
    assert res.returncode != 0
    assert "bin/runc: sha256" in res.stdout and "does not match the manifest's" in res.stdout
    for node in ("ct-a", "ct-b"):
        assert rack.ssh(node, "test -e /usr/local/bin/runc || test -e /etc/containerd", check=False).returncode != 0


def test_check_mode_on_a_fresh_node_reports_changes_and_makes_none(rack, bundle):
    res = rack.ansible("tests/integration/targets/container_runtime/playbook.yml", "--check", "--diff",
                       "-e", f"container_runtime_bundle_dir={bundle}", "--limit", "ct-b", timeout=600)
    assert re.search(r"ct-b\s+: ok=\d+\s+changed=[1-9]", res.stdout), res.stdout[-2000:]
    assert "/etc/containerd/config.toml" in res.stdout  # the diff of the configuration it would write
    assert rack.ssh("ct-b", "test -e /usr/local/bin/containerd || test -e /etc/containerd/config.toml",
                    check=False).returncode != 0


def test_containerd_from_the_bundle_runs_a_pod_sandbox_from_the_bundled_pause(rack, bundle):
    play = "tests/integration/targets/container_runtime/playbook.yml"
    first = rack.ansible(play, "-e", f"container_runtime_bundle_dir={bundle}", "--limit", "ct-a", timeout=900)
    assert re.search(r"ct-a\s+: ok=\d+\s+changed=[1-9]", first.stdout), first.stdout[-2000:]
    # Every image is in containerd under the name kubeadm lists, with the bundle's digest.
    manifest = json.loads((bundle / "manifest.json").read_text())
    images = rack.ssh("ct-a", "ctr -n k8s.io images list").stdout
    for image in manifest["images"]:
        line = next((ln for ln in images.splitlines() if ln.startswith(image["name"] + " ")), "")
        assert image["manifest_digest"] in line, (image["name"], images)
        assert "io.cri-containerd.pinned=pinned" in line
    # A pod sandbox on the CNI bridge (the plugins from the bundle).
    cni = {"cniVersion": "1.0.0", "name": "pytest", "plugins": [
        {"type": "bridge", "bridge": "cni0", "isGateway": True, "ipMasq": False,
         "ipam": {"type": "host-local", "ranges": [[{"subnet": "198.18.11.0/24"}]]}},
        {"type": "portmap", "capabilities": {"portMappings": True}}]}
    pod = {"metadata": {"name": "probe", "namespace": "default", "uid": "probe-uid", "attempt": 1},
           "log_directory": "/tmp/probe-logs", "linux": {"cgroup_parent": "pytest-probe.slice"}}
    rack.ssh("ct-a", f"echo '{json.dumps(cni)}' >/etc/cni/net.d/10-pytest.conflist; "
                     f"echo '{json.dumps(pod)}' >/tmp/pod.json")
    pod_id = rack.ssh("ct-a", "crictl runp /tmp/pod.json", timeout=180).stdout.strip().splitlines()[-1]
    info = json.loads(rack.ssh("ct-a", f"crictl inspectp {pod_id}").stdout)
    assert info["status"]["state"] == "SANDBOX_READY"
    assert info["status"]["network"]["ip"].startswith("198.18.11.")
    assert info["info"]["image"] == next(i["name"] for i in manifest["images"] if "/pause:" in i["name"])
    assert "pause" in rack.ssh("ct-a", "ps -eo comm").stdout
    rack.ssh("ct-a", f"crictl stopp {pod_id} && crictl rmp {pod_id}")
    # Idempotence: a second run changes nothing.
    second = rack.ansible(play, "-e", f"container_runtime_bundle_dir={bundle}", "--limit", "ct-a", timeout=900)
    assert re.search(r"ct-a\s+: ok=\d+\s+changed=0 ", second.stdout), second.stdout[-3000:]


def test_a_node_powered_off_and_on_keeps_its_disk_and_boots_fresh(rack):
    # What a reboot keeps (files in / and /var) and what it loses (tmpfs /run, the kernel's network state).
    before = rack.ssh("ct-a", "echo kept > /root/on-root; echo kept > /var/on-var; echo gone > /run/on-run; "
                              "ip link add vrack-t0 type dummy; cat /etc/machine-id").stdout.strip()
    res = run([VRACK, "start", "pytest-ct2", "ct-a"], check=False)
    assert res.returncode != 0 and "ct-a is not halted" in res.stderr
    rack.stop("ct-a")
    assert re.search(r"ct-a\s+container\s+stopped", run([VRACK, "status", "pytest-ct2"]).stdout)
    assert rack.ssh("ct-b", "ping -c1 -W2 198.19.10.11", check=False).returncode != 0
    rack.stop("ct-a")  # already off: nothing to do
    rack.start("ct-a")
    out = rack.ssh("ct-a", "cat /root/on-root /var/on-var; ls /run/on-run 2>&1; ip link show vrack-t0 2>&1; "
                           "cat /etc/machine-id; systemctl is-system-running --wait", check=False).stdout
    assert out.count("kept") == 2 and "No such file" in out and "does not exist" in out, out
    assert before in out and re.search(r"^(running|degraded)$", out, re.M), out
    assert rack.ssh("ct-b", "ping -c1 -W2 198.19.10.11", check=False).returncode == 0


def test_a_bad_spec_is_refused_and_starts_nothing(tmp_path):
    spec = {"rack": "pytest-bad", "lan_cidr": CIDR, "nodes": [
        {"name": "x", "kind": "container", "lan_ip": "198.19.10.21"},
        {"name": "x", "kind": "container", "lan_ip": "198.19.10.22"},
        {"name": "y", "kind": "container", "lan_ip": "198.19.10.22"}]}
    (tmp_path / "bad.json").write_text(json.dumps(spec))
    res = run([VRACK, "up", "--spec", tmp_path / "bad.json"], check=False)
    assert res.returncode == 1
    assert "node x: name x is also used by node x" in res.stderr
    assert "node y: lan_ip 198.19.10.22 is also used by node x" in res.stderr
    r = ContainerRack(tmp_path, "pytest-bad", CIDR, [("x", "198.19.10.21")])
    assert r.leftovers() == []
    assert not (r.inventory.parent / "runc").exists()


def test_down_leaves_no_process_mount_bridge_netns_or_cgroup(tmp_path):
    r = ContainerRack(tmp_path, "pytest-ct1", "198.19.11.0/25", [("solo", "198.19.11.10")]).up()
    assert r.leftovers() != []  # the check sees a running rack
    # A process in a nested cgroup of the node's own making (as a kubelet's pods are).
    r.ssh("solo", "mkdir -p /sys/fs/cgroup/pids/kubelet/leftover-test; "
                  "setsid -f sh -c 'echo $$ >/sys/fs/cgroup/pids/kubelet/leftover-test/cgroup.procs; exec sleep 300' "
                  "</dev/null >/dev/null 2>&1", timeout=30)
    assert any(item.startswith("process ") for item in r.leftovers())
    r.down()
    assert r.leftovers() == []
    res = run([VRACK, "status", "pytest-ct1"])
    assert "solo" not in res.stdout


def test_a_mixed_rack_puts_vm_and_container_nodes_on_one_lan(tmp_path):
    spec = {"rack": "pytest-mix", "lan_cidr": "198.19.12.0/26", "nodes": [
        {"name": "mix-c", "kind": "container", "lan_ip": "198.19.12.41"},
        {"name": "mix-v", "kind": "vm", "ssh_port": 2391, "lan_ip": "198.19.12.42", "nvme_count": 1}]}
    (tmp_path / "mix.json").write_text(json.dumps(spec))
    run([VRACK, "up", "--spec", tmp_path / "mix.json"], timeout=400)
    try:
        assert run([VRACK, "ssh", "pytest-mix", "mix-v", "ping -c1 -W3 198.19.12.41"], check=False).returncode == 0
        assert run([VRACK, "ssh", "pytest-mix", "mix-c", "ping -c1 -W3 mix-v"], check=False).returncode == 0
        status = run([VRACK, "status", "pytest-mix"]).stdout
        assert re.search(r"mix-c\s+container\s+running", status) and re.search(r"mix-v\s+vm\s+running", status)
    finally:
        run([VRACK, "down", "pytest-mix"], timeout=120)
    r = ContainerRack(tmp_path, "pytest-mix", "198.19.12.0/26", [("mix-c", "198.19.12.41")])
    assert r.leftovers() == []


def test_up_clears_what_a_lost_rack_state_left_running(tmp_path):
    # A crash that loses rack.json leaves a running container, its mounts, netns, veth
    # and bridge; the next `up` removes them by id and path and starts clean.
    r = ContainerRack(tmp_path, "pytest-stale", "198.19.13.0/26", [("st1", "198.19.13.11")]).up()
    (r.inventory.parent / "rack.json").unlink()
    r.up()
    assert r.ssh("st1", "systemctl is-system-running", check=False).stdout.strip() in ("running", "degraded")
    r.down()
    assert r.leftovers() == []


def test_a_node_whose_container_dies_while_booting_is_started_once_more(tmp_path):
    # The flake this guards against was seen twice here (a fresh node's container stopped before its sshd
    # answered, console empty, with other racks starting under load); here the container is killed on purpose.
    r = ContainerRack(tmp_path, "pytest-retry", "198.19.14.0/26", [("rt1", "198.19.14.11")])
    runc_root = r.inventory.parent / "runc"
    up = subprocess.Popen([str(VRACK), "up", "--spec", str(r.spec_file)], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    try:
        killed = False
        deadline = time.monotonic() + 60
        while not killed and time.monotonic() < deadline and up.poll() is None:
            ids = run(["runc", "--root", runc_root, "list", "-q"], check=False).stdout.split() if runc_root.is_dir() else []
            if ids:
                killed = run(["runc", "--root", runc_root, "kill", ids[0], "KILL"], check=False).returncode == 0
            time.sleep(0.05)
        out = up.communicate(timeout=300)[0]
        assert killed and up.returncode == 0, out
        assert "rt1: its container is stopped before sshd answered; starting it once more" in out
        assert r.ssh("rt1", "systemctl is-system-running --wait", check=False).stdout.strip() in ("running", "degraded")
    finally:
        if up.poll() is None:
            up.kill()
        r.down()
    assert r.leftovers() == []
