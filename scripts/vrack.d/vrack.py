"""vrack: a virtual rack of qemu (TCG) VMs for Molecule and the lab inventory.

  scripts/vrack image [--force]            build/cache the Debian base image
  scripts/vrack up --inventory inventories/lab   boot the rack an inventory describes
  scripts/vrack up --spec rack.json [--rack NAME] boot the rack a JSON spec describes
  scripts/vrack down RACK | --all          stop VMs and switches (by pidfile only)
  scripts/vrack status [RACK] [--json]     what runs
  scripts/vrack ssh RACK NODE [CMD...]     log into a node
  scripts/vrack stop RACK NODE             power a container node off, keeping its disk
  scripts/vrack start RACK NODE            boot it again from that disk (a reboot is stop + start)

Spec (JSON): {"rack": "name", "nodes": [{"name": "n1", "ssh_port": 2301,
  "lan_ip": "198.19.2.21", "nvme_count": 4, "nvme_size": "2G",
  "nvme_serials": [...optional...], "memory": 1024, "cpus": 2}], "lan_cidr": "198.19.2.0/24"}

Two node kinds, in one rack if you like: "kind": "vm" (the default; a qemu
TCG VM with emulated NVMe drives, reached on 127.0.0.1:ssh_port) and "kind":
"container" (a runc system container, systemd as PID 1, native speed, on a
bridge of this host, reached on lan_ip:22; no NVMe drives, no ssh_port; an
optional "memory" is a cgroup limit in MiB). See container_nodes.py. In a
mixed rack the VMs' LAN switch is plugged into the containers' bridge.
Instead of nvme_count/nvme_serials a node may list its drives one by one,
to build what outside testers found on real racks: "nvme_drives": [{"serial":
"S1", "size": "1G", "namespaces": 2, "block_size": 4096, "own_subsystem":
true}] - several namespaces on one controller, 4K logical blocks, and a
serial that another drive also reports (allowed only for a drive with
own_subsystem, as a cloned drive or buggy firmware has it).
From an inventory, every host with `vrack_ssh_port` or `vrack_node_kind` is a node; its
`vrack_lan_ip`, `vrack_nvme_count`, `vrack_nvme_size` (and optional
`vrack_memory`, `vrack_cpus`, `vrack_nvme_serials`, `vrack_nvme_drives`, `vrack_node_kind`) fill the rest; the rack
name is `vrack_rack` or the inventory directory's name.

State of a rack lives in .vrack/<rack>/ (key, overlays, consoles, pidfiles,
runc state, inventory.yml); images in $MLOPS_CACHE_DIR/vrack/images/<hash>/
(default ~/.cache/baremetal-mlops, outside the clone, keyed by the pins and
the build script). Only the standard library is used, so any Python 3.9+
runs it.

Environment: VRACK_MIRROR (Debian mirror, default vm_image.debian_mirror of
versions.yml), VRACK_BOOT_TIMEOUT (seconds, default 240), VRACK_STATE_DIR and
VRACK_CACHE_DIR (default .vrack of the checkout and the cache above).
"""
from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import ipaddress
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import container_nodes  # noqa: E402  (scripts/vrack.d/container_nodes.py)

REPO = Path(__file__).resolve().parent.parent.parent
BUILD_SCRIPT = REPO / "scripts" / "vrack.d" / "build-image.sh"
VERSIONS_FILE = REPO / "versions.yml"


def _default_cache() -> Path:
    if os.environ.get("MLOPS_CACHE_DIR"):
        return Path(os.environ["MLOPS_CACHE_DIR"]) / "vrack"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "baremetal-mlops" / "vrack"


CACHE_DIR = Path(os.environ.get("VRACK_CACHE_DIR") or _default_cache())
STATE_DIR = Path(os.environ.get("VRACK_STATE_DIR", REPO / ".vrack"))
IMAGE_KEYS = ("debian_suite", "debian_mirror", "kernel_package", "kernel_series")
# The mirror is where packages come from, not what the image is: it does not
# enter the image hash.
HASHED_IMAGE_KEYS = ("debian_suite", "kernel_package", "kernel_series")

READY_MARKER = "VRACK-READY"
MGMT_MAC = "52:54:00:12:34:56"
DEFAULT_LAN_CIDR = "198.19.2.0/24"
DEFAULT_BOOT_TIMEOUT = 240
NVME_SERIAL_MAX = 20
NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
RACK_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")
SIZE_RE = re.compile(r"^[1-9][0-9]*[KMGT]?$")
SERIAL_RE = re.compile(r"^[A-Za-z0-9._-]{1,20}$")
NODE_KINDS = ("vm", "container")


class VrackError(Exception):
    """A failure with a message that names what failed and how to fix it."""


def log(msg: str) -> None:
    print(f"[vrack] {msg}", flush=True)


# --------------------------------------------------------------------------
# Pure helpers (unit-tested in tests/unit/scripts/)
# --------------------------------------------------------------------------
def parse_vm_image_config(text: str) -> dict:
    """Read the `vm_image:` mapping of versions.yml.

    Uses PyYAML when present, else a tiny reader for the flat
    `key: value` block (enough for this one section).
    """
    try:
        import yaml  # type: ignore[import-untyped]
    except ImportError:
        yaml = None
    if yaml is not None:
        data = yaml.safe_load(text) or {}
        section = data.get("vm_image")
    else:
        section, inside = {}, False
        for raw in text.splitlines():
            line = raw.split(" #", 1)[0].rstrip()
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            if not line.startswith((" ", "\t")):
                inside = line.strip() == "vm_image:"
                continue
            if inside and ":" in line:
                key, _sep, value = line.strip().partition(":")
                section[key.strip()] = value.strip().strip("'\"")
        section = section or None
    if not isinstance(section, dict):
        raise VrackError("versions.yml has no `vm_image:` mapping; add debian_suite, "
                         "debian_mirror, kernel_package, kernel_series")
    missing = [k for k in IMAGE_KEYS if not section.get(k)]
    if missing:
        raise VrackError(f"versions.yml vm_image lacks {', '.join(missing)}")
    return {k: str(section[k]) for k in IMAGE_KEYS}


def image_hash(script: bytes, cfg: dict) -> str:
    """sha256 of the build recipe and the versions it reads."""
    h = hashlib.sha256(script)
    h.update(b"\0")
    h.update(json.dumps({k: cfg[k] for k in HASHED_IMAGE_KEYS}, sort_keys=True).encode())
    return h.hexdigest()


