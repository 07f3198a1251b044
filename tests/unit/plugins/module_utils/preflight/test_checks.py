"""Preflight checks against fake /proc and /etc trees in the kernel's real formats."""
import pathlib
import shutil

import pytest

from ansible_collections.baremetal.mlops.plugins.module_utils.preflight import checks

FIXTURES = pathlib.Path(__file__).parent / "fixtures"

DEFAULT_SPEC = dict(
    supported_os=[dict(id="debian", versions=["12"])],
    min_kernel="5.15", min_cpus=2, min_memory_mb=512, swap_allowed=False,
    time_sync_required=True, resolve_hosts={}, kernel_modules=["overlay", "br_netfilter"],
    sysctls={}, sysctls_present_only=False, free_ports=[],
)


def make_tree(tmp_path, release="6.1.0-28-cloud-amd64", swaps="proc_swaps.none", modules_dep=None):
    def put(rel, text):
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)

    shutil.copytree(FIXTURES, tmp_path / "fx")
    put("etc/os-release", (FIXTURES / "os-release.debian12").read_text())
    put("proc/sys/kernel/osrelease", release + "\n")
    put("proc/cpuinfo", (FIXTURES / "proc_cpuinfo.2cpu").read_text())
    put("proc/meminfo", (FIXTURES / "proc_meminfo").read_text())
    put("proc/swaps", (FIXTURES / swaps).read_text())
    put("proc/net/tcp", (FIXTURES / "proc_net_tcp").read_text())
    put("proc/modules", "")
    put("lib/modules/%s/modules.builtin" % release, "kernel/fs/ext4/ext4.ko\n")
    put("lib/modules/%s/modules.dep" % release, modules_dep if modules_dep is not None else (
        "kernel/fs/overlayfs/overlay.ko:\n"
        "kernel/net/bridge/br_netfilter.ko: kernel/net/bridge/bridge.ko kernel/net/802/stp.ko kernel/net/llc/llc.ko\n"))
    put("proc/sys/net/ipv4/ip_forward", "1\n")
    return tmp_path


def synced(argv):
    assert argv[0] == "timedatectl"
    return 0, "yes\n", ""


def node(tmp_path, run=synced, resolver=None, **kw):
    return checks.Node(root=str(make_tree(tmp_path, **kw)), run_command=run,
                       resolver=resolver or (lambda name: ["192.0.2.11"]))


def test_a_healthy_node_has_no_problem(tmp_path):
    ran, problems = checks.run_all(node(tmp_path), DEFAULT_SPEC)
    assert problems == []
    assert [c["name"] for c in ran] == [
        "os", "kernel", "cpu_memory", "swap", "time_sync",
        "hostname_resolution", "kernel_modules", "sysctls", "free_ports"]


def test_every_problem_is_reported_not_only_the_first(tmp_path):
    spec = dict(DEFAULT_SPEC, min_cpus=64, min_kernel="7.0", free_ports=[2024, 6443],
                sysctls={"net.ipv4.ip_forward": 1, "net.bridge.bridge-nf-call-iptables": 1},
                resolve_hosts={"cp1": "192.0.2.11", "w1": "192.0.2.12"})
    n = node(tmp_path, swaps="proc_swaps.two", run=lambda argv: (0, "no\n", ""),
             resolver=lambda name: {"cp1": ["192.0.2.11"], "w1": ["192.0.2.99"]}.get(name, []))
    problems = checks.run_all(n, spec)[1]
    found = {p["check"]: p for p in problems}
    assert set(found) == {"kernel", "cpu", "swap", "time_sync", "hostname_resolution", "sysctl", "port"}
    assert found["swap"]["found"] == "swap active on /dev/vda3, /swapfile"
    assert found["port"]["found"] == "TCP port 2024 is in use"
    assert "w1 resolves to 192.0.2.99" == found["hostname_resolution"]["found"]
    assert "net.bridge.bridge-nf-call-iptables does not exist" == found["sysctl"]["found"]
    assert "br_netfilter" in found["sysctl"]["fix"]
    assert all(p["fix"] for p in problems)


