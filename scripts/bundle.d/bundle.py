"""bundle: the offline bundle the Kubernetes roles install from, built from source here.

  scripts/bundle build [--kubernetes V] [--force]   build (or reuse) the bundle of a release
  scripts/bundle path [--kubernetes V]              print its directory (exit 1 if not built)
  scripts/bundle verify [DIR | --kubernetes V]      check every file against its manifest
  scripts/bundle list                               cached bundles
  scripts/bundle clean [--all]                      remove bundles no pin refers to
  scripts/bundle wrap COMPONENT VERSION             write the wrapper module of a new pin
  scripts/bundle build --platform / path --platform the platform bundle (scripts/bundle.d/platform.py)

Everything is pinned by versions.yml: the Kubernetes release (default
kubernetes.version) and what it names (etcd, CoreDNS, pause), and the node
runtime (containerd, runc, CNI plugins, crictl). Every Go component is built
from its Go module at the pinned version through a wrapper module committed
under scripts/bundle.d/modules/<component>-v<version>/ (go.mod + go.sum: the
module hashes are fixed there, so a build never trusts the network). The
wrapper only requires the component and repeats its replace and exclude lines
(Kubernetes' staging modules are required at their published versions);
nothing is copied or patched. Images are assembled locally as OCI archives
under the exact names kubeadm lists.

The layout (manifest.json lists every file with its sha256, size, version
and origin):
  bin/       kubeadm kubelet kubectl containerd containerd-shim-runc-v2 ctr
             runc crictl etcdctl etcdutl
  cni/bin/   the CNI plugins versions.yml names
  images/    one OCI archive per image (io.containerd.image.name = its name)

Cache: $MLOPS_CACHE_DIR (default ${XDG_CACHE_HOME:-~/.cache}/baremetal-mlops),
outside any clone: bundles/<k8s-vX>-<key>/ where the key hashes the pins,
this builder and the Go toolchain, plus go/mod and go/build (Go's own
caches). A bundle is built in a temporary directory and renamed into place
only when complete and verified; a second build is a no-op.
"""
from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
VERSIONS_FILE = Path(os.environ.get("MLOPS_VERSIONS_FILE", REPO / "versions.yml"))
MODULES_DIR = HERE / "modules"
PAUSE_DIR = HERE / "pause"
ARCH = "amd64"
VERSION_RE = re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+$")
# Fixed timestamps make the images and layers reproducible.
EPOCH = 1
CREATED = "1970-01-01T00:00:01Z"
K8S_TAGS = "selinux,notest,grpcnotrace"
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _load_lib(name: str):
    """plugins/module_utils/bundle/<name>.py, shared with the collection's module and playbook."""
    import importlib.util
    path = REPO / "plugins" / "module_utils" / "bundle" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"mlops_bundle_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The one manifest reader (the roles use it too) and the one rule for image
# names and file paths (playbooks/bundle.yml's downloaded bundle uses it too).
MANIFEST_LIB = _load_lib("manifest")
PLAN_LIB = _load_lib("plan")


