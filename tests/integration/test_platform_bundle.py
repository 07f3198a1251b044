"""The platform bundle (scripts/bundle build --platform, issue 22), built for real: mmdebstrap from Debian's
archive, one builder, recipes as data. make test builds it in the background before pytest starts; here it is
read back: the manifest verifies, each image holds the pinned packages and says so, runs as its recipe's
numeric user, carries no device nodes, and a second build is a no-op."""
from __future__ import annotations

import json
import re
import tarfile

import pytest
import yaml
from bundle_helpers import ROOT, VENV_BIN, built_platform_bundle, run


@pytest.fixture(scope="module")
def bundle():
    return built_platform_bundle()


def test_manifest_verifies_and_lists_every_pinned_image(bundle):
    run([VENV_BIN / "python", ROOT / "scripts" / "bundle.d" / "bundle.py", "verify", bundle])
    manifest = json.loads((bundle / "manifest.json").read_text())
    pins = yaml.safe_load((ROOT / "versions.yml").read_text())["platform"]["images"]
    assert manifest["platform"] is True
    assert {i["key"] for i in manifest["images"]} == set(pins)
    images = [entry for entry in manifest["files"] if "image" in entry]
    assert len(images) == len(pins)
    # The other files are operators' manifests copied from their Go module, each with its origin.
    for entry in manifest["files"]:
        if "image" not in entry:
            assert entry["path"].startswith("manifests/") and "Go module" in entry["origin"], entry
    for entry in images:
        key = next(i["key"] for i in manifest["images"] if i["path"] == entry["path"])
        for package, version in pins[key]["packages"].items():
            assert entry["debian_packages"][package] == version, (key, package)
        assert entry["check_output"], key


def image_config_and_layer(archive):
    with tarfile.open(archive) as tar:
        index = json.load(tar.extractfile("index.json"))
        manifest = json.load(tar.extractfile("blobs/sha256/" + index["manifests"][0]["digest"][7:]))
        config = json.load(tar.extractfile("blobs/sha256/" + manifest["config"]["digest"][7:]))
        layer = tar.extractfile("blobs/sha256/" + manifest["layers"][0]["digest"][7:])
        members, passwd = {}, ""
        with tarfile.open(fileobj=layer, mode="r|") as rootfs:
            for m in rootfs:
                members[m.name.lstrip("./")] = m
                if m.name.lstrip("./") == "etc/passwd":
                    passwd = rootfs.extractfile(m).read().decode()
    return index, config, members, passwd


def test_each_image_runs_as_its_recipes_user_with_its_files_and_no_device_nodes(bundle):
    recipes = yaml.safe_load((ROOT / "scripts" / "bundle.d" / "images.yml").read_text())
    manifest = json.loads((bundle / "manifest.json").read_text())
    for image in manifest["images"]:
        index, config, members, passwd = image_config_and_layer(bundle / image["path"])
        recipe = recipes[image["key"]]
        assert index["manifests"][0]["annotations"]["io.containerd.image.name"] == image["name"]
        assert config["config"]["User"] == recipe["user"]
        assert config["config"]["Entrypoint"] == recipe["entrypoint"]
        assert not [n for n, m in members.items() if m.ischr() or m.isblk()], image["name"]
        for user in recipe.get("users", []):
            # Written before the packages with the recipe's fixed ids; the packages' scripts reused it.
            line = f"{user['name']}:x:{user['uid']}:{user.get('gid', user['uid'])}:"
            assert [entry for entry in passwd.splitlines() if entry.startswith(line)], (image["name"], passwd)
    _index, _config, members, _passwd = image_config_and_layer(bundle / next(
        i["path"] for i in manifest["images"] if i["key"] == "redis"))
    assert "usr/bin/redis-server" in members and "usr/bin/redis-cli" in members
    assert not [n for n in members if n.startswith("usr/share/man/") and not n.endswith("/")]


def test_the_seaweedfs_image_holds_the_weed_binary_built_from_the_pinned_module(bundle):
    """Go binaries of a recipe: built from the wrapper module at the pin, copied in with mode 0755, recorded with
    their module version and hash, and run by the recipe's check (weed version)."""
    pin = yaml.safe_load((ROOT / "versions.yml").read_text())["platform"]["images"]["seaweedfs"]
    manifest = json.loads((bundle / "manifest.json").read_text())
    image = next(i for i in manifest["images"] if i["key"] == "seaweedfs")
    entry = next(f for f in manifest["files"] if f["path"] == image["path"])
    (weed,) = entry["go_binaries"]
    assert (weed["path"], weed["module"], weed["module_version"]) == (
        "/usr/bin/weed", pin["go_module"], pin["go_version"])
    assert re.match(r"^[0-9a-f]{64}$", weed["sha256"])
    # What `weed version` printed in the built root: the pinned release and the module's commit.
    assert f" {pin['version']} {pin['go_version'][-12:]} " in entry["check_output"], entry["check_output"]
    _index, config, members, _passwd = image_config_and_layer(bundle / image["path"])
    assert members["usr/bin/weed"].mode & 0o777 == 0o755 and members["usr/bin/weed"].size > 50 * 2 ** 20
    assert config["config"]["User"] == "1001:1001"


def test_the_mlflow_image_holds_the_locked_python_packages_compiled_by_its_own_python(bundle):
    """Python packages of a recipe: every package of the lock recorded at its version, installed for the image's
    Python (Debian 13's 3.13) under /usr/local, compiled by that Python, scripts started by it; the check imported
    the server's auth app, psycopg2 and boto3."""
    pin = yaml.safe_load((ROOT / "versions.yml").read_text())["platform"]["images"]["mlflow"]
    lock = (ROOT / "scripts" / "bundle.d" / "locks" / "mlflow.txt").read_text()
    manifest = json.loads((bundle / "manifest.json").read_text())
    image = next(i for i in manifest["images"] if i["key"] == "mlflow")
    entry = next(f for f in manifest["files"] if f["path"] == image["path"])
    assert entry["python_packages"]["mlflow"] == pin["version"]
    assert len(entry["python_packages"]) == len(re.findall(r"^[A-Za-z0-9][A-Za-z0-9._-]*==", lock, re.M))
    assert f"version {pin['version']}" in entry["check_output"] and "psycopg2" in entry["check_output"]
    index, config, members, passwd = image_config_and_layer(bundle / image["path"])
    site = "usr/local/lib/python3.13/dist-packages/"
    assert site + "mlflow/__init__.py" in members
    assert site + "mlflow/__pycache__/__init__.cpython-313.pyc" in members
    assert not [n for n in members if n.startswith(site) and ".cpython-312" in n]
    with tarfile.open(bundle / image["path"]) as tar:
        manifest_blob = json.load(tar.extractfile("blobs/sha256/" + index["manifests"][0]["digest"][7:]))
        layer = tar.extractfile("blobs/sha256/" + manifest_blob["layers"][0]["digest"][7:])
        with tarfile.open(fileobj=layer, mode="r|") as rootfs:
            script = next(rootfs.extractfile(m).read() for m in rootfs if m.name.lstrip("./") == "usr/local/bin/mlflow")
    assert script.startswith(b"#!/usr/bin/python3\n"), script[:80]
    assert config["config"]["User"] == "1002:1002"


def test_second_build_is_a_no_op(bundle):
    res = run([ROOT / "scripts" / "bundle", "build", "--platform"], timeout=600)
    assert res.stdout.strip().splitlines()[-1] == str(bundle)
    assert "is built and verified (no-op)" in res.stderr