def test_unsupported_os_names_what_was_found_and_what_is_accepted(tmp_path):
    spec = dict(DEFAULT_SPEC, supported_os=[dict(id="ubuntu", versions=["24.04"])])
    problems = checks.run_all(node(tmp_path), spec)[1]
    assert problems == [checks.problem(
        "os", "debian 12", "ubuntu 24.04",
        "install a supported distribution release, or add it to preflight_supported_os if you have tested it")]


@pytest.mark.parametrize("dep", [
    "kernel/fs/overlayfs/overlay.ko.xz:\n",
    "kernel/fs/overlayfs/overlay.ko.zst:\n",
])
def test_missing_module_is_named_with_the_kernel_release(tmp_path, dep):
    n = node(tmp_path, modules_dep=dep)
    problems = checks.check_kernel_modules(n, ["overlay", "br_netfilter"])
    assert [p["found"] for p in problems] == ["br_netfilter not available for kernel 6.1.0-28-cloud-amd64"]


def test_loaded_module_counts_even_without_modules_dep(tmp_path):
    n = node(tmp_path, modules_dep="")
    (tmp_path / "proc" / "modules").write_text(
        "br_netfilter 32768 0 - Live 0x0000000000000000\noverlay 151552 0 - Live 0x0000000000000000\n")
    assert checks.check_kernel_modules(n, ["overlay", "br_netfilter"]) == []


def test_sysctl_value_mismatch_and_present_only_mode(tmp_path):
    n = node(tmp_path)
    (tmp_path / "proc/sys/net/ipv4/ip_forward").write_text("0\n")
    assert checks.check_sysctls(n, {"net.ipv4.ip_forward": 1})[0]["found"] == "net.ipv4.ip_forward = 0"
    assert checks.check_sysctls(n, {"net.ipv4.ip_forward": 1}, require_present_only=True) == []


def test_listening_ports_parse_only_listen_state():
    text = (FIXTURES / "proc_net_tcp").read_text()
    assert checks.listening_ports(text) == {2024}


def test_time_sync_without_timedatectl_is_a_problem(tmp_path):
    n = node(tmp_path, run=lambda argv: None)
    assert checks.check_time_sync(n)[0]["found"] == "timedatectl not available"


def test_memory_and_cpu_thresholds(tmp_path):
    n = node(tmp_path)
    mem_mb = checks.meminfo_kib((FIXTURES / "proc_meminfo").read_text(), "MemTotal") // 1024
    assert mem_mb > 0
    assert checks.check_cpu_memory(n, 2, mem_mb) == []
    problems = checks.check_cpu_memory(n, 3, mem_mb + 1)
    assert [p["check"] for p in problems] == ["cpu", "memory"]
    assert problems[0]["found"] == "2 CPUs"


def test_built_in_modules_without_sys_module_count_by_their_traces(tmp_path):
    # Seen on this development host (kernel 6.18, no /lib/modules): br_netfilter is
    # built in without /sys/module/br_netfilter, but /proc/sys/net/bridge exists;
    # overlay is listed in /proc/filesystems.
    n = node(tmp_path, modules_dep="")
    (tmp_path / "proc" / "sys" / "net" / "bridge").mkdir(parents=True)
    (tmp_path / "proc" / "sys" / "net" / "bridge" / "bridge-nf-call-iptables").write_text("1\n")
    (tmp_path / "proc" / "filesystems").write_text("nodev\tsysfs\nnodev\ttmpfs\nnodev\toverlay\n\text4\n")
    assert checks.check_kernel_modules(n, ["overlay", "br_netfilter"]) == []


def test_on_a_container_node_the_fix_is_on_the_host(tmp_path):
    n = node(tmp_path, modules_dep="")
    (tmp_path / "run" / "systemd").mkdir(parents=True)
    (tmp_path / "run" / "systemd" / "container").write_text("runc\n")
    problems = checks.check_kernel_modules(n, ["br_netfilter"])
    assert [p["found"] for p in problems] == ["br_netfilter not in the host's kernel 6.1.0-28-cloud-amd64"]
    assert problems[0]["fix"].startswith("this node is a container (runc) and shares its host's kernel")
