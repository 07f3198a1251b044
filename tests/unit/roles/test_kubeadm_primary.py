"""Which control plane a run goes through (roles/kubeadm/tasks/primary.yml, issue 25 finding 3), by ansible-playbook
on this machine: three control planes and a worker reached with the local connection, membership given as
kubeadm_is_member (what state.yml reads from /etc/kubernetes/kubelet.conf), then the plays that used to target
control_plane[0] target group kubeadm_primary."""
import json
import re
import sys
import textwrap

import yaml

from ansible_collections.baremetal.mlops.tests.unit.ansible_cli import run_ansible

PLAY = """
- name: State and primary
  hosts: k8s_cluster
  gather_facts: false
  tasks:
    - name: Membership as state.yml would read it
      ansible.builtin.set_fact:
        kubeadm_is_member: "{{ member | bool }}"
    - name: Choose
      ansible.builtin.include_role:
        name: baremetal.mlops.kubeadm
        tasks_from: primary
      vars:
        kubeadm_primary_refuse: "{{ refuse | default(true) | bool }}"

- name: Through the primary
  hosts: kubeadm_primary
  gather_facts: false
  tasks:
    - name: Report
      ansible.builtin.debug:
        msg: "PRIMARY {{ {'host': inventory_hostname, 'ips': kubeadm_run_member_ips} | to_json }}"
"""


def run(tmp_path, members, *args):
    hosts = {}
    for index, name in enumerate(["cp1", "cp2", "cp3", "w1"]):
        hosts[name] = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
                       "ansible_host": "198.51.100.%d" % (11 + index), "member": name in members}
    inventory = {"all": {"children": {"k8s_cluster": {"children": {
        "control_plane": {"hosts": {h: hosts[h] for h in ("cp1", "cp2", "cp3")}},
        "workers": {"hosts": {"w1": hosts["w1"]}}}}}}}
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump(inventory))
    (tmp_path / "play.yml").write_text(textwrap.dedent(PLAY))
    result = run_ansible("ansible-playbook", "-i", tmp_path / "hosts.yml", tmp_path / "play.yml", *args)
    out = result.stdout + result.stderr
    found = [json.loads(match) for match in re.findall(r"PRIMARY (\{.*\})", out)]
    return result.returncode, out, found


def test_the_first_member_control_plane_of_the_run(tmp_path):
    rc, out, found = run(tmp_path, {"cp1", "cp2", "cp3", "w1"})
    assert rc == 0, out
    assert found == [{"host": "cp1", "ips": ["198.51.100.11", "198.51.100.12", "198.51.100.13"]}], out


def test_with_the_first_control_plane_left_out_the_next_member(tmp_path):
    rc, out, found = run(tmp_path, {"cp1", "cp2", "cp3", "w1"}, "--limit", "!cp1")
    assert rc == 0, out
    assert found == [{"host": "cp2", "ips": ["198.51.100.12", "198.51.100.13"]}], out


def test_a_new_cluster_starts_on_the_inventorys_first_control_plane(tmp_path):
    rc, out, found = run(tmp_path, set())
    assert rc == 0, out
    assert found == [{"host": "cp1", "ips": []}], out


def test_a_new_cluster_without_its_first_control_plane_is_refused(tmp_path):
    rc, out, found = run(tmp_path, set(), "--limit", "!cp1")
    assert rc != 0 and found == [], out
    assert "none of this run's control planes (cp2, cp3) is a member of a cluster, and cp1" in out, out
    assert "Fix: include cp1 in the run" in out


def test_a_run_of_workers_only_goes_through_no_control_plane(tmp_path):
    rc, out, found = run(tmp_path, {"cp1", "cp2", "cp3", "w1"}, "--limit", "w1")
    assert rc == 0 and found == [], out


def test_the_shared_preflight_of_add_node_chooses_none_instead_of_refusing(tmp_path):
    """add_node.yml --limit <a control plane being re-added>: the members are out of the run; the preflight it
    shares with kubernetes.yml must not refuse (it did in the 2026-12-08 cluster run)."""
    rc, out, found = run(tmp_path, {"cp1", "cp2", "w1"}, "--limit", "cp3", "-e", "refuse=false")
    assert rc == 0 and found == [], out
