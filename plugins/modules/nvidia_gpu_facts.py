#!/usr/bin/python

# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: nvidia_gpu_facts
short_description: Gather facts about NVIDIA GPUs and the NVIDIA driver
version_added: 0.1.0
description:
  - Finds NVIDIA GPUs on the PCI bus from sysfs (vendor C(0x10de), display controller class C(0x03)), without lspci and
    without a driver. HD audio, USB and USB-C functions of the same boards and NVSwitch bridges are not GPUs and are
    left out.
  - When the NVIDIA driver runs, adds what C(nvidia-smi --query-gpu) knows of each GPU (index, name, UUID, serial,
    memory, ECC, MIG and persistence mode) and the driver and CUDA versions, and merges both views by PCI address.
  - A GPU on the PCI bus that the driver does not list is reported with C(driver_visible=false) and a C(state) that says
    why (for example C(unreachable) after it fell off the bus). A driver that is not loaded is reported in
    C(nvidia_driver.loaded) and C(nvidia_driver.message), not as a failure. A node without GPUs returns an empty list.
  - Changes nothing on the host.
author:
  - baremetal.mlops contributors (@baremetal-mlops)
extends_documentation_fragment:
  - baremetal.mlops.attributes
  - baremetal.mlops.attributes.facts
attributes:
  platform:
    platforms: linux
options: {}
requirements:
  - nvidia-smi from the NVIDIA driver for everything beyond the PCI view (optional)
notes:
  - Bus IDs are reported in the sysfs form C(0000:3b:00.0); nvidia-smi prints them as C(00000000:3B:00.0).
  - The module fails only when sysfs cannot be read or nvidia-smi prints something it cannot parse.
seealso:
  - name: nvidia-smi documentation
    description: Query fields and exit codes of nvidia-smi.
    link: https://docs.nvidia.com/deploy/nvidia-smi/index.html
"""

EXAMPLES = r"""
- name: Gather NVIDIA GPU facts
  baremetal.mlops.nvidia_gpu_facts:

- name: Fail when a GPU on the PCI bus is not usable
  ansible.builtin.assert:
    that: ansible_facts.nvidia_gpus | rejectattr('state', 'equalto', 'ok') | list | length == 0
    fail_msg: >-
      GPUs not healthy: {{ ansible_facts.nvidia_gpus | rejectattr('state', 'equalto', 'ok')
      | map(attribute='bus_id') | join(', ') }} ({{ ansible_facts.nvidia_driver.message }})

- name: Install the driver where GPUs are present but no driver is loaded
  ansible.builtin.debug:
    msg: "{{ ansible_facts.nvidia_gpus | length }} GPUs, driver loaded: {{ ansible_facts.nvidia_driver.loaded }}"
  when: ansible_facts.nvidia_gpus | length > 0 and not ansible_facts.nvidia_driver.loaded
