#!/usr/bin/python

# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: nvme_facts
short_description: Gather facts about NVMe controllers and namespaces, and what is on them
version_added: 0.1.0
description:
  - Lists every NVMe controller and namespace of the host from sysfs, including controllers without namespaces and
    namespaces reached through native NVMe multipath (the hidden C(nvmeXcYnZ) path devices are reported as C(paths)
    of their namespace, not as namespaces).
  - For each namespace and partition, reports the on-disk signatures (C(wipefs --json), read only), the md/device-mapper
    holders, the mount points and active swap, and sums them up in C(in_use) and C(in_use_reasons) so that storage
    tasks can refuse to touch a device that holds data.
  - When nvme-cli is installed, adds the used bytes of each namespace (C(nvme list -o json)) and the SMART health of
    each controller (C(nvme smart-log)). nvme-cli problems are warnings; the facts from sysfs are returned anyway.
  - Changes nothing on the host.
author:
  - baremetal.mlops contributors (@baremetal-mlops)
extends_documentation_fragment:
  - baremetal.mlops.attributes
  - baremetal.mlops.attributes.facts
attributes:
  platform:
    platforms: linux
options:
  smart:
    description:
      - Read the SMART/health log of each controller with C(nvme smart-log).
      - Ignored, with a warning, when nvme-cli is not installed.
    type: bool
    default: true
  serials:
    description:
      - Only report controllers and namespaces with these serial numbers.
      - A serial that matches no controller gives a warning, not an error.
    type: list
    elements: str
    default: []
requirements:
  - util-linux C(wipefs) 2.29 or later; probing signatures needs root, so run the task with C(become)
  - nvme-cli for O(smart) and C(used_bytes) (optional)
notes:
  - Serial numbers, model names and firmware revisions are stripped of the space padding NVMe Identify data has in
    sysfs.
  - A namespace with a partition table, a filesystem/RAID/LVM signature, a holder, a mount or active swap, on itself or
    on one of its partitions (or mounted through its holders), is C(in_use=true).
seealso:
  - name: Kernel sysfs ABI for block devices
    description: Attributes read for namespaces and partitions.
    link: https://www.kernel.org/doc/Documentation/ABI/stable/sysfs-block
"""

EXAMPLES = r"""
- name: Gather NVMe facts
  become: true
  baremetal.mlops.nvme_facts:

- name: Show the namespaces that are free to use
  ansible.builtin.debug:
    msg: "{{ ansible_facts.nvme.namespaces | rejectattr('in_use') | map(attribute='path') | list }}"

- name: Gather facts for two drives only, without SMART
  become: true
  baremetal.mlops.nvme_facts:
    serials:
      - S64ANS0T123456
      - S64ANS0T123457
    smart: false

- name: Fail when a drive has used up its rated endurance
  ansible.builtin.assert:
    that: item.smart is none or item.smart.percent_used < 100
    fail_msg: "{{ item.name }} ({{ item.serial }}) is worn out"
  loop: "{{ ansible_facts.nvme.controllers }}"
  loop_control:
    label: "{{ item.name }}"
