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


def run_local_play(tmp_path, play, *args, timeout=120):
    """ansible-playbook of ``play`` (YAML text) against one host, cp1, reached with the local connection and this
    interpreter; ``args`` are more ansible-playbook arguments (-e ...)."""
    import textwrap

    import yaml

    tmp_path = pathlib.Path(tmp_path)
    tmp_path.mkdir(parents=True, exist_ok=True)
    inv = tmp_path / "hosts.yml"
    inv.write_text(yaml.safe_dump({"all": {"hosts": {"cp1": {"ansible_connection": "local",
                                                             "ansible_python_interpreter": sys.executable}}}}))
    path = tmp_path / "play.yml"
    path.write_text(textwrap.dedent(play))
    return run_ansible("ansible-playbook", "-i", inv, path, *args, timeout=timeout)


def role_tasks_play(role, tasks_from="validate", then=""):
    """A play on cp1 that includes ``tasks_from`` of baremetal.mlops.``role`` (its defaults and vars made public for
    the tasks in ``then``, YAML text indented as tasks)."""
    return """
        - name: %(tasks_from)s of roles/%(role)s
          hosts: cp1
          gather_facts: false
          tasks:
            - name: Include %(tasks_from)s
              ansible.builtin.include_role:
                name: baremetal.mlops.%(role)s
                tasks_from: %(tasks_from)s
                public: true
%(then)s""" % {"role": role, "tasks_from": tasks_from, "then": then}


def render_role_templates(tmp_path, role, templates, variables=None):
    """Templates of roles/``role`` as ansible-core renders them (the role's defaults and vars, the collection's
    filters, ``variables`` as extra vars): {template name: rendered text}."""
    import json

    out = pathlib.Path(tmp_path) / "rendered"
    out.mkdir(parents=True)
    play = role_tasks_play(role, then="""
            - name: Render
              ansible.builtin.copy:
                content: "{{ lookup('ansible.builtin.template', '%s/' ~ item) }}"
                dest: "%s/{{ item }}"
                mode: "0600"
              loop: %s
        """ % (ROOT / "roles" / role / "templates", out, json.dumps(list(templates))))
    res = run_local_play(tmp_path, play, *(["-e", json.dumps(variables)] if variables else []))
    assert res.returncode == 0, res.stdout[-3000:]
    return {name: (out / name).read_text() for name in templates}


def run_role_validate(tmp_path, role, variables=None):
    """roles/``role``'s validate tasks on cp1 with ``variables`` as extra vars (the CompletedProcess)."""
    import json

    return run_local_play(tmp_path, role_tasks_play(role), *(["-e", json.dumps(variables)] if variables else []))