def nvme_serial(node: str, index: int) -> str:
    """`<NODE>-NVME<i>`, upper-cased, [A-Z0-9-] only, at most 20 characters."""
    suffix = f"-NVME{index}"
    base = re.sub(r"[^A-Z0-9]+", "-", node.upper()).strip("-") or "NODE"
    return base[: NVME_SERIAL_MAX - len(suffix)].rstrip("-") + suffix


def lan_mac(ip: str) -> str:
    """A LAN MAC unique within an IPv4 /8 and distinct from the mgmt MAC."""
    o = ipaddress.IPv4Address(ip).packed
    return "52:54:01:%02x:%02x:%02x" % (o[1], o[2], o[3])


def machine_id(rack: str, node: str) -> str:
    return hashlib.sha256(f"vrack/{rack}/{node}".encode()).hexdigest()[:32]


def normalize_spec(data: dict, rack: str | None = None) -> dict:
    """Validate a rack spec and fill defaults; every problem in one error."""
    if not isinstance(data, dict) or not isinstance(data.get("nodes"), list):
        raise VrackError('spec must be a mapping with a "nodes" list')
    rack = rack or data.get("rack")
    errors = []
    if not rack or not RACK_RE.match(str(rack)):
        errors.append(f"rack name {rack!r} must match {RACK_RE.pattern} (give --rack NAME)")
    try:
        cidr = ipaddress.IPv4Network(data.get("lan_cidr", DEFAULT_LAN_CIDR))
    except ValueError as exc:
        raise VrackError(f"lan_cidr: {exc}") from exc
    if not data["nodes"]:
        errors.append("spec has no nodes")
    nodes, seen = [], {"name": {}, "ssh_port": {}, "lan_ip": {}, "serial": {}}

    def unique(kind, value, who):
        if value in seen[kind]:
            errors.append(f"{who}: {kind} {value} is also used by {seen[kind][value]}")
        seen[kind][value] = who

    for i, raw in enumerate(data["nodes"]):
        if not isinstance(raw, dict):
            errors.append(f"node #{i}: must be a mapping")
            continue
        name = str(raw.get("name", ""))
        who = f"node {name or '#' + str(i)}"
        if not NAME_RE.match(name):
            errors.append(f"{who}: name must be a lower-case DNS label (a-z, 0-9, -)")
        unique("name", name, who)
        kind = str(raw.get("kind", data.get("kind", "vm")))
        if kind not in NODE_KINDS:
            errors.append(f"{who}: kind {kind!r} must be one of {', '.join(NODE_KINDS)}")
        port = None
        if kind == "container":
            if raw.get("nvme_count") or raw.get("nvme_drives") or raw.get("nvme_serials"):
                errors.append(f"{who}: a container node has no NVMe drives (give it kind vm for NVMe)")
            raw = {k: v for k, v in raw.items() if k not in ("nvme_count", "nvme_drives", "nvme_serials")}
        else:
            try:
                port = int(raw.get("ssh_port"))
                if not 1024 <= port <= 65535:
                    raise ValueError
            except (TypeError, ValueError):
                errors.append(f"{who}: ssh_port {raw.get('ssh_port')!r} must be an integer 1024-65535")
                port = None
            else:
                unique("ssh_port", port, who)
        lan_ip = raw.get("lan_ip")
        try:
            addr = ipaddress.IPv4Address(str(lan_ip))
            if addr not in cidr or addr in (cidr.network_address, cidr.broadcast_address):
                raise ValueError
        except ValueError:
            errors.append(f"{who}: lan_ip {lan_ip!r} must be a host address in {cidr}")
            lan_ip = None
        else:
            lan_ip = str(addr)
            unique("lan_ip", lan_ip, who)
        try:
            count = int(raw.get("nvme_count", 0))
            if not 0 <= count <= 16:
                raise ValueError
        except (TypeError, ValueError):
            errors.append(f"{who}: nvme_count {raw.get('nvme_count')!r} must be 0-16")
            count = 0
        size = str(raw.get("nvme_size", "2G")).upper().removesuffix("B").removesuffix("I")
        if not SIZE_RE.match(size):
            errors.append(f"{who}: nvme_size {raw.get('nvme_size')!r} must look like 512M or 2G")
        drives = normalize_drives(raw, name, who, count, size, errors)
        count = len(drives)
        serials = [d["serial"] for d in drives]
        for d in drives:
            if not SERIAL_RE.match(d["serial"]):
                errors.append(f"{who}: NVMe serial {d['serial']!r} must be 1-20 of A-Z a-z 0-9 . _ -")
            if d["own_subsystem"] and d["serial"] in seen["serial"]:
                continue  # a clone: its own subsystem keeps the kernel from merging it with the first
            unique("serial", d["serial"], who)
        memory, cpus = int(raw.get("memory", 1024 if kind == "vm" else 0)), int(raw.get("cpus", 2))
        if kind == "vm" and memory < 512:
            errors.append(f"{who}: memory {memory} MiB is too small (at least 512)")
        if kind == "container" and memory and memory < 256:
            errors.append(f"{who}: memory limit {memory} MiB is too small for systemd and sshd (at least 256)")
        if lan_ip and lan_ip == str(cidr.network_address + 1) and kind == "container":
            errors.append(f"{who}: lan_ip {lan_ip} is the rack gateway (the bridge's address on this host)")
        nodes.append({"name": name, "kind": kind, "ssh_port": port, "lan_ip": lan_ip,
                      "nvme_count": count, "nvme_size": size,
                      "nvme_serials": [str(s) for s in serials], "nvme_drives": drives,
                      "memory": memory, "cpus": cpus,
                      **({"memory_limit": memory} if kind == "container" and memory else {})})
    if errors:
        raise VrackError("invalid rack spec:\n  - " + "\n  - ".join(errors))
    return {"rack": str(rack), "lan_cidr": str(cidr), "nodes": nodes}


