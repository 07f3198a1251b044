"""A real kubeadm cluster on container nodes, for the integration tests (issue 9).

``Cluster`` writes an inventory for a rack of container nodes (control
planes and workers), boots it with scripts/vrack, runs the playbooks against
it with the offline bundle, and talks to the cluster with the bundle's kubectl
and the k8s_cluster_health module. ``busybox_image`` writes the one image the
test pods use (Debian's busybox-static in a one-layer OCI archive, made the
way scripts/bundle makes images; test-only, not part of the bundle).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import yaml
from bundle_helpers import ROOT, VENV_BIN, ContainerRack, ansible_env, run

VERSIONS = yaml.safe_load((ROOT / "versions.yml").read_text())
VERSION = VERSIONS["kubernetes"]["version"]
UPGRADE_FROM = VERSIONS["kubernetes"]["upgrade_from"]
DEVICE_PLUGIN_IMAGE = (f"{VERSIONS['nvidia']['device_plugin']['image']}:"
                       f"v{VERSIONS['nvidia']['device_plugin']['version']}")
BUSYBOX_IMAGE = "localhost/baremetal-mlops/test-busybox:1"
# The test cluster (conftest.py's session fixture `cluster`): 3 control planes and 2 workers on 198.19.20.0/24.
CONTROL_PLANES = [("k8s-cp1", "198.19.20.11"), ("k8s-cp2", "198.19.20.12"), ("k8s-cp3", "198.19.20.13")]
WORKERS = [("k8s-w1", "198.19.20.21"), ("k8s-w2", "198.19.20.22")]
# In gpu_workers (no GPU here): the NVIDIA device plugin must land there and on no other node.
GPU_WORKER = "k8s-w2"
BUSYBOX_APPLETS = ["sh", "nslookup", "httpd", "nc", "sleep", "cat", "echo", "sha256sum", "mkdir", "ls"]


def _bundle_module():
    spec = importlib.util.spec_from_file_location("mlops_bundle", ROOT / "scripts" / "bundle.d" / "bundle.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def busybox_image(out: Path) -> Path:
    """Write the test pods' image archive (needs /bin/busybox from busybox-static; scripts/bootstrap installs it)."""
    busybox = Path("/bin/busybox")
    assert busybox.exists(), "/bin/busybox is missing: apt-get install busybox-static (scripts/bootstrap does)"
    bundle = _bundle_module()
    layer = bundle.base_layer()
    layer.file("usr/bin/busybox", str(busybox))
    for applet in BUSYBOX_APPLETS:
        layer.symlink(f"usr/bin/{applet}", "busybox")
    layer.dir("www")
    layer.file("www/index.html", b"baremetal.mlops test pod\n", 0o644)
    bundle.write_oci_archive(out, BUSYBOX_IMAGE, layer, ["/bin/sh"])
    return out


def recap(text: str) -> dict:
    """PLAY RECAP lines -> {host: {ok: n, changed: n, ...}}."""
    return {m.group(1): {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(2))}
            for m in re.finditer(r"^(\S+)\s+:\s+(ok=.*)$", text, re.M)}


