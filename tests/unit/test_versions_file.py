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
    for binary in ("kubeadm", "kubelet", "kubectl"):
        sums = k8s["binaries"][binary]
        assert set(sums) >= {"amd64", "arm64"}, binary
        for arch, value in sums.items():
            assert SHA256.match(value), f"{binary}/{arch}: {value!r} is not sha256:<64 hex>"


def test_checksums_are_not_copied_between_entries():
    # A copy-paste slip (the same digest for two binaries) is the classic way
    # a pin file lies.
    k8s = load()["kubernetes"]["binaries"]
    digests = [d for sums in k8s.values() for d in sums.values()]
    assert len(digests) == len(set(digests))


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
