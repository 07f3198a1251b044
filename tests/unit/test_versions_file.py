"""versions.yml: the one file that pins every component (issue 2)."""
import pathlib
import re

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
SHA256 = re.compile(r"^sha256:[0-9a-f]{64}$")


def load():
    return yaml.safe_load((ROOT / "versions.yml").read_text())


def test_kubernetes_target_is_1_35_with_a_checksum_per_binary_and_arch():
    k8s = load()["kubernetes"]
    assert k8s["version"].startswith("1.35."), k8s["version"]
    assert k8s["minor"] == "1.35"
    # The upgrade tests start one minor below.
    assert k8s["upgrade_from"].startswith("1.34.")
    for release in (k8s["version"], k8s["upgrade_from"]):
        rel = k8s["releases"][release]
        for binary in ("kubeadm", "kubelet", "kubectl"):
            sums = rel["binaries"][binary]
            assert set(sums) >= {"amd64", "arm64"}, binary
            for arch, value in sums.items():
                assert SHA256.match(value), f"{release} {binary}/{arch}: {value!r} is not sha256:<64 hex>"


def _all_digests(node):
    if isinstance(node, dict):
        for value in node.values():
            yield from _all_digests(value)
    elif isinstance(node, str) and SHA256.match(node):
        yield node


def test_checksums_are_not_copied_between_entries():
    # A copy-paste slip (the same digest for two binaries) is the classic way
    # a pin file lies.
    digests = list(_all_digests(load()))
    assert len(digests) > 20
    assert len(digests) == len(set(digests))


def test_every_release_names_what_its_kubeadm_deploys_and_the_runtime_is_pinned():
    data = load()
    for release, rel in data["kubernetes"]["releases"].items():
        assert rel["etcd"] in data["etcd"], release
        assert rel["etcd_image_tag"].startswith(rel["etcd"] + "-"), release
        assert rel["coredns"] in data["coredns"] and rel["pause"] in data["pause"], release
    for comp in ("containerd", "runc", "cni_plugins", "crictl"):
        assert re.match(r"^\d+\.\d+\.\d+$", data["container_runtime"][comp]["version"]), comp


def test_vm_image_pins_suite_and_kernel_series():
    vm = load()["vm_image"]
    assert vm["debian_suite"] == "bookworm"
    assert vm["kernel_package"] == "linux-image-cloud-amd64"
    assert re.match(r"^\d+\.\d+$", str(vm["kernel_series"]))


def test_schema_version_matches_the_kubernetes_minor_and_is_shipped():
    import kubernetes_validate.utils as kvu

    data = load()["kubernetes"]
    assert data["schema_version"].startswith(data["minor"] + ".")
    assert data["schema_version"] in kvu.all_versions()
