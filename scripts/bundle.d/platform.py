"""The platform bundle: the images the platform roles run, built here from recipes that are data.

  scripts/bundle build --platform     build (or reuse) the platform bundle
  scripts/bundle path --platform      print its directory (exit 1 if not built)

versions.yml `platform.images` pins each image (its version, the Debian suite
and the exact version of every package named); scripts/bundle.d/images.yml
holds each image's recipe (base, users, default user, entrypoint, a check).
This file is the one builder: for a `debian` recipe it runs mmdebstrap (the
essential variant of the suite plus the pinned packages; apt verifies each
package against the archive's signed Release file), adds the recipe's Go
binaries (built here from their Go module at the pin, through a wrapper
module under scripts/bundle.d/modules/ whose go.sum holds every hash; the
same Go environment as the Kubernetes bundle: CGO off, -trimpath, no network
for hashes), checks that the packages installed are the pinned versions and
adds the recipe's Python packages (a lock under scripts/bundle.d/locks/,
every package pinned with its hashes, made by `scripts/bundle lock NAME`:
uv installs the wheels for the image's Python, from Debian's python3 pin,
into /usr/local on this machine, hashes required; the image's own Python
compiles them), checks that the packages installed are the pinned versions
and that the image's check command runs, and writes the root file system as
the one layer of an OCI archive (scripts/bundle.d/bundle.py's writer, the
same as the Kubernetes images). The manifest records every Debian package
and version each image holds, and every Python package.

Cache: <cache>/bundles/platform-<key>/ (same layout and manifest format as a
Kubernetes bundle: images/ and manifest.json), where the key hashes the pins,
the recipes and this builder; built in a temporary directory and renamed into
place only when complete and verified; a second build is a no-op.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
RECIPES_FILE = HERE / "images.yml"
RECIPE_KEYS = {"name", "base", "users", "user", "entrypoint", "cmd", "workdir", "dirs", "check", "expect", "go",
               "env", "files", "links", "python"}
MODULES_DIR = HERE / "modules"
LOCKS_DIR = HERE / "locks"
# Wheels for the image's Python and glibc (Debian 12: 2.36, 13: 2.41; 2.28 is what most wheels target).
PYTHON_PLATFORM = "x86_64-manylinux_2_28"
LOCK_LINE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^ ;\\]+)")
DEB_VERSION = re.compile(r"^[0-9][A-Za-z0-9.+~:-]*$")
# What an image never needs: documentation, manuals, translations (copyright files are kept).
DPKG_EXCLUDES = ["path-exclude=/usr/share/doc/*", "path-include=/usr/share/doc/*/copyright",
                 "path-exclude=/usr/share/man/*", "path-exclude=/usr/share/info/*",
                 "path-exclude=/usr/share/locale/*", "path-exclude=/usr/share/lintian/*"]


def load_recipes(path: Path = RECIPES_FILE) -> dict:
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict):
        raise ValueError(f"{path} is not a mapping of image recipes")
    return data


def resolve(versions: dict, recipes: dict, error) -> dict:
    """image key -> {recipe, pin, ref}; every problem of versions.yml and the recipes in one error."""
    problems = []
    platform = versions.get("platform") or {}
    pins = platform.get("images") or {}
    mirror = platform.get("debian_mirror")
    if not isinstance(mirror, str) or not mirror.startswith(("http://", "https://")):
        problems.append(f"platform.debian_mirror {mirror!r} is not an http(s) URL of a Debian archive")
    out = {}
    for key in sorted(set(pins) | set(recipes)):
        pin, recipe = pins.get(key), recipes.get(key)
        if not isinstance(recipe, dict):
            problems.append(f"platform.images.{key} is pinned in versions.yml but scripts/bundle.d/images.yml "
                            f"has no recipe for it: add one (name, base, user, entrypoint)")
            continue
        if not isinstance(pin, dict):
            problems.append(f"scripts/bundle.d/images.yml has a recipe {key!r} that versions.yml does not pin: "
                            f"add platform.images.{key} (version, debian_suite, packages) or remove the recipe")
            continue
        unknown = sorted(set(recipe) - RECIPE_KEYS)
        if unknown:
            problems.append(f"images.yml {key}: unknown keys {unknown}; a recipe has {sorted(RECIPE_KEYS)}")
        if recipe.get("base") != "debian":
            problems.append(f"images.yml {key}: base {recipe.get('base')!r}; this builder knows `debian`")
        if not re.match(r"^[a-z0-9.-]+(/[a-z0-9._-]+)+$", str(recipe.get("name", ""))):
            problems.append(f"images.yml {key}: name {recipe.get('name')!r} is not an image name without a tag")
        if not isinstance(recipe.get("entrypoint"), list) or not recipe["entrypoint"]:
            problems.append(f"images.yml {key}: entrypoint must be a non-empty list")
        if not re.match(r"^[0-9]+:[0-9]+$", str(recipe.get("user", ""))):
            problems.append(f"images.yml {key}: user {recipe.get('user')!r} must be numeric uid:gid "
                            "(pods can then run as non-root without naming it)")
        version = str(pin.get("version", ""))
        if not re.match(r"^[0-9]+\.[0-9]+(\.[0-9]+)?$", version):
            problems.append(f"platform.images.{key}.version {version!r} is not MAJOR.MINOR[.PATCH] (as the "
                            "component numbers its releases)")
        if recipe.get("go") is not None:
            problems.extend(go_problems(key, recipe["go"], pin))
        if recipe.get("python") is not None:
            problems.extend(python_problems(key, recipe["python"], pin))
        problems.extend(layout_problems(key, recipe))
        if not re.match(r"^[a-z]+$", str(pin.get("debian_suite", ""))):
            problems.append(f"platform.images.{key}.debian_suite {pin.get('debian_suite')!r} is not a suite "
                            "name (bookworm, trixie)")
        packages = pin.get("packages") if pin.get("packages") is not None else ({} if recipe.get("go") else None)
        if not isinstance(packages, dict) or (not packages and not recipe.get("go")):
            problems.append(f"platform.images.{key}.packages must map each Debian package to its exact version")
            packages = {}
        for name, ver in packages.items():
            if not DEB_VERSION.match(str(ver)):
                problems.append(f"platform.images.{key}.packages.{name}: {ver!r} is not an exact Debian version "
                                "(apt-cache policy NAME shows it)")
        out[key] = {"recipe": recipe, "pin": dict(pin, packages=packages), "ref": f"{recipe.get('name')}:{version}",
                    "mirror": mirror}
    if problems:
        raise error("versions.yml and scripts/bundle.d/images.yml cannot make the platform bundle; nothing was "
                    "built:\n  - " + "\n  - ".join(problems))
    return out


GO_PSEUDO = re.compile(r"^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.]+)?-[0-9]{14}-([0-9a-f]{12})$")
GO_VERSION = re.compile(r"^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$")


def go_problems(key: str, go: dict, pin: dict) -> list:
    """What is wrong with a recipe's Go binaries and their pin: the wrapper must require exactly the pinned version."""
    problems = []
    if not isinstance(go, dict) or not isinstance(go.get("binaries"), dict) or not go["binaries"]:
        return [f"images.yml {key}: go must have binaries (path in the image -> Go package)"]
    for path in go["binaries"]:
        if not str(path).startswith("/") or str(path).endswith("/"):
            problems.append(f"images.yml {key}: go binary {path!r} is not an absolute file path in the image")
    module, version = pin.get("go_module"), str(pin.get("go_version", ""))
    if not module or not GO_VERSION.match(version):
        problems.append(f"platform.images.{key}: go_module and go_version (v1.2.3 or a pseudo-version "
                        f"v0.0.0-YYYYMMDDHHMMSS-commit12) must pin the Go module the binaries come from")
        return problems
    wdir = MODULES_DIR / str(go.get("wrapper", ""))
    if not go.get("wrapper") or not (wdir / "go.mod").is_file() or not (wdir / "go.sum").is_file():
        problems.append(f"images.yml {key}: go.wrapper {go.get('wrapper')!r} is not a wrapper module with go.mod and "
                        f"go.sum under scripts/bundle.d/modules/")
        return problems
    if not re.search(rf"^\s*(require\s+)?{re.escape(module)}\s+{re.escape(version)}\s*$",
                     (wdir / "go.mod").read_text(), re.M):
        problems.append(f"images.yml {key}: the wrapper {wdir.name}/go.mod does not require {module} {version} as "
                        f"versions.yml pins it: update the wrapper (its require line and go.sum) with the pin")
    return problems


