"""The offline bundle and container racks, for the integration tests (issue 8).

``built_bundle()`` runs ``scripts/bundle build`` (a no-op when the cache has
it; a cold build takes about 23 minutes on 2 cores) and returns its path.
``ContainerRack`` boots a rack of container nodes with ``scripts/vrack`` and
stops it again, checking that nothing is left on the host.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "scripts" / "bundle"
VRACK = ROOT / "scripts" / "vrack"
VENV_BIN = ROOT / ".venv" / "bin"

sys.path.insert(0, str(ROOT / "scripts" / "vrack.d"))
import container_nodes  # noqa: E402


def run(argv, timeout=600, env=None, check=True, **kw):
    res = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=timeout,
                         env=env, check=False, **kw)
    if check and res.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, argv))} failed (rc {res.returncode}):\n"
                             f"{res.stdout[-3000:]}\n{res.stderr[-3000:]}")
    return res


def built_bundle(kubernetes: str | None = None) -> Path:
    """The bundle of versions.yml's Kubernetes release (or of `kubernetes`), built if it is not cached."""
    res = run([BUNDLE, "build", *(["--kubernetes", kubernetes] if kubernetes else [])], timeout=3600)
    return Path(res.stdout.strip().splitlines()[-1])


def built_platform_bundle() -> Path:
    """The platform bundle (images of the platform roles, from Debian packages), built if it is not cached.

    Under scripts/test the cluster lane starts before the background build of the platform bundle is done (the
    Kubernetes tests do not need it): MLOPS_PLATFORM_BUNDLE_DONE names the file that build writes when it ends,
    and this waits for it instead of starting a second build of the same bundle."""
    done = os.environ.get("MLOPS_PLATFORM_BUNDLE_DONE")
    if done:
        deadline = time.monotonic() + 3600
        while not Path(done).exists():
            if time.monotonic() > deadline:
                raise AssertionError(f"the background build of the platform bundle did not end in an hour ({done})")
            time.sleep(5)
    res = run([BUNDLE, "build", "--platform"], timeout=3600)
    return Path(res.stdout.strip().splitlines()[-1])


def ansible_env(extra=None):
    env = dict(os.environ)
    env.update({
        "PATH": f"{VENV_BIN}:{env.get('PATH', '')}",
        "ANSIBLE_HOST_KEY_CHECKING": "False",
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_NOCOLOR": "1",
    })
    env.update(extra or {})
    return env


class ContainerRack:
    def __init__(self, tmp: Path, name: str, cidr: str, nodes: list):
        self.name = name
        self.spec = {"rack": name, "lan_cidr": cidr,
                     "nodes": [{"name": n, "kind": "container", "lan_ip": ip} for n, ip in nodes]}
        self.spec_file = tmp / f"{name}.json"
        self.spec_file.write_text(json.dumps(self.spec))
        self.inventory = ROOT / ".vrack" / name / "inventory.yml"
        self.boot_seconds = None

    def up(self):
        t0 = time.monotonic()
        run([VRACK, "up", "--spec", self.spec_file], timeout=300)
        self.boot_seconds = time.monotonic() - t0
        return self

    def down(self):
        run([VRACK, "down", self.name], timeout=120)

    def ssh(self, node: str, command: str, check=True, timeout=120):
        return run([VRACK, "ssh", self.name, node, command], timeout=timeout, check=check)

    def stop(self, node: str):
        """Power one node off (its disk stays)."""
        return run([VRACK, "stop", self.name, node], timeout=120)

    def start(self, node: str):
        """Boot a powered-off node from its disk; returns when its sshd answers."""
        return run([VRACK, "start", self.name, node], timeout=360)

    def leftovers(self) -> list:
        """Processes, mounts, containers, bridge, netns, veths and cgroups of this rack still on the host."""
        nodes = [n["name"] for n in self.spec["nodes"]]
        found = container_nodes.ContainerNodes(self.name, ROOT / ".vrack" / self.name, print).leftovers(nodes)
        parent = container_nodes.cgroup_parent(self.name)
        for proc in Path("/proc").iterdir():
            if proc.name.isdigit():
                try:
                    # A zombie holds nothing but its PID until its parent (pytest is a
                    # subreaper, see conftest) reaps it.
                    zombie = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
                    if not zombie and f"/{parent}/" in (proc / "cgroup").read_text():
                        cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                        found.append(f"process {proc.name} ({cmd.strip()[:80]})")
                except OSError:
                    pass
        return sorted(set(found))

    def ansible(self, *args, timeout=600, check=True, extra_env=None):
        return run([VENV_BIN / "ansible-playbook", "-i", self.inventory, *args], timeout=timeout,
                   env=ansible_env(extra_env), check=check, cwd=ROOT)

    def ansible_adhoc(self, *args, timeout=120):
        return run([VENV_BIN / "ansible", "-i", self.inventory, *args], timeout=timeout, env=ansible_env(), cwd=ROOT)
