"""The nvidia_gpu role's containerd drop-in, rendered by ansible's template
module for real (localhost, into a temp dir) and parsed as TOML. Validated
only: no containerd runs here."""
import sys
import textwrap
import tomllib

import pytest

from ansible_collections.baremetal.mlops.tests.unit.ansible_cli import ROOT, run_ansible

TEMPLATE = ROOT / "roles" / "nvidia_gpu" / "templates" / "containerd-nvidia.toml.j2"


def render(tmp_path, version, default_runtime):
    dest = tmp_path / f"99-nvidia-v{version}.toml"
    play = tmp_path / "play.yml"
    play.write_text(textwrap.dedent(f"""
        - name: Render
          hosts: localhost
          gather_facts: false
          vars:
            nvidia_gpu_containerd_dropin: /etc/containerd/conf.d/99-nvidia.toml
            nvidia_gpu_containerd_config_version: {version}
            nvidia_gpu_containerd_default_runtime: {str(default_runtime).lower()}
          tasks:
            - name: Render the drop-in
              ansible.builtin.template:
                src: {TEMPLATE}
                dest: {dest}
                mode: "0644"
        """))
    result = run_ansible("ansible-playbook", "-i", "localhost,", "-c", "local",
                         "-e", f"ansible_python_interpreter={sys.executable}", play, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return tomllib.loads(dest.read_text())


@pytest.mark.parametrize("version,plugin", [(3, "io.containerd.cri.v1.runtime"), (2, "io.containerd.grpc.v1.cri")])
def test_dropin_declares_the_nvidia_runtime_for_the_config_version(tmp_path, version, plugin):
    conf = render(tmp_path, version, default_runtime=False)
    assert conf["version"] == version
    runtime = conf["plugins"][plugin]["containerd"]["runtimes"]["nvidia"]
    assert runtime["runtime_type"] == "io.containerd.runc.v2"
    assert runtime["options"] == {"BinaryName": "/usr/bin/nvidia-container-runtime", "SystemdCgroup": True}
    assert "default_runtime_name" not in conf["plugins"][plugin]["containerd"]


def test_default_runtime_only_when_asked(tmp_path):
    conf = render(tmp_path, 3, default_runtime=True)
    assert conf["plugins"]["io.containerd.cri.v1.runtime"]["containerd"]["default_runtime_name"] == "nvidia"