def lock_file(python: dict) -> Path:
    return LOCKS_DIR / f"{python.get('lock')}.txt"


def lock_packages(path: Path) -> dict:
    """name -> version of a lock (uv pip compile --generate-hashes output); every line pinned with a hash."""
    text = path.read_text()
    out = {}
    for line in text.splitlines():
        m = LOCK_LINE.match(line)
        if m:
            out[m.group(1).lower()] = m.group(2)
    return out


def python_version(pin: dict) -> str:
    """MAJOR.MINOR of the image's Python: the pinned Debian python3 (3.13.5-1 -> 3.13), '' when not pinned."""
    m = re.match(r"^([0-9]+\.[0-9]+)\.", str((pin.get("packages") or {}).get("python3", "")))
    return m.group(1) if m else ""


def python_problems(key: str, python: dict, pin: dict) -> list:
    """What is wrong with a recipe's Python packages: a lock that exists, pins everything with hashes, on a python3 pin."""
    if not isinstance(python, dict) or not re.match(r"^[a-z0-9_-]+$", str(python.get("lock", ""))):
        return [f"images.yml {key}: python must name its lock (python: {{lock: NAME}}, the file "
                "scripts/bundle.d/locks/NAME.txt)"]
    problems = []
    path = lock_file(python)
    if not path.is_file():
        problems.append(f"images.yml {key}: the lock scripts/bundle.d/locks/{path.name} does not exist: write "
                        f"scripts/bundle.d/locks/{python['lock']}.in and run scripts/bundle lock {python['lock']}")
    else:
        text = path.read_text()
        packages = lock_packages(path)
        unhashed = [f"{n}=={v}" for n, v in packages.items()
                    if not re.search(rf"^{re.escape(n)}=={re.escape(v)}[^\n]*(\n\s+--hash=sha256:[0-9a-f]{{64}})",
                                     text, re.M | re.I)]
        if not packages or unhashed:
            problems.append(f"images.yml {key}: the lock {path.name} must pin every package with its hashes "
                            f"({', '.join(unhashed[:5]) or 'no package pinned'}): run scripts/bundle lock "
                            f"{python['lock']}")
    if not python_version(pin):
        problems.append(f"platform.images.{key}.packages must pin python3 (the image's Python, whose wheels the "
                        "lock installs)")
    return problems


