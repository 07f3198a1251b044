"""The kubeadm role's one v1beta4 template, rendered by ansible's template
module for real (localhost, into a temp dir) and parsed as YAML, for the
node kinds this machine cannot be: a bare-metal node on cgroup v2 (real racks)
beside the cgroup v1 container node the integration test runs on. Validated
only: the cgroup v2 path has not run a kubelet here (this host is cgroup v1)."""
import sys
import textwrap

import pytest
import yaml

from ansible_collections.baremetal.mlops.tests.unit.ansible_cli import ROOT, run_ansible

TEMPLATE = ROOT / "roles" / "kubeadm" / "templates" / "kubeadm-config.yaml.j2"
TOKEN = "abcdef.0123456789abcdef"


def render(tmp_path, kind, cgroup_version, container_node):
    dest = tmp_path / f"{kind}-v{cgroup_version}-{container_node}.yaml"
    play = tmp_path / "play.yml"
    play.write_text(textwrap.dedent(f"""
        - name: Render
          hosts: cp1
          gather_facts: false
          vars:
            kubeadm_config_kind: {kind}
            kubeadm_cgroup_version: {cgroup_version}
            kubeadm_container_node: {container_node}
            kubeadm_join:
              token: {TOKEN}
              ca_cert_hash: sha256:{"0" * 64}
              certificate_key: {"1" * 64}
          tasks:
            - name: Render the kubeadm configuration
              ansible.builtin.template:
                src: {TEMPLATE}
                dest: {dest}
                mode: "0600"
        """))
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(yaml.safe_dump({"all": {"children": {"k8s_cluster": {"children": {"control_plane": {"hosts": {
        "cp1": {"ansible_host": "10.0.0.11"}, "cp2": {"ansible_host": "10.0.0.12"},
        "cp3": {"ansible_host": "10.0.0.13"}}}}}}}}))
    result = run_ansible("ansible-playbook", "-i", inventory, "-c", "local", play,
                         "-e", f"ansible_python_interpreter={sys.executable}",
                         "-e", "kubeadm_endpoint=control-plane.mlops.internal:6444",
                         "-e", f"@{ROOT / 'roles' / 'kubeadm' / 'defaults' / 'main.yml'}",
                         "-e", f"@{ROOT / 'roles' / 'kubeadm' / 'vars' / 'main.yml'}",
                         "-e", "kubeadm_kubernetes_version=1.35.8", timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return {doc["kind"]: doc for doc in yaml.safe_load_all(dest.read_text()) if doc}


@pytest.mark.parametrize("kind", ["init", "join-control-plane", "join"])
def test_a_cgroup_v2_bare_metal_node_gets_none_of_the_cgroup_v1_or_container_settings(tmp_path, kind):
    docs = render(tmp_path, kind, 2, False)
    text = yaml.safe_dump(docs)
    assert "failCgroupV1" not in text and "ignorePreflightErrors" not in text
    assert "SystemVerification" not in text
    if kind == "init":
        kubelet = docs["KubeletConfiguration"]
        assert kubelet["cgroupDriver"] == "systemd"
        assert "evictionHard" not in kubelet and "imageGCHighThresholdPercent" not in kubelet
        assert "conntrack" not in docs["KubeProxyConfiguration"]
        assert docs["ClusterConfiguration"]["kubernetesVersion"] == "v1.35.8"
        assert docs["InitConfiguration"]["bootstrapTokens"] == []
        sans = docs["ClusterConfiguration"]["apiServer"]["certSANs"]
        assert {"10.0.0.11", "10.0.0.12", "10.0.0.13"} <= set(sans), sans
        assert TOKEN not in text
    else:
        assert docs["JoinConfiguration"]["discovery"]["bootstrapToken"]["token"] == TOKEN
        assert ("controlPlane" in docs["JoinConfiguration"]) == (kind == "join-control-plane")


def test_a_cgroup_v1_container_node_gets_exactly_the_settings_it_needs(tmp_path):
    docs = render(tmp_path, "init", 1, True)
    assert docs["InitConfiguration"]["nodeRegistration"]["ignorePreflightErrors"] == ["SystemVerification"]
    kubelet = docs["KubeletConfiguration"]
    assert kubelet["failCgroupV1"] is False
    assert kubelet["imageGCHighThresholdPercent"] == 100
    assert docs["KubeProxyConfiguration"]["conntrack"]["maxPerCore"] == 0


def test_cgroup_v1_on_bare_metal_is_not_treated_as_a_container_node(tmp_path):
    docs = render(tmp_path, "init", 1, False)
    assert docs["KubeletConfiguration"]["failCgroupV1"] is False
    assert "imageGCHighThresholdPercent" not in docs["KubeletConfiguration"]
