"""playbooks/bundle.yml's plan: what it downloads and copies, verified against which pin.

Upstream is not reachable from the development machines, so the download
itself never runs here; these tests check what the playbook would fetch and
refuse (the URL templates are upstream's release locations, as
kubernetes-sigs/kubespray's download.yml writes them).
"""
import copy
from pathlib import Path

import pytest
import yaml

from ansible_collections.baremetal.mlops.plugins.filter.bundle import bundle_image_names
from ansible_collections.baremetal.mlops.plugins.module_utils.bundle import plan as bp

ROOT = Path(__file__).resolve().parents[4]


@pytest.fixture
def versions():
    return yaml.safe_load((ROOT / "versions.yml").read_text())


def by_component(plan):
    return {d["component"]: d for d in plan["downloads"]}


def test_plan_of_the_pinned_release_is_complete(versions):
    plan = bp.download_plan(versions)
    assert plan["errors"] == []
    d = by_component(plan)
    assert d["kubeadm"]["url"] == "https://dl.k8s.io/release/v1.35.8/bin/linux/amd64/kubeadm"
    assert d["kubeadm"]["checksum"] == versions["kubernetes"]["releases"]["1.35.8"]["binaries"]["kubeadm"]["amd64"]
    assert d["containerd"]["url"] == ("https://github.com/containerd/containerd/releases/download/v2.2.7/"
                                      "containerd-2.2.7-linux-amd64.tar.gz")
    assert d["runc"]["url"] == "https://github.com/opencontainers/runc/releases/download/v1.4.3/runc.amd64"
    assert d["runc"]["members"] == {"runc.amd64": "bin/runc"}
    assert d["cni_plugins"]["url"].endswith("/v1.9.1/cni-plugins-linux-amd64-v1.9.1.tgz")
    assert sorted(d["cni_plugins"]["members"].values()) == [
        "cni/bin/bridge", "cni/bin/host-local", "cni/bin/loopback", "cni/bin/portmap"]
    assert d["crictl"]["url"].endswith("/v1.34.0/crictl-v1.34.0-linux-amd64.tar.gz")
    assert d["etcdctl"]["members"] == {"etcd-v3.6.6-linux-amd64/etcdctl": "bin/etcdctl",
                                       "etcd-v3.6.6-linux-amd64/etcdutl": "bin/etcdutl"}
    # The same layout scripts/bundle builds: bin/ and cni/bin/.
    dests = sorted(v for e in plan["downloads"] for v in e["members"].values())
    assert dests == sorted(["bin/kubeadm", "bin/kubelet", "bin/kubectl", "bin/containerd",
                            "bin/containerd-shim-runc-v2", "bin/ctr", "bin/runc", "bin/crictl", "bin/etcdctl",
                            "bin/etcdutl",
                            "cni/bin/bridge", "cni/bin/host-local", "cni/bin/loopback", "cni/bin/portmap"])
    for entry in plan["downloads"]:
        assert entry["checksum"].startswith("sha256:") and entry["url"].startswith("https://")


def test_images_are_copied_by_digest_where_pinned_and_listed_where_not(versions):
    plan = bp.download_plan(versions)
    images = {i["name"]: i for i in plan["images"]}
    assert images["registry.k8s.io/pause:3.10.1"]["source"] == (
        "docker://registry.k8s.io/pause@" + versions["pause"]["3.10.1"]["image_digest"])
    assert images["registry.k8s.io/coredns/coredns:v1.13.1"]["source"].startswith(
        "docker://registry.k8s.io/coredns/coredns@sha256:")
    assert sorted(plan["unpinned"]) == [
        "nvcr.io/nvidia/k8s-device-plugin:v0.19.1",
        "registry.k8s.io/etcd:3.6.6-0", "registry.k8s.io/kube-apiserver:v1.35.8",
        "registry.k8s.io/kube-controller-manager:v1.35.8", "registry.k8s.io/kube-proxy:v1.35.8",
        "registry.k8s.io/kube-scheduler:v1.35.8"]
    # The add-on image beside kubeadm's: NVIDIA's, by tag (no digest pinned).
    plugin = images["nvcr.io/nvidia/k8s-device-plugin:v0.19.1"]
    assert plugin["source"] == "docker://nvcr.io/nvidia/k8s-device-plugin:v0.19.1"
    assert plugin["pin"] == "nvidia.device_plugin.image_digest"
    assert plugin["path"] == "images/nvidia_k8s-device-plugin_v0.19.1.tar"
    assert images["registry.k8s.io/etcd:3.6.6-0"]["source"] == "docker://registry.k8s.io/etcd:3.6.6-0"
    assert images["registry.k8s.io/etcd:3.6.6-0"]["pin"] == "etcd.3.6.6.image_digest"
    # Same file names as the bundle built from source.
    assert images["registry.k8s.io/pause:3.10.1"]["path"] == "images/pause_3.10.1.tar"


