#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: preflight_info
short_description: Check that a node is fit to join the platform, reporting every problem
version_added: 0.1.0
description:
  - Runs every preflight check on the node and returns all problems found, each naming the check, what was found,
    what was expected and the fix. It never fails because a check failed, so a play can gather the problems of all
    hosts and report them at once (the C(preflight) role does).
  - Checks the OS release, the kernel version, CPUs and memory, active swap, clock synchronisation, hostname
    resolution of the other nodes, kernel modules, sysctls and free TCP ports.
  - Reads only; changes nothing.
author:
  - baremetal.mlops contributors (@baremetal-mlops)
extends_documentation_fragment:
  - baremetal.mlops.attributes
  - baremetal.mlops.attributes.info
attributes:
  platform:
    platforms: linux
options:
  supported_os:
    description: Distribution releases accepted, by os-release C(ID) and C(VERSION_ID).
    type: list
    elements: dict
    default: [{id: debian, versions: ['12']}, {id: ubuntu, versions: ['22.04', '24.04']}]
    suboptions:
      id:
        description: The os-release C(ID), e.g. C(debian).
        type: str
        required: true
      versions:
        description: Accepted C(VERSION_ID) values.
        type: list
        elements: str
        required: true
  min_kernel:
    description: Lowest kernel release accepted.
    type: str
    default: '5.15'
  min_cpus:
    description: Fewest logical CPUs accepted.
    type: int
    default: 2
  min_memory_mb:
    description: Least memory accepted, in MiB (MemTotal).
    type: int
    default: 2048
  swap_allowed:
    description: Whether active swap is accepted (kubelet refuses it by default).
    type: bool
    default: false
  time_sync_required:
    description: Whether the clock must be synchronised (C(timedatectl) C(NTPSynchronized=yes)).
    type: bool
    default: true
  resolve_hosts:
    description:
      - Host names that must resolve on this node, mapped to the address they must resolve to, or null for any.
    type: dict
    default: {}
  kernel_modules:
    description: Kernel modules that must be loaded, built in, or loadable for the running kernel.
    type: list
    elements: str
    default: [overlay, br_netfilter]
  sysctls:
    description: Sysctls and the value each must have (compared as whitespace-normalised strings).
    type: dict
    default: {}
  sysctls_present_only:
    description:
      - Only require that each sysctl exists, not its value; for a preflight run before the role that sets them.
    type: bool
    default: false
  free_ports:
    description: TCP ports nothing may listen on (IPv4 or IPv6).
    type: list
    elements: int
    default: []
"""

EXAMPLES = r"""
- name: Check the node
  baremetal.mlops.preflight_info:
    min_memory_mb: 16384
    resolve_hosts: "{{ dict(groups['k8s_cluster'] | zip(groups['k8s_cluster'] | map('extract', hostvars, 'node_base_address'))) }}"
    sysctls:
      net.ipv4.ip_forward: 1
    free_ports: [6443, 10250, 2379, 2380]
  register: preflight

- name: Show what is wrong
  ansible.builtin.debug:
    var: preflight.problems
"""

RETURN = r"""
problems:
  description: Every problem found; empty when the node passes.
  returned: always
  type: list
  elements: dict
  contains:
    check:
      description: The check that found it.
      type: str
      sample: swap
    found:
      description: What the node has.
      type: str
      sample: swap active on /dev/vda3
    expected:
      description: What the platform needs.
      type: str
      sample: no active swap (kubelet default)
    fix:
      description: How to fix it.
      type: str
      sample: run 'swapoff -a' and remove swap entries from /etc/fstab
checks:
  description: Every check run, in order, and whether it passed.
  returned: always
  type: list
  elements: dict
  sample: [{name: os, ok: true}, {name: swap, ok: false}]
passed:
  description: True when no problem was found.
  returned: always
  type: bool
"""


from ansible.module_utils.basic import AnsibleModule
from ansible_collections.baremetal.mlops.plugins.module_utils.preflight.checks import Node, run_all


def argspec():
    return dict(
        supported_os=dict(type="list", elements="dict",
                          default=[dict(id="debian", versions=["12"]), dict(id="ubuntu", versions=["22.04", "24.04"])],
                          options=dict(id=dict(type="str", required=True),
                                       versions=dict(type="list", elements="str", required=True))),
        min_kernel=dict(type="str", default="5.15"),
        min_cpus=dict(type="int", default=2),
        min_memory_mb=dict(type="int", default=2048),
        swap_allowed=dict(type="bool", default=False),
        time_sync_required=dict(type="bool", default=True),
        resolve_hosts=dict(type="dict", default={}),
        kernel_modules=dict(type="list", elements="str", default=["overlay", "br_netfilter"]),
        sysctls=dict(type="dict", default={}),
        sysctls_present_only=dict(type="bool", default=False),
        free_ports=dict(type="list", elements="int", default=[]),
    )


def main():
    module = AnsibleModule(argument_spec=argspec(), supports_check_mode=True)
    bad_ports = [p for p in module.params["free_ports"] if not 0 < p < 65536]
    if bad_ports:
        module.fail_json(msg="free_ports: %s not in 1-65535" % ", ".join(str(p) for p in bad_ports))

    def run_command(argv):
        binary = module.get_bin_path(argv[0])
        if binary is None:
            return None
        return module.run_command([binary] + argv[1:], environ_update=dict(LC_ALL="C", LANG="C"))

    node = Node(run_command=run_command)
    checks, problems = run_all(node, module.params)
    module.exit_json(changed=False, checks=checks, problems=problems, passed=not problems)


if __name__ == "__main__":
    main()