def _platform():
    """scripts/bundle.d/platform.py: the platform images' builder (its recipes are data)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("mlops_bundle_platform", HERE / "platform.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class BundleError(Exception):
    """A problem the user can fix; the message says how."""


def log(msg: str) -> None:
    print(f"[bundle] {msg}", file=sys.stderr, flush=True)


def cache_root() -> Path:
    if os.environ.get("MLOPS_CACHE_DIR"):
        return Path(os.environ["MLOPS_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "baremetal-mlops"


# --------------------------------------------------------------------------
# What each component is and how it builds
# --------------------------------------------------------------------------
# packages: binary name -> Go package; the wrapper requires `modules`.
COMPONENTS = {
    "kubernetes": {
        "modules": ["k8s.io/kubernetes"],
        "packages": {n: f"k8s.io/kubernetes/cmd/{n}" for n in (
            "kubeadm", "kubelet", "kubectl", "kube-apiserver", "kube-controller-manager",
            "kube-scheduler", "kube-proxy")},
        "relative_replaces": "staging",
    },
    "etcd": {
        "modules": ["go.etcd.io/etcd/server/v3", "go.etcd.io/etcd/etcdctl/v3", "go.etcd.io/etcd/etcdutl/v3"],
        # etcdutl: snapshot status and restore (etcdctl 3.6 has only snapshot save).
        "packages": {"etcd": "go.etcd.io/etcd/server/v3", "etcdctl": "go.etcd.io/etcd/etcdctl/v3",
                     "etcdutl": "go.etcd.io/etcd/etcdutl/v3"},
        # server/v3, etcdctl/v3 and etcdutl/v3 replace their siblings (api/v3, client/v3...)
        # with ../ paths; they also require them at the same version, which is
        # what the wrapper resolves to without any replace.
        "relative_replaces": "siblings",
    },
    "containerd": {
        "modules": ["github.com/containerd/containerd/v2"],
        "packages": {"containerd": "github.com/containerd/containerd/v2/cmd/containerd",
                     "containerd-shim-runc-v2": "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2",
                     "ctr": "github.com/containerd/containerd/v2/cmd/ctr"},
    },
    "runc": {
        "modules": ["github.com/opencontainers/runc"],
        "packages": {"runc": "github.com/opencontainers/runc"},
        "cgo": True,
    },
    "cni_plugins": {
        "modules": ["github.com/containernetworking/plugins"],
        "packages": {
            "bridge": "github.com/containernetworking/plugins/plugins/main/bridge",
            "host-local": "github.com/containernetworking/plugins/plugins/ipam/host-local",
            "loopback": "github.com/containernetworking/plugins/plugins/main/loopback",
            "portmap": "github.com/containernetworking/plugins/plugins/meta/portmap",
        },
    },
    "crictl": {
        "modules": ["sigs.k8s.io/cri-tools"],
        "packages": {"crictl": "sigs.k8s.io/cri-tools/cmd/crictl"},
    },
    "coredns": {
        "modules": ["github.com/coredns/coredns"],
        "packages": {"coredns": "github.com/coredns/coredns"},
    },
    # An add-on, not a kubeadm image: scheduled on gpu_workers only
    # (roles/nvidia_device_plugin). CGO: go-nvml dlopens libnvidia-ml at run
    # time (the NVIDIA container toolkit mounts it into the pod on a GPU node).
    "nvidia_device_plugin": {
        "modules": ["github.com/NVIDIA/k8s-device-plugin"],
        "packages": {"nvidia-device-plugin": "github.com/NVIDIA/k8s-device-plugin/cmd/nvidia-device-plugin"},
        "cgo": True,
    },
}


def go_version_of(version: str) -> str:
    return "v" + version


def wrapper_dir(component: str, version: str) -> Path:
    return MODULES_DIR / f"{component}-v{version}"


def ldflags(component: str, version: str, release_time: str) -> list:
    """-X flags that make each binary report the pinned version."""
    v = go_version_of(version)
    if component == "kubernetes":
        major, minor = version.split(".")[:2]
        flags = []
        for pkg in ("k8s.io/client-go/pkg/version", "k8s.io/component-base/version"):
            for key, val in (("gitVersion", v), ("gitMajor", major), ("gitMinor", minor),
                             ("gitCommit", ""), ("gitTreeState", "archive"),
                             ("buildDate", release_time)):
                flags.append(f"-X '{pkg}.{key}={val}'")
        return flags
    if component == "containerd":
        p = "github.com/containerd/containerd/v2/version"
        return [f"-X {p}.Version={v}", f"-X {p}.Package=github.com/containerd/containerd/v2"]
    if component == "cni_plugins":
        return [f"-X github.com/containernetworking/plugins/pkg/utils/buildversion.BuildVersion={v}"]
    if component == "crictl":
        return [f"-X sigs.k8s.io/cri-tools/pkg/version.Version={v}"]
    if component == "nvidia_device_plugin":
        return [f"-X github.com/NVIDIA/k8s-device-plugin/internal/info.version={v}"]
    # etcd, CoreDNS and runc carry their version in their source (a constant,
    # an embedded VERSION file); no commit hash is known for a module version.
    return []


# --------------------------------------------------------------------------
# versions.yml -> the plan of one bundle
# --------------------------------------------------------------------------
def load_versions(path: Path = VERSIONS_FILE) -> dict:
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise BundleError(f"cannot read {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise BundleError(f"{path} is not a mapping")
    return data


def resolve(versions: dict, kubernetes: str | None = None, check_wrappers: bool = True) -> dict:
    """Every pin one bundle needs, validated; all problems in one error."""
    errors = []
    k8s = versions.get("kubernetes") or {}
    release = str(kubernetes or k8s.get("version") or "")
    releases = k8s.get("releases") or {}
    if not VERSION_RE.match(release):
        raise BundleError(f"versions.yml: Kubernetes version {release!r} is not MAJOR.MINOR.PATCH")
    if release not in releases:
        raise BundleError(
            f"versions.yml: Kubernetes {release} is not among kubernetes.releases "
            f"({', '.join(sorted(releases)) or 'none'}): add its entry (etcd, coredns, pause, "
            "binaries) or pin one of those")
    rel = releases[release] or {}
    runtime = versions.get("container_runtime") or {}
    pins = {"kubernetes": release}
    for comp in ("etcd", "coredns", "pause"):
        pins[comp] = str(rel.get(comp, ""))
    pins["etcd_image_tag"] = str(rel.get("etcd_image_tag", ""))
    for comp in ("containerd", "runc", "cni_plugins", "crictl"):
        pins[comp] = str((runtime.get(comp) or {}).get("version", ""))
    pins["nvidia_device_plugin"] = str(((versions.get("nvidia") or {}).get("device_plugin") or {}).get("version", ""))
    for comp, ver in pins.items():
        if comp == "etcd_image_tag":
            if not re.match(r"^[0-9]+\.[0-9]+\.[0-9]+-[0-9]+$", ver) or not ver.startswith(pins["etcd"] + "-"):
                errors.append(f"kubernetes.releases.{release}.etcd_image_tag {ver!r} must be "
                              f"<etcd version>-<n> (etcd is {pins['etcd']})")
            continue
        if not VERSION_RE.match(ver):
            where = (f"kubernetes.releases.{release}.{comp}" if comp in ("etcd", "coredns", "pause")
                     else "kubernetes.version" if comp == "kubernetes"
                     else "nvidia.device_plugin.version" if comp == "nvidia_device_plugin"
                     else f"container_runtime.{comp}.version")
            errors.append(f"{where}: version {ver!r} is not MAJOR.MINOR.PATCH")
    for comp in ("etcd", "coredns", "pause"):
        if pins[comp] and pins[comp] not in (versions.get(comp) or {}):
            errors.append(f"versions.yml: {comp} {pins[comp]} (named by Kubernetes {release}) has no "
                          f"entry under `{comp}:`: add it with its image digest (null if unknown)")
    plugins = (runtime.get("cni_plugins") or {}).get("plugins") or []
    unknown = sorted(set(plugins) - set(COMPONENTS["cni_plugins"]["packages"]))
    if unknown:
        errors.append(f"container_runtime.cni_plugins.plugins: this builder cannot build {unknown}; "
                      f"it knows {sorted(COMPONENTS['cni_plugins']['packages'])}")
    if errors:
        raise BundleError("versions.yml cannot make a bundle:\n  - " + "\n  - ".join(errors))
    if check_wrappers:
        missing = []
        for comp in COMPONENTS:
            d = wrapper_dir(comp, pins[comp])
            if not (d / "go.mod").is_file() or not (d / "go.sum").is_file():
                missing.append(f"{comp} {pins[comp]}: no wrapper module {d.relative_to(REPO)} "
                               f"(run `scripts/bundle wrap {comp} {pins[comp]}` where the Go module "
                               "proxy serves that version, then review and commit it)")
        if missing:
            raise BundleError("versions.yml pins versions this builder has no wrapper module for; "
                              "nothing was built:\n  - " + "\n  - ".join(missing))
    pins["cni_plugin_list"] = sorted(plugins)
    return pins


def image_refs(pins: dict) -> dict:
    """Image name -> the component whose binaries it carries, as kubeadm names them."""
    names = PLAN_LIB.image_names(pins["kubernetes"], pins)
    return {name: comp for name, (comp, _keys, _key) in names.items()}


def file_sha256(path: Path) -> str:
    return MANIFEST_LIB.file_sha256(str(path))


def go_env_version(go: str) -> str:
    res = subprocess.run([go, "env", "GOVERSION"], capture_output=True, text=True, check=False,
                         env=dict(os.environ, GOTOOLCHAIN="local"))
    if res.returncode != 0:
        raise BundleError(f"`{go} env GOVERSION` failed: {res.stderr.strip()}")
    return res.stdout.strip()


def builder_inputs(pins: dict) -> list:
    """Files whose bytes enter the cache key: this script, pause, the used wrappers."""
    files = [Path(__file__).resolve(), PAUSE_DIR / "main.go", PAUSE_DIR / "go.mod"]
    for comp in COMPONENTS:
        d = wrapper_dir(comp, pins[comp])
        files += [d / "go.mod", d / "go.sum"]
    return files


def bundle_key(pins: dict, go_version: str) -> str:
    h = hashlib.sha256()
    h.update(json.dumps({"layout": MANIFEST_LIB.LAYOUT, "arch": ARCH, "pins": pins, "go": go_version},
                        sort_keys=True).encode())
    for f in builder_inputs(pins):
        h.update(str(f.relative_to(REPO)).encode() + b"\0")
        h.update(f.read_bytes() if f.exists() else b"<missing>")
    return h.hexdigest()


def bundle_name(pins: dict, key: str) -> str:
    return f"k8s-v{pins['kubernetes']}-{key[:12]}"


def find_go() -> str:
    go = shutil.which("go") or ("/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists() else None)
    if not go:
        raise BundleError("go not found: install Go 1.26 (the machine image has /usr/local/go)")
    return go


# --------------------------------------------------------------------------
# Go builds
# --------------------------------------------------------------------------
class GoBuilder:
    def __init__(self, cache: Path):
        self.go = find_go()
        self.cache = cache
        self.env = dict(os.environ)
        self.env.update({
            "GOMODCACHE": str(cache / "go" / "mod"),
            "GOCACHE": str(cache / "go" / "build"),
            "GOFLAGS": "-mod=readonly -buildvcs=false -trimpath",
            "GOTOOLCHAIN": "local",
            # Hashes come from the committed go.sum, never from the network.
            "GOSUMDB": "off",
            "CGO_ENABLED": "0",
        })
        self.env.setdefault("GOPROXY", "https://proxy.golang.org")

    def run(self, argv: list, cwd: Path, env: dict | None = None, what: str = "") -> str:
        res = subprocess.run(argv, cwd=cwd, env=env or self.env, capture_output=True, text=True, check=False)
        if res.returncode != 0:
            tail = "\n".join((res.stderr or res.stdout).strip().splitlines()[-25:])
            raise BundleError(f"{what or ' '.join(argv[:3])} failed (rc {res.returncode}) in {cwd}:\n{tail}")
        return res.stdout

    def build(self, component: str, version: str, outdir: Path, release_time: str) -> dict:
        spec = COMPONENTS[component]
        wdir = wrapper_dir(component, version)
        env = dict(self.env)
        tags = []
        extld = []
        if component == "kubernetes":
            tags = K8S_TAGS.split(",")
        elif component == "containerd":
            tags = ["urfave_cli_no_docs"]
        elif component == "nvidia_device_plugin":
            # Upstream's Makefile links the same way: go-nvml's symbols are
            # resolved by dlopen of libnvidia-ml at run time, not at link time.
            env["CGO_ENABLED"] = "1"
            extld = ["'-extldflags=-Wl,--export-dynamic -Wl,--unresolved-symbols=ignore-in-object-files'"]
        elif component == "runc":
            tags = ["seccomp", "urfave_cli_no_docs", "netgo", "osusergo"]
            env["CGO_ENABLED"] = "1"
            extld = ["-extldflags '-static'"]
            if not Path("/usr/include/seccomp.h").exists():
                raise BundleError("runc needs libseccomp's headers and static library: "
                                  "apt-get install libseccomp-dev (scripts/bootstrap does)")
        flags = ["-s", "-w", *ldflags(component, version, release_time), *extld]
        packages = spec["packages"]
        out = {}
        start = time.monotonic()
        for name, pkg in packages.items():
            target = outdir / name
            argv = [self.go, "build", "-o", str(target), "-ldflags", " ".join(flags)]
            # containerd's Makefile builds the shim without gRPC (ttrpc only).
            ptags = tags + (["no_grpc"] if name == "containerd-shim-runc-v2" else [])
            if ptags:
                argv += ["-tags", ",".join(ptags)]
            argv.append(pkg)
            log(f"go build {pkg}@{go_version_of(version)} -> {name}")
            self.run(argv, wdir, env, what=f"go build {pkg} ({component} {version})")
            out[name] = target
        log(f"{component} {version}: {len(out)} binaries in {time.monotonic() - start:.0f} s")
        return out

    def release_time(self, module: str, version: str, cwd: Path) -> str:
        """The module version's publication time (for buildDate), from the module cache."""
        info = self.cache / "go" / "mod" / "cache" / "download" / module.lower() / "@v" / f"{version}.info"
        with contextlib.suppress(OSError, ValueError, KeyError):
            t = json.loads(info.read_text())["Time"]
            return t[:19] + "Z"
        self.run([self.go, "mod", "download", f"{module}@{version}"], cwd, what=f"go mod download {module}")
        with contextlib.suppress(OSError, ValueError, KeyError):
            return json.loads(info.read_text())["Time"][:19] + "Z"
        return CREATED