"""

RETURN = r"""
ansible_facts:
  description: Facts added to the host.
  returned: always
  type: dict
  contains:
    nvme:
      description: NVMe controllers and namespaces of the host.
      returned: always
      type: dict
      contains:
        nvme_cli_version:
          description: Version of nvme-cli, null when it is not installed.
          type: str
          sample: "2.3"
        duplicate_serials:
          description:
            - Serials that more than one drive (NVMe subsystem) reports - cloned drives and firmware bugs do this. A
              serial then cannot tell the drives apart; C(baremetal.mlops.nvme_storage) refuses it and wants the wwid,
              nguid or PCI address instead. The controllers of one multipath drive share their serial and are not listed.
          type: list
          elements: dict
          sample: [{serial: S64ANS0T123456, drives: [{subsystem: nvme-subsys3, controllers: [nvme3], address: "0000:05:00.0"},
                                                     {subsystem: nvme-subsys5, controllers: [nvme5], address: "0000:06:00.0"}]}]
        controllers:
          description: NVMe controllers, in natural order of their names.
          type: list
          elements: dict
          contains:
            name:
              description: Kernel name of the controller.
              type: str
              sample: nvme0
            path:
              description: Character device of the controller.
              type: str
              sample: /dev/nvme0
            serial:
              description: Serial number, without padding.
              type: str
              sample: S64ANS0T123456
            model:
              description: Model number, without padding.
              type: str
              sample: SAMSUNG MZQL27T6HBLA-00A07
            firmware_rev:
              description: Firmware revision.
              type: str
            transport:
              description: C(pcie), C(tcp), C(rdma), C(fc) or C(loop).
              type: str
            address:
              description: PCI address (or fabric address) of the controller.
              type: str
              sample: "0000:3b:00.0"
            subsysnqn:
              description: NVMe qualified name of the subsystem.
              type: str
            state:
              description: Controller state (C(live), C(resetting), C(connecting), C(deleting), C(dead), ...).
              type: str
              sample: live
            cntlid:
              description: Controller ID within its subsystem.
              type: int
            numa_node:
              description: NUMA node of the controller, null when the platform reports none.
              type: int
            subsystem:
              description: Kernel name of the NVMe subsystem.
              type: str
              sample: nvme-subsys0
            pci_root:
              description:
                - The PCIe root the controller hangs off - its root port, or the host bridge (V(pci0000:00)) for a
                  device on the root complex; null when it is not a PCI device. Mirror members behind one root fail
                  together.
              type: str
              sample: "0000:00:01.1"
            namespaces:
              description: Names of the namespaces this controller serves (directly or as a multipath path).
              type: list
              elements: str
            smart:
              description: SMART/health log; null when O(smart=false), nvme-cli is missing or the read failed.
              type: dict
              contains:
                critical_warning:
                  description: Critical warning bit field; 0 means no warning.
                  type: int
                temperature_celsius:
                  description: Composite temperature in degrees Celsius.
                  type: int
                temperature_kelvin:
                  description: Composite temperature in Kelvin, as the drive reports it.
                  type: int
                available_spare:
                  description: Remaining spare capacity, in percent.
                  type: int
                available_spare_threshold:
                  description: Spare percentage under which the drive raises a critical warning.
                  type: int
                percent_used:
                  description: Vendor estimate of the rated endurance used, in percent (can exceed 100).
                  type: int
                media_errors:
                  description: Unrecovered data integrity errors.
                  type: int
                num_err_log_entries:
                  description: Error log entries over the drive's life.
                  type: int
                power_on_hours:
                  description: Power-on hours.
                  type: int
                power_cycles:
                  description: Power cycles.
                  type: int
                unsafe_shutdowns:
                  description: Unsafe shutdowns.
                  type: int
                data_units_read:
                  description: Data read, in units of 512000 bytes.
                  type: int
                data_units_written:
                  description: Data written, in units of 512000 bytes.
                  type: int
        namespaces:
          description: Namespace block devices, in natural order of their names.
          type: list
          elements: dict
          contains:
            name:
              description: Kernel name of the namespace block device.
              type: str
              sample: nvme0n1
            path:
              description: Block device path.
              type: str
              sample: /dev/nvme0n1
            nsid:
              description: Namespace ID.
              type: int
            serial:
              description: Serial number of the controller (or multipath subsystem) behind the namespace.
              type: str
            model:
              description: Model number of the controller behind the namespace.
              type: str
            firmware_rev:
              description: Firmware revision of the controller behind the namespace.
              type: str
            controllers:
              description: Controllers that serve the namespace (several with native multipath).
              type: list
              elements: str
              sample: [nvme0]
            subsystem:
              description: NVMe subsystem of the namespace.
              type: str
            multipath:
              description: Whether the namespace is a native NVMe multipath head.
              type: bool
            paths:
              description: Hidden multipath path devices of the namespace (empty without multipath).
              type: list
              elements: str
              sample: [nvme0c0n1, nvme0c1n1]
            size_bytes:
              description: Size in bytes.
              type: int
              sample: 3840755982336
            logical_block_size:
              description: Logical block size in bytes.
              type: int
              sample: 4096
            physical_block_size:
              description: Physical block size in bytes.
              type: int
            used_bytes:
              description: Bytes allocated in the namespace according to the drive (C(nvme list)); null without nvme-cli.
              type: int
            read_only:
              description: Whether the kernel has the namespace read only.
              type: bool
            wwid:
              description: World wide identifier the kernel derives for the namespace.
              type: str
            nguid:
              description: Namespace globally unique identifier, null when the drive reports none.
              type: str
            uuid:
              description: Namespace UUID, null when the drive reports none.
              type: str
            eui64:
              description: IEEE extended unique identifier, null when the drive reports none.
              type: str
            dev:
              description: Major and minor number.
              type: str
              sample: "259:0"
            signatures:
              description: Signatures C(wipefs) finds on the namespace itself.
              type: list
              elements: dict
              sample: [{type: gpt, offset: 512, uuid: null, label: null}]
            holders:
              description: Devices built directly on the namespace (md arrays, device-mapper targets such as LVM).
              type: list
              elements: str
              sample: [md127]
            mountpoints:
              description: Mount points of the namespace itself.
              type: list
              elements: str
            partitions:
              description: Partitions, each with C(name), C(path), C(number), C(start_sector), C(size_bytes), C(dev),
                C(signatures), C(holders), C(mountpoints), C(in_use) and C(in_use_reasons).
              type: list
              elements: dict
            in_use:
              description: Whether anything is on the namespace or its partitions.
              type: bool
            in_use_reasons:
              description: Why the namespace is in use; empty when it is free.
              type: list
              elements: str
              sample: ["partition table (gpt)", "nvme0n1p1: xfs filesystem signature", "nvme0n1p1: mounted at /data"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.baremetal.mlops.plugins.module_utils.common.command import command_runner
from ansible_collections.baremetal.mlops.plugins.module_utils.common.exceptions import MlopsError
from ansible_collections.baremetal.mlops.plugins.module_utils.disk.nvme import NvmeFactsCollector

# Where the kernel's views are mounted; unit tests point these at fake trees.
SYSFS_ROOT = "/sys"
PROC_ROOT = "/proc"


def argspec():
    return dict(
        smart=dict(type="bool", default=True),
        serials=dict(type="list", elements="str", default=[]),
    )


def main():
    module = AnsibleModule(argument_spec=argspec(), supports_check_mode=True)
    wipefs = module.get_bin_path("wipefs", required=True)
    nvme = module.get_bin_path("nvme")
    if nvme is None and module.params["smart"]:
        module.warn("nvme-cli is not installed: no SMART data and no used_bytes; install the nvme-cli package")
    collector = NvmeFactsCollector(
        command_runner(module),
        wipefs=wipefs,
        nvme=nvme,
        smart=module.params["smart"],
        sysfs_root=SYSFS_ROOT,
        proc_root=PROC_ROOT,
    )
    try:
        facts, warnings = collector.collect(serials=module.params["serials"])
    except MlopsError as exc:
        module.fail_json(**exc.fail_kwargs())
    for warning in warnings:
        module.warn(warning)
    module.exit_json(changed=False, ansible_facts=dict(nvme=facts))


if __name__ == "__main__":
    main()
