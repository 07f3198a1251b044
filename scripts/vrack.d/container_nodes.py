"""Container nodes of the rack: runc system containers on a bridge LAN.

A node of kind `container` boots the same Debian root file system as the VM
nodes (the cached vrack image, loop-mounted read-only once per rack and used
as an overlayfs lower layer) with systemd as PID 1 in its own PID, mount,
network, IPC, UTS and cgroup namespaces, at native speed. What it gets, the
way kind prepares a node (cgroup v1 here):

  - its own overlay root, and its own /var on the host's file system (a bind
    mount: containerd's overlayfs snapshotter cannot work on an overlay);
  - a unique machine-id and a unique product UUID (/etc/vrack/product_uuid;
    the host has no DMI, so there is no sysfs file to bind it over);
  - /dev/kmsg (kubelet's OOM watcher), /run and /tmp on tmpfs, sysfs and its
    cgroups read-write, and `mount --make-rshared /` before systemd starts;
  - under every cgroup v1 controller, /kubelet and /kubelet.slice bind-mounted
    onto themselves, so that a kubelet with cgroupRoot /kubelet manages only
    what it owns;
  - a veth on the rack bridge, its LAN address, a default route to the
    bridge's address on the host (the host does not forward: nothing leaves
    this machine), net.ipv4.ip_forward=1 and bridge-nf-call-iptables=1 in its
    network namespace;
  - units that touch the host through shared kernel interfaces masked: udev
    (its coldplug would send uevents to the host's devices), systemd-sysctl
    (kernel.* sysctls are global), md/LVM monitors.

Everything is addressed by path or id under the rack's state directory: the
runc state (--root), the container ids, the network namespaces (named after
a hash of the rack), the pidfiles. Stopping never looks a process up by name.
"""
from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

# Linux capability numbers (include/uapi/linux/capability.h).
CAPABILITIES = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
    "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN",
    "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
]
# Units that must not run in a container node (see the module docstring).
MASKED_UNITS = [
    "systemd-udevd.service", "systemd-udevd-control.socket", "systemd-udevd-kernel.socket",
    "systemd-udev-trigger.service", "systemd-udev-settle.service", "systemd-sysctl.service",
    "systemd-modules-load.service", "systemd-remount-fs.service", "systemd-hwdb-update.service",
    "mdmonitor.service", "mdadm-shutdown.service", "lvm2-lvmpolld.socket", "blk-availability.service",
    "dev-hugepages.mount", "sys-kernel-config.mount", "systemd-journald-audit.socket",
    "vrack-init.service", "vrack-ready.service", "getty.target", "console-getty.service",
]
SIGRTMIN_3 = "37"  # systemd halts on SIGRTMIN+3
ENTRYPOINT = "/usr/local/sbin/vrack-container-init"
ENTRYPOINT_SCRIPT = r"""#!/bin/sh
# vrack container node: prepare what a kubelet needs, then hand over to systemd.
# Written by scripts/vrack.d/container_nodes.py.
set -eu
# Mounts made inside the node (by containerd, kubelet) must propagate to
# its pods; this stays inside the node's mount namespace.
mount --make-rshared /
# cgroup v1: a kubelet run with cgroupRoot /kubelet needs that cgroup under
# every controller, and seeing it as a mount keeps cAdvisor's paths right.
for ctrl in /sys/fs/cgroup/*; do
  [ -d "$ctrl" ] && [ ! -L "$ctrl" ] || continue
  case "$ctrl" in */unified) continue ;; esac
  for root in kubelet kubelet.slice; do
    mkdir -p "$ctrl/$root"
    if [ -f "$ctrl/cpuset.cpus" ]; then
      cat "$ctrl/cpuset.cpus" >"$ctrl/$root/cpuset.cpus"
      cat "$ctrl/cpuset.mems" >"$ctrl/$root/cpuset.mems"
    fi
    mountpoint -q "$ctrl/$root" || mount --bind "$ctrl/$root" "$ctrl/$root"
  done
done
exec /sbin/init
"""


class NodeError(Exception):
    pass


def short_hash(*parts: str, length: int = 8) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:length]


def bridge_name(rack: str) -> str:
    return "vrb" + short_hash("bridge", rack)


def host_veth(rack: str, node: str) -> str:
    return "vrv" + short_hash("veth", rack, node)


def netns_name(rack: str, node: str) -> str:
    return f"vrack-{short_hash('netns', rack)}-{node}"