# --------------------------------------------------------------------------
# OCI image archives
# --------------------------------------------------------------------------
class Layer:
    """Files of one image layer: path in the image -> (kind, source/target, mode)."""

    def __init__(self):
        self.entries = {}

    def dir(self, path: str, mode: int = 0o755):
        path = path.strip("/")
        parts = path.split("/")
        for i in range(1, len(parts) + 1):
            p = "/".join(parts[:i])
            if p and p not in self.entries:
                self.entries[p] = ("dir", None, mode if i == len(parts) else 0o755)

    def file(self, path: str, source, mode: int = 0o755):
        path = path.strip("/")
        self.dir(os.path.dirname(path))
        self.entries[path] = ("file", source, mode)

    def symlink(self, path: str, target: str):
        path = path.strip("/")
        self.dir(os.path.dirname(path))
        self.entries[path] = ("symlink", target, 0o777)

    def write_tar(self, out) -> None:
        with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for path in sorted(self.entries):
                kind, src, mode = self.entries[path]
                info = tarfile.TarInfo(path)
                info.mtime, info.uid, info.gid, info.uname, info.gname = EPOCH, 0, 0, "", ""
                info.mode = mode
                if kind == "dir":
                    info.type = tarfile.DIRTYPE
                    tar.addfile(info)
                elif kind == "symlink":
                    info.type, info.linkname = tarfile.SYMTYPE, src
                    tar.addfile(info)
                elif isinstance(src, bytes):
                    info.size = len(src)
                    tar.addfile(info, io.BytesIO(src))
                else:
                    info.size = Path(src).stat().st_size
                    with open(src, "rb") as fh:
                        tar.addfile(info, fh)