def test_unknown_release_and_architecture_are_refused(versions):
    plan = bp.download_plan(versions, "1.35.9")
    assert plan["downloads"] == [] and "no entry for Kubernetes '1.35.9'" in plan["errors"][0]
    plan = bp.download_plan(versions, None, "arm64")
    assert any("architecture 'arm64' is not one of them" in e for e in plan["errors"])


def test_a_missing_or_malformed_checksum_names_its_key(versions):
    bad = copy.deepcopy(versions)
    bad["kubernetes"]["releases"]["1.35.8"]["binaries"]["kubelet"]["amd64"] = "sha256:abc"
    del bad["container_runtime"]["crictl"]["archive"]
    bad["pause"]["3.10.1"]["image_digest"] = "latest"
    errors = bp.download_plan(bad)["errors"]
    assert any(e.startswith("kubernetes.releases.1.35.8.binaries.kubelet.amd64: 'sha256:abc'") for e in errors)
    assert any(e.startswith("container_runtime.crictl.archive.amd64: None") for e in errors)
    assert any(e.startswith("pause.3.10.1.image_digest: 'latest'") for e in errors)


def test_the_upgrade_release_plans_too(versions):
    plan = bp.download_plan(versions, versions["kubernetes"]["upgrade_from"])
    assert plan["errors"] == []
    assert by_component(plan)["kubelet"]["url"].endswith("/v1.34.11/bin/linux/amd64/kubelet")
    assert "registry.k8s.io/coredns/coredns:v1.12.1" in plan["unpinned"]


def test_manifest_entries_from_what_was_downloaded(versions):
    plan = bp.download_plan(versions)
    pause = next(i for i in plan["images"] if i["component"] == "pause")
    image = bp.image_entry([pause, {"manifests": [{"digest": "sha256:" + "1" * 64}]}])
    assert image == {"name": pause["name"], "path": pause["path"], "manifest_digest": "sha256:" + "1" * 64,
                     "pinned_digest": pause["digest"]}
    stats = [{"item": "bin/runc", "stat": {"exists": True, "checksum": "ab" * 32, "size": 10}},
             {"item": pause["path"], "stat": {"exists": True, "checksum": "cd" * 32, "size": 20}}]
    files = bp.file_entries(stats, plan, [image])
    assert files[0]["path"] == "bin/runc" and files[0]["version"] == "1.4.3"
    assert "sha256 verified against versions.yml" in files[0]["origin"]
    assert files[1]["image"] == pause["name"] and "copied by the pinned digest" in files[1]["origin"]
    with pytest.raises(ValueError, match="bin/runc is missing"):
        bp.file_entries([{"item": "bin/runc", "stat": {"exists": False}}], plan, [])
    assert bp.pins_of(plan) == {"kubernetes": "1.35.8", "containerd": "2.2.7", "runc": "1.4.3", "cni_plugins": "1.9.1",
                                "crictl": "1.34.0", "etcd": "3.6.6", "etcd_image_tag": "3.6.6-0",
                                "coredns": "1.13.1", "pause": "3.10.1", "nvidia_device_plugin": "0.19.1"}


def test_image_names_of_a_release_are_the_names_kubeadm_lists():
    rel = {"etcd_image_tag": "3.6.6-0", "etcd": "3.6.6", "coredns": "1.13.1", "pause": "3.10.1"}
    assert bundle_image_names(rel, "1.35.8") == [
        "registry.k8s.io/coredns/coredns:v1.13.1", "registry.k8s.io/etcd:3.6.6-0",
        "registry.k8s.io/kube-apiserver:v1.35.8", "registry.k8s.io/kube-controller-manager:v1.35.8",
        "registry.k8s.io/kube-proxy:v1.35.8", "registry.k8s.io/kube-scheduler:v1.35.8", "registry.k8s.io/pause:3.10.1"]