def container_id(rack: str, node: str) -> str:
    return f"vrack-{rack}-{node}"


def cgroup_parent(rack: str) -> str:
    return f"vrack-{short_hash('cgroup', rack)}"


def product_uuid(rack: str, node: str) -> str:
    return str(uuid.UUID(hashlib.sha256(f"product/{rack}/{node}".encode()).hexdigest()[:32]))


def host_capabilities(status_text: str | None = None) -> list:
    """Capability names in this process's bounding set (the sandbox lacks some)."""
    text = status_text if status_text is not None else Path("/proc/self/status").read_text()
    mask = next(int(line.split()[1], 16) for line in text.splitlines() if line.startswith("CapBnd:"))
    return [name for bit, name in enumerate(CAPABILITIES) if mask & (1 << bit)]


def oci_config(rack: str, node: dict, var_dir: Path, netns_path: str, caps: list) -> dict:
    """The runc config.json of one container node."""
    mounts = [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": ["nosuid", "noexec", "nodev", "relatime"]},
        {"destination": "/run", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "mode=755"]},
        {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "mode=1777"]},
        {"destination": "/var", "type": "bind", "source": str(var_dir), "options": ["rbind", "rw"]},
    ]
    resources = {"devices": [{"allow": True, "access": "rwm"}]}
    if node.get("memory_limit"):
        resources["memory"] = {"limit": int(node["memory_limit"]) * 2**20}
    return {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": False, "user": {"uid": 0, "gid": 0}, "cwd": "/",
            "args": [ENTRYPOINT],
            "env": ["container=runc", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "capabilities": {k: caps for k in ("bounding", "effective", "inheritable", "permitted")},
            "noNewPrivileges": False,
        },
        "root": {"path": "rootfs", "readonly": False},
        "hostname": node["name"],
        "mounts": mounts,
        "linux": {
            "namespaces": [{"type": "pid"}, {"type": "network", "path": netns_path}, {"type": "ipc"},
                           {"type": "uts"}, {"type": "mount"}, {"type": "cgroup"}],
            "cgroupsPath": f"/{cgroup_parent(rack)}/{node['name']}",
            "devices": [{"path": "/dev/kmsg", "type": "c", "major": 1, "minor": 11, "fileMode": 0o644,
                         "uid": 0, "gid": 0}],
            "resources": resources,
            "rootfsPropagation": "rprivate",
        },
    }


def hosts_file(spec: dict) -> str:
    lines = ["127.0.0.1 localhost", "::1 localhost ip6-localhost ip6-loopback"]
    lines += [f"{n['lan_ip']} {n['name']}" for n in spec["nodes"]]
    return "\n".join(lines) + "\n"


def run(argv: list, what: str = "", check: bool = True, **kw) -> subprocess.CompletedProcess:
    if "input" not in kw:
        kw["stdin"] = subprocess.DEVNULL
    res = subprocess.run(argv, capture_output=True, text=True, check=False, **kw)
    if check and res.returncode != 0:
        raise NodeError(f"{what or ' '.join(argv)} failed (rc {res.returncode}): "
                        f"{(res.stderr or res.stdout).strip()}")
    return res


def mounted(path: Path) -> bool:
    target = str(path)
    with open("/proc/self/mountinfo") as fh:
        return any(line.split()[4] == target for line in fh)


def mounts_under(path: Path) -> list:
    prefix = str(path) + "/"
    found = []
    with open("/proc/self/mountinfo") as fh:
        for line in fh:
            mp = line.split()[4]
            if mp == str(path) or mp.startswith(prefix):
                found.append(mp)
    return sorted(found, key=len, reverse=True)