def normalize_drives(raw: dict, name: str, who: str, count: int, size: str, errors: list) -> list:
    """The node's drives: from nvme_drives, else nvme_count drives of nvme_size (serials from nvme_serials)."""
    listed = raw.get("nvme_drives")
    if listed is None:
        serials = raw.get("nvme_serials") or [nvme_serial(name, d) for d in range(count)]
        if len(serials) != count:
            errors.append(f"{who}: {len(serials)} nvme_serials for {count} drives")
        return [{"serial": str(s), "size": size, "namespaces": 1, "block_size": 512, "own_subsystem": False,
                 "simple": True} for s in serials]
    if raw.get("nvme_count") or raw.get("nvme_serials"):
        errors.append(f"{who}: give nvme_drives or nvme_count/nvme_serials, not both")
    drives = []
    for d, item in enumerate(listed if isinstance(listed, list) else []):
        item = item if isinstance(item, dict) else {}
        where = f"{who} nvme_drives[{d}]"
        dsize = str(item.get("size", size)).upper().removesuffix("B").removesuffix("I")
        if not SIZE_RE.match(dsize):
            errors.append(f"{where}: size {item.get('size')!r} must look like 512M or 2G")
        namespaces, block = item.get("namespaces", 1), item.get("block_size", 512)
        if not isinstance(namespaces, int) or not 1 <= namespaces <= 8:
            errors.append(f"{where}: namespaces {namespaces!r} must be 1-8")
            namespaces = 1
        if block not in (512, 4096):
            errors.append(f"{where}: block_size {block!r} must be 512 or 4096")
        drives.append({"serial": str(item.get("serial") or nvme_serial(name, d)), "size": dsize,
                       "namespaces": namespaces, "block_size": block,
                       "own_subsystem": bool(item.get("own_subsystem")), "simple": False})
    if not isinstance(listed, list) or len(drives) > 16:
        errors.append(f"{who}: nvme_drives must be a list of at most 16 drives")
    return drives


def drive_files(node_dir: Path, node: dict) -> list:
    """The backing file of every namespace, drive by drive: [[path, ...], ...]."""
    return [[node_dir / f"nvme{i}.qcow2"] if d["simple"] else
            [node_dir / f"nvme{i}n{j + 1}.qcow2" for j in range(d["namespaces"])]
            for i, d in enumerate(node.get("nvme_drives") or [])]


def nvme_argv(node: dict, files: list) -> list:
    """qemu arguments of the node's NVMe drives (controllers, subsystems, namespaces)."""
    argv = []
    for i, (drive, paths) in enumerate(zip(node.get("nvme_drives") or [], files)):
        if drive["simple"]:
            argv += ["-drive", f"file={paths[0]},if=none,id=nvme{i},cache=unsafe,format=qcow2",
                     "-device", f"nvme,serial={drive['serial']},drive=nvme{i}"]
            continue
        ctrl = f"nvme,id=nvmec{i},serial={drive['serial']}"
        if drive["own_subsystem"]:
            argv += ["-device", f"nvme-subsys,id=nvmes{i},nqn=nqn.2026-12.org.baremetal-mlops.vrack:{node['name']}-{i}"]
            ctrl += f",subsys=nvmes{i}"
        argv += ["-device", ctrl]
        blocks = (f",logical_block_size={drive['block_size']},physical_block_size={drive['block_size']}"
                  if drive["block_size"] != 512 else "")
        for j, path in enumerate(paths):
            argv += ["-drive", f"file={path},if=none,id=nvme{i}n{j + 1},cache=unsafe,format=qcow2",
                     "-device", f"nvme-ns,drive=nvme{i}n{j + 1},bus=nvmec{i},nsid={j + 1}{blocks}"]
    return argv


def spec_from_inventory(inventory: dict, inventory_path: str, rack: str | None = None) -> dict:
    """Build a rack spec from `ansible-inventory --list` output."""
    hostvars = inventory.get("_meta", {}).get("hostvars", {})
    nodes, racks, skipped = [], set(), []
    for host in sorted(hostvars):
        hv = hostvars[host]
        if "vrack_ssh_port" not in hv and "vrack_node_kind" not in hv:
            skipped.append(host)
            continue
        racks.add(hv.get("vrack_rack"))
        node = {"name": host, "kind": hv.get("vrack_node_kind", "vm"), "ssh_port": hv.get("vrack_ssh_port"),
                "lan_ip": hv.get("vrack_lan_ip"),
                "nvme_count": hv.get("vrack_nvme_count", 0),
                "nvme_size": hv.get("vrack_nvme_size", "2G")}
        for key in ("memory", "cpus", "nvme_serials", "nvme_drives"):
            if f"vrack_{key}" in hv:
                node[key] = hv[f"vrack_{key}"]
        nodes.append(node)
    if not nodes:
        raise VrackError(f"inventory {inventory_path}: no host sets vrack_ssh_port or vrack_node_kind, "
                         "so it describes no virtual rack")
    if skipped:
        log(f"inventory {inventory_path}: hosts without vrack_ssh_port or vrack_node_kind are not rack nodes: "
            + ", ".join(skipped))
    racks.discard(None)
    if len(racks) > 1:
        raise VrackError(f"inventory {inventory_path}: hosts disagree on vrack_rack: {sorted(racks)}")
    name = rack or (racks.pop() if racks else None)
    if not name:
        p = Path(inventory_path)
        name = (p if p.is_dir() else p.parent).resolve().name
    cidrs = {hv.get("vrack_lan_cidr") for hv in hostvars.values()
             if "vrack_ssh_port" in hv or "vrack_node_kind" in hv}
    cidrs.discard(None)
    spec = {"rack": name, "nodes": nodes}
    if cidrs:
        spec["lan_cidr"] = cidrs.pop()
    return spec


def kernel_cmdline(spec: dict, node: dict, pubkey_blob: str) -> str:
    cidr = ipaddress.IPv4Network(spec["lan_cidr"])
    gateway = cidr.network_address + 1
    return " ".join([
        "root=/dev/vda", "rw", "console=ttyS0", "quiet", "mitigations=off", "fsck.mode=skip",
        "tsc=reliable", "net.ifnames=0", "systemd.firstboot=off",
        f"systemd.hostname={node['name']}",
        f"systemd.machine_id={machine_id(spec['rack'], node['name'])}",
        f"vrack.ssh_key={pubkey_blob}",
        f"vrack.lan={node['lan_ip']}/{cidr.prefixlen}",
        f"vrack.lan_mac={lan_mac(node['lan_ip'])}",
        f"vrack.lan_gw={gateway}",
    ])