def layout_problems(key: str, recipe: dict) -> list:
    """What is wrong with a recipe's env, files and links (paths absolute, env NAME=value)."""
    problems = []
    for item in recipe.get("env") or []:
        if not re.match(r"^[A-Z_][A-Z0-9_]*=", str(item)):
            problems.append(f"images.yml {key}: env item {item!r} is not NAME=value")
    for field in ("files", "links"):
        value = recipe.get(field) or {}
        if not isinstance(value, dict):
            problems.append(f"images.yml {key}: {field} must map a path in the image to its "
                            + ("content" if field == "files" else "link target"))
            continue
        for path, content in value.items():
            if not str(path).startswith("/") or ".." in str(path).split("/"):
                problems.append(f"images.yml {key}: {field} path {path!r} is not an absolute path in the image")
            if not isinstance(content, str) or not content:
                problems.append(f"images.yml {key}: {field} {path!r} needs a non-empty string")
    manifests = (recipe.get("go") or {}).get("manifests") or []
    for rel in manifests if isinstance(manifests, list) else [manifests]:
        if not isinstance(rel, str) or rel.startswith("/") or ".." in rel.split("/"):
            problems.append(f"images.yml {key}: go.manifests item {rel!r} is not a path inside the Go module")
    return problems


def image_env(recipe: dict, default_path: str) -> list:
    """The image's Env: the recipe's items, with the default PATH unless the recipe sets one."""
    env = [str(e) for e in recipe.get("env") or []]
    if not any(e.startswith("PATH=") for e in env):
        env.insert(0, default_path)
    return env


