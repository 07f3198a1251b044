"""The k3s role as far as it goes without a k3s binary: its refusals before
anything changes and the configuration each node kind gets, run by
ansible-playbook for real on localhost (fake hosts on the local connection).

NOT RUN: k3s itself. It cannot be built here (the Go module proxy refuses
github.com/k3s-io/k3s), so no cluster is started by this role in any test;
the files under the fake release directory are placeholders, never executed.
"""
import hashlib
import sys
import textwrap

import pytest
import yaml

from ansible_collections.baremetal.mlops.tests.unit.ansible_cli import ROOT, run_ansible

TOKEN = "K10" + "f" * 64 + "::server:" + "e" * 32


def inventory(tmp_path, servers=3, agents=1, extra=None):
    hosts = {f"s{i}": {"vrack_lan_ip": f"10.0.0.{10 + i}"} for i in range(1, servers + 1)}
    workers = {f"a{i}": {"vrack_lan_ip": f"10.0.0.{20 + i}"} for i in range(1, agents + 1)}
    inv = {"all": {"vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
                            **(extra or {})},
                   "children": {"k8s_cluster": {"children": {"control_plane": {"hosts": hosts},
                                                             "workers": {"hosts": workers}}}}}}
    path = tmp_path / "hosts.yml"
    path.write_text(yaml.safe_dump(inv))
    return path


def release_dir(tmp_path):
    d = tmp_path / "k3s-release"
    (d / "bin").mkdir(parents=True)
    (d / "images").mkdir()
    (d / "bin" / "k3s").write_bytes(b"placeholder, not k3s\n")
    (d / "images" / "k3s-airgap-images-amd64.tar.zst").write_bytes(b"placeholder images\n")
    return d


def play(tmp_path, inv, tasks, *args):
    path = tmp_path / "play.yml"
    path.write_text(textwrap.dedent("""
        - name: Run the k3s role's task files
          hosts: k8s_cluster
          gather_facts: false
          tasks:
        """) + textwrap.indent(textwrap.dedent(tasks), "    "))
    return run_ansible("ansible-playbook", "-i", inv, path, *args, timeout=180)


VALIDATE = """
- name: Validate
  ansible.builtin.include_role:
    name: baremetal.mlops.k3s
    tasks_from: validate
"""


def test_missing_release_files_are_refused_naming_why_k3s_is_not_built_here(tmp_path):
    res = play(tmp_path, inventory(tmp_path), VALIDATE, "-e", f"mlops_k3s_bundle_dir={tmp_path / 'nowhere'}")
    assert res.returncode != 0
    out = " ".join(res.stdout.split())
    assert "lacks bin/k3s, images/k3s-airgap-images-amd64.tar.zst" in out
    assert "cannot build k3s from source" in out and "mlops_k3s_bundle_dir=DIR" in out


def test_unpinned_release_files_are_refused_unless_trusted(tmp_path):
    rel = release_dir(tmp_path)
    res = play(tmp_path, inventory(tmp_path), VALIDATE, "-e", f"mlops_k3s_bundle_dir={rel}")
    out = " ".join(res.stdout.split())
    assert res.returncode != 0 and "bin/k3s has no sha256 pinned in versions.yml" in out
    assert hashlib.sha256(b"placeholder, not k3s\n").hexdigest() in out
    res = play(tmp_path, inventory(tmp_path), VALIDATE, "-e", f"mlops_k3s_bundle_dir={rel}",
               "-e", "k3s_trust_unpinned=true")
    assert res.returncode == 0, res.stdout[-2000:]


def test_a_file_that_differs_from_its_pin_is_refused(tmp_path):
    rel = release_dir(tmp_path)
    good = hashlib.sha256(b"placeholder images\n").hexdigest()
    res = play(tmp_path, inventory(tmp_path), VALIDATE, "-e", f"mlops_k3s_bundle_dir={rel}",
               "-e", f"k3s_binary_sha256=sha256:{'0' * 64}", "-e", f"k3s_airgap_images_sha256=sha256:{good}")
    out = " ".join(res.stdout.split())
    assert res.returncode != 0 and f"versions.yml pins sha256:{'0' * 64}" in out
    assert "images/k3s-airgap-images-amd64.tar.zst has sha256" not in out


def test_an_even_number_of_servers_is_refused(tmp_path):
    rel = release_dir(tmp_path)
    res = play(tmp_path, inventory(tmp_path, servers=2), VALIDATE, "-e", f"mlops_k3s_bundle_dir={rel}",
               "-e", "k3s_trust_unpinned=true")
    assert res.returncode != 0 and "group control_plane has 2 hosts" in res.stdout


RENDER = """
- name: Decide what kind of node
  ansible.builtin.set_fact:
    k3s_is_server: "{{ inventory_hostname in groups['control_plane'] }}"
    k3s_first_server: "{{ groups['control_plane'] | first }}"
    k3s_cgroup_version: "{{ cgroup_version }}"
- name: Render the node's configuration as the role does
  ansible.builtin.template:
    src: "%(root)s/roles/k3s/templates/config.yaml.j2"
    dest: "%(out)s/{{ inventory_hostname }}.yaml"
    mode: "0600"
  vars:
    k3s_join_token: "{{ lookup('ansible.builtin.env', 'K3S_TEST_TOKEN') }}"
  no_log: true
"""


def render(tmp_path, cgroup_version):
    out = tmp_path / f"out-v{cgroup_version}"
    out.mkdir()
    tasks = RENDER % {"root": ROOT, "out": out}
    res = play(tmp_path, inventory(tmp_path), tasks, "-vvv", "-e", f"cgroup_version={cgroup_version}",
               "-e", f"@{ROOT / 'roles' / 'k3s' / 'defaults' / 'main.yml'}", "-e", "k3s_version=1.35.8+k3s1")
    assert res.returncode == 0, res.stdout[-3000:]
    return res, {p.stem: yaml.safe_load(p.read_text()) for p in out.iterdir()}


@pytest.fixture
def token_env(monkeypatch):
    monkeypatch.setenv("K3S_TEST_TOKEN", TOKEN)


def test_each_node_kind_gets_its_configuration_and_the_token_is_never_printed(tmp_path, token_env):
    res, conf = render(tmp_path, 2)
    assert TOKEN not in res.stdout + res.stderr
    first, second, agent = conf["s1"], conf["s2"], conf["a1"]
    assert first["cluster-init"] is True and "token" not in first and "server" not in first
    assert second["server"] == "https://10.0.0.11:6443" and second["token"] == TOKEN
    assert "cluster-init" not in second
    assert agent["server"] == "https://10.0.0.11:6443" and agent["token"] == TOKEN
    assert "disable" not in agent and "cluster-cidr" not in agent
    for server in (first, second):
        assert server["tls-san"][:3] == ["10.0.0.11", "10.0.0.12", "10.0.0.13"]
        assert server["disable"] == ["traefik", "servicelb", "local-storage", "metrics-server"]
        assert server["write-kubeconfig-mode"] == "0600"
    # cgroup v2 (real racks): none of the cgroup v1 setting.
    assert all("kubelet-arg" not in c for c in conf.values())


def test_cgroup_v1_nodes_get_only_the_kubelet_setting_it_needs(tmp_path, token_env):
    _res, conf = render(tmp_path, 1)
    assert all(c["kubelet-arg"] == ["fail-cgroupv1=false"] for c in conf.values())