def qemu_argv(spec: dict, node: dict, paths: dict, image: dict, cmdline: str, ncpu: int) -> list:
    """The qemu command line for one node (paths: node dir files, vde dir)."""
    argv = [
        "taskset", "-a", "-c", f"0-{ncpu - 1}",
        "qemu-system-x86_64", "-name", f"{spec['rack']}/{node['name']}",
        "-machine", "q35", "-accel", "tcg,tb-size=128", "-cpu", "qemu64,-svm",
        "-smp", str(node["cpus"]), "-m", str(node["memory"]),
        "-nodefaults", "-display", "none", "-vga", "none", "-monitor", "none",
        "-serial", f"file:{paths['console']}",
        "-daemonize", "-pidfile", str(paths["pid"]),
        "-kernel", str(image["vmlinuz"]), "-initrd", str(image["initrd"]),
        "-append", cmdline,
        "-drive", f"file={paths['root']},if=virtio,cache=unsafe,discard=unmap",
        "-netdev", f"user,id=mgmt,restrict=on,hostfwd=tcp:127.0.0.1:{node['ssh_port']}-:22",
        "-device", f"virtio-net-pci,netdev=mgmt,mac={MGMT_MAC}",
        "-netdev", f"vde,id=lan,sock={paths['vde']}",
        "-device", f"virtio-net-pci,netdev=lan,mac={lan_mac(node['lan_ip'])}",
        "-device", "virtio-rng-pci",
    ]
    return argv + nvme_argv(node, paths["nvme_files"])


def render_inventory(spec: dict, key_path: Path) -> str:
    lines = [
        "---",
        f"# Written by scripts/vrack up for rack {spec['rack']}; removed by vrack down.",
        "all:",
        "  vars:",
        "    ansible_host: 127.0.0.1",
        "    ansible_user: root",
        f"    ansible_ssh_private_key_file: {json.dumps(str(key_path))}",
        "    ansible_python_interpreter: /usr/bin/python3",
        "  hosts:",
    ]
    for n in spec["nodes"]:
        if n.get("kind") == "container":
            lines += [f"    {n['name']}:",
                      f"      ansible_host: {n['lan_ip']}",
                      "      ansible_port: 22",
                      "      vrack_node_kind: container",
                      f"      vrack_lan_ip: {n['lan_ip']}",
                      "      vrack_nvme_serials: []"]
            continue
        lines += [f"    {n['name']}:",
                  f"      ansible_port: {n['ssh_port']}",
                  "      vrack_node_kind: vm",
                  f"      vrack_lan_ip: {n['lan_ip']}",
                  f"      vrack_nvme_serials: {json.dumps(n['nvme_serials'])}"]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------