def go_commit(version: str) -> str:
    """The commit a pseudo-version names, or the version itself (what the binary is told it is)."""
    m = GO_PSEUDO.match(version)
    return m.group(2) if m else version


def go_inputs(images: dict) -> list:
    """The wrapper modules the recipes use (their bytes enter the key)."""
    return [MODULES_DIR / v["recipe"]["go"]["wrapper"] / name for v in sorted(images.values(), key=lambda v: v["ref"])
            if v["recipe"].get("go") for name in ("go.mod", "go.sum")]


def python_inputs(images: dict) -> list:
    """The locks the recipes use (their bytes enter the key)."""
    return [lock_file(v["recipe"]["python"]) for v in sorted(images.values(), key=lambda v: v["ref"])
            if v["recipe"].get("python")]


def install_python(key: str, spec: dict, work: Path, error, log) -> Path:
    """The lock's wheels installed for the image's Python into work/py-KEY (usr/local/lib/pythonX.Y/dist-packages,
    usr/local/bin with the image's python3 in the scripts' first line): the directory to copy into the image."""
    lock, version = lock_file(spec["recipe"]["python"]), python_version(spec["pin"])
    uv = shutil.which("uv")
    if not uv:
        raise error("uv not found: scripts/bootstrap installs it (pip install uv)")
    root = work / f"py-{key}"
    site = root / "usr" / "local" / "lib" / f"python{version}" / "dist-packages"
    t0 = time.monotonic()
    log(f"uv pip install {lock.name} for Python {version} ({PYTHON_PLATFORM}) -> {spec['ref']}")
    res = subprocess.run([uv, "pip", "install", "--quiet", "--target", str(site), "--python-version", version,
                          "--python-platform", PYTHON_PLATFORM, "--require-hashes", "--no-deps", "--only-binary",
                          ":all:", "-r", str(lock)], capture_output=True, text=True, check=False)
    if res.returncode != 0:
        tail = "\n".join(res.stderr.strip().splitlines()[-15:])
        raise error(f"image {spec['ref']}: installing {lock.name} failed (uv rc {res.returncode}):\n{tail}\n"
                    f"Fix: a package without a wheel for Python {version} needs another version in "
                    f"{lock.with_suffix('.in').name}; then scripts/bundle lock {spec['recipe']['python']['lock']}")
    scripts = site / "bin"
    if scripts.is_dir():
        (root / "usr" / "local" / "bin").mkdir(parents=True)
        for f in sorted(scripts.iterdir()):
            data = f.read_bytes()
            if data.startswith(b"#!") and b"python" in data.split(b"\n", 1)[0]:
                data = b"#!/usr/bin/python3" + data[data.index(b"\n"):]
            dest = root / "usr" / "local" / "bin" / f.name
            dest.write_bytes(data)
            dest.chmod(0o755)
        shutil.rmtree(scripts)
    size = sum(f.stat().st_size for f in root.rglob("*") if f.is_file())
    log(f"{len(lock_packages(lock))} Python packages, {size / 2**20:.0f} MiB in {time.monotonic() - t0:.0f} s")
    return root


