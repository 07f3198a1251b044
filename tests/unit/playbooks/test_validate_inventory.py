"""playbooks/validate_inventory.yml, run for real by ansible-playbook on
localhost against small inventories (no remote host is contacted)."""
import sys

import pytest
import yaml

from ansible_collections.baremetal.mlops.tests.unit.ansible_cli import ROOT, run_ansible

PLAYBOOK = ROOT / "playbooks" / "validate_inventory.yml"


def run(tmp_path, inventory_text):
    inv = tmp_path / "hosts.yml"
    inv.write_text(inventory_text)
    return run_inventory(inv)


def run_inventory(inv):
    return run_ansible("ansible-playbook", "-i", inv, PLAYBOOK,
                       "-e", f"ansible_python_interpreter={sys.executable}", timeout=120)


GOOD = """
all:
  children:
    k8s_cluster:
      children:
        control_plane:
          hosts: {cp1: {}, cp2: {}, cp3: {}}
        workers:
          hosts: {gpu1: {}, gpu2: {}}
"""

BAD = """
all:
  children:
    k8s_cluster:
      children:
        control_plane:
          hosts: {cp1: {}, cp2: {}}
    workers:
      hosts: {cp2: {}, gpu1: {}}
"""


def test_a_valid_ha_inventory_passes(tmp_path):
    result = run(tmp_path, GOOD)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_problem_is_reported_at_once_naming_the_hosts(tmp_path):
    result = run(tmp_path, BAD)
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert "has 3 problem(s)" in out, out
    assert "control_plane has 2 hosts: etcd needs 1 or an odd number >= 3" in out
    assert "hosts in both control_plane and workers: cp2" in out
    assert "hosts outside k8s_cluster: gpu1" in out


@pytest.mark.parametrize("text", ["all: {}\n"])
def test_an_inventory_without_control_plane_fails_with_the_fix(tmp_path, text):
    result = run(tmp_path, text)
    assert result.returncode != 0
    assert "group control_plane is empty" in result.stdout + result.stderr


def test_the_shipped_ha_example_inventory_is_valid():
    result = run_inventory(ROOT / "inventories" / "example_ha")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_lab_inventory_is_valid_and_its_connection_vars_spare_localhost():
    # The first play of site.yml runs on localhost: the lab's VM connection
    # variables (ports of the virtual rack) must not apply to it.
    result = run_inventory(ROOT / "inventories" / "lab")
    assert result.returncode == 0, result.stdout + result.stderr


SHARED_ADDRESS = """
all:
  children:
    k8s_cluster:
      children:
        control_plane:
          hosts:
            cp1: {ansible_host: 198.51.100.11}
            cp2: {vrack_lan_ip: 198.51.100.12}
            cp3: {ansible_host: 198.51.100.13}
        workers:
          hosts:
            w1: {vrack_lan_ip: 198.51.100.21, ansible_host: "{{ vrack_lan_ip }}"}
            w2: {vrack_lan_ip: 198.51.100.21, ansible_host: "{{ vrack_lan_ip }}"}
            w3: {kubeadm_node_ip: 198.51.100.12}
"""


def test_two_hosts_with_one_address_are_refused_naming_both(tmp_path):
    """Found by an outside test (issue 25): lab-w2 given lab-w1's address ran through all of site.yml --check."""
    result = run(tmp_path, SHARED_ADDRESS)
    out = " ".join((result.stdout + result.stderr).split())
    assert result.returncode != 0
    assert "w1 and w2 share the address 198.51.100.21" in out, out
    assert "cp2 and w3 share the address 198.51.100.12" in out, out
    # w1 and w2 are also reached at one SSH target; cp2 and w3 are not (no ansible_host).
    assert "w1 and w2 are both reached at 198.51.100.21:22" in out, out
    assert "has 2 problem(s)" in out


def cluster_inventory(control_plane: dict, workers: dict) -> str:
    """An inventory of k8s_cluster with these control planes and workers ({host: vars})."""
    groups = {"control_plane": {"hosts": control_plane}, "workers": {"hosts": workers}}
    return yaml.safe_dump({"all": {"children": {"k8s_cluster": {"children": groups}}}})


SHARED_TARGET_AND_BAD_NAMES = cluster_inventory(
    {"cp1": {"ansible_host": "198.51.100.11"}, "Lab-CP2": {"ansible_host": "198.51.100.12"},
     "cp3.rack1.example": {"ansible_host": "198.51.100.13"}},
    {"w1": {"ansible_host": "127.0.0.1", "ansible_port": 2201, "vrack_lan_ip": "198.51.100.21"},
     "w2": {"ansible_host": "127.0.0.1", "ansible_port": 2201, "vrack_lan_ip": "198.51.100.22"},
     "w3": {"ansible_host": "127.0.0.1", "ansible_port": 2203, "vrack_lan_ip": "198.51.100.23"},
     "worker_4": {"ansible_host": "198.51.100.24"}})


def test_two_hosts_reached_at_one_target_and_names_kubernetes_refuses_are_refused_together(tmp_path):
    """Issue 25's neighbours of the shared address: two hosts Ansible reaches at one address and port (one machine
    configured as two nodes), and inventory names that cannot be node names (kubeadm registers the node under its
    inventory name) - all reported in one run. Distinct ports on one address (the lab's VMs) are fine, and so is
    an FQDN."""
    result = run(tmp_path, SHARED_TARGET_AND_BAD_NAMES)
    out = " ".join((result.stdout + result.stderr).split())
    assert result.returncode != 0
    assert "w1 and w2 are both reached at 127.0.0.1:2201" in out, out
    assert "127.0.0.1:2203" not in out, out
    assert "host name(s) Lab-CP2, worker_4 cannot be Kubernetes node names" in out, out
    assert "cp3.rack1.example" not in out, out