# Processes and files
# --------------------------------------------------------------------------
@contextlib.contextmanager
def locked(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def need(tool: str, package: str) -> str:
    path = shutil.which(tool)
    if not path:
        raise VrackError(f"{tool} not found: apt-get install {package} (or run scripts/bootstrap)")
    return path


def read_pid(pidfile: Path, owner: Path) -> int | None:
    """PID from a pidfile if that process is alive and was started for `owner`.

    The owner check (its command line names a path under the rack's state
    dir, e.g. the pidfile or the switch socket) guards against a recycled
    PID: vrack never signals anything else.
    """
    try:
        pid = int(pidfile.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    if (str(owner) + "/").encode() not in cmdline:
        return None
    return pid if alive(pid) else None


def alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def stop_pids(pids: dict, timeout: float = 15.0) -> None:
    """SIGTERM every pid, wait, then SIGKILL what is left; pids: label -> pid."""
    for pid in pids.values():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    left = dict(pids)
    while left and time.monotonic() < deadline:
        left = {k: p for k, p in left.items() if alive(p)}
        time.sleep(0.2)
    for label, pid in left.items():
        log(f"{label} (pid {pid}) ignored SIGTERM; sending SIGKILL")
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while left and time.monotonic() < deadline:
        left = {k: p for k, p in left.items() if alive(p)}
        time.sleep(0.1)
    if left:
        raise VrackError("could not stop " + ", ".join(f"{k} (pid {p})" for k, p in left.items()))
    # Daemons are children of init: give it a moment to reap them, so that
    # ps shows nothing (not even <defunct>) once `down` returns.
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and any(Path(f"/proc/{p}").exists() for p in pids.values()):
        time.sleep(0.1)


def console_tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "  (no console output)"
    tail = text.replace("\r", "").splitlines()[-lines:]
    return "\n".join("  | " + line for line in tail) or "  (console is empty)"


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def ssh_banner(port: int, timeout: float = 5.0, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.settimeout(timeout)
            return s.recv(64).startswith(b"SSH-")
    except OSError:
        return False


# --------------------------------------------------------------------------
# Image
# --------------------------------------------------------------------------
def image_config() -> dict:
    if not VERSIONS_FILE.exists():
        raise VrackError(f"{VERSIONS_FILE} is missing: it pins the vm_image suite and kernel")
    cfg = parse_vm_image_config(VERSIONS_FILE.read_text())
    cfg["debian_mirror"] = os.environ.get("VRACK_MIRROR") or cfg["debian_mirror"]
    return cfg


def image_paths(digest: str) -> dict:
    d = CACHE_DIR / "images" / digest[:16]
    return {"dir": d, "raw": d / "base.raw", "vmlinuz": d / "vmlinuz",
            "initrd": d / "initrd.img", "manifest": d / "manifest.json"}


def ensure_image(force: bool = False) -> dict:
    cfg = image_config()
    digest = image_hash(BUILD_SCRIPT.read_bytes(), cfg)
    paths = image_paths(digest)
    with locked(CACHE_DIR / "images" / ".lock"):
        if paths["manifest"].exists() and not force:
            return paths
        if os.geteuid() != 0:
            raise VrackError("building the image needs root (debootstrap, chroot): "
                             "run `sudo scripts/vrack image` once")
        for tool, pkg in (("debootstrap", "debootstrap"), ("mkfs.ext4", "e2fsprogs")):
            need(tool, pkg)
        tmp = paths["dir"].with_name(paths["dir"].name + f".tmp{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        log(f"building image {paths['dir'].name}: {cfg['debian_suite']} + "
            f"{cfg['kernel_package']} from {cfg['debian_mirror']} (about 2-3 minutes)")
        env = dict(os.environ, VRACK_SUITE=cfg["debian_suite"], VRACK_MIRROR=cfg["debian_mirror"],
                   VRACK_KERNEL_PACKAGE=cfg["kernel_package"],
                   VRACK_DEB_CACHE=str(CACHE_DIR / "debs"), LC_ALL="C")
        start = time.monotonic()
        try:
            rc = subprocess.run(["bash", str(BUILD_SCRIPT), str(tmp)], env=env, check=False).returncode
            if rc != 0:
                failed_log = CACHE_DIR / "images" / "failed-build.log"
                with contextlib.suppress(OSError):
                    shutil.copyfile(tmp / "debootstrap.log", failed_log)
                raise VrackError(f"image build failed (rc {rc}); see {failed_log}; a wrong mirror? "
                                 "set VRACK_MIRROR to one from /etc/apt/sources.list")
            kver = (tmp / "kernel-version").read_text().strip()
            if not kver.startswith(cfg["kernel_series"]):
                raise VrackError(f"{cfg['kernel_package']} installed kernel {kver}, which is not the "
                                 f"pinned series {cfg['kernel_series']}: update vm_image.kernel_series "
                                 "in versions.yml or pin another kernel_package")
            packages = dict(line.split("\t", 1) for line in
                            (tmp / "packages.tsv").read_text().splitlines() if "\t" in line)
            manifest = {"hash": digest, "recipe": str(BUILD_SCRIPT.relative_to(REPO)),
                        **{k: cfg[k] for k in IMAGE_KEYS}, "kernel_version": kver,
                        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                        "build_seconds": round(time.monotonic() - start, 1),
                        "packages": packages}
            (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
            shutil.rmtree(paths["dir"], ignore_errors=True)
            tmp.rename(paths["dir"])
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        log(f"image ready in {time.monotonic() - start:.0f} s: {paths['dir']} (kernel {kver})")
        prune_images(keep=paths["dir"])
    return paths


def prune_images(keep: Path) -> None:
    """Remove cached images that no rack state refers to."""
    used = {keep.resolve()}
    for rack_json in STATE_DIR.glob("*/rack.json"):
        with contextlib.suppress(OSError, ValueError, KeyError):
            used.add(Path(json.loads(rack_json.read_text())["image"]).resolve())
    for d in (CACHE_DIR / "images").iterdir():
        if d.is_dir() and d.resolve() not in used:
            log(f"removing old image {d}")
            shutil.rmtree(d, ignore_errors=True)


# --------------------------------------------------------------------------
# Racks
# --------------------------------------------------------------------------
class Rack:
    def __init__(self, name: str):
        if not RACK_RE.match(name):
            raise VrackError(f"rack name {name!r} must match {RACK_RE.pattern}")
        self.name = name
        self.dir = STATE_DIR / name
        self.key = self.dir / "id_ed25519"
        self.vde = self.dir / "lan"
        self.vde_pid = self.dir / "vde.pid"
        self.state_file = self.dir / "rack.json"
        self.inventory = self.dir / "inventory.yml"
        self.containers = container_nodes.ContainerNodes(name, self.dir, log)

    @staticmethod
    def vms(spec: dict) -> list:
        return [n for n in spec.get("nodes", []) if n.get("kind", "vm") == "vm"]

    @staticmethod
    def container_list(spec: dict) -> list:
        return [n for n in spec.get("nodes", []) if n.get("kind") == "container"]

    def node_paths(self, node: dict) -> dict:
        d = self.dir / "nodes" / node["name"]
        return {"dir": d, "root": d / "root.qcow2", "pid": d / "qemu.pid",
                "console": d / "console.log", "vde": self.vde,
                "nvme_files": drive_files(d, node)}

    def state(self) -> dict | None:
        try:
            return json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return None

    def pids(self, spec: dict | None = None) -> dict:
        """label -> pid of every live process of this rack (qemu per node, vde_switch)."""
        spec = spec or self.state() or {"nodes": []}
        found = {}
        for node in self.vms(spec):
            pid = read_pid(self.node_paths(node)["pid"], self.dir)
            if pid:
                found[node["name"]] = pid
        for node in self.container_list(spec):
            st = self.containers.state(node["name"])
            if st and st.get("status") == "running" and st.get("pid"):
                found[node["name"]] = int(st["pid"])
        for pidfile in sorted((self.dir / "nodes").glob("*/qemu.pid")):
            label = pidfile.parent.name
            if label not in found:
                pid = read_pid(pidfile, self.dir)
                if pid:
                    found[label] = pid
        pid = read_pid(self.vde_pid, self.dir)
        if pid:
            found["vde_switch"] = pid
        return found

    # ---- up ---------------------------------------------------------------
    def up(self, spec: dict, timeout: int) -> None:
        with locked(self.dir / ".lock"):
            if self._already_up(spec):
                return
            self._cleanup_files()
            vms, cts = self.vms(spec), self.container_list(spec)
            tools = [("ssh-keygen", "openssh-client")]
            if vms:
                tools += [("qemu-system-x86_64", "qemu-system-x86"), ("qemu-img", "qemu-utils"),
                          ("vde_switch", "vde2"), ("taskset", "util-linux")]
            if cts:
                if os.geteuid() != 0:
                    raise VrackError("container nodes need root (runc, mounts, network namespaces)")
                tools += [("runc", "runc"), ("ip", "iproute2")]
                try:
                    self.containers.check_host(spec)
                except container_nodes.NodeError as exc:
                    raise VrackError(str(exc)) from exc
            for tool, pkg in tools:
                need(tool, pkg)
            if cts:
                # What a killed `up` or a crash left behind (containers, mounts,
                # namespaces, veths, the bridge) goes first, by id and path.
                self.containers.stop_all([n["name"] for n in cts])
            image = ensure_image()
            busy = [f"{n['name']} (port {n['ssh_port']})" for n in vms if port_in_use(n["ssh_port"])]
            if busy:
                raise VrackError("SSH port already in use on 127.0.0.1 for " + ", ".join(busy)
                                 + ": stop what holds it (scripts/vrack status) or pick other ports")
            pubkey = self._ensure_key()
            start = time.monotonic()
            state = dict(spec, image=str(image["dir"]), started_at=time.time())
            self.state_file.write_text(json.dumps(state, indent=2) + "\n")
            try:
                if cts:
                    self.containers.start_bridge(spec)
                    self.containers.mount_lower(image["raw"])
                if vms:
                    self._start_switch(tap=bool(cts))
                    self._start_nodes(spec, image, pubkey)
                self._start_containers(spec, pubkey)
                self._wait_ready(spec, timeout, start, pubkey=pubkey)
            except BaseException:
                log(f"rack {self.name}: start failed; stopping what was started "
                    f"(consoles kept in {self.dir}/nodes/*/console.log)")
                with contextlib.suppress(VrackError):
                    self._stop(quiet=True)
                raise
            self.inventory.write_text(render_inventory(spec, self.key))
            log(f"rack {self.name}: {len(vms)} VM(s) and {len(cts)} container node(s) up in "
                f"{time.monotonic() - start:.0f} s; inventory {self.inventory}")

    def _already_up(self, spec: dict) -> bool:
        live = self.pids()
        if not live:
            return False
        current = self.state()

        def strip(s):
            return {k: s.get(k) for k in ("rack", "lan_cidr", "nodes")}

        if current is None or strip(current) != strip(spec):
            raise VrackError(f"rack {self.name} is running with a different spec: "
                             f"run `scripts/vrack down {self.name}` first")
        dead = [n["name"] for n in spec["nodes"] if n["name"] not in live]
        if self.vms(spec) and "vde_switch" not in live:
            dead.append("vde_switch")
        if dead:
            for name in dead:
                if name != "vde_switch":
                    log(f"console of {name}:\n" + console_tail(self.node_paths({"name": name})["console"]))
            raise VrackError(f"rack {self.name} is partly down ({', '.join(dead)} not running): "
                             f"run `scripts/vrack down {self.name}` and `up` again")
        silent = [n["name"] for n in spec["nodes"] if not self._banner(n)]
        if silent:
            raise VrackError(f"rack {self.name}: sshd does not answer on {', '.join(silent)}: "
                             f"run `scripts/vrack down {self.name}` and `up` again")
        if not self.inventory.exists():
            self.inventory.write_text(render_inventory(spec, self.key))
        log(f"rack {self.name} is already up ({len(spec['nodes'])} nodes); inventory {self.inventory}")
        return True

    def _ensure_key(self) -> str:
        self.dir.mkdir(parents=True, exist_ok=True)
        if not self.key.exists():
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"vrack-{self.name}",
                            "-f", str(self.key)], check=True)
        kind, blob = self.key.with_suffix(".pub").read_text().split()[:2]
        if kind != "ssh-ed25519":
            raise VrackError(f"{self.key} is not an ed25519 key: remove it and run up again")
        return blob

    def _banner(self, node: dict, timeout: float = 5.0) -> bool:
        if node.get("kind") == "container":
            return ssh_banner(22, timeout, host=node["lan_ip"])
        return ssh_banner(node["ssh_port"], timeout)

    def _start_switch(self, tap: bool = False) -> None:
        argv = ["vde_switch", "-s", str(self.vde), "-d", "-p", str(self.vde_pid)]
        tap_name = "vrt" + container_nodes.short_hash("tap", self.name)
        if tap:
            # A mixed rack: the VMs' switch is plugged into the containers' bridge.
            argv += ["-t", tap_name]
        subprocess.run(argv, check=True, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not (self.vde / "ctl").exists() or not read_pid(self.vde_pid, self.dir):
            if time.monotonic() > deadline:
                raise VrackError(f"rack {self.name}: vde_switch did not start (socket {self.vde})")
            time.sleep(0.05)
        if tap:
            try:
                self.containers.attach_tap(tap_name)
            except container_nodes.NodeError as exc:
                raise VrackError(str(exc)) from exc

    def _start_containers(self, spec: dict, pubkey: str) -> None:
        cts = self.container_list(spec)
        if not cts:
            return
        caps = container_nodes.host_capabilities()
        for node in cts:
            try:
                self.containers.start(spec, node, f"ssh-ed25519 {pubkey} vrack", caps, lan_mac(node["lan_ip"]))
            except container_nodes.NodeError as exc:
                raise VrackError(f"container node {node['name']} of rack {self.name}: {exc}") from exc
            log(f"{node['name']}: container started (ssh {node['lan_ip']}:22)")

    def _start_nodes(self, spec: dict, image: dict, pubkey: str) -> None:
        ncpu = os.cpu_count() or 1
        for node in self.vms(spec):
            p = self.node_paths(node)
            p["dir"].mkdir(parents=True, exist_ok=True)
            p["console"].unlink(missing_ok=True)
            subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(image["raw"]),
                            "-F", "raw", str(p["root"])], check=True)
            for drive, files in zip(node["nvme_drives"], p["nvme_files"]):
                for path in files:
                    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(path), drive["size"]], check=True)
            argv = qemu_argv(spec, node, p, image, kernel_cmdline(spec, node, pubkey), ncpu)
            (p["dir"] / "qemu.argv").write_text(json.dumps(argv, indent=1) + "\n")
            res = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False)
            if res.returncode != 0:
                raise VrackError(f"qemu for {node['name']} failed to start (rc {res.returncode}): "
                                 f"{res.stderr.strip() or res.stdout.strip()}")
            log(f"{node['name']}: booting (ssh 127.0.0.1:{node['ssh_port']}, lan {node['lan_ip']}, "
                f"{len(node['nvme_drives'])} NVMe drives: "
                + ", ".join(f"{d['serial']} {d['size']}" + (f" x{d['namespaces']} ns" if d["namespaces"] > 1 else "")
                            for d in node["nvme_drives"]) + ")")

    def _wait_ready(self, spec: dict, timeout: int, start: float, pubkey: str | None = None) -> None:
        waiting = {n["name"]: n for n in spec["nodes"]}
        # A fresh container node whose container stops before its sshd answers is
        # started once more from scratch, and says so (seen twice here, each time
        # with other racks starting and the machine loaded; its console was empty).
        restarted = set()
        marker = {name: f"{READY_MARKER} {name}" for name in waiting}
        deadline = start + timeout
        while waiting:
            for name, node in list(waiting.items()):
                if node.get("kind") == "container":
                    st = self.containers.state(name)
                    if st and st.get("status") == "running" and self._banner(node, 1.0):
                        log(f"{name}: sshd answers after {time.monotonic() - start:.1f} s")
                        del waiting[name]
                        continue
                    problem = None
                    if (not st or st.get("status") != "running") and pubkey and name not in restarted:
                        restarted.add(name)
                        log(f"{name}: its container is {st.get('status') if st else 'gone'} before sshd answered; "
                            "starting it once more")
                        try:
                            self.containers.halt(name)
                            self.containers.start(spec, node, f"ssh-ed25519 {pubkey} vrack",
                                                  container_nodes.host_capabilities(), lan_mac(node["lan_ip"]))
                        except container_nodes.NodeError as exc:
                            raise VrackError(f"container node {name} of rack {self.name}: {exc}") from exc
                        continue
                    if not st or st.get("status") != "running":
                        problem = f"its container is {st.get('status') if st else 'gone'}"
                    elif time.monotonic() > deadline:
                        problem = f"sshd does not answer on {node['lan_ip']}:22 after {timeout} s"
                    if problem:
                        console = self.dir / "nodes" / name / "console.log"
                        raise VrackError(
                            f"container node {name} of rack {self.name} did not come up: {problem}.\n"
                            f"Console tail ({console}):\n{console_tail(console)}\n"
                            f"Fix: read the console above; `scripts/vrack ssh {self.name} {name}` if it is up.")
                    continue
                p = self.node_paths(node)
                try:
                    text = p["console"].read_text(errors="replace")
                except OSError:
                    text = ""
                if marker[name] in text:
                    log(f"{name}: ready after {time.monotonic() - start:.0f} s")
                    del waiting[name]
                    continue
                problem = None
                if "Kernel panic" in text:
                    problem = "kernel panic"
                elif not read_pid(p["pid"], self.dir):
                    problem = "qemu exited"
                elif time.monotonic() > deadline:
                    problem = f"no {READY_MARKER} marker after {timeout} s"
                if problem:
                    raise VrackError(
                        f"VM {name} of rack {self.name} did not come up: {problem}.\n"
                        f"Console tail ({p['console']}):\n{console_tail(p['console'])}\n"
                        f"Fix: read the console above; rebuild the image with `scripts/vrack image "
                        f"--force` if the guest is broken, or raise --timeout on a busy machine.")
            time.sleep(0.5)
        silent = [n["name"] for n in spec["nodes"] if not self._banner(n, 10)]
        if silent:
            raise VrackError(f"rack {self.name}: marker seen but no SSH banner from {', '.join(silent)}")

    # ---- down -------------------------------------------------------------
    def down(self, quiet: bool = False) -> None:
        """Stop the rack; waits for an `up` of the same rack to finish first."""
        if not self.dir.is_dir():
            if not quiet:
                log(f"rack {self.name}: nothing running")
            return
        with locked(self.dir / ".lock"):
            self._stop(quiet)

    def _stop(self, quiet: bool = False) -> None:
        spec = self.state() or {"nodes": []}
        live = self.pids(spec)
        ct_names = {n["name"] for n in self.container_list(spec)}
        ct_names |= {p.name for p in (self.dir / "nodes").glob("*") if (p / "config.json").exists()}
        if live:
            if not quiet:
                log(f"rack {self.name}: stopping " + ", ".join(f"{k} (pid {p})" for k, p in live.items()))
            # VMs first, the switch they are plugged into last.
            vde = {k: v for k, v in live.items() if k == "vde_switch"}
            stop_pids({k: v for k, v in live.items() if k != "vde_switch" and k not in ct_names})
            stop_pids(vde)
        elif not quiet:
            log(f"rack {self.name}: nothing running")
        # Containers by id in this rack's runc root, then their mounts,
        # namespaces, veths, cgroups and the bridge.
        self.containers.stop_all(sorted(ct_names))
        left = self.containers.leftovers(sorted(ct_names))
        self._cleanup_files()
        if left:
            raise VrackError(f"rack {self.name}: stopped, but these remain on the host: {', '.join(left)}")

    def _cleanup_files(self) -> None:
        """Remove overlays, drives, pidfiles and the switch socket; keep key and consoles."""
        for pattern in ("nodes/*/root.qcow2", "nodes/*/nvme*.qcow2", "nodes/*/qemu.pid"):
            for f in self.dir.glob(pattern):
                f.unlink(missing_ok=True)
        shutil.rmtree(self.vde, ignore_errors=True)
        for f in (self.vde_pid, self.state_file, self.inventory):
            f.unlink(missing_ok=True)

    # ---- one node off and on (container nodes) -------------------------------
    def _container_node(self, name: str) -> tuple:
        state = self.state()
        node = next((n for n in (state or {}).get("nodes", []) if n["name"] == name), None)
        if node is None:
            raise VrackError(f"rack {self.name} has no node {name} (scripts/vrack status)")
        if node.get("kind") != "container":
            raise VrackError(f"{name} of rack {self.name} is a VM: stop/start is for container nodes")
        return state, node

    def stop_node(self, name: str) -> None:
        """Power one container node off; its disk stays (start boots it again)."""
        with locked(self.dir / ".lock"):
            self._container_node(name)
            self.containers.halt(name)
            log(f"{name}: powered off (disk kept; `scripts/vrack start {self.name} {name}` boots it)")

    def start_node(self, name: str, timeout: int) -> None:
        """Boot a powered-off container node from its disk and wait for sshd."""
        with locked(self.dir / ".lock"):
            spec, node = self._container_node(name)
            try:
                self.containers.boot(spec, node, container_nodes.host_capabilities(), lan_mac(node["lan_ip"]))
            except container_nodes.NodeError as exc:
                raise VrackError(f"container node {name} of rack {self.name}: {exc}") from exc
            self._wait_ready(dict(spec, nodes=[node]), timeout, time.monotonic())

    def status(self) -> dict:
        state = self.state() or {"nodes": []}
        live = self.pids(state)
        nodes = [{"name": n["name"], "kind": n.get("kind", "vm"), "ssh_port": n["ssh_port"], "lan_ip": n["lan_ip"],
                  "nvme": n["nvme_count"], "pid": live.get(n["name"]),
                  "state": "running" if n["name"] in live else "stopped"} for n in state["nodes"]]
        return {"rack": self.name, "vde_switch": live.get("vde_switch"), "nodes": nodes,
                "inventory": str(self.inventory) if self.inventory.exists() else None}