class ContainerNodes:
    """The container nodes and the LAN bridge of one rack."""

    def __init__(self, rack_name: str, rack_dir: Path, log):
        self.rack = rack_name
        self.dir = rack_dir
        self.runc_root = rack_dir / "runc"
        self.lower = rack_dir / "lower"
        self.bridge = bridge_name(rack_name)
        self.log = log

    # ---- paths --------------------------------------------------------------
    def node_dir(self, name: str) -> Path:
        return self.dir / "nodes" / name

    def runc(self, *args: str) -> list:
        return ["runc", "--root", str(self.runc_root), *args]

    # ---- host network -------------------------------------------------------
    def check_host(self, spec: dict) -> None:
        """Refuse before anything starts if the rack's LAN would clash or leak."""
        cidr = ipaddress.IPv4Network(spec["lan_cidr"])
        res = run(["ip", "-j", "-4", "addr", "show"], what="ip addr")
        for link in json.loads(res.stdout or "[]"):
            for addr in link.get("addr_info", []):
                if ipaddress.IPv4Address(addr["local"]) in cidr and link["ifname"] != self.bridge:
                    raise NodeError(f"rack {self.rack}: LAN {cidr} is already on host interface "
                                    f"{link['ifname']} ({addr['local']}): another rack or a real network "
                                    "uses it; give this rack another vrack_lan_cidr")
        # A bridge route for the LAN would capture this machine's own traffic to
        # its gateway, its resolvers or the servers it is talking to (here the
        # package registries answer on a TEST-NET-3 address).
        for what, addr in self.host_peers():
            if ipaddress.IPv4Address(addr) in cidr:
                raise NodeError(f"rack {self.rack}: LAN {cidr} contains {addr}, {what} of this machine: a bridge "
                                "for it would cut this machine off from it; give this rack another vrack_lan_cidr "
                                "(198.19.0.0/16 and 198.51.100.0/24 are free here)")
        forward = Path("/proc/sys/net/ipv4/ip_forward").read_text().strip()
        if forward != "0":
            raise NodeError("this host forwards IPv4 (net.ipv4.ip_forward=1): a container rack's traffic "
                            "could then be routed off this machine. Set it to 0 "
                            "(sysctl -w net.ipv4.ip_forward=0) before starting a container rack")

    @staticmethod
    def host_peers() -> list:
        """(what, IPv4 address) of the gateways, resolvers and TCP peers this machine uses now."""
        peers = []
        res = run(["ip", "-j", "-4", "route", "show"], check=False)
        with contextlib.suppress(ValueError):
            peers += [("a gateway", r["gateway"]) for r in json.loads(res.stdout or "[]") if r.get("gateway")]
        with contextlib.suppress(OSError):
            for line in Path("/etc/resolv.conf").read_text().splitlines():
                words = line.split()
                if len(words) >= 2 and words[0] == "nameserver" and "." in words[1]:
                    peers.append(("a DNS resolver", words[1]))
        with contextlib.suppress(OSError):
            for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
                fields = line.split()
                if len(fields) > 3 and fields[3] == "01":  # ESTABLISHED
                    raw = fields[2].split(":")[0]
                    addr = ".".join(str(int(raw[i:i + 2], 16)) for i in (6, 4, 2, 0))
                    if not addr.startswith("127."):
                        peers.append(("a server it is connected to", addr))
        return peers

    def gateway(self, spec: dict) -> str:
        cidr = ipaddress.IPv4Network(spec["lan_cidr"])
        return str(cidr.network_address + 1)

    # Every container node's systemd, containerd and kubelet take inotify instances from the one
    # per-user limit of this kernel (128 by default): with about 8 nodes up it ran out and a new
    # node's containerd started without its CRI service ("unknown service runtime.v1.RuntimeService").
    # kind asks its users to raise the same limits.
    INOTIFY_MINIMUM = {"fs/inotify/max_user_instances": 1024, "fs/inotify/max_user_watches": 524288}

    @classmethod
    def raise_inotify_limits(cls) -> None:
        for key, want in cls.INOTIFY_MINIMUM.items():
            path = Path("/proc/sys") / key
            with contextlib.suppress(OSError, ValueError):
                if int(path.read_text()) < want:
                    path.write_text(str(want))
                    print(f"[vrack] raised {key.replace('/', '.')} to {want} on this host (container nodes share it)",
                          file=sys.stderr, flush=True)

    def start_bridge(self, spec: dict) -> None:
        self.raise_inotify_limits()
        cidr = ipaddress.IPv4Network(spec["lan_cidr"])
        if not Path(f"/sys/class/net/{self.bridge}").exists():
            run(["ip", "link", "add", self.bridge, "type", "bridge"], what=f"create bridge {self.bridge}")
        run(["ip", "addr", "replace", f"{self.gateway(spec)}/{cidr.prefixlen}", "dev", self.bridge],
            what="bridge address")
        run(["ip", "link", "set", self.bridge, "up"], what="bridge up")

    def attach_tap(self, tap: str) -> None:
        run(["ip", "link", "set", tap, "master", self.bridge], what=f"plug {tap} into {self.bridge}")
        run(["ip", "link", "set", tap, "up"], what=f"{tap} up")

    # ---- the shared lower layer --------------------------------------------
    def mount_lower(self, raw_image: Path) -> None:
        if mounted(self.lower):
            return
        self.lower.mkdir(parents=True, exist_ok=True)
        run(["mount", "-o", "loop,ro,noload", str(raw_image), str(self.lower)],
            what=f"loop-mount {raw_image} read-only")

    # ---- one node -----------------------------------------------------------
    def start(self, spec: dict, node: dict, pubkey_line: str, caps: list, mac: str) -> None:
        name = node["name"]
        d = self.node_dir(name)
        for sub in ("upper", "work", "rootfs", "var"):
            shutil.rmtree(d / sub, ignore_errors=True)
            (d / sub).mkdir(parents=True)
        run(["mount", "-t", "overlay", "overlay", "-o",
             f"lowerdir={self.lower},upperdir={d / 'upper'},workdir={d / 'work'}", str(d / "rootfs")],
            what=f"overlay root of {name}")
        root = d / "rootfs"
        run(["cp", "-a", f"{self.lower}/var/.", str(d / "var")], what=f"/var of {name}")
        self._personalize(spec, node, root, pubkey_line)
        self._network(spec, node, mac)
        self._run(node, caps)

    def _network(self, spec: dict, node: dict, mac: str) -> None:
        """The node's network namespace, its veth on the rack bridge, its address and route."""
        name = node["name"]
        ns = netns_name(self.rack, name)
        if not Path(f"/run/netns/{ns}").exists():
            run(["ip", "netns", "add", ns], what=f"network namespace of {name}")
        veth = host_veth(self.rack, name)
        cidr = ipaddress.IPv4Network(spec["lan_cidr"])
        run(["ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns],
            what=f"veth of {name}")
        run(["ip", "link", "set", veth, "master", self.bridge, "up"], what=f"plug {veth} into {self.bridge}")
        batch = "\n".join([
            "link set lo up",
            f"link set eth0 address {mac}",
            f"address add {node['lan_ip']}/{cidr.prefixlen} dev eth0",
            "link set eth0 up",
            f"route add default via {self.gateway(spec)} dev eth0",
        ]) + "\n"
        run(["ip", "-n", ns, "-batch", "-"], what=f"addresses of {name}", input=batch)
        for key, val in (("net/ipv4/ip_forward", "1"), ("net/bridge/bridge-nf-call-iptables", "1"),
                         ("net/bridge/bridge-nf-call-ip6tables", "1")):
            run(["ip", "netns", "exec", ns, "sh", "-c", f"echo {val} > /proc/sys/{key}"],
                what=f"sysctl {key} in {name}")

    def _run(self, node: dict, caps: list) -> None:
        """Start the node's container (systemd as PID 1) from its prepared root, /var and netns."""
        name = node["name"]
        d = self.node_dir(name)
        ns = netns_name(self.rack, name)
        config = oci_config(self.rack, node, d / "var", f"/run/netns/{ns}", caps)
        (d / "config.json").write_text(json.dumps(config, indent=1) + "\n")
        console = open(d / "console.log", "w")
        try:
            res = subprocess.run(self.runc("run", "--detach", "--pid-file", str(d / "runc.pid"),
                                           "--bundle", str(d), container_id(self.rack, name)),
                                 stdin=subprocess.DEVNULL, stdout=console, stderr=console, check=False, timeout=60)
        finally:
            console.close()
        if res.returncode != 0:
            raise NodeError(f"runc could not start container node {name} (rc {res.returncode}): "
                            + (d / "console.log").read_text(errors="replace")[-2000:])

    # ---- power off and on, keeping the disk ----------------------------------
    def halt(self, name: str, timeout: float = 30.0) -> None:
        """Power a node off as a machine is: systemd halts, the container and its network
        (namespace, veth: interfaces, routes, rules) go; its disk (upper/, var/) stays for `boot`."""
        cid = container_id(self.rack, name)
        if self._status(cid) == "running":
            run(self.runc("kill", cid, SIGRTMIN_3), check=False)  # systemd: halt
            deadline = time.monotonic() + timeout
            while self._status(cid) == "running" and time.monotonic() < deadline:
                time.sleep(0.3)
        if self._status(cid) in ("running", "paused", "created"):
            run(self.runc("kill", "--all", cid, "KILL"), check=False)
        run(self.runc("delete", "--force", cid), check=False)
        # Mounts the node's pods propagated out (its / is rshared), then its root.
        d = self.node_dir(name)
        self._release(name, mounts_under(d / "var") + mounts_under(d / "rootfs"))
        (d / "runc.pid").unlink(missing_ok=True)

    def boot(self, spec: dict, node: dict, caps: list, mac: str) -> None:
        """Start a halted node again from the disk it had."""
        name = node["name"]
        d = self.node_dir(name)
        if self._status(container_id(self.rack, name)) is not None:
            raise NodeError(f"{name} is not halted (its container exists): `scripts/vrack stop` it first")
        if not (d / "upper").is_dir() or not (d / "var").is_dir():
            raise NodeError(f"{name} has no disk under {d} (never started, or removed by `down`): use `up`")
        if not Path(f"/sys/class/net/{self.bridge}").exists():
            raise NodeError(f"the rack's bridge {self.bridge} is gone (the rack was taken down): use `up`")
        if not mounted(d / "rootfs"):
            run(["mount", "-t", "overlay", "overlay", "-o",
                 f"lowerdir={self.lower},upperdir={d / 'upper'},workdir={d / 'work'}", str(d / "rootfs")],
                what=f"overlay root of {name}")
        self._network(spec, node, mac)
        self._run(node, caps)

    def _personalize(self, spec: dict, node: dict, root: Path, pubkey_line: str) -> None:
        name = node["name"]
        (root / "etc" / "hostname").write_text(name + "\n")
        (root / "etc" / "machine-id").write_text(
            hashlib.sha256(f"{spec['rack']}/{name}".encode()).hexdigest()[:32] + "\n")
        (root / "etc" / "hosts").write_text(hosts_file(spec))
        (root / "etc" / "fstab").write_text("# container node: no file systems of its own\n")
        (root / "etc" / "vrack").mkdir(exist_ok=True)
        (root / "etc" / "vrack" / "product_uuid").write_text(product_uuid(spec["rack"], name) + "\n")
        (root / "etc" / "vrack" / "node-kind").write_text("container\n")
        ssh = root / "root" / ".ssh"
        ssh.mkdir(mode=0o700, exist_ok=True)
        (ssh / "authorized_keys").write_text(pubkey_line.strip() + "\n")
        os.chmod(ssh / "authorized_keys", 0o600)
        hostkey = root / "etc" / "ssh" / "ssh_host_ed25519_key"
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{name}", "-f", str(hostkey)],
            what="ssh host key")
        units = root / "etc" / "systemd" / "system"
        for unit in MASKED_UNITS:
            target = units / unit
            with contextlib.suppress(FileNotFoundError):
                target.unlink()
            target.symlink_to("/dev/null")
        entry = root / ENTRYPOINT.lstrip("/")
        entry.write_text(ENTRYPOINT_SCRIPT)
        entry.chmod(0o755)

    def state(self, name: str) -> dict | None:
        """runc's state of a node's container, or None when there is none."""
        if not self.runc_root.is_dir():
            return None
        res = run(self.runc("state", container_id(self.rack, name)), check=False)
        if res.returncode != 0:
            return None
        with contextlib.suppress(ValueError):
            return json.loads(res.stdout)
        return None

    def listed(self) -> list:
        """Ids of every container in this rack's runc root (ours by construction)."""
        if not self.runc_root.is_dir():
            return []
        res = run(self.runc("list", "--format", "json"), check=False)
        with contextlib.suppress(ValueError):
            return [c["id"] for c in json.loads(res.stdout or "null") or []]
        return []

    # ---- stop -----------------------------------------------------------------
    def stop_all(self, names: list, timeout: float = 20.0) -> None:
        ids = set(self.listed()) | {container_id(self.rack, n) for n in names}
        running = [cid for cid in ids if run(self.runc("state", cid), check=False).returncode == 0]
        for cid in running:
            run(self.runc("kill", cid, SIGRTMIN_3), check=False)  # systemd: halt
        deadline = time.monotonic() + timeout
        while running and time.monotonic() < deadline:
            running = [cid for cid in running if self._status(cid) == "running"]
            time.sleep(0.3)
        for cid in ids:
            if self._status(cid) in ("running", "paused", "created"):
                run(self.runc("kill", "--all", cid, "KILL"), check=False)
            run(self.runc("delete", "--force", cid), check=False)
        for name in names:
            self._cleanup_node(name)
        self._cleanup_rack()

    def _status(self, cid: str) -> str | None:
        res = run(self.runc("state", cid), check=False)
        if res.returncode != 0:
            return None
        with contextlib.suppress(ValueError):
            return json.loads(res.stdout).get("status")
        return None

    def _release(self, name: str, mounts: list) -> None:
        """Unmount these mounts (lazily if busy), delete the node's network namespace and veth."""
        for mp in mounts:
            run(["umount", mp], check=False)
            if mounted(Path(mp)):
                run(["umount", "-l", mp], check=False)
        ns = netns_name(self.rack, name)
        if Path(f"/run/netns/{ns}").exists():
            run(["ip", "netns", "del", ns], check=False)
        veth = host_veth(self.rack, name)
        if Path(f"/sys/class/net/{veth}").exists():
            run(["ip", "link", "del", veth], check=False)

    def _cleanup_node(self, name: str) -> None:
        d = self.node_dir(name)
        self._release(name, mounts_under(d))
        for sub in ("upper", "work", "rootfs", "var"):
            if (d / sub).exists() and not mounts_under(d / sub):
                run(["rm", "-rf", "--one-file-system", str(d / sub)], check=False)
        for f in ("runc.pid", "config.json"):
            (d / f).unlink(missing_ok=True)

    def cgroup_pids(self) -> set:
        """PIDs in this rack's cgroups (any controller, any depth)."""
        parent = cgroup_parent(self.rack)
        pids = set()
        for ctrl in Path("/sys/fs/cgroup").iterdir():
            cg = ctrl / parent
            if ctrl.is_symlink() or not cg.is_dir():
                continue
            for procs in cg.rglob("cgroup.procs"):
                with contextlib.suppress(OSError, ValueError):
                    pids |= {int(x) for x in procs.read_text().split()}
        return pids

    def _reap_cgroups(self, timeout: float = 15.0) -> None:
        """Wait for every process in the rack's cgroups to be gone; SIGKILL stragglers by PID."""
        deadline = time.monotonic() + timeout
        while True:
            pids = self.cgroup_pids()
            if not pids or time.monotonic() > deadline:
                return
            for pid in pids:
                with contextlib.suppress(OSError):
                    os.kill(pid, 9)
            time.sleep(0.2)

    def _cleanup_rack(self) -> None:
        self._reap_cgroups()
        parent = cgroup_parent(self.rack)
        for ctrl in Path("/sys/fs/cgroup").iterdir():
            cg = ctrl / parent
            if cg.is_dir() and not ctrl.is_symlink():
                # Children first (runc removes its own; a kubelet's may remain).
                for sub in sorted((p for p in cg.rglob("*") if p.is_dir()), key=lambda p: len(p.parts),
                                  reverse=True):
                    with contextlib.suppress(OSError):
                        sub.rmdir()
                with contextlib.suppress(OSError):
                    cg.rmdir()
        if mounted(self.lower):
            run(["umount", str(self.lower)], check=False)
        with contextlib.suppress(OSError):
            self.lower.rmdir()
        if Path(f"/sys/class/net/{self.bridge}").exists():
            run(["ip", "link", "del", self.bridge], check=False)
        if self.runc_root.is_dir() and not self.listed():
            shutil.rmtree(self.runc_root, ignore_errors=True)

    def leftovers(self, names: list) -> list:
        """What of this rack still exists on the host (empty after a clean stop)."""
        found = []
        found += [f"mount {m}" for m in mounts_under(self.dir)]
        found += [f"container {c}" for c in self.listed()]
        if Path(f"/sys/class/net/{self.bridge}").exists():
            found.append(f"bridge {self.bridge}")
        for name in names:
            if Path(f"/run/netns/{netns_name(self.rack, name)}").exists():
                found.append(f"netns {netns_name(self.rack, name)}")
            if Path(f"/sys/class/net/{host_veth(self.rack, name)}").exists():
                found.append(f"veth {host_veth(self.rack, name)}")
        parent = cgroup_parent(self.rack)
        found += [f"cgroup {c / parent}" for c in Path("/sys/fs/cgroup").iterdir()
                  if not c.is_symlink() and (c / parent).exists()]
        found += [f"process {pid}" for pid in sorted(self.cgroup_pids())]
        return found