"""

RETURN = r"""
ansible_facts:
  description: Facts added to the host.
  returned: always
  type: dict
  contains:
    nvidia_gpus:
      description: NVIDIA GPUs, ordered by PCI address; empty on a node without NVIDIA GPUs.
      returned: always
      type: list
      elements: dict
      contains:
        bus_id:
          description: PCI address in sysfs form.
          type: str
          sample: "0000:53:00.0"
        on_pci_bus:
          description: Whether sysfs lists the GPU on the PCI bus.
          type: bool
        vendor_id:
          description: PCI vendor ID.
          type: str
          sample: "0x10de"
        device_id:
          description: PCI device ID.
          type: str
          sample: "0x2330"
        subsystem_vendor_id:
          description: PCI subsystem vendor ID.
          type: str
        subsystem_device_id:
          description: PCI subsystem device ID.
          type: str
        class_id:
          description: PCI class code.
          type: str
          sample: "0x030200"
        class_name:
          description: C(3D controller) or C(VGA compatible controller).
          type: str
        numa_node:
          description: NUMA node of the GPU, null when the platform reports none.
          type: int
        kernel_driver:
          description: Kernel driver bound to the PCI function (C(nvidia), C(nouveau), C(vfio-pci)), null when none.
          type: str
        driver_visible:
          description: Whether nvidia-smi lists the GPU.
          type: bool
        state:
          description:
            - C(ok) - nvidia-smi lists the GPU without error.
            - C(requires_reset), C(lost), C(error) - nvidia-smi lists it with C([GPU requires reset]), C([GPU is lost])
              or C([Unknown Error]) fields.
            - C(unreachable) - nvidia-smi could not get a handle for it (for example after it fell off the bus).
            - C(not_visible) - the driver runs but does not list it (bound to another driver, excluded).
            - C(no_driver) - no NVIDIA driver runs; C(unknown) - a driver runs but nvidia-smi is not installed.
          type: str
          sample: ok
        errors:
          description: Error states or messages nvidia-smi reported for the GPU.
          type: list
          elements: str
        index:
          description: nvidia-smi index.
          type: int
        name:
          description: Product name.
          type: str
          sample: NVIDIA H100 80GB HBM3
        uuid:
          description: GPU UUID.
          type: str
          sample: GPU-5a0bc4b4-0cf2-6a6c-3e36-ef0f3e35a7f5
        serial:
          description: Board serial number, null when the board has none.
          type: str
        vbios_version:
          description: VBIOS version.
          type: str
        memory_total_mib:
          description: Total framebuffer memory in MiB.
          type: int
          sample: 81559
        driver_version:
          description: Driver version nvidia-smi reports for the GPU.
          type: str
        persistence_mode:
          description: Whether persistence mode is enabled.
          type: bool
        ecc_enabled:
          description: Whether ECC is enabled, null where not supported.
          type: bool
        mig_enabled:
          description: Whether MIG mode is enabled, null on GPUs without MIG.
          type: bool
        compute_mode:
          description: Compute mode (C(Default), C(Exclusive_Process), C(Prohibited)).
          type: str
    nvidia_driver:
      description: State of the NVIDIA driver.
      returned: always
      type: dict
      contains:
        loaded:
          description: Whether the NVIDIA kernel module is loaded (or nvidia-smi could talk to it).
          type: bool
        version:
          description: Driver version, null when no driver is loaded.
          type: str
          sample: 570.133.20
        kernel_module:
          description: C(open) or C(proprietary) flavour of the loaded kernel module, null when unknown.
          type: str
        cuda_version:
          description: Highest CUDA version the driver supports, from the nvidia-smi header.
          type: str
          sample: "12.8"
        nvidia_smi:
          description: Path of nvidia-smi, null when it is not installed.
          type: str
        smi_ok:
          description: Whether nvidia-smi listed the GPUs.
          type: bool
        state:
          description: Null when all is well, else C(driver_not_loaded), C(nvml_not_found), C(driver_library_mismatch),
            C(nvml_init_failed), C(no_devices) or C(gpu_unreachable).
          type: str
        message:
          description: What nvidia-smi said when it failed or could not reach a GPU.
          type: str
          sample: NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest
            NVIDIA driver is installed and running.
        gpu_count_pci:
          description: NVIDIA GPUs on the PCI bus.
          type: int
        gpu_count_visible:
          description: GPUs nvidia-smi lists.
          type: int
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.baremetal.mlops.plugins.module_utils.common.command import command_runner
from ansible_collections.baremetal.mlops.plugins.module_utils.common.exceptions import MlopsError
from ansible_collections.baremetal.mlops.plugins.module_utils.gpu.nvidia import NvidiaGpuFactsCollector

# Where the kernel's views are mounted; unit tests point these at fake trees.
SYSFS_ROOT = "/sys"
PROC_ROOT = "/proc"


def argspec():
    return dict()


def main():
    module = AnsibleModule(argument_spec=argspec(), supports_check_mode=True)
    collector = NvidiaGpuFactsCollector(
        command_runner(module),
        nvidia_smi=module.get_bin_path("nvidia-smi"),
        sysfs_root=SYSFS_ROOT,
        proc_root=PROC_ROOT,
    )
    try:
        gpus, driver, warnings = collector.collect()
    except MlopsError as exc:
        module.fail_json(**exc.fail_kwargs())
    for warning in warnings:
        module.warn(warning)
    module.exit_json(changed=False, ansible_facts=dict(nvidia_gpus=gpus, nvidia_driver=driver))


if __name__ == "__main__":
    main()