def build_go(key: str, spec: dict, work: Path, lib, error, log) -> list:
    """The recipe's Go binaries, built from the wrapper module: [{path, file, package, ...}]."""
    go, pin = spec["recipe"]["go"], spec["pin"]
    builder = lib.GoBuilder(lib.cache_root())
    wdir = MODULES_DIR / go["wrapper"]
    flags = ["-s", "-w"] + [f"-X={var}={value.format(commit=go_commit(pin['go_version']), version=pin['version'])}"
                            for var, value in sorted((go.get("x") or {}).items())]
    out = []
    for path, package in sorted(go["binaries"].items()):
        target = work / f"go-{key}" / Path(path).name
        target.parent.mkdir(parents=True, exist_ok=True)
        t0 = time.monotonic()
        log(f"go build {package}@{pin['go_version']} -> {path} ({spec['ref']})")
        builder.run([builder.go, "build", "-o", str(target), "-ldflags", " ".join(flags), package], wdir,
                    what=f"go build {package} ({pin['go_module']} {pin['go_version']}, wrapper {wdir.name})")
        log(f"{path}: {target.stat().st_size / 2**20:.0f} MiB in {time.monotonic() - t0:.0f} s")
        out.append({"path": path, "file": target, "package": package, "module": pin["go_module"],
                    "module_version": pin["go_version"], "sha256": lib.file_sha256(target)})
    return out


def module_dir(lib, module: str, version: str) -> Path:
    """Where the Go module cache holds a module's files (upper-case letters escaped as !lower)."""
    escaped = re.sub(r"[A-Z]", lambda m: "!" + m.group(0).lower(), module)
    return lib.cache_root() / "go" / "mod" / f"{escaped}@{version}"


def copy_manifests(key: str, spec: dict, tmp: Path, lib) -> list:
    """The operator's own manifests (CRDs, RBAC, webhooks) as its Go module ships them, into manifests/<key>/."""
    go, pin = spec["recipe"].get("go") or {}, spec["pin"]
    out = []
    for rel in go.get("manifests") or []:
        rel = rel.format(version=pin["version"])
        src = module_dir(lib, pin["go_module"], pin["go_version"]) / rel
        if not src.is_file():
            raise lib.BundleError(f"image {spec['ref']}: {rel} is not in the Go module {pin['go_module']}@"
                                  f"{pin['go_version']} ({src}): fix go.manifests in scripts/bundle.d/images.yml")
        dest = Path("manifests") / key / Path(rel).name
        (tmp / dest).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, tmp / dest)
        out.append({"path": str(dest), "sha256": lib.file_sha256(tmp / dest), "size": (tmp / dest).stat().st_size,
                    "component": f"manifests of {key}", "version": str(pin["version"]),
                    "origin": f"copied unchanged from the Go module {pin['go_module']}@{pin['go_version']}: {rel}"})
    return out


def key_of(images: dict, builder_files: list, toolchain: str = "") -> str:
    h = hashlib.sha256(toolchain.encode() + b"\0" if toolchain else b"")
    h.update(json.dumps({k: {"recipe": v["recipe"], "pin": v["pin"], "mirror": v["mirror"]}
                         for k, v in images.items()}, sort_keys=True).encode())
    for f in builder_files:
        h.update(f.name.encode() + b"\0" + f.read_bytes())
    return h.hexdigest()


def sources(mirror: str, suite: str) -> list:
    """The suite, its updates and its security archive (where Debian publishes fixes first)."""
    security = mirror.rstrip("/") + "-security"
    return [f"deb {mirror} {suite} main", f"deb {mirror} {suite}-updates main",
            f"deb {security} {suite}-security main"]