def all_racks() -> list:
    if not STATE_DIR.is_dir():
        return []
    return [Rack(d.name) for d in sorted(STATE_DIR.iterdir()) if d.is_dir() and RACK_RE.match(d.name)]


# --------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------
def ansible_inventory_list(inventory: str) -> dict:
    venv_bin = REPO / ".venv" / "bin"
    exe = venv_bin / "ansible-inventory"
    if not exe.exists():
        exe = shutil.which("ansible-inventory")
        if not exe:
            raise VrackError("ansible-inventory not found: run scripts/bootstrap (creates .venv)")
    env = dict(os.environ, PATH=f"{venv_bin}:{os.environ.get('PATH', '')}", ANSIBLE_NOCOLOR="1")
    res = subprocess.run([str(exe), "-i", inventory, "--list"], capture_output=True, text=True,
                         cwd=REPO, env=env, check=False)
    if res.returncode != 0:
        raise VrackError(f"ansible-inventory -i {inventory} failed: {res.stderr.strip()}")
    return json.loads(res.stdout)


def cmd_image(args) -> int:
    paths = ensure_image(force=args.force)
    manifest = json.loads(paths["manifest"].read_text())
    log(f"image {paths['dir']}: {manifest['debian_suite']}, kernel {manifest['kernel_version']}, "
        f"{len(manifest['packages'])} packages")
    return 0


