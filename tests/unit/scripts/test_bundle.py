"""scripts/bundle: pins -> plan, wrapper modules, the OCI writer, manifest checks (no Go build here).

The build itself runs in tests/integration/test_bundle_build.py.
"""
import copy
import hashlib
import importlib.util
import json
import tarfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
BUNDLE = ROOT / "scripts" / "bundle.d" / "bundle.py"


def _load():
    spec = importlib.util.spec_from_file_location("bundle_script", BUNDLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bundle = _load()


@pytest.fixture
def versions():
    return yaml.safe_load((ROOT / "versions.yml").read_text())


def test_the_pinned_release_and_the_upgrade_release_resolve_with_committed_wrappers(versions):
    for release in (versions["kubernetes"]["version"], versions["kubernetes"]["upgrade_from"]):
        pins = bundle.resolve(versions, release)
        assert pins["kubernetes"] == release
        for comp in bundle.COMPONENTS:
            d = bundle.wrapper_dir(comp, pins[comp])
            text = (d / "go.mod").read_text()
            for module in bundle.COMPONENTS[comp]["modules"]:
                assert f"{module} v{pins[comp]}" in text, (comp, module)
            assert (d / "go.sum").stat().st_size > 0, f"{d}: empty go.sum"


def test_every_committed_wrapper_is_named_after_what_it_requires():
    # Wrappers of the platform images' Go binaries are named by their recipe (scripts/bundle.d/images.yml) and
    # must require the module at versions.yml's go_version (pseudo-versions included).
    recipes = yaml.safe_load((ROOT / "scripts" / "bundle.d" / "images.yml").read_text())
    pins = yaml.safe_load((ROOT / "versions.yml").read_text())["platform"]["images"]
    platform_wrappers = {r["go"]["wrapper"]: pins[k] for k, r in recipes.items() if r.get("go")}
    for d in sorted((ROOT / "scripts" / "bundle.d" / "modules").iterdir()):
        parsed = bundle.parse_go_mod((d / "go.mod").read_text())
        if d.name in platform_wrappers:
            pin = platform_wrappers[d.name]
            assert parsed["require"].get(pin["go_module"]) == pin["go_version"], d.name
            assert not [r for r in parsed["replace"] if "=> ." in r or "=> /" in r], d.name
            continue
        comp, version = d.name.rsplit("-v", 1)
        assert comp in bundle.COMPONENTS, d.name
        for module in bundle.COMPONENTS[comp]["modules"]:
            assert parsed["require"].get(module) == "v" + version, (d.name, module)
        # Wrappers point at modules, never into a source tree of ours or theirs.
        assert not [r for r in parsed["replace"] if "=> ." in r or "=> /" in r], d.name


def test_kubernetes_wrapper_requires_every_staging_module_at_the_matching_version():
    parsed = bundle.parse_go_mod((ROOT / "scripts/bundle.d/modules/kubernetes-v1.35.8/go.mod").read_text())
    staged = {r.split()[0]: r.split()[-1] for r in parsed["replace"]}
    assert staged["k8s.io/api"] == "v0.35.8"
    assert len(staged) == 29 and set(staged.values()) == {"v0.35.8"}
    assert parsed["godebug"] == ["default=go1.25"]


def test_unknown_kubernetes_release_is_refused_naming_it(versions):
    with pytest.raises(bundle.BundleError, match=r"Kubernetes 1\.35\.9 is not among kubernetes.releases"):
        bundle.resolve(versions, "1.35.9")
    bad = copy.deepcopy(versions)
    bad["kubernetes"]["version"] = "1.35"
    with pytest.raises(bundle.BundleError, match="is not MAJOR.MINOR.PATCH"):
        bundle.resolve(bad)


def test_a_pin_without_a_wrapper_module_is_refused_before_anything_builds(versions):
    bad = copy.deepcopy(versions)
    bad["container_runtime"]["containerd"]["version"] = "2.2.8"
    with pytest.raises(bundle.BundleError) as exc:
        bundle.resolve(bad)
    assert "containerd 2.2.8: no wrapper module scripts/bundle.d/modules/containerd-v2.2.8" in str(exc.value)
    assert "scripts/bundle wrap containerd 2.2.8" in str(exc.value)


def test_every_problem_of_a_release_entry_in_one_error(versions):
    bad = copy.deepcopy(versions)
    rel = bad["kubernetes"]["releases"]["1.35.8"]
    rel["etcd"] = "3.6.99"
    rel["etcd_image_tag"] = "3.6.6-0"
    bad["container_runtime"]["crictl"]["version"] = "latest"
    bad["container_runtime"]["cni_plugins"]["plugins"].append("flannel")
    with pytest.raises(bundle.BundleError) as exc:
        bundle.resolve(bad)
    text = str(exc.value)
    assert "etcd_image_tag '3.6.6-0' must be <etcd version>-<n> (etcd is 3.6.99)" in text
    assert "etcd 3.6.99 (named by Kubernetes 1.35.8) has no entry under `etcd:`" in text
    assert "container_runtime.crictl.version: version 'latest'" in text
    assert "cannot build ['flannel']" in text


def test_image_names_are_what_kubeadm_lists(versions):
    refs = bundle.image_refs(bundle.resolve(versions))
    # kubeadm v1.35.8 `config images list` (seen in tests/integration/test_bundle_build.py for real).
    assert sorted(refs) == [
        "registry.k8s.io/coredns/coredns:v1.13.1",
        "registry.k8s.io/etcd:3.6.6-0",
        "registry.k8s.io/kube-apiserver:v1.35.8",
        "registry.k8s.io/kube-controller-manager:v1.35.8",
        "registry.k8s.io/kube-proxy:v1.35.8",
        "registry.k8s.io/kube-scheduler:v1.35.8",
        "registry.k8s.io/pause:3.10.1",
    ]


def test_the_cache_key_follows_every_pin_and_the_toolchain(versions):
    pins = bundle.resolve(versions)
    key = bundle.bundle_key(pins, "go1.26.8")
    assert key == bundle.bundle_key(dict(pins), "go1.26.8")
    assert key != bundle.bundle_key(dict(pins, crictl="1.34.1"), "go1.26.8")
    assert key != bundle.bundle_key(pins, "go1.26.9")
    assert bundle.bundle_name(pins, key).startswith("k8s-v1.35.8-")


def test_cache_lives_outside_the_clone(monkeypatch, tmp_path):
    monkeypatch.delenv("MLOPS_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert bundle.cache_root() == tmp_path / "baremetal-mlops"
    monkeypatch.setenv("MLOPS_CACHE_DIR", "/somewhere")
    assert bundle.cache_root() == Path("/somewhere")


def test_parse_go_mod_reads_blocks_single_lines_and_comments():
    text = """module x

go 1.25.0

godebug default=go1.25

require (
\tk8s.io/api v0.0.0 // indirect
\tgithub.com/a/b v1.2.3
)

require github.com/c/d v0.1.0

replace k8s.io/api => ./staging/src/k8s.io/api

exclude (
\tgithub.com/e/f v1.0.0
)
"""
    parsed = bundle.parse_go_mod(text)
    assert parsed["go"] == "1.25.0"
    assert parsed["godebug"] == ["default=go1.25"]
    assert parsed["require"] == {"k8s.io/api": "v0.0.0", "github.com/a/b": "v1.2.3", "github.com/c/d": "v0.1.0"}
    assert parsed["replace"] == ["k8s.io/api => ./staging/src/k8s.io/api"]
    assert parsed["exclude"] == ["github.com/e/f v1.0.0"]


def test_kubernetes_version_ldflags_stamp_both_version_packages():
    flags = " ".join(bundle.ldflags("kubernetes", "1.35.8", "2026-08-20T15:16:14Z"))
    for pkg in ("k8s.io/client-go/pkg/version", "k8s.io/component-base/version"):
        assert f"-X '{pkg}.gitVersion=v1.35.8'" in flags
        assert f"-X '{pkg}.gitMajor=1'" in flags
        assert f"-X '{pkg}.gitMinor=35'" in flags


def _read_archive(path):
    with tarfile.open(path) as tar:
        names = tar.getnames()
        blobs = {n: tar.extractfile(n).read() for n in names if n.startswith("blobs/")}
        index = json.loads(tar.extractfile("index.json").read())
        layout = json.loads(tar.extractfile("oci-layout").read())
    return names, blobs, index, layout


def test_oci_archive_is_named_and_content_addressed(tmp_path):
    layer = bundle.base_layer()
    layer.file("pause", b"#!/bin/true\n")
    out = tmp_path / "pause.tar"
    digest = bundle.write_oci_archive(out, "registry.k8s.io/pause:3.10.1", layer, ["/pause"], user="65535:65535")
    names, blobs, index, layout = _read_archive(out)
    assert layout == {"imageLayoutVersion": "1.0.0"}
    (desc,) = index["manifests"]
    assert desc["digest"] == digest
    assert desc["annotations"]["io.containerd.image.name"] == "registry.k8s.io/pause:3.10.1"
    assert desc["annotations"]["org.opencontainers.image.ref.name"] == "3.10.1"
    for name, data in blobs.items():  # every blob is stored under its own sha256
        assert name == "blobs/sha256/" + hashlib.sha256(data).hexdigest()
    manifest = json.loads(blobs["blobs/sha256/" + digest[7:]])
    config = json.loads(blobs["blobs/sha256/" + manifest["config"]["digest"][7:]])
    assert config["config"]["Entrypoint"] == ["/pause"] and config["config"]["User"] == "65535:65535"
    layer_blob = blobs["blobs/sha256/" + manifest["layers"][0]["digest"][7:]]
    assert config["rootfs"]["diff_ids"] == ["sha256:" + hashlib.sha256(layer_blob).hexdigest()]
    # Reproducible: the same input gives the same image.
    again = tmp_path / "again.tar"
    layer2 = bundle.base_layer()
    layer2.file("pause", b"#!/bin/true\n")
    assert bundle.write_oci_archive(again, "registry.k8s.io/pause:3.10.1", layer2, ["/pause"],
                                    user="65535:65535") == digest


def test_layers_hold_parent_directories_and_usr_merge_links(tmp_path):
    layer = bundle.base_layer()
    layer.file("usr/local/bin/kube-apiserver", b"x")
    out = tmp_path / "l.tar"
    with open(out, "wb") as fh:
        layer.write_tar(fh)
    with tarfile.open(out) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert members["usr/local/bin"].isdir() and members["usr/local/bin/kube-apiserver"].isfile()
    assert members["lib"].issym() and members["lib"].linkname == "usr/lib"
    assert members["tmp"].mode == 0o1777
    assert {m.uid for m in members.values()} == {0} and {m.mtime for m in members.values()} == {bundle.EPOCH}


def _fake_bundle(tmp_path):
    root = tmp_path / "b"
    (root / "bin").mkdir(parents=True)
    files = []
    for name, data in (("kubeadm", b"kubeadm-binary"), ("runc", b"runc-binary")):
        (root / "bin" / name).write_bytes(data)
        files.append({"path": f"bin/{name}", "sha256": hashlib.sha256(data).hexdigest(), "size": len(data),
                      "component": name, "version": "1", "origin": "test"})
    (root / "manifest.json").write_text(json.dumps({"layout": 1, "files": files}))
    return root


def test_verify_names_the_corrupted_missing_and_unlisted_files(tmp_path):
    root = _fake_bundle(tmp_path)
    assert len(bundle.verify(root)["files"]) == 2
    (root / "bin" / "kubeadm").write_bytes(b"kubeadm-binarz")  # same size, one byte off
    (root / "bin" / "runc").unlink()
    (root / "bin" / "extra").write_bytes(b"?")
    with pytest.raises(bundle.BundleError) as exc:
        bundle.verify(root)
    text = str(exc.value)
    assert "bin/kubeadm: sha256" in text and "does not match the manifest's" in text
    assert "bin/runc: missing" in text
    assert "bin/extra: not in the manifest" in text


def test_verify_refuses_a_directory_without_a_manifest(tmp_path):
    with pytest.raises(bundle.BundleError, match="manifest.json: cannot be read"):
        bundle.verify(tmp_path)