def hooks(key: str, recipe: dict, pin: dict, work: Path, binaries: list | None = None,
          python_root: Path | None = None) -> list:
    """mmdebstrap hook arguments: fixed users before the packages; Go binaries, Python packages (compiled by the
    image's Python), directories and the record after."""
    args = []
    for b in binaries or []:
        # copy-in keeps the file's mode; the binary's name is the last part of its path in the image, whose
        # directory is made first (copy-in needs it).
        parent = str(Path(b["path"]).parent)
        args.append(f'--customize-hook=mkdir -p "$1{parent}"')
        args.append(f"--customize-hook=copy-in {shlex.quote(str(b['file']))} {shlex.quote(parent)}")
    for u in recipe.get("users") or []:
        name, uid, gid = u["name"], int(u["uid"]), int(u.get("gid", u["uid"]))
        home = u.get("home", "/nonexistent")
        # Written directly (the essential variant has no useradd); the packages' maintainer scripts see
        # the user exists and reuse it, so the ids are the recipe's, not the next free ones.
        script = (f'echo "{name}:x:{gid}:" >> "$1/etc/group" && '
                  f'echo "{name}:x:{uid}:{gid}::{home}:/usr/sbin/nologin" >> "$1/etc/passwd" && '
                  f'echo "{name}:!:1::::::" >> "$1/etc/shadow" && '
                  f'mkdir -p "$1{home}" && chown {uid}:{gid} "$1{home}"')
        args.append(f"--essential-hook={script}")
    for path, content in sorted((recipe.get("files") or {}).items()):
        # Before the packages, so that their maintainer scripts read them (e.g. postgresql-common's
        # createcluster.d: no cluster made in the image).
        parent = str(Path(path).parent)
        args.append(f'--essential-hook=mkdir -p "$1{parent}" && printf %s {shlex.quote(content)} > "$1{path}"')
    if python_root is not None:
        site = f"/usr/local/lib/python{python_version(pin)}/dist-packages"
        args.append(f'--customize-hook=cp -a --no-preserve=ownership {shlex.quote(str(python_root))}/. "$1/"')
        args.append(f'--customize-hook=chroot "$1" python3 -m compileall -q -j0 {site} > /dev/null')
    for path, target in sorted((recipe.get("links") or {}).items()):
        args.append(f'--customize-hook=ln -sfn {shlex.quote(target)} "$1{path}"')
    for d in recipe.get("dirs") or []:
        path, mode, owner = d["path"], d.get("mode", "0755"), d.get("owner", "0:0")
        args.append(f'--customize-hook=mkdir -p "$1{path}" && chown {owner} "$1{path}" && chmod {mode} "$1{path}"')
    record = shlex.quote(str(work / f"{key}.packages"))
    args.append("--customize-hook=chroot \"$1\" dpkg-query -W -f '${Package}\\t${Version}\\n' > " + record)
    if recipe.get("check"):
        out = shlex.quote(str(work / f"{key}.check"))
        argv = " ".join(shlex.quote(a) for a in recipe["check"])
        # A failing check does not stop mmdebstrap: its output (and rc) is what the build reports.
        args.append(f'--customize-hook=chroot "$1" {argv} > {out} 2>&1 || echo "check failed: rc $?" >> {out}')
    return args


def build_image(key: str, spec: dict, work: Path, error, log, binaries: list | None = None,
                python_root: Path | None = None) -> tuple:
    """mmdebstrap the root file system (with the Go binaries) into a tar; return (tar path, packages, check output)."""
    recipe, pin = spec["recipe"], spec["pin"]
    mm = shutil.which("mmdebstrap")
    if not mm:
        raise error("mmdebstrap not found: apt-get install mmdebstrap (scripts/bootstrap does)")
    include = ",".join(f"{name}={ver}" for name, ver in sorted(pin["packages"].items()))
    tar = work / f"{key}.tar"
    argv = [mm, "--mode=root", "--variant=essential", "--format=tar", "--skip=output/dev",
            *([f"--include={include}"] if include else []), *[f"--dpkgopt={o}" for o in DPKG_EXCLUDES],
            "--aptopt=Acquire::Retries 3", *hooks(key, recipe, pin, work, binaries, python_root),
            pin["debian_suite"], str(tar), *sources(spec["mirror"], pin["debian_suite"])]
    t0 = time.monotonic()
    log(f"mmdebstrap {pin['debian_suite']} + {include or 'no package'} -> {spec['ref']}")
    res = subprocess.run(argv, capture_output=True, text=True, check=False,
                         env=dict(os.environ, SOURCE_DATE_EPOCH="1", LC_ALL="C.UTF-8"))
    if res.returncode != 0:
        tail = "\n".join(res.stderr.strip().splitlines()[-15:])
        hint = ""
        if "has no installation candidate" in res.stderr or "was not found" in res.stderr \
                or "Version '" in res.stderr:
            hint = ("\nFix: a pinned package version is not served by the archive any more (the mirror keeps only "
                    f"the current point release): update platform.images.{key}.packages in versions.yml "
                    "to what `apt-cache policy NAME` shows for that suite")
        raise error(f"building image {spec['ref']} failed (mmdebstrap rc {res.returncode}):\n{tail}{hint}")
    installed = dict(line.split("\t", 1) for line in (work / f"{key}.packages").read_text().splitlines() if line)
    wrong = {n: (v, installed.get(n)) for n, v in pin["packages"].items() if installed.get(n) != str(v)}
    if wrong:
        raise error(f"image {spec['ref']}: installed packages differ from the pins: "
                    + ", ".join(f"{n} pinned {v}, installed {got}" for n, (v, got) in sorted(wrong.items())))
    check = ""
    if recipe.get("check"):
        check = (work / f"{key}.check").read_text().strip()
        want = str(recipe.get("expect", "")).format(version=pin["version"])
        if "check failed: rc " in check:
            raise error(f"image {spec['ref']}: its check {recipe['check']} failed in the built root:\n"
                        + "\n".join(check.splitlines()[-25:]))
        if want not in check:
            raise error(f"image {spec['ref']}: its check {recipe['check']} printed {check[:200]!r}, "
                        f"expected {want!r}")
    log(f"{spec['ref']}: {len(installed)} Debian packages, {tar.stat().st_size / 2**20:.0f} MiB, "
        f"{time.monotonic() - t0:.0f} s")
    return tar, installed, check


