"""Pure functions of scripts/vrack: spec validation, naming, command lines."""
import importlib.machinery
import importlib.util
import ipaddress
from pathlib import Path

import pytest

VRACK = Path(__file__).resolve().parents[3] / "scripts" / "vrack.d" / "vrack.py"


def _load():
    loader = importlib.machinery.SourceFileLoader("vrack", str(VRACK))
    spec = importlib.util.spec_from_loader("vrack", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


vrack = _load()


def node(**kw):
    base = {"name": "n1", "ssh_port": 2301, "lan_ip": "198.19.2.21", "nvme_count": 2, "nvme_size": "2G"}
    base.update(kw)
    return base


@pytest.mark.parametrize(
    ("name", "index", "expected"),
    [
        ("lab-cp1", 0, "LAB-CP1-NVME0"),
        ("node_base.1", 3, "NODE-BASE-1-NVME3"),
        ("a-very-long-node-name-indeed", 12, "A-VERY-LONG-N-NVME12"),
    ],
)
def test_nvme_serial(name, index, expected):
    serial = vrack.nvme_serial(name, index)
    assert serial == expected
    assert len(serial) <= vrack.NVME_SERIAL_MAX


def test_lan_mac_is_unique_per_address_and_not_the_mgmt_mac():
    macs = {vrack.lan_mac(str(ip)) for ip in ipaddress.IPv4Network("198.19.2.0/24").hosts()}
    assert len(macs) == 254
    assert vrack.MGMT_MAC not in macs
    assert vrack.lan_mac("198.19.2.11") == "52:54:01:13:02:0b"


def test_machine_id_is_stable_hex_and_unique():
    a, b = vrack.machine_id("lab", "lab-w1"), vrack.machine_id("lab", "lab-w2")
    assert a == vrack.machine_id("lab", "lab-w1")
    assert a != b and len(a) == 32 and int(a, 16)


def test_normalize_spec_fills_defaults():
    spec = vrack.normalize_spec({"rack": "r1", "nodes": [node()]})
    (n,) = spec["nodes"]
    assert spec["lan_cidr"] == "198.19.2.0/24"
    assert n["nvme_serials"] == ["N1-NVME0", "N1-NVME1"]
    assert (n["memory"], n["cpus"], n["nvme_size"]) == (1024, 2, "2G")


def test_normalize_spec_reports_every_problem_by_node():
    with pytest.raises(vrack.VrackError) as err:
        vrack.normalize_spec({"rack": "r1", "nodes": [
            node(),
            node(name="n2"),                                       # port + ip clash with n1
            node(name="Bad_Name", ssh_port=80, lan_ip="10.0.0.1", nvme_size="lots"),
            node(name="n4", ssh_port=2304, lan_ip="198.19.2.24", nvme_serials=["X"] * 2),
        ]})
    msg = str(err.value)
    assert "node n2: ssh_port 2301 is also used by node n1" in msg
    assert "node n2: lan_ip 198.19.2.21 is also used by node n1" in msg
    assert "node Bad_Name: name must be" in msg
    assert "node Bad_Name: ssh_port 80" in msg
    assert "node Bad_Name: lan_ip '10.0.0.1' must be a host address in 198.19.2.0/24" in msg
    assert "node Bad_Name: nvme_size 'lots'" in msg
    assert "node n4: serial X is also used by node n4" in msg


def test_normalize_spec_needs_a_rack_name():
    with pytest.raises(vrack.VrackError, match="rack name"):
        vrack.normalize_spec({"nodes": [node()]})
    assert vrack.normalize_spec({"nodes": [node()]}, rack="given")["rack"] == "given"


def test_spec_from_inventory():
    inventory = {"_meta": {"hostvars": {
        "lab-w1": {"vrack_ssh_port": 2222, "vrack_lan_ip": "198.19.2.12", "vrack_nvme_count": 4,
                   "vrack_nvme_size": "2G", "vrack_rack": "lab", "vrack_memory": 1536},
        "lab-cp1": {"vrack_ssh_port": 2221, "vrack_lan_ip": "198.19.2.11", "vrack_nvme_count": 4,
                    "vrack_nvme_size": "2G", "vrack_rack": "lab"},
        "bastion": {"ansible_host": "10.1.1.1"},
    }}}
    spec = vrack.normalize_spec(vrack.spec_from_inventory(inventory, "inventories/lab"))
    assert spec["rack"] == "lab"
    assert [n["name"] for n in spec["nodes"]] == ["lab-cp1", "lab-w1"]
    assert spec["nodes"][1]["memory"] == 1536
    assert spec["nodes"][0]["nvme_serials"][3] == "LAB-CP1-NVME3"


def test_spec_from_inventory_without_vrack_hosts_fails():
    with pytest.raises(vrack.VrackError, match="describes no virtual rack"):
        vrack.spec_from_inventory({"_meta": {"hostvars": {"h": {}}}}, "inv")


def test_kernel_cmdline_and_qemu_argv():
    spec = vrack.normalize_spec({"rack": "r1", "nodes": [node()]})
    n = spec["nodes"][0]
    cmdline = vrack.kernel_cmdline(spec, n, "AAAAKEY")
    for part in ("root=/dev/vda", "systemd.hostname=n1", "vrack.ssh_key=AAAAKEY",
                 "vrack.lan=198.19.2.21/24", "vrack.lan_gw=198.19.2.1",
                 f"systemd.machine_id={vrack.machine_id('r1', 'n1')}"):
        assert part in cmdline.split()
    paths = {"console": "/s/c.log", "pid": "/s/q.pid", "root": "/s/root.qcow2", "vde": "/s/lan",
             "nvme_files": vrack.drive_files(Path("/s"), n)}
    argv = vrack.qemu_argv(spec, n, paths, {"vmlinuz": "/i/vmlinuz", "initrd": "/i/initrd.img"}, cmdline, 2)
    assert argv[:4] == ["taskset", "-a", "-c", "0-1"]
    joined = " ".join(argv)
    assert "hostfwd=tcp:127.0.0.1:2301-:22" in joined and "restrict=on" in joined
    assert "-accel tcg,tb-size=128 -cpu qemu64,-svm" in joined
    assert "nvme,serial=N1-NVME1,drive=nvme1" in joined
    assert "vde,id=lan,sock=/s/lan" in joined


def test_parse_vm_image_config_and_hash():
    text = (
        "---\nother:\n  x: 1\nvm_image:\n  debian_suite: bookworm  # comment\n"
        "  debian_mirror: http://deb.debian.org/debian\n"
        "  kernel_package: linux-image-cloud-amd64\n  kernel_series: \"6.1\"\n"
    )
    cfg = vrack.parse_vm_image_config(text)
    assert cfg == {"debian_suite": "bookworm", "debian_mirror": "http://deb.debian.org/debian",
                   "kernel_package": "linux-image-cloud-amd64", "kernel_series": "6.1"}
    h = vrack.image_hash(b"script", cfg)
    assert h == vrack.image_hash(b"script", dict(cfg, debian_mirror="http://mirror.example/debian"))
    assert h != vrack.image_hash(b"script2", cfg)
    assert h != vrack.image_hash(b"script", dict(cfg, kernel_series="6.12"))
    with pytest.raises(vrack.VrackError, match="kernel_series"):
        vrack.parse_vm_image_config("vm_image:\n  debian_suite: bookworm\n")


def test_render_inventory():
    spec = vrack.normalize_spec({"rack": "r1", "nodes": [node()]})
    text = vrack.render_inventory(spec, Path("/x/.vrack/r1/id_ed25519"))
    assert "ansible_port: 2301" in text
    assert 'ansible_ssh_private_key_file: "/x/.vrack/r1/id_ed25519"' in text
    assert "ansible_python_interpreter: /usr/bin/python3" in text


def test_parse_vm_image_config_without_pyyaml(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "yaml", None)
    text = (Path(__file__).resolve().parents[3] / "versions.yml").read_text()
    assert vrack.parse_vm_image_config(text)["debian_suite"] == "bookworm"


def test_read_pid_checks_the_owner_and_stop_pids_stops(tmp_path):
    import subprocess
    import time

    rack = tmp_path / "lab"
    (rack / "nodes").mkdir(parents=True)
    proc = subprocess.Popen(["sh", "-c", "sleep 30; :", str(rack / "nodes" / "console.log")])
    try:
        pidfile = rack / "qemu.pid"
        pidfile.write_text(f"{proc.pid}\n")
        cmdline = Path(f"/proc/{proc.pid}/cmdline")
        for _attempt in range(100):  # right after exec the command line can read empty
            if cmdline.read_bytes():
                break
            time.sleep(0.01)
        assert vrack.read_pid(pidfile, rack) == proc.pid
        # A rack whose name is a prefix of this one does not own the process.
        assert vrack.read_pid(pidfile, tmp_path / "la") is None
        assert vrack.read_pid(tmp_path / "missing.pid", rack) is None
        vrack.stop_pids({"n1": proc.pid}, timeout=5)
        assert proc.wait(timeout=5) is not None
    finally:
        proc.kill()
        proc.wait()


def test_nvme_drives_express_namespaces_4k_blocks_and_a_cloned_serial():
    spec = vrack.normalize_spec({"rack": "r1", "nodes": [node(nvme_count=0, nvme_drives=[
        {"serial": "SAFE-A"}, {"serial": "MULTI", "size": "512M", "namespaces": 2},
        {"serial": "FOURK", "block_size": 4096}, {"serial": "SAFE-A", "own_subsystem": True}])]})
    n = spec["nodes"][0]
    assert n["nvme_count"] == 4 and n["nvme_serials"] == ["SAFE-A", "MULTI", "FOURK", "SAFE-A"]
    files = vrack.drive_files(Path("/s"), n)
    assert [len(f) for f in files] == [1, 2, 1, 1] and files[1][1] == Path("/s/nvme1n2.qcow2")
    joined = " ".join(vrack.nvme_argv(n, files))
    assert "nvme,id=nvmec1,serial=MULTI" in joined
    assert "nvme-ns,drive=nvme1n2,bus=nvmec1,nsid=2" in joined
    assert "nsid=1,logical_block_size=4096,physical_block_size=4096" in joined
    assert "nvme-subsys,id=nvmes3,nqn=nqn.2026-12.org.baremetal-mlops.vrack:n1-3" in joined
    assert "nvme,id=nvmec3,serial=SAFE-A,subsys=nvmes3" in joined


@pytest.mark.parametrize("drives, problem", [
    ([{"serial": "X"}, {"serial": "X"}], "serial X is also used by"),
    ([{"serial": "X", "namespaces": 9}], "namespaces 9 must be 1-8"),
    ([{"serial": "X", "block_size": 1024}], "block_size 1024 must be 512 or 4096"),
    ([{"serial": "X", "size": "lots"}], "size 'lots' must look like 512M or 2G"),
])
def test_nvme_drives_bad_input_is_refused_with_every_problem(drives, problem):
    with pytest.raises(vrack.VrackError) as excinfo:
        vrack.normalize_spec({"rack": "r1", "nodes": [node(nvme_count=0, nvme_drives=drives)]})
    assert problem in str(excinfo.value)


# ---- container nodes (issue 8) ----------------------------------------------
container_nodes = vrack.container_nodes


def ct(**kw):
    base = {"name": "c1", "kind": "container", "lan_ip": "198.51.100.11"}
    base.update(kw)
    return base


def test_container_nodes_need_no_ssh_port_and_mix_with_vms():
    spec = vrack.normalize_spec({"rack": "mix", "lan_cidr": "198.51.100.0/24",
                                 "nodes": [ct(), ct(name="c2", lan_ip="198.51.100.12"),
                                           node(lan_ip="198.51.100.13")]})
    kinds = {n["name"]: n["kind"] for n in spec["nodes"]}
    assert kinds == {"c1": "container", "c2": "container", "n1": "vm"}
    c1 = spec["nodes"][0]
    assert c1["ssh_port"] is None and c1["nvme_drives"] == [] and "memory_limit" not in c1


def test_container_spec_errors_name_each_node_and_all_come_at_once():
    with pytest.raises(vrack.VrackError) as exc:
        vrack.normalize_spec({"rack": "bad", "lan_cidr": "198.51.100.0/24", "nodes": [
            ct(), ct(lan_ip="198.51.100.12"),                      # duplicate name
            ct(name="c3", lan_ip="198.51.100.11"),                 # duplicate address
            ct(name="c4", lan_ip="198.51.100.1"),                  # the gateway
            ct(name="c5", lan_ip="198.51.100.15", nvme_count=2),   # drives on a container
            ct(name="c6", lan_ip="198.51.100.16", kind="lxc"),     # unknown kind
            ct(name="c7", lan_ip="198.51.100.17", memory=64),      # limit too small
        ]})
    text = str(exc.value)
    assert "node c1: name c1 is also used by node c1" in text
    assert "node c3: lan_ip 198.51.100.11 is also used by node c1" in text
    assert "node c4: lan_ip 198.51.100.1 is the rack gateway" in text
    assert "node c5: a container node has no NVMe drives" in text
    assert "node c6: kind 'lxc' must be one of vm, container" in text
    assert "node c7: memory limit 64 MiB is too small" in text


def test_inventory_hosts_with_a_node_kind_are_container_nodes():
    inv = {"_meta": {"hostvars": {
        "cp1": {"vrack_node_kind": "container", "vrack_lan_ip": "198.51.100.11", "vrack_rack": "lab",
                "vrack_lan_cidr": "198.51.100.0/24"},
        "w1": {"vrack_ssh_port": 2222, "vrack_lan_ip": "198.51.100.12", "vrack_rack": "lab",
               "vrack_lan_cidr": "198.51.100.0/24"},
        "real": {"ansible_host": "10.1.1.1"},
    }}}
    spec = vrack.normalize_spec(vrack.spec_from_inventory(inv, "inventories/lab"))
    assert [(n["name"], n["kind"]) for n in spec["nodes"]] == [("cp1", "container"), ("w1", "vm")]
    text = vrack.render_inventory(spec, Path("/k"))
    assert "    cp1:\n      ansible_host: 198.51.100.11\n      ansible_port: 22\n      vrack_node_kind: container" in text
    assert "    w1:\n      ansible_port: 2222\n      vrack_node_kind: vm" in text


def test_container_names_are_short_unique_and_stable():
    a = container_nodes.host_veth("lab", "cp1")
    assert a == container_nodes.host_veth("lab", "cp1") != container_nodes.host_veth("lab", "cp2")
    assert len(a) <= 15 and len(container_nodes.bridge_name("a-very-long-rack-name-indeed")) <= 15
    assert container_nodes.product_uuid("lab", "cp1") != container_nodes.product_uuid("lab", "cp2")
    assert container_nodes.netns_name("lab", "cp1") != container_nodes.netns_name("lab2", "cp1")


def test_capabilities_come_from_the_bounding_set():
    # This sandbox's bounding set: every capability but CAP_SYS_RESOURCE (bit 24).
    caps = container_nodes.host_capabilities("Name:\tx\nCapBnd:\t000001fffeffffff\n")
    assert "CAP_SYS_ADMIN" in caps and "CAP_SYS_RESOURCE" not in caps
    assert caps[-1] == "CAP_CHECKPOINT_RESTORE"


def test_container_config_is_a_system_container():
    cfg = container_nodes.oci_config("lab", {"name": "cp1", "memory_limit": 512}, Path("/s/var"),
                                     "/run/netns/x", ["CAP_SYS_ADMIN"])
    assert cfg["process"]["args"] == [container_nodes.ENTRYPOINT] and "container=runc" in cfg["process"]["env"]
    ns = {n["type"]: n.get("path") for n in cfg["linux"]["namespaces"]}
    assert ns == {"pid": None, "network": "/run/netns/x", "ipc": None, "uts": None, "mount": None, "cgroup": None}
    mounts = {m["destination"]: m for m in cfg["mounts"]}
    assert mounts["/var"]["source"] == "/s/var" and mounts["/run"]["type"] == "tmpfs"
    assert "ro" not in mounts["/sys/fs/cgroup"]["options"]
    assert cfg["linux"]["devices"][0]["path"] == "/dev/kmsg"
    assert cfg["linux"]["resources"]["memory"]["limit"] == 512 * 2**20
    assert cfg["linux"]["cgroupsPath"].endswith("/cp1")