def cmd_up(args) -> int:
    if args.inventory:
        inv = args.inventory
        if not Path(inv).exists() and (REPO / inv).exists():
            inv = str(REPO / inv)
        raw = spec_from_inventory(ansible_inventory_list(inv), inv, args.rack)
    else:
        try:
            raw = json.loads(Path(args.spec).read_text())
        except (OSError, ValueError) as exc:
            raise VrackError(f"cannot read spec {args.spec}: {exc}") from exc
    spec = normalize_spec(raw, args.rack or raw.get("rack"))
    Rack(spec["rack"]).up(spec, args.timeout)
    return 0


def cmd_down(args) -> int:
    if args.all:
        racks = all_racks()
    elif args.rack:
        racks = [Rack(args.rack)]
    else:
        raise VrackError("name a rack (scripts/vrack down RACK) or use --all")
    errors = []
    for rack in racks:
        try:
            rack.down()
        except VrackError as exc:
            errors.append(str(exc))
    if errors:
        raise VrackError("; ".join(errors))
    return 0


def cmd_status(args) -> int:
    racks = [Rack(args.rack)] if args.rack else all_racks()
    report = [r.status() for r in racks]
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    if not any(r["nodes"] or r["vde_switch"] for r in report):
        print("no rack is running")
    for r in report:
        if not r["nodes"] and not r["vde_switch"]:
            continue
        print(f"rack {r['rack']}: vde_switch {'pid ' + str(r['vde_switch']) if r['vde_switch'] else 'not running'}")
        for n in r["nodes"]:
            pid = f"pid {n['pid']}" if n["pid"] else ""
            where = (f"{n['lan_ip']}:22" if n["kind"] == "container" else f"127.0.0.1:{n['ssh_port']}")
            print(f"  {n['name']:<20} {n['kind']:<9} {n['state']:<8} ssh {where:<21} "
                  f"lan {n['lan_ip']:<15} nvme {n['nvme']}  {pid}")
    return 0