def build_into(tmp: Path, images: dict, key: str, lib, error, log) -> None:
    """Every image of the plan into tmp/images, and tmp/manifest.json."""
    work = tmp / ".work"
    (tmp / "images").mkdir(parents=True)
    work.mkdir()
    files, listed = [], []
    for name, spec in sorted(images.items()):
        recipe, pin = spec["recipe"], spec["pin"]
        binaries = build_go(name, spec, work, lib, error, log) if recipe.get("go") else []
        python_root = install_python(name, spec, work, error, log) if recipe.get("python") else None
        tar, installed, check = build_image(name, spec, work, error, log, binaries, python_root)
        rel = lib.PLAN_LIB.image_file(spec["ref"])
        out = tmp / rel
        with open(tar, "rb") as raw:
            digest = lib.write_oci_from_layer(
                out, spec["ref"], raw, recipe["entrypoint"], user=str(recipe["user"]),
                env=image_env(recipe, lib.PATH_ENV), workdir=recipe.get("workdir", "/"), cmd=recipe.get("cmd"),
                created_by=f"baremetal.mlops scripts/bundle --platform: mmdebstrap {pin['debian_suite']} "
                           f"from Debian packages ({', '.join(sorted(pin['packages'])) or 'essential only'})"
                           + "".join(f" + {b['path']} built from {b['module']}@{b['module_version']}" for b in binaries)
                           + (f" + Python packages of {lock_file(recipe['python']).name}" if python_root else ""))
        tar.unlink()
        files.append({"path": rel, "sha256": lib.file_sha256(out), "size": out.stat().st_size,
                      "component": f"image {spec['ref']}", "version": str(pin["version"]),
                      "origin": f"assembled here (OCI archive, one layer): mmdebstrap --variant=essential of Debian "
                                f"{pin['debian_suite']} from {spec['mirror']} with the pinned packages",
                      "image": spec["ref"], "manifest_digest": digest, "check_output": check,
                      "debian_packages": dict(sorted(installed.items())),
                      **({"go_binaries": [{k: b[k] for k in ("path", "package", "module", "module_version", "sha256")}
                                          for b in binaries]} if binaries else {}),
                      **({"python_packages": lock_packages(lock_file(recipe["python"]))} if python_root else {})})
        listed.append({"name": spec["ref"], "key": name, "path": rel, "manifest_digest": digest,
                       "user": str(recipe["user"])})
        files.extend(copy_manifests(name, spec, tmp, lib))
    shutil.rmtree(work)
    manifest = {
        "layout": lib.MANIFEST_LIB.LAYOUT,
        "platform": True,
        "architecture": lib.ARCH,
        "source": "built from Debian packages here by scripts/bundle --platform (baremetal.mlops); these "
                  "digests are this build's, NOT upstream's registry digests",
        "key": key,
        "pins": {k: str(v["pin"]["version"]) for k, v in images.items()},
        "builder": {"script": "scripts/bundle.d/platform.py", "recipes": "scripts/bundle.d/images.yml"},
        "images": listed,
        "files": sorted(files, key=lambda f: f["path"]),
    }
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


