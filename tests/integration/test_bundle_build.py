"""The offline bundle, built from source here (issue 8), checked for real.

Builds with ``scripts/bundle build`` (cached outside the clone; a no-op when
built) and checks what users rely on: the manifest verifies, every binary
reports the pinned version, the images are exactly what kubeadm lists, and
bad input (an unknown version, a corrupted file, an interrupted build) is a
clear error that leaves the cache as it was.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tarfile
import time
from pathlib import Path

import pytest
import yaml
from bundle_helpers import BUNDLE, ROOT, built_bundle, run

VERSIONS = yaml.safe_load((ROOT / "versions.yml").read_text())
K8S = VERSIONS["kubernetes"]["version"]
REL = VERSIONS["kubernetes"]["releases"][K8S]
RT = VERSIONS["container_runtime"]


@pytest.fixture(scope="module")
def bundle():
    return built_bundle()


def test_manifest_verifies_every_file(bundle):
    res = run([BUNDLE, "verify", bundle])
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert f"{len(manifest['files'])} files match manifest.json" in res.stderr
    assert "NOT upstream's" in manifest["source"]
    assert manifest["pins"]["kubernetes"] == K8S
    on_disk = sorted(str(p.relative_to(bundle)) for p in bundle.rglob("*") if p.is_file())
    assert on_disk == sorted([f["path"] for f in manifest["files"]] + ["manifest.json"])
    for entry in manifest["files"]:
        assert entry["origin"] and entry["version"], entry["path"]


@pytest.mark.parametrize(("binary", "args", "expected"), [
    ("kubeadm", ["version", "-o", "short"], f"v{K8S}"),
    ("kubelet", ["--version"], f"Kubernetes v{K8S}"),
    ("kubectl", ["version", "--client"], f"Client Version: v{K8S}"),
    ("etcdctl", ["version"], f"etcdctl version: {REL['etcd']}"),
    ("etcdutl", ["version"], f"etcdutl version: {REL['etcd']}"),
    ("containerd", ["--version"], f"v{RT['containerd']['version']}"),
    ("ctr", ["--version"], f"v{RT['containerd']['version']}"),
    ("containerd-shim-runc-v2", ["-v"], f"v{RT['containerd']['version']}"),
    ("runc", ["--version"], f"runc version {RT['runc']['version']}"),
    ("crictl", ["--version"], f"crictl version v{RT['crictl']['version']}"),
])
def test_binaries_report_the_pinned_versions(bundle, binary, args, expected):
    res = run([bundle / "bin" / binary, *args])
    out = res.stdout + res.stderr
    assert expected in out, out
    if binary == "kubeadm":
        assert out.strip() == expected  # not v0.0.0-master, not a placeholder


def test_runc_has_seccomp_and_cni_plugins_their_version(bundle):
    out = run([bundle / "bin" / "runc", "--version"]).stdout
    assert "libseccomp: 2." in out  # kubeadm's static pods ask for seccomp RuntimeDefault
    for plugin in RT["cni_plugins"]["plugins"]:
        res = run([bundle / "cni" / "bin" / plugin], check=False, env={"PATH": "/usr/bin:/bin"})
        assert f"v{RT['cni_plugins']['version']}" in res.stdout + res.stderr, plugin


def image_names(bundle: Path) -> dict:
    names = {}
    for tar_path in sorted((bundle / "images").glob("*.tar")):
        with tarfile.open(tar_path) as tar:
            index = json.loads(tar.extractfile("index.json").read())
        (desc,) = index["manifests"]
        names[desc["annotations"]["io.containerd.image.name"]] = desc["digest"]
    return names


PLUGIN = VERSIONS["nvidia"]["device_plugin"]
PLUGIN_IMAGE = f"{PLUGIN['image']}:v{PLUGIN['version']}"


def test_images_are_exactly_what_kubeadm_lists_and_the_device_plugin(bundle):
    listed = run([bundle / "bin" / "kubeadm", "config", "images", "list", "--kubernetes-version", f"v{K8S}"])
    expected = sorted(line.strip() for line in listed.stdout.splitlines() if line.strip())
    names = image_names(bundle)
    assert sorted(names) == sorted(expected + [PLUGIN_IMAGE])
    assert f"registry.k8s.io/etcd:{REL['etcd_image_tag']}" in names
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert {i["name"]: i["manifest_digest"] for i in manifest["images"]} == names


def test_kube_proxy_image_carries_nft_and_iptables_with_their_libraries(bundle):
    path = next((bundle / "images").glob("kube-proxy_*.tar"))
    with tarfile.open(path) as tar:
        index = json.loads(tar.extractfile("index.json").read())
        manifest = json.loads(tar.extractfile("blobs/sha256/" + index["manifests"][0]["digest"][7:]).read())
        layer = tar.extractfile("blobs/sha256/" + manifest["layers"][0]["digest"][7:])
        with tarfile.open(fileobj=layer) as inner:
            names = set(inner.getnames())
    for want in ("usr/local/bin/kube-proxy", "usr/sbin/nft", "usr/sbin/iptables", "usr/sbin/conntrack",
                 "usr/lib/x86_64-linux-gnu/libc.so.6", "usr/lib64/ld-linux-x86-64.so.2"):
        assert want in names, want
    entry = next(f for f in json.loads((bundle / "manifest.json").read_text())["files"]
                 if f["path"] == str(path.relative_to(bundle)))
    assert "nftables" in entry["debian_packages"] and "libc6" in entry["debian_packages"]
    assert "etc/protocols" in names and "netbase" in entry["debian_packages"]


@pytest.mark.skipif(os.geteuid() != 0, reason="a network namespace and chroot need root")
def test_kube_proxy_images_nft_reads_back_protocols_as_kube_proxy_writes_them(bundle, tmp_path):
    """kube-proxy (nftables mode) lists its maps with the image's nft and deletes every element it does not
    recognise. Without /etc/protocols the image's nft printed `6` where kube-proxy wrote `tcp`: each full
    sync (at start, then hourly) emptied the service maps. Run for real: the image's nft, in a network
    namespace of its own, loads a kube-proxy-shaped map and lists it back."""
    path = next((bundle / "images").glob("kube-proxy_*.tar"))
    root = tmp_path / "rootfs"
    with tarfile.open(path) as tar:
        index = json.loads(tar.extractfile("index.json").read())
        manifest = json.loads(tar.extractfile("blobs/sha256/" + index["manifests"][0]["digest"][7:]).read())
        layer = tar.extractfile("blobs/sha256/" + manifest["layers"][0]["digest"][7:])
        with tarfile.open(fileobj=layer) as inner:
            inner.extractall(root, filter="tar")
    (root / "rules.nft").write_text(
        "table ip t {\n  map service-ips { type ipv4_addr . inet_proto . inet_service : verdict ; }\n"
        "  chain svc { }\n}\n"
        "add element ip t service-ips { 198.18.128.10 . tcp . 53 : goto svc, 198.18.128.10 . udp . 53 : goto svc }\n")
    res = subprocess.run(["unshare", "--net", "sh", "-c",
                          f"chroot {root} /usr/sbin/nft -f /rules.nft && chroot {root} /usr/sbin/nft list map ip t service-ips"],
                         capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr
    assert "198.18.128.10 . tcp . 53" in res.stdout and "198.18.128.10 . udp . 53" in res.stdout, res.stdout


def layer_of(path: Path):
    with tarfile.open(path) as tar:
        index = json.loads(tar.extractfile("index.json").read())
        manifest = json.loads(tar.extractfile("blobs/sha256/" + index["manifests"][0]["digest"][7:]).read())
        config = json.loads(tar.extractfile("blobs/sha256/" + manifest["config"]["digest"][7:]).read())
        layer = tar.extractfile("blobs/sha256/" + manifest["layers"][0]["digest"][7:])
        with tarfile.open(fileobj=layer) as inner:
            return set(inner.getnames()), config


def test_device_plugin_image_runs_the_plugin_with_glibc_and_nvidias_variables(bundle):
    names, config = layer_of(next((bundle / "images").glob("nvidia_k8s-device-plugin_*.tar")))
    for want in ("usr/bin/nvidia-device-plugin", "usr/lib/x86_64-linux-gnu/libc.so.6",
                 "usr/lib64/ld-linux-x86-64.so.2"):
        assert want in names, want
    assert config["config"]["Entrypoint"] == ["/usr/bin/nvidia-device-plugin"]
    assert "NVIDIA_VISIBLE_DEVICES=all" in config["config"]["Env"]
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["version_output"]["nvidia-device-plugin"] == f"NVIDIA Device Plugin version v{PLUGIN['version']}"


def test_second_build_is_a_no_op(bundle):
    before = (bundle / "manifest.json").stat().st_mtime_ns
    t0 = time.monotonic()
    res = run([BUNDLE, "build"])
    assert "is built and verified (no-op)" in res.stderr
    assert Path(res.stdout.strip()) == bundle
    assert (bundle / "manifest.json").stat().st_mtime_ns == before
    print(f"no-op build: {time.monotonic() - t0:.1f} s")


def linked_copy(bundle: Path, dest: Path, corrupt: str | None = None) -> Path:
    """A copy made of symlinks to the real files (cheap), with one real, corrupted file."""
    for src in bundle.rglob("*"):
        if src.is_file():
            target = dest / src.relative_to(bundle)
            target.parent.mkdir(parents=True, exist_ok=True)
            rel = str(src.relative_to(bundle))
            if rel == corrupt:
                data = bytearray(src.read_bytes())
                data[len(data) // 2] ^= 0xFF
                target.write_bytes(bytes(data))
            else:
                target.symlink_to(src)
    return dest


def test_a_corrupted_file_is_named_and_fails_verification(bundle, tmp_path):
    copy = linked_copy(bundle, tmp_path / "b", corrupt="cni/bin/loopback")
    res = run([BUNDLE, "verify", copy], check=False)
    assert res.returncode == 1
    assert "cni/bin/loopback: sha256" in res.stderr and "does not match the manifest's" in res.stderr
    assert "never install from it" in res.stderr
    assert res.stderr.count(": sha256 ") == 1  # only the corrupted one


def test_an_unknown_version_is_refused_and_nothing_is_built(tmp_path):
    versions = yaml.safe_load((ROOT / "versions.yml").read_text())
    versions["container_runtime"]["containerd"]["version"] = "2.2.99"
    vfile = tmp_path / "versions.yml"
    vfile.write_text(yaml.safe_dump(versions))
    cache = tmp_path / "cache"
    env = dict(os.environ, MLOPS_VERSIONS_FILE=str(vfile), MLOPS_CACHE_DIR=str(cache))
    res = run([BUNDLE, "build"], env=env, check=False)
    assert res.returncode == 1
    assert "containerd 2.2.99: no wrapper module" in res.stderr and "nothing was built" in res.stderr
    assert not cache.exists() or not list(cache.rglob("*"))
    res = run([BUNDLE, "build", "--kubernetes", "1.35.99"], env=dict(env, MLOPS_VERSIONS_FILE=str(ROOT / "versions.yml")),
              check=False)
    assert res.returncode == 1 and "Kubernetes 1.35.99 is not among kubernetes.releases" in res.stderr


def test_an_interrupted_build_leaves_nothing_half_built(bundle, tmp_path):
    # A fresh bundle cache that shares Go's caches (so the build gets going
    # in seconds), stopped with SIGTERM while it builds.
    cache = tmp_path / "cache"
    cache.mkdir()
    real_go = bundle.parent.parent / "go"
    (cache / "go").symlink_to(real_go)
    env = dict(os.environ, MLOPS_CACHE_DIR=str(cache))
    proc = subprocess.Popen([str(BUNDLE), "build"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.monotonic() + 120

    def started():
        return (cache / "bundles").is_dir() and list((cache / "bundles").glob(".tmp-*"))

    while not started():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the build never started"
        time.sleep(0.2)
    time.sleep(2)
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted" in err
    left = sorted(p.name for p in (cache / "bundles").iterdir() if p.name != ".lock")
    assert left == [], left
    shutil.rmtree(cache / "bundles")