def cmd_stop(args) -> int:
    Rack(args.rack).stop_node(args.node)
    return 0


def cmd_start(args) -> int:
    Rack(args.rack).start_node(args.node, args.timeout)
    return 0


def cmd_ssh(args) -> int:
    rack = Rack(args.rack)
    state = rack.state()
    node = next((n for n in (state or {}).get("nodes", []) if n["name"] == args.node), None)
    if node is None:
        raise VrackError(f"rack {args.rack} has no running node {args.node} (scripts/vrack status)")
    host, port = ((node["lan_ip"], 22) if node.get("kind") == "container" else ("127.0.0.1", node["ssh_port"]))
    argv = ["ssh", "-i", str(rack.key), "-p", str(port), "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", f"root@{host}", *args.command]
    os.execvp("ssh", argv)
    return 1


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="vrack", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("image", help="build and cache the base image")
    p.add_argument("--force", action="store_true", help="rebuild even if cached")
    p.set_defaults(func=cmd_image)
    p = sub.add_parser("up", help="boot a rack and wait until every VM answers SSH")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--inventory", "-i", help="Ansible inventory whose hosts carry vrack_* vars")
    src.add_argument("--spec", help="rack spec (JSON)")
    p.add_argument("--rack", help="rack name (default: from the spec or the inventory directory)")
    p.add_argument("--timeout", type=int, default=int(os.environ.get("VRACK_BOOT_TIMEOUT", DEFAULT_BOOT_TIMEOUT)),
                   help="seconds to wait for every VM (default %(default)s)")
    p.set_defaults(func=cmd_up)
    p = sub.add_parser("down", help="stop a rack's VMs and switch by their pidfiles")
    p.add_argument("rack", nargs="?")
    p.add_argument("--all", action="store_true", help="every rack under .vrack/")
    p.set_defaults(func=cmd_down)
    p = sub.add_parser("status", help="what runs")
    p.add_argument("rack", nargs="?")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_status)
    p = sub.add_parser("stop", help="power one container node off, keeping its disk")
    p.add_argument("rack")
    p.add_argument("node")
    p.set_defaults(func=cmd_stop)
    p = sub.add_parser("start", help="boot a powered-off container node from its disk")
    p.add_argument("rack")
    p.add_argument("node")
    p.add_argument("--timeout", type=int, default=int(os.environ.get("VRACK_BOOT_TIMEOUT", DEFAULT_BOOT_TIMEOUT)),
                   help="seconds to wait for its sshd (default %(default)s)")
    p.set_defaults(func=cmd_start)
    p = sub.add_parser("ssh", help="ssh into a node of a running rack")
    p.add_argument("rack")
    p.add_argument("node")
    p.add_argument("command", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_ssh)
    args = parser.parse_args(argv)

    def on_sigterm(signum, frame):
        raise KeyboardInterrupt  # unwinds like Ctrl-C: `up` stops what it started

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        return args.func(args)
    except VrackError as exc:
        print(f"vrack: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("vrack: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