def bundle_dir(lib, versions: dict) -> tuple:
    images = resolve(versions, load_recipes(), lib.BundleError)
    # The Go toolchain that builds the recipes' binaries is part of what they are.
    toolchain = lib.go_env_version(lib.find_go()) if go_inputs(images) else ""
    key = key_of(images, [Path(lib.__file__), Path(__file__), RECIPES_FILE, *go_inputs(images), *python_inputs(images)],
                 toolchain)
    return lib.cache_root() / "bundles" / f"platform-{key[:12]}", images, key


def build(lib, force: bool = False) -> Path:
    final, images, key = bundle_dir(lib, lib.load_versions())
    bundles = final.parent
    with lib.locked(bundles / ".lock"):
        if final.is_dir() and not force:
            lib.verify(final)
            lib.log(f"platform bundle {final.name} is built and verified (no-op)")
            return final
        tmp = bundles / f".tmp-{final.name}-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        start = time.monotonic()
        try:
            build_into(tmp, images, key, lib, lib.BundleError, lib.log)
            lib.verify(tmp)
            shutil.rmtree(final, ignore_errors=True)
            tmp.rename(final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        lib.log(f"platform bundle {final.name} built in {time.monotonic() - start:.0f} s: {final}")
    return final


def lock(lib, name: str) -> Path:
    """scripts/bundle lock NAME: compile locks/NAME.in into locks/NAME.txt (every package with its hashes) for the
    Python of the image whose recipe uses that lock."""
    pins = ((lib.load_versions().get("platform") or {}).get("images") or {})
    users = [k for k, r in load_recipes().items() if (r.get("python") or {}).get("lock") == name and k in pins]
    source = LOCKS_DIR / f"{name}.in"
    if not users or not source.is_file():
        raise lib.BundleError(f"no recipe in images.yml uses the lock {name!r} with scripts/bundle.d/locks/{name}.in "
                              f"(python: {{lock: {name}}})")
    version = python_version(pins[users[0]])
    if not version:
        raise lib.BundleError(f"platform.images.{users[0]}.packages must pin python3 (the image's Python)")
    uv = shutil.which("uv")
    if not uv:
        raise lib.BundleError("uv not found: scripts/bootstrap installs it (pip install uv)")
    res = subprocess.run([uv, "pip", "compile", "--quiet", "--python-version", version, "--python-platform",
                          PYTHON_PLATFORM, "--generate-hashes", "--only-binary", ":all:",
                          "--custom-compile-command", f"scripts/bundle lock {name}", source.name, "-o", f"{name}.txt"],
                         cwd=LOCKS_DIR, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise lib.BundleError(f"uv pip compile {source.name} failed:\n{res.stderr.strip()[-3000:]}")
    lib.log(f"wrote scripts/bundle.d/locks/{name}.txt: {len(lock_packages(LOCKS_DIR / f'{name}.txt'))} packages "
            f"for Python {version} ({', '.join(users)}); review and commit it with {source.name}")
    return LOCKS_DIR / f"{name}.txt"


def main(argv: list) -> int:
    """scripts/bundle lock NAME (the bash wrapper sends `lock` here: bundle.py's bytes key the Kubernetes bundles)."""
    import sys
    sys.path.insert(0, str(HERE))
    import bundle as lib  # the CLI's library (it loads this file itself for the platform bundle)
    if len(argv) != 2 or argv[0] != "lock":
        print("usage: scripts/bundle lock NAME", file=sys.stderr)
        return 2
    try:
        lock(lib, argv[1])
    except lib.BundleError as exc:
        print(f"bundle: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    import sys
    sys.exit(main(sys.argv[1:]))
