# -*- coding: utf-8 -*-
# Copyright: (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Node preflight checks.

Every check reads the node (files under /proc and /sys, a resolver lookup, a
command's output) through a small ``Node`` reader, so the checks themselves
are pure and unit-tested against fake trees in the kernel's real formats.
Each check returns a list of problems; nothing here raises for a failed
check: a preflight reports every problem at once.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import socket

# /proc/net/tcp{,6} "st" column: 0A is TCP_LISTEN (include/net/tcp_states.h).
TCP_LISTEN = "0A"


class Node(object):
    """Reads the node. ``root`` prefixes every path (tests use a fake tree)."""

    def __init__(self, root="/", run_command=None, resolver=None):
        self.root = root
        self._run = run_command
        self._resolve = resolver or _resolve

    def path(self, path):
        return os.path.join(self.root, path.lstrip("/"))

    def read(self, path, default=None):
        try:
            with open(self.path(path)) as f:
                return f.read()
        except (IOError, OSError):
            return default

    def exists(self, path):
        return os.path.exists(self.path(path))

    def run(self, argv):
        if self._run is None:
            return None
        return self._run(argv)

    def resolve(self, name):
        return self._resolve(name)


def _resolve(name):
    try:
        return sorted(set(info[4][0] for info in socket.getaddrinfo(name, None)))
    except socket.gaierror:
        return []


def problem(check, found, expected, fix):
    return {"check": check, "found": found, "expected": expected, "fix": fix}


def parse_os_release(text):
    values = {}
    for line in (text or "").splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip().strip('"')
    return values


def version_tuple(text):
    return tuple(int(x) for x in re.findall(r"\d+", text or "")[:3])


def check_os(node, supported):
    """``supported``: list of {id, versions} (os-release ID and VERSION_ID)."""
    osr = parse_os_release(node.read("/etc/os-release", ""))
    os_id, version = osr.get("ID", "unknown"), osr.get("VERSION_ID", "unknown")
    for entry in supported:
        if entry["id"] == os_id and str(version) in [str(v) for v in entry["versions"]]:
            return []
    wanted = ", ".join("%s %s" % (e["id"], "/".join(str(v) for v in e["versions"])) for e in supported)
    return [problem("os", "%s %s" % (os_id, version), wanted,
                    "install a supported distribution release, or add it to preflight_supported_os if you have tested it")]


def check_kernel(node, minimum):
    release = (node.read("/proc/sys/kernel/osrelease", "") or "").strip()
    if version_tuple(release) >= version_tuple(minimum):
        return []
    return [problem("kernel", release or "unknown", ">= %s" % minimum,
                    "boot a kernel >= %s (the distribution's current kernel package)" % minimum)]


def count_cpus(cpuinfo):
    return len(re.findall(r"^processor\s*:", cpuinfo or "", re.MULTILINE))


def meminfo_kib(meminfo, key):
    match = re.search(r"^%s:\s+(\d+)\s+kB" % re.escape(key), meminfo or "", re.MULTILINE)
    return int(match.group(1)) if match else 0


def check_cpu_memory(node, min_cpus, min_memory_mb):
    problems = []
    cpus = count_cpus(node.read("/proc/cpuinfo", ""))
    if cpus < min_cpus:
        problems.append(problem("cpu", "%d CPUs" % cpus, ">= %d CPUs" % min_cpus,
                                "use a bigger server, or lower preflight_min_cpus for a lab"))
    mem_mb = meminfo_kib(node.read("/proc/meminfo", ""), "MemTotal") // 1024
    if mem_mb < min_memory_mb:
        problems.append(problem("memory", "%d MiB" % mem_mb, ">= %d MiB" % min_memory_mb,
                                "add memory, or lower preflight_min_memory_mb for a lab"))
    return problems


def active_swaps(swaps_text):
    """/proc/swaps: a header line, then 'Filename Type Size Used Priority'."""
    lines = (swaps_text or "").splitlines()[1:]
    return [line.split()[0] for line in lines if line.strip()]


def check_swap(node):
    swaps = active_swaps(node.read("/proc/swaps", ""))
    if not swaps:
        return []
    return [problem("swap", "swap active on %s" % ", ".join(swaps), "no active swap (kubelet default)",
                    "run 'swapoff -a' and remove swap entries from /etc/fstab (the node_base role does both)")]


def check_time_sync(node):
    """timedatectl's NTPSynchronized=yes, the kernel's view through systemd."""
    out = node.run(["timedatectl", "show", "--property=NTPSynchronized", "--value"])
    if out is None:
        return [problem("time_sync", "timedatectl not available", "clock synchronised by NTP",
                        "install and enable systemd-timesyncd or chrony")]
    rc, stdout, stderr = out
    if rc == 0 and stdout.strip() == "yes":
        return []
    found = stdout.strip() or stderr.strip() or "rc=%d" % rc
    return [problem("time_sync", "NTPSynchronized=%s" % found, "NTPSynchronized=yes",
                    "enable systemd-timesyncd or chrony and point it at a reachable NTP server")]


def check_resolution(node, hosts):
    """``hosts``: {name: expected address or None}."""
    problems = []
    for name in sorted(hosts):
        addresses = node.resolve(name)
        expected = hosts[name]
        if not addresses:
            problems.append(problem("hostname_resolution", "%s does not resolve" % name,
                                    "%s resolves%s" % (name, " to %s" % expected if expected else ""),
                                    "add %s to DNS or /etc/hosts (the node_base role manages /etc/hosts)" % name))
        elif expected and expected not in addresses:
            problems.append(problem("hostname_resolution", "%s resolves to %s" % (name, ", ".join(addresses)),
                                    "%s resolves to %s" % (name, expected),
                                    "fix the DNS record or /etc/hosts entry of %s" % name))
    return problems


# What a module, once in the running kernel, leaves behind even when it is
# built in without parameters (no /sys/module/<name>) or the node is a
# container without /lib/modules of its own.
MODULE_EVIDENCE = {
    "br_netfilter": "/proc/sys/net/bridge/bridge-nf-call-iptables",
}


def module_available(node, name, release):
    """Loaded, built in, or present as a loadable module for this kernel."""
    loaded = [line.split()[0] for line in (node.read("/proc/modules", "") or "").splitlines() if line.strip()]
    if name in loaded or node.exists("/sys/module/%s" % name):
        return True
    if name in MODULE_EVIDENCE and node.exists(MODULE_EVIDENCE[name]):
        return True
    if name == "overlay" and "\toverlay" in (node.read("/proc/filesystems", "") or ""):
        return True
    base = "/lib/modules/%s/" % release
    pattern = re.compile(r"(^|/)%s\.ko(\.[a-z]+)?$" % re.escape(name).replace("_", "[_-]"))
    for index in ("modules.builtin", "modules.dep"):
        for line in (node.read(base + index, "") or "").splitlines():
            if pattern.search(line.split(":", 1)[0]):
                return True
    return False


def check_kernel_modules(node, modules):
    release = (node.read("/proc/sys/kernel/osrelease", "") or "").strip()
    container = (node.read("/run/systemd/container", "") or "").strip()
    if container:
        fix = ("this node is a container (%s) and shares its host's kernel: load %%s on the host "
               "(modprobe %%s there)" % container)
        return [problem("kernel_module", "%s not in the host's kernel %s" % (name, release), "%s loaded" % name,
                        fix % (name, name))
                for name in modules if not module_available(node, name, release)]
    return [problem("kernel_module", "%s not available for kernel %s" % (name, release), "%s loadable" % name,
                    "install the kernel's extra modules package (e.g. linux-modules-extra-%s) or use a kernel that has %s" % (release, name))
            for name in modules if not module_available(node, name, release)]


def check_sysctls(node, sysctls, require_present_only=False):
    problems = []
    for key in sorted(sysctls):
        raw = node.read("/proc/sys/" + key.replace(".", "/"))
        wanted = str(sysctls[key])
        if raw is None:
            problems.append(problem("sysctl", "%s does not exist" % key, "%s = %s" % (key, wanted),
                                    "load the kernel module that provides %s (e.g. br_netfilter for net.bridge.*)" % key))
        elif not require_present_only and " ".join(raw.split()) != wanted:
            problems.append(problem("sysctl", "%s = %s" % (key, " ".join(raw.split())), "%s = %s" % (key, wanted),
                                    "set %s = %s in /etc/sysctl.d/ (the node_base role does)" % (key, wanted)))
    return problems


def listening_ports(tcp_text):
    """Ports in LISTEN state from /proc/net/tcp or /proc/net/tcp6."""
    ports = set()
    for line in (tcp_text or "").splitlines()[1:]:
        fields = line.split()
        if len(fields) > 3 and fields[3] == TCP_LISTEN:
            ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def check_free_ports(node, ports):
    busy = listening_ports(node.read("/proc/net/tcp", "")) | listening_ports(node.read("/proc/net/tcp6", ""))
    return [problem("port", "TCP port %d is in use" % port, "TCP port %d free" % port,
                    "stop the service listening on %d (see 'ss -ltnp sport = :%d')" % (port, port))
            for port in sorted(ports) if port in busy]


def run_all(node, spec):
    """``spec`` holds the module's options; returns (checks_run, problems)."""
    plan = [
        ("os", lambda: check_os(node, spec["supported_os"])),
        ("kernel", lambda: check_kernel(node, spec["min_kernel"])),
        ("cpu_memory", lambda: check_cpu_memory(node, spec["min_cpus"], spec["min_memory_mb"])),
        ("swap", lambda: [] if spec["swap_allowed"] else check_swap(node)),
        ("time_sync", lambda: check_time_sync(node) if spec["time_sync_required"] else []),
        ("hostname_resolution", lambda: check_resolution(node, spec["resolve_hosts"])),
        ("kernel_modules", lambda: check_kernel_modules(node, spec["kernel_modules"])),
        ("sysctls", lambda: check_sysctls(node, spec["sysctls"], spec["sysctls_present_only"])),
        ("free_ports", lambda: check_free_ports(node, spec["free_ports"])),
    ]
    checks, problems = [], []
    for name, check in plan:
        found = check()
        checks.append({"name": name, "ok": not found})
        problems.extend(found)
    return checks, problems