class Cluster:
    def __init__(self, tmp: Path, bundle: Path, rack: str, cidr: str, control_planes: list, workers: list,
                 extra_vars: dict | None = None, gpu_workers: list | None = None, version: str = VERSION):
        self.tmp = tmp
        self.bundle = bundle
        # The release the cluster runs (and playbooks install): versions.yml's, or an older one with its bundle.
        self.version = version
        self.name = rack
        self.control_planes = control_planes
        self.workers = workers
        self.gpu_workers = gpu_workers or []
        self.kubeconfig = tmp / "admin.conf"
        self.inventory = tmp / "hosts.yml"
        self.extra_vars = extra_vars or {}
        self.write_inventory()
        self.rack = ContainerRack(tmp, rack, cidr, control_planes + workers)
        self.rack.inventory = self.inventory

    @property
    def nodes(self):
        return [name for name, _ip in self.control_planes + self.workers]

    def write_inventory(self):
        inv = {"all": {
            "vars": {
                "vrack_rack": self.name, "vrack_node_kind": "container",
                "kubeadm_cluster_name": "pytest",
                "kubeadm_admin_kubeconfig": str(self.kubeconfig),
                # No GPU here: the device plugin waits instead of exiting (a cluster-wide setting:
                # the role runs once, on the first control plane).
                "nvidia_device_plugin_fail_on_init_error": False,
                # Local volumes on every node: PostgreSQL's 3 instances each need a node with a volume, and
                # this rack has 2 workers (as the lab inventory).
                "local_volumes_group": "k8s_cluster",
                **self.extra_vars,
            },
            # Connection settings for the nodes only (all's would reach the implicit localhost too).
            "children": {"k8s_cluster": {"vars": {
                "ansible_user": "root", "ansible_python_interpreter": "/usr/bin/python3",
                "ansible_host": "{{ vrack_lan_ip }}",
                "ansible_ssh_private_key_file": str(ROOT / ".vrack" / self.name / "id_ed25519"),
                # mitogen compresses SSH by default: on a local bridge it only costs CPU.
                "mitogen_ssh_compression": False,
            }, "children": {
                "control_plane": {"hosts": {n: {"vrack_lan_ip": ip} for n, ip in self.control_planes}},
                "workers": {"hosts": {n: {"vrack_lan_ip": ip} for n, ip in self.workers},
                            "vars": {"container_runtime_images": "worker"}},
                # GPU workers (a subset of the workers): they import the device plugin's image and
                # the plugin is scheduled there only.
                "gpu_workers": {"hosts": {n: {} for n in self.gpu_workers},
                                "vars": {"container_runtime_extra_images": [DEVICE_PLUGIN_IMAGE]}},
            }}},
        }}
        self.inventory.write_text(yaml.safe_dump(inv))

    def env(self):
        return ansible_env({"ANSIBLE_STRATEGY": "mitogen_linear",
                            "ANSIBLE_STRATEGY_PLUGINS": str(ROOT / "molecule" / "shared" / "strategy")})

    def playbook_argv(self, playbook, *args, bundle=None) -> list:
        """ansible-playbook against this cluster, with its bundle and (when older) its release."""
        return [str(a) for a in (VENV_BIN / "ansible-playbook", "-i", self.inventory, playbook,
                                 "-e", f"mlops_bundle_dir={bundle or self.bundle}",
                                 *([] if self.version == VERSION else ["-e", f"mlops_kubernetes_version={self.version}"]),
                                 *args)]

    def play(self, playbook, *args, check=True, timeout=1800, bundle=None):
        return run(self.playbook_argv(playbook, *args, bundle=bundle), timeout=timeout, check=check, cwd=ROOT,
                   env=self.env())

    def play_watched(self, playbook, *args, on_line=None, timeout=2400):
        """Run a playbook like play(check=False), calling on_line(line) for each line of its output as it comes."""
        argv = self.playbook_argv(playbook, *args)
        lines = []
        with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
                              env=self.env()) as proc:
            timer = threading.Timer(timeout, proc.kill)
            timer.start()
            try:
                for line in proc.stdout:
                    lines.append(line)
                    if on_line:
                        on_line(line)
            finally:
                timer.cancel()
            rc = proc.wait()
        return subprocess.CompletedProcess(argv, rc, "".join(lines), "")

    def kubectl_argv(self, *args) -> list:
        """kubectl against this cluster with no request timeout (a long `exec` run by the caller)."""
        return [str(self.bundle / "bin" / "kubectl"), f"--kubeconfig={self.kubeconfig}", *map(str, args)]

    def kubectl(self, *args, check=True, server=None, stdin=None, timeout=120):
        argv = [self.bundle / "bin" / "kubectl", f"--kubeconfig={self.kubeconfig}", "--request-timeout=20s"]
        if server:
            argv.append(f"--server={server}")
        return run([*argv, *args], timeout=timeout, check=check, input=stdin)

    def api_servers(self):
        return [f"https://{ip}:6443" for _name, ip in self.control_planes]

    def health(self, **params):
        args = {"kubeconfig": str(self.kubeconfig), "version": self.version, "api_servers": self.api_servers(),
                "nodes": self.nodes, "etcd_members": len(self.control_planes), **params}
        return run([VENV_BIN / "ansible", "localhost", "-m", "baremetal.mlops.k8s_cluster_health",
                    "-a", json.dumps(args), "-o"], timeout=900, check=False, cwd=ROOT, env=self.env())

    def load_image(self, archive: Path, nodes: list):
        for node in nodes:
            ip = dict(self.control_planes + self.workers)[node]
            key = ROOT / ".vrack" / self.name / "id_ed25519"
            run(["scp", "-q", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                 "-i", key, archive, f"root@{ip}:/tmp/{archive.name}"])
            self.rack.ssh(node, f"ctr -n k8s.io images import --local /tmp/{archive.name} >/dev/null && "
                                f"rm /tmp/{archive.name}")

    def wait_pod(self, name: str, phase="Running", timeout=120, namespace="default"):
        deadline = time.monotonic() + timeout
        seen = ""
        while time.monotonic() < deadline:
            seen = self.kubectl("-n", namespace, "get", "pod", name, "-o", "jsonpath={.status.phase}",
                                check=False).stdout
            if seen == phase:
                return seen
            time.sleep(2)
        raise AssertionError(f"pod {name}: {seen or 'no phase'} after {timeout} s, expected {phase}:\n"
                             + self.kubectl("-n", namespace, "describe", "pod", name, check=False).stdout[-2000:])


class Prober:
    """Asks a URL on each of several nodes in turn (one request every `interval` s, no retries) from a thread
    of this process, and counts every answer while counting is on: `failures` lists each request that did not
    get HTTP 200 (time, node, error)."""

    def __init__(self, urls: list, interval=0.2, timeout=2.0):
        self.urls = urls
        self.interval = interval
        self.timeout = timeout
        self.counting = False
        self.requests = 0
        self.failures = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)

    def loop(self):
        i = 0
        while not self.stopped.is_set():
            url = self.urls[i % len(self.urls)]
            i += 1
            counting = self.counting
            error = None
            try:
                with urllib.request.urlopen(url, timeout=self.timeout) as res:
                    if res.status != 200:
                        error = f"HTTP {res.status}"
            except Exception as exc:  # every failure counts, whatever it is
                error = f"{type(exc).__name__}: {exc}"
            if counting:
                self.requests += 1
                if error:
                    self.failures.append((time.strftime("%H:%M:%S"), url, error))
            self.stopped.wait(self.interval)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopped.set()
        self.thread.join(timeout=10)


def copy_bundle_without(bundle: Path, dest: Path, image_name: str) -> Path:
    """A hard-linked copy of the bundle whose manifest lacks one image (and its file)."""
    def link(src, dst):
        try:
            os.link(src, dst)
        except OSError:  # another file system
            shutil.copy2(src, dst)
    shutil.copytree(bundle, dest, copy_function=link)
    manifest = json.loads((dest / "manifest.json").read_text())
    entry = next(i for i in manifest["images"] if i["name"] == image_name)
    manifest["images"] = [i for i in manifest["images"] if i["name"] != image_name]
    manifest["files"] = [f for f in manifest["files"] if f["path"] != entry["path"]]
    (dest / "manifest.json").unlink()
    (dest / "manifest.json").write_text(json.dumps(manifest, indent=1))
    (dest / entry["path"]).unlink()
    return dest
