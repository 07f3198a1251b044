"""Run the venv's ansible CLIs for real against this checkout (its ansible.cfg,
so the collection resolves from collections/), from the repository root."""
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
BINDIR = pathlib.Path(sys.executable).parent


def run_ansible(tool, *args, env=None, timeout=180):
    """``tool`` is ``ansible`` or ``ansible-playbook``; returns the CompletedProcess."""
    full_env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", **(env or {}))
    return subprocess.run([str(BINDIR / tool), *[str(a) for a in args]], cwd=ROOT, env=full_env,
                          capture_output=True, text=True, timeout=timeout, check=False)