def base_layer() -> Layer:
    """What every image has: a usr-merged skeleton, root and nobody, /tmp."""
    layer = Layer()
    for d in ("usr/bin", "usr/sbin", "usr/local/bin", "usr/lib", "usr/lib64", "etc", "var", "run", "root"):
        layer.dir(d)
    layer.dir("tmp", 0o1777)
    for link, target in (("bin", "usr/bin"), ("sbin", "usr/sbin"), ("lib", "usr/lib"), ("lib64", "usr/lib64")):
        layer.symlink(link, target)
    layer.file("etc/passwd", b"root:x:0:0:root:/root:/sbin/nologin\n"
                             b"nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n", 0o644)
    layer.file("etc/group", b"root:x:0:\nnogroup:x:65534:\n", 0o644)
    layer.file("etc/nsswitch.conf", b"hosts: files dns\n", 0o644)
    return layer


def add_with_libraries(layer: Layer, binaries: list) -> set:
    """Copy host binaries and every shared library `ldd` names; return their files."""
    files = set()

    def add(host_path: str):
        real = os.path.realpath(host_path)
        layer.file(real, real, 0o755)
        files.add(real)
        seen = os.path.join(os.path.realpath(os.path.dirname(host_path)), os.path.basename(host_path))
        if seen != real:
            layer.symlink(seen, os.path.relpath(real, os.path.dirname(seen)))
        return real

    todo = list(binaries)
    done = set()
    while todo:
        path = todo.pop()
        if path in done:
            continue
        done.add(path)
        add(path)
        todo += linked_libraries(path)
    return files


def linked_libraries(path: str) -> list:
    """The shared libraries `ldd` says a binary loads (none for a static one)."""
    res = subprocess.run(["ldd", path], capture_output=True, text=True, check=False)
    libs = []
    for line in res.stdout.splitlines():
        m = re.search(r"=>\s+(/\S+)", line) or re.match(r"\s*(/\S+)\s+\(", line)
        if m:
            libs.append(m.group(1))
    return libs


def debian_packages_of(files: set) -> dict:
    """package -> version for the Debian packages that own these files."""
    owners = {}
    for f in sorted(files):
        candidates = {f, f.replace("/usr/lib/", "/lib/", 1), f.replace("/usr/sbin/", "/sbin/", 1),
                      f.replace("/usr/bin/", "/bin/", 1)}
        for c in candidates:
            res = subprocess.run(["dpkg", "-S", c], capture_output=True, text=True, check=False)
            if res.returncode == 0:
                for pkg in res.stdout.split(":", 1)[0].split(","):
                    owners[pkg.strip()] = None
                break
    for pkg in owners:
        res = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", pkg], capture_output=True, text=True,
                             check=False)
        owners[pkg] = res.stdout.strip()
    return dict(sorted(owners.items()))


def write_oci_archive(out: Path, ref: str, layer: Layer, entrypoint: list, user: str = "0",
                      env: list | None = None, workdir: str = "/") -> str:
    """Write a one-layer OCI image archive; return its manifest digest."""
    with tempfile.TemporaryFile(dir=out.parent) as raw:
        layer.write_tar(raw)
        return write_oci_from_layer(out, ref, raw, entrypoint, user=user, env=env, workdir=workdir)


def write_oci_from_layer(out: Path, ref: str, raw, entrypoint: list, user: str = "0", env: list | None = None,
                         workdir: str = "/", cmd: list | None = None,
                         created_by: str = "baremetal.mlops scripts/bundle: built from source here") -> str:
    """Write a one-layer OCI image archive whose layer is the tar in the open file `raw`; return its digest."""
    raw.seek(0)
    h = hashlib.sha256()
    size = 0
    for chunk in iter(lambda: raw.read(1 << 20), b""):
        h.update(chunk)
        size += len(chunk)
    layer_digest = "sha256:" + h.hexdigest()
    config = {
        "created": CREATED, "architecture": ARCH, "os": "linux",
        "config": {"Env": env or [PATH_ENV], "Entrypoint": entrypoint, "User": user, "WorkingDir": workdir,
                   **({"Cmd": cmd} if cmd else {})},
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
        "history": [{"created": CREATED, "created_by": created_by}],
    }
    config_bytes = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
    config_digest = "sha256:" + hashlib.sha256(config_bytes).hexdigest()
    manifest = {
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": config_digest, "size": len(config_bytes)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest,
                    "size": size}],
    }
    manifest_bytes = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
    manifest_digest = "sha256:" + hashlib.sha256(manifest_bytes).hexdigest()
    index = {
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest_digest,
            "size": len(manifest_bytes), "platform": {"architecture": ARCH, "os": "linux"},
            "annotations": {"io.containerd.image.name": ref,
                            "org.opencontainers.image.ref.name": ref.rsplit(":", 1)[1]},
        }],
    }

    def blob(tar, name, data=None, fileobj=None, length=None):
        info = tarfile.TarInfo(name)
        info.mtime, info.mode = EPOCH, 0o644
        info.size = len(data) if data is not None else length
        tar.addfile(info, io.BytesIO(data) if data is not None else fileobj)

    raw.seek(0)
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tar:
        blob(tar, "oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode())
        blob(tar, "index.json", json.dumps(index, sort_keys=True).encode())
        blob(tar, f"blobs/sha256/{layer_digest[7:]}", fileobj=raw, length=size)
        blob(tar, f"blobs/sha256/{config_digest[7:]}", config_bytes)
        blob(tar, f"blobs/sha256/{manifest_digest[7:]}", manifest_bytes)
    return manifest_digest


# --------------------------------------------------------------------------
# Build, verify
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


def verify(bundle: Path) -> dict:
    """Check every file against manifest.json; raise naming each file that differs."""
    try:
        return MANIFEST_LIB.verify_bundle(str(bundle))
    except MANIFEST_LIB.BundleInvalid as exc:
        raise BundleError(str(exc)) from exc


def check_versions(bindir: Path, cnidir: Path, pins: dict) -> dict:
    """Run each binary's version command; return name -> output; raise on a mismatch."""
    kv = go_version_of(pins["kubernetes"])
    expect = {
        "kubeadm": (["version", "-o", "short"], kv),
        "kubelet": (["--version"], f"Kubernetes {kv}"),
        "kubectl": (["version", "--client"], f"Client Version: {kv}"),
        "kube-apiserver": (["--version"], f"Kubernetes {kv}"),
        "kube-controller-manager": (["--version"], f"Kubernetes {kv}"),
        "kube-scheduler": (["--version"], f"Kubernetes {kv}"),
        "kube-proxy": (["--version"], f"Kubernetes {kv}"),
        "etcd": (["--version"], f"etcd Version: {pins['etcd']}"),
        "etcdctl": (["version"], f"etcdctl version: {pins['etcd']}"),
        "etcdutl": (["version"], f"etcdutl version: {pins['etcd']}"),
        "containerd": (["--version"], f"containerd/v2 v{pins['containerd']}"),
        "ctr": (["--version"], f" v{pins['containerd']}"),
        "containerd-shim-runc-v2": (["-v"], f"v{pins['containerd']}"),
        "runc": (["--version"], f"runc version {pins['runc']}"),
        "crictl": (["--version"], f"crictl version v{pins['crictl']}"),
        "coredns": (["-version"], f"CoreDNS-{pins['coredns']}"),
        "pause": (["-v"], f"pause.go {pins['pause']}"),
        "nvidia-device-plugin": (["--version"], f"v{pins['nvidia_device_plugin']}"),
    }
    seen, problems = {}, []
    for name, (args, want) in expect.items():
        res = subprocess.run([str(bindir / name), *args], capture_output=True, text=True, check=False, timeout=60)
        out = (res.stdout + res.stderr).strip()
        seen[name] = out.splitlines()[0] if out else ""
        if want not in out:
            problems.append(f"{name} {' '.join(args)} printed {out[:200]!r}, expected it to contain {want!r}")
    for plugin in pins["cni_plugin_list"]:
        res = subprocess.run([str(cnidir / plugin)], capture_output=True, text=True, check=False, timeout=30,
                             env={"PATH": "/usr/bin:/bin"})
        out = (res.stdout + res.stderr).strip()
        seen[plugin] = out.splitlines()[0] if out else ""
        if f"v{pins['cni_plugins']}" not in out:
            problems.append(f"CNI plugin {plugin} printed {out[:200]!r}, expected v{pins['cni_plugins']}")
    if problems:
        raise BundleError("built binaries do not report the pinned versions:\n  - " + "\n  - ".join(problems))
    return seen


def kubeadm_image_list(kubeadm: Path, version: str) -> list:
    res = subprocess.run([str(kubeadm), "config", "images", "list", "--kubernetes-version", version],
                         capture_output=True, text=True, check=False, timeout=120)
    if res.returncode != 0:
        raise BundleError(f"kubeadm config images list failed: {res.stderr.strip()}")
    return sorted(line.strip() for line in res.stdout.splitlines() if line.strip())


def build(pins: dict, force: bool = False) -> Path:
    cache = cache_root()
    builder = GoBuilder(cache)
    go_version = go_env_version(builder.go)
    key = bundle_key(pins, go_version)
    bundles = cache / "bundles"
    final = bundles / bundle_name(pins, key)
    with locked(bundles / ".lock"):
        for stale in bundles.glob(".tmp-*"):
            log(f"removing an unfinished build {stale}")
            shutil.rmtree(stale, ignore_errors=True)
        if final.is_dir() and not force:
            verify(final)
            log(f"bundle {final.name} is built and verified (no-op)")
            return final
        tmp = bundles / f".tmp-{final.name}-{os.getpid()}"
        start = time.monotonic()
        try:
            _build_into(tmp, pins, builder, go_version, key)
            verify(tmp)
            shutil.rmtree(final, ignore_errors=True)
            tmp.rename(final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        log(f"bundle {final.name} built in {time.monotonic() - start:.0f} s: {final}")
    return final


def _build_into(tmp: Path, pins: dict, builder: GoBuilder, go_version: str, key: str) -> None:
    work = tmp / ".work"
    bindir, cnidir, imgdir = tmp / "bin", tmp / "cni" / "bin", tmp / "images"
    for d in (work, bindir, cnidir, imgdir):
        d.mkdir(parents=True)
    built = {}   # binary name -> (path, component)
    origins = {}
    for comp in COMPONENTS:
        version = pins[comp]
        module = COMPONENTS[comp]["modules"][0]
        rtime = builder.release_time(module, go_version_of(version), wrapper_dir(comp, version))
        out = builder.build(comp, version, work, rtime)
        for name, path in out.items():
            built[name] = (path, comp)
            pkg = COMPONENTS[comp]["packages"][name]
            origins[name] = (f"built from source here: Go package {pkg} of module "
                             f"{module}@{go_version_of(version)} (wrapper "
                             f"{wrapper_dir(comp, version).relative_to(REPO)}), {go_version}")
    # pause: our own, see scripts/bundle.d/pause/main.go
    env = dict(builder.env, GOFLAGS="-mod=mod -buildvcs=false -trimpath")
    builder.run([builder.go, "build", "-o", str(work / "pause"), "-ldflags",
                 f"-s -w -X main.version={pins['pause']}", "."], PAUSE_DIR, env, what="go build pause")
    built["pause"] = (work / "pause", "pause")
    origins["pause"] = (f"built from source here: baremetal.mlops's own pause (scripts/bundle.d/pause, Go), "
                        f"not upstream's C pause; {go_version}")

    files = []

    def add(rel: str, src: Path, component: str, version: str, origin: str, extra: dict | None = None):
        dest = tmp / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        if src != dest:
            shutil.copy2(src, dest)
        files.append({"path": rel, "sha256": file_sha256(dest), "size": dest.stat().st_size,
                      "component": component, "version": version, "origin": origin, **(extra or {})})

    for name in ("kubeadm", "kubelet", "kubectl", "containerd", "containerd-shim-runc-v2", "ctr", "runc",
                 "crictl", "etcdctl", "etcdutl"):
        path, comp = built[name]
        add(f"bin/{name}", path, name, pins[comp], origins[name])
    for plugin in pins["cni_plugin_list"]:
        path, comp = built[plugin]
        add(f"cni/bin/{plugin}", path, f"cni-plugin-{plugin}", pins[comp], origins[plugin])

    seen_versions = check_versions(work, work, pins)

    # Images, under the names kubeadm lists.
    refs = image_refs(pins)
    listed = kubeadm_image_list(work / "kubeadm", go_version_of(pins["kubernetes"]))
    if sorted(refs) != listed:
        raise BundleError("the images this builder makes are not the ones kubeadm "
                          f"{pins['kubernetes']} lists:\n  builder: {sorted(refs)}\n  kubeadm: {listed}\n"
                          "Fix: the release entry in versions.yml (etcd, etcd_image_tag, coredns, pause) "
                          "must be what this kubeadm expects")
    images = []
    for ref, what in sorted(refs.items()):
        layer = base_layer()
        contents = {}
        user, entry = "0", None
        if what in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy"):
            layer.file(f"usr/local/bin/{what}", str(built[what][0]))
            entry = [f"/usr/local/bin/{what}"]
            if what == "kube-proxy":
                userland = ["/usr/sbin/nft", "/usr/sbin/xtables-nft-multi", "/usr/sbin/conntrack"]
                missing = [b for b in userland + ["/etc/protocols"] if not Path(b).exists()]
                if missing:
                    raise BundleError(f"kube-proxy's image needs {missing} from Debian: "
                                      "apt-get install nftables iptables conntrack netbase (scripts/bootstrap does)")
                libs = add_with_libraries(layer, userland)
                # nft names protocols through /etc/protocols: without it, it lists map keys as `6`
                # where kube-proxy wrote `tcp`, and kube-proxy's full sync (at start, then hourly)
                # deletes every element it reads back as a leftover - Services stop answering.
                layer.file("etc/protocols", "/etc/protocols", 0o644)
                libs.add("/etc/protocols")
                xt = Path("/usr/lib/x86_64-linux-gnu/xtables")
                exts = [str(p) for p in sorted(xt.glob("*.so"))]
                libs |= add_with_libraries(layer, exts)
                for tool in ("iptables", "iptables-save", "iptables-restore", "ip6tables", "ip6tables-save",
                             "ip6tables-restore"):
                    layer.symlink(f"usr/sbin/{tool}", "xtables-nft-multi")
                contents = {"debian_packages": debian_packages_of(libs)}
        elif what == "etcd":
            layer.file("usr/local/bin/etcd", str(built["etcd"][0]))
            layer.file("usr/local/bin/etcdctl", str(built["etcdctl"][0]))
            layer.file("usr/local/bin/etcdutl", str(built["etcdutl"][0]))
            layer.dir("var/lib/etcd", 0o700)
            entry = ["/usr/local/bin/etcd"]
        elif what == "coredns":
            layer.file("coredns", str(built["coredns"][0]))
            entry = ["/coredns"]
        elif what == "pause":
            layer.file("pause", str(built["pause"][0]))
            entry, user = ["/pause"], "65535:65535"
        out = imgdir.parent / PLAN_LIB.image_file(ref)
        digest = write_oci_archive(out, ref, layer, entry, user=user)
        comp = {"etcd": "etcd", "coredns": "coredns", "pause": "pause"}.get(what, "kubernetes")
        version = pins[comp] if comp != "etcd" else pins["etcd_image_tag"]
        binaries = [n for n in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy",
                                "etcd", "etcdctl", "etcdutl", "coredns", "pause") if layer.entries.get(
                                    f"usr/local/bin/{n}") or (n in ("coredns", "pause") and what == n)]
        files.append({"path": str(out.relative_to(tmp)), "sha256": file_sha256(out), "size": out.stat().st_size,
                      "component": f"image {ref}", "version": version,
                      "origin": "assembled here (OCI archive, one layer) from binaries built from source here: "
                                + "; ".join(origins[b] for b in binaries if b in origins),
                      "image": ref, "manifest_digest": digest, **contents})
        images.append({"name": ref, "path": str(out.relative_to(tmp)), "manifest_digest": digest})
    for ref, (what, _keys, _key) in sorted(PLAN_LIB.addon_image_names(load_versions()).items()):
        if what != "nvidia-device-plugin":
            raise BundleError(f"this builder cannot assemble the add-on image {ref} ({what})")
        layer = base_layer()
        # The binary is linked against glibc (CGO): take it and the libraries
        # ldd names from the machine that built it, like kube-proxy's tools.
        target = "/usr/bin/nvidia-device-plugin"
        binary = str(built["nvidia-device-plugin"][0])
        layer.file(target.lstrip("/"), binary)
        libs = add_with_libraries(layer, linked_libraries(binary))
        out = imgdir.parent / PLAN_LIB.image_file(ref)
        digest = write_oci_archive(
            out, ref, layer, [target],
            # The variables NVIDIA's image sets: the container toolkit on a GPU
            # node mounts the driver's libraries (libnvidia-ml) into the pod.
            env=[PATH_ENV, "NVIDIA_VISIBLE_DEVICES=all", "NVIDIA_DRIVER_CAPABILITIES=compute,utility",
                 "NVIDIA_DISABLE_REQUIRE=true"])
        files.append({"path": str(out.relative_to(tmp)), "sha256": file_sha256(out), "size": out.stat().st_size,
                      "component": f"image {ref}", "version": pins["nvidia_device_plugin"],
                      "origin": "assembled here (OCI archive, one layer) from " + origins["nvidia-device-plugin"]
                                + "; glibc from this machine's Debian packages",
                      "image": ref, "manifest_digest": digest, "debian_packages": debian_packages_of(libs)})
        images.append({"name": ref, "path": str(out.relative_to(tmp)), "manifest_digest": digest})
    shutil.rmtree(work)
    manifest = {
        "layout": MANIFEST_LIB.LAYOUT,
        "kubernetes": pins["kubernetes"],
        "architecture": ARCH,
        "source": "built from source here by scripts/bundle (baremetal.mlops); these checksums and image "
                  "digests are this build's, NOT upstream's release files or registry digests",
        "key": key,
        "pins": pins,
        "builder": {"go": go_version, "script": "scripts/bundle.d/bundle.py"},
        "version_output": seen_versions,
        "images": images,
        "files": sorted(files, key=lambda f: f["path"]),
    }
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


# --------------------------------------------------------------------------
# Wrapper modules (needs the Go module proxy)
# --------------------------------------------------------------------------
def parse_go_mod(text: str) -> dict:
    """The directives of a go.mod that a wrapper repeats."""
    out = {"go": None, "godebug": [], "replace": [], "exclude": [], "require": {}}
    block = None
    for raw in text.splitlines():
        line = raw.split("//", 1)[0].strip()
        if not line:
            continue
        if block:
            if line == ")":
                block = None
                continue
            words = [block, *line.split()]
        else:
            words = line.split()
            if len(words) >= 2 and words[-1] == "(":
                block = words[0]
                continue
        kind, rest = words[0], words[1:]
        if kind == "go" and rest:
            out["go"] = rest[0]
        elif kind == "godebug":
            out["godebug"].append(" ".join(rest))
        elif kind == "replace":
            out["replace"].append(" ".join(rest))
        elif kind == "exclude":
            out["exclude"].append(" ".join(rest))
        elif kind == "require" and len(rest) >= 2:
            out["require"][rest[0]] = rest[1]
    return out


def wrap(component: str, version: str) -> Path:
    if component not in COMPONENTS:
        raise BundleError(f"unknown component {component!r}: one of {sorted(COMPONENTS)}")
    if not VERSION_RE.match(version):
        raise BundleError(f"version {version!r} is not MAJOR.MINOR.PATCH")
    spec = COMPONENTS[component]
    cache = cache_root()
    builder = GoBuilder(cache)
    gv = go_version_of(version)
    target = wrapper_dir(component, version)
    with tempfile.TemporaryDirectory() as scratch:
        env = dict(builder.env, GOFLAGS="-mod=mod -buildvcs=false")
        mods = []
        for module in spec["modules"]:
            out = builder.run([builder.go, "mod", "download", "-json", f"{module}@{gv}"], Path(scratch), env,
                              what=f"go mod download {module}@{gv} (is this version served by the proxy?)")
            mods.append(parse_go_mod(Path(json.loads(out)["GoMod"]).read_text()))
        lines = [f"// Wrapper module: builds {component} {version} from its Go module(s)",
                 "// unmodified (scripts/bundle.d/bundle.py). Written by `scripts/bundle wrap`.",
                 f"module baremetal.mlops/bundle/{component}", ""]
        gos = [m["go"] for m in mods if m["go"]]
        lines.append(f"go {max(gos, key=lambda v: [int(x) for x in v.split('.')]) if gos else '1.25.0'}")
        for d in mods[0]["godebug"]:
            lines.append(f"godebug {d}")
        lines += ["", "require ("] + [f"\t{m} {gv}" for m in spec["modules"]] + [")"]
        replaces, excludes = [], []
        for mod in mods:
            for rep in mod["replace"]:
                left, right = [s.strip() for s in rep.split("=>")]
                if right.startswith("."):
                    if spec.get("relative_replaces") == "staging" and right.startswith("./staging/src/"):
                        name = left.split()[0]
                        staged = "v0." + ".".join(version.split(".")[1:])
                        if name in mod["require"]:
                            replaces.append(f"{name} => {name} {staged}")
                        continue
                    if spec.get("relative_replaces") == "siblings":
                        continue
                    raise BundleError(f"{component} {version}: replace {rep!r} points into its own source "
                                      "tree; this builder does not know how to map it to a module")
                replaces.append(rep)
            excludes += mod["exclude"]
        if replaces:
            lines += ["", "replace ("] + [f"\t{r}" for r in sorted(set(replaces))] + [")"]
        if excludes:
            lines += ["", "exclude ("] + [f"\t{e}" for e in sorted(set(excludes))] + [")"]
        target.mkdir(parents=True, exist_ok=True)
        (target / "go.mod").write_text("\n".join(lines) + "\n")
        (target / "go.sum").touch()
        list_env = dict(env)
        tags = K8S_TAGS if component == "kubernetes" else ""
        if spec.get("cgo"):
            list_env["CGO_ENABLED"] = "1"
        if component == "runc":
            tags = "seccomp,urfave_cli_no_docs,netgo,osusergo"
        argv = [builder.go, "list", "-deps"] + (["-tags", tags] if tags else []) + list(spec["packages"].values())
        builder.run(argv, target, list_env, what=f"go list -deps ({component} {version})")
    log(f"wrote {target.relative_to(REPO)}: review go.mod and commit both files")
    return target


# --------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------
def cmd_build(args) -> int:
    if args.platform:
        print(_platform().build(sys.modules[__name__], force=args.force))
        return 0
    pins = resolve(load_versions(), args.kubernetes)
    path = build(pins, force=args.force)
    print(path)
    return 0


def current_path(kubernetes: str | None) -> Path:
    pins = resolve(load_versions(), kubernetes)
    key = bundle_key(pins, go_env_version(find_go()))
    return cache_root() / "bundles" / bundle_name(pins, key)


def cmd_path(args) -> int:
    if args.platform:
        path = _platform().bundle_dir(sys.modules[__name__], load_versions())[0]
        if not (path / "manifest.json").is_file():
            raise BundleError(f"platform bundle {path.name} is not built: run scripts/bundle build --platform")
        print(path)
        return 0
    path = current_path(args.kubernetes)
    if not (path / "manifest.json").is_file():
        raise BundleError(f"bundle {path.name} is not built: run scripts/bundle build"
                          + (f" --kubernetes {args.kubernetes}" if args.kubernetes else ""))
    print(path)
    return 0


def cmd_verify(args) -> int:
    path = Path(args.dir) if args.dir else current_path(args.kubernetes)
    manifest = verify(path)
    what = f"Kubernetes {manifest['kubernetes']}" if "kubernetes" in manifest else "the platform images"
    log(f"bundle {path}: {len(manifest['files'])} files match manifest.json ({what})")
    return 0


def cmd_list(args) -> int:
    bundles = cache_root() / "bundles"
    for d in sorted([*bundles.glob("k8s-*"), *bundles.glob("platform-*")]) if bundles.is_dir() else []:
        size = sum(p.stat().st_size for p in d.rglob("*") if p.is_file())
        print(f"{d}  {size / 2**20:.0f} MiB")
    return 0


def cmd_clean(args) -> int:
    bundles = cache_root() / "bundles"
    if not bundles.is_dir():
        return 0
    keep = set()
    if not args.all:
        versions = load_versions()
        k8s = versions.get("kubernetes") or {}
        for release in {k8s.get("version"), k8s.get("upgrade_from")} - {None}:
            with contextlib.suppress(BundleError):
                keep.add(current_path(str(release)).name)
        with contextlib.suppress(BundleError):
            keep.add(_platform().bundle_dir(sys.modules[__name__], versions)[0].name)
    with locked(bundles / ".lock"):
        for d in sorted(bundles.iterdir()):
            if d.is_dir() and d.name not in keep:
                log(f"removing {d}")
                shutil.rmtree(d, ignore_errors=True)
    return 0


def cmd_wrap(args) -> int:
    wrap(args.component, args.version)
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="bundle", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("build", help="build the bundle (a no-op when it is cached)")
    p.add_argument("--kubernetes", help="release (default kubernetes.version of versions.yml)")
    p.add_argument("--force", action="store_true", help="rebuild even if cached")
    p.add_argument("--platform", action="store_true", help="the platform bundle (images of the platform roles)")
    p.set_defaults(func=cmd_build)
    p = sub.add_parser("path", help="print the bundle's directory")
    p.add_argument("--kubernetes")
    p.add_argument("--platform", action="store_true", help="the platform bundle's directory")
    p.set_defaults(func=cmd_path)
    p = sub.add_parser("verify", help="check every file of a bundle against its manifest")
    p.add_argument("dir", nargs="?")
    p.add_argument("--kubernetes")
    p.set_defaults(func=cmd_verify)
    p = sub.add_parser("list", help="cached bundles")
    p.set_defaults(func=cmd_list)
    p = sub.add_parser("clean", help="remove cached bundles that versions.yml no longer pins")
    p.add_argument("--all", action="store_true")
    p.set_defaults(func=cmd_clean)
    p = sub.add_parser("wrap", help="write the wrapper module for a component version (needs the Go proxy)")
    p.add_argument("component", choices=sorted(COMPONENTS))
    p.add_argument("version")
    p.set_defaults(func=cmd_wrap)
    args = parser.parse_args(argv)

    def on_sigterm(signum, frame):
        raise KeyboardInterrupt  # unwinds like Ctrl-C: a build removes its temporary directory

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        return args.func(args)
    except BundleError as exc:
        print(f"bundle: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bundle: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
