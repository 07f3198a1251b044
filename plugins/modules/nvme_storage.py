#!/usr/bin/python

# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: nvme_storage
short_description: Lay out NVMe drives as filesystems, mdadm RAID arrays or LVM volume groups, safely
version_added: 0.1.0
description:
  - Takes NVMe drives, chosen by serial number or by model and count (never by C(/dev) name, which can change at
    every boot), and makes them into the O(volumes) you describe, each with a filesystem mounted by UUID from
    C(/etc/fstab).
  - Plan, then apply. The module reads the drives (the same facts as M(baremetal.mlops.nvme_facts)), the md arrays,
    LVM, C(/etc/fstab) and C(mdadm.conf), computes the ordered list of steps that takes the host to the layout, and
    returns it as RV(plan), also in check mode. Every problem of the layout is checked, and reported together, before
    the first change.
  - Safe mode is the default. A drive with a partition table, a filesystem/RAID/LVM signature, a holder (md or
    device-mapper) or a mount is refused with an error that names the host, the drive's path and serial, and what
    was found on it. Only a drive whose serial is in O(wipe_allowlist) while O(wipe=true) is erased (C(wipefs --all))
    and reused, and even then not while something uses it right now (mounted, held by a running array, active swap).
  - Before a wipe, every reference to the drive and to what is on it is found - C(/etc/fstab) lines by C(UUID=),
    C(LABEL=), C(PARTUUID=), device path or C(/dev/disk/by-*) link (also for the logical volumes of a volume group on
    it, and the array it is a member of), C(mdadm.conf) ARRAY lines, C(/etc/crypttab) and C(.mount)/C(.swap) units in
    C(/etc/systemd/system), C(/run/systemd/system) or wherever systemd loaded them from (C(systemctl list-units
    --all)). Every C(/dev/disk/by-*) and C(/dev/mapper) link is resolved to its device. fstab and mdadm.conf lines
    are removed by planned steps (V(fstab_remove), V(mdadm_conf_remove)) before the wipe, so that the next boot does
    not wait for a filesystem that is gone; crypttab lines, units and a volume group or array that also lives on
    other drives are refused, naming them.
  - Every layer of a stack goes with its drive - the filesystem of an array it is a member of, the logical volumes of
    a group on that array or on a LUKS mapping opened from it. What has no device node because it is not running (a
    stopped or degraded array, a member failed and removed long ago, a deactivated logical volume) is read where it
    lies, read only (C(mdadm --examine)'s data offset, the LV's first extent, C(blkid -p -O)); what cannot be read
    that way is refused.
  - RAID1 and RAID10 members must be on different drives (NVMe subsystems) - two namespaces of one drive are no
    mirror, and such a new array is refused (an existing one is warned about).
  - What the layout itself creates is not a conflict. A member of the volume's own array (a C(linux_raid_member)
    named C(<host>:<volume name>)), a PV of the volume's own volume group, or the volume's own filesystem (same type
    and same label, or the UUID that the fstab line of its mount point names) counts as already done, so that a
    second run plans nothing and reports no change.
  - After applying, the drives are read again and RV(volumes) tells what is there.
  - O(state=absent) is not implemented; removing volumes is left to the operator on purpose.
author:
  - baremetal.mlops contributors (@baremetal-mlops)
extends_documentation_fragment:
  - baremetal.mlops.attributes
  - baremetal.mlops.attributes.state_changing
attributes:
  platform:
    platforms: linux
options:
  volumes:
    description:
      - The storage layout. Each entry is one volume made of whole NVMe namespaces (no partitions).
      - An empty list plans nothing.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description:
          - Name of the volume, 1 to 32 of C(A-Z a-z 0-9 _ . -).
          - For O(volumes[].type=raid) the array is C(/dev/md/<name>), created with C(--name=<name>) and
            C(--homehost) set to the host's node name; for O(volumes[].type=lvm) it is the volume group's name.
          - The default filesystem label (see O(volumes[].fs_label)).
          - Required. This and the choices below are checked by the module with the rest of the layout and the
            host, so that one run reports every problem (not Ansible's argument check, which stops at the first).
        type: str
      type:
        description:
          - V(filesystem) - one filesystem on one whole disk.
          - V(raid) - an mdadm array (metadata 1.2) of level O(volumes[].raid_level) across the disks, with one
            filesystem on it; the array is written to O(mdadm_conf) so that it assembles under its name at boot.
          - V(lvm) - a volume group across the disks, with one logical volume and filesystem per entry of
            O(volumes[].lvs).
          - Required, one of V(filesystem), V(raid), V(lvm).
        type: str
      disks:
        description:
          - Which NVMe namespaces the volume uses. Give O(volumes[].disks.serials), or O(volumes[].disks.model_pattern)
            and O(volumes[].disks.count). Required.
        type: dict
        suboptions:
          serials:
            description:
              - Serial numbers of the controllers, as C(nvme list) and M(baremetal.mlops.nvme_facts) show them.
              - A controller with several namespaces is named C(SERIAL/NSID).
              - A serial that is not on the host is an error naming the serials that are.
              - A serial that two drives report (cloned drives, firmware bugs - M(baremetal.mlops.nvme_facts) lists them
                in C(duplicate_serials)) cannot tell them apart and is refused, naming each drive's unambiguous names.
                Name such a disk by C(wwid:WWID), C(nguid:NGUID), C(uuid:UUID) (of the namespace) or
                C(pci:ADDRESS[/NSID]) (the PCI address of its controller, for example V(pci:0000:05:00.0/1)).
            type: list
            elements: str
          model_pattern:
            description:
              - Shell-style pattern (C(fnmatch), case sensitive) matched against the model of each namespace, for
                example V(SAMSUNG MZQL2*).
              - O(volumes[].disks.count) usable matches are taken - disks the volume already has first, then free disks,
                then (with O(wipe=true)) in-use disks of O(wipe_allowlist); each on a drive no other member is on, of
                one size (the largest size that gives enough), larger disks first. For RAID0, a filesystem or LVM a drive
                may give several namespaces once distinct drives run out; for RAID1/10 never. The plan's predicted
                volumes say why each member was chosen. Other matches in use are skipped, never wiped.
            type: str
          count:
            description: Number of disks to take with O(volumes[].disks.model_pattern).
            type: int
      raid_level:
        description:
          - RAID level for O(volumes[].type=raid). RAID0 and RAID1 need 2 disks or more, RAID10 4 or more and an
            even number.
          - One of V(0), V(1), V(10); required for O(volumes[].type=raid).
        type: int
      allow_mixed_sizes:
        description:
          - Build a RAID array of disks of different sizes; every member then counts as the smallest one.
          - By default such a layout is refused.
        type: bool
        default: false
      fs_type:
        description:
          - Filesystem to create, V(xfs) or V(ext4). For O(volumes[].type=lvm), the default of the entries of
            O(volumes[].lvs).
        type: str
        default: xfs
      fs_label:
        description:
          - Filesystem label, 12 characters at most for xfs and 16 for ext4.
          - Defaults to O(volumes[].name). The label is how a later run recognises the filesystem as its own.
          - Not for O(volumes[].type=lvm); set it on the entries of O(volumes[].lvs).
        type: str
      mount_point:
        description:
          - Where to mount the filesystem. The module writes C(UUID=<uuid> <mount_point> <fs_type> <options> 0 <pass>)
            to C(/etc/fstab) (replacing an earlier line for the same mount point), creates the directory and mounts it.
          - Without it the filesystem is created but not mounted.
          - An absolute path, taken as written - C(~) and C($VAR) are not expanded (a relative or expanded path is
            refused).
          - Not for O(volumes[].type=lvm); set it on the entries of O(volumes[].lvs).
        type: str
      mount_options:
        description: Mount options written to C(/etc/fstab).
        type: str
        default: defaults,noatime
      lvs:
        description:
          - Logical volumes of an O(volumes[].type=lvm) volume, created in the order given, fixed sizes before
            shares (C(%)).
        type: list
        elements: dict
        suboptions:
          name:
            description: Name of the logical volume; also its default filesystem label. Required.
            type: str
          size:
            description:
              - Size as C(lvcreate -L) takes it (V(100G), V(512M); MiB without a unit), or a share as C(lvcreate -l)
                takes it (V(100%FREE), V(50%VG)).
              - An existing logical volume is not resized.
              - Required.
            type: str
          fs_type:
            description: Filesystem to create, V(xfs) or V(ext4); defaults to the volume's O(volumes[].fs_type).
            type: str
          fs_label:
            description: Filesystem label; defaults to O(volumes[].lvs[].name).
            type: str
          mount_point:
            description: Where to mount it (see O(volumes[].mount_point)).
            type: str
          mount_options:
            description: Mount options written to C(/etc/fstab).
            type: str
            default: defaults,noatime
  wipe:
    description:
      - Erase the drives of O(wipe_allowlist) that are in use, so that the layout can use them.
      - Drives that already hold what the layout creates are never wiped.
    type: bool
    default: false
  wipe_allowlist:
    description:
      - Serials (or C(SERIAL/NSID), or any name O(volumes[].disks.serials) takes) of the drives that O(wipe=true) may
        erase. Drives not listed are never erased. An entry that names more than one drive (a serial two drives
        report) is refused.
    type: list
    elements: str
    default: []
  state:
    description:
      - V(present) creates what is missing. Removing volumes (V(absent)) is not supported.
    type: str
    choices: [present]
    default: present
  mdadm_conf:
    description: mdadm configuration file that gets the ARRAY line of each array.
    type: path
    default: /etc/mdadm/mdadm.conf
  update_initramfs:
    description:
      - Run C(update-initramfs -u) when O(mdadm_conf) changed, so that the initramfs knows the arrays (Debian and
        Ubuntu).
    type: bool
    default: true
requirements:
  - util-linux (C(wipefs), C(mount)), and as the layout needs them mdadm, lvm2, xfsprogs, e2fsprogs
  - lvm2 is read whenever it is installed (a disk to wipe may be a physical volume of a group that spans
    other disks); without it a disk with an LVM signature is never wiped
  - mdadm and blkid to read inside a stopped array before wiping its members (without them such members are
    refused)
  - root; run the task with C(become)
notes:
  - Steps run in this order - wipe, create (mdadm, LVM, mkfs), mdadm.conf, fstab, C(systemctl daemon-reload),
    mkdir and mount, C(update-initramfs). UUIDs of new arrays and filesystems are chosen when planning, so the check
    mode plan shows the exact fstab lines.
  - Not supported, refused with an error that says so - growing or shrinking arrays and volume groups, changing the
    RAID level or filesystem type of an existing volume, resizing logical volumes, removing volumes.
  - The initial resync of a new RAID1/RAID10 array runs in the background; the array is usable meanwhile.
  - If a step fails, the error names it and the steps already applied; the next run plans from what is on the
    drives.
seealso:
  - module: baremetal.mlops.nvme_facts
  - name: linux-system-roles storage, whose safe mode this follows
    description: C(storage_safe_mode) refuses to destroy data unless told to.
    link: https://github.com/linux-system-roles/storage
"""

EXAMPLES = r"""
- name: Mirror two drives for /data (xfs)
  become: true
  baremetal.mlops.nvme_storage:
    volumes:
      - name: data
        type: raid
        raid_level: 1
        disks:
          serials: [S64ANS0T123456, S64ANS0T123457]
        mount_point: /data

- name: Show what would change, change nothing
  become: true
  baremetal.mlops.nvme_storage:
    volumes:
      - name: scratch
        type: filesystem
        fs_type: ext4
        disks:
          serials: [S64ANS0T123458]
        mount_point: /scratch
  check_mode: true
  register: storage_plan

- name: Print the plan
  ansible.builtin.debug:
    msg: "{{ storage_plan.plan | map(attribute='command') | select | list }}"

- name: RAID10 over four drives of one model, reusing two drives that held an old array
  become: true
  baremetal.mlops.nvme_storage:
    volumes:
      - name: datasets
        type: raid
        raid_level: 10
        disks:
          model_pattern: "SAMSUNG MZQL27T6*"
          count: 4
        mount_point: /datasets
        mount_options: defaults,noatime,nofail
    wipe: true
    wipe_allowlist: [S64ANS0T123459, S64ANS0T123460]

- name: One volume group over two drives, two logical volumes
  become: true
  baremetal.mlops.nvme_storage:
    volumes:
      - name: vgdata
        type: lvm
        disks:
          serials: [S64ANS0T123461, S64ANS0T123462]
        lvs:
          - name: containerd
            size: 200G
            mount_point: /var/lib/containerd
          - name: models
            size: 100%FREE
            fs_type: ext4
            mount_point: /models
"""

RETURN = r"""
plan:
  description:
    - The steps, in order, that take the host to the layout; empty when nothing needs to change.
    - Returned in check mode too, when applying them failed (then with RV(failed_step) and RV(applied)), and when the
      layout is refused (then empty - nothing is planned until every problem is fixed).
  returned: always
  type: list
  elements: dict
  contains:
    action:
      description: V(fstab_remove), V(mdadm_conf_remove) (references to a disk about to be wiped), V(wipefs),
        V(mdadm_create), V(pvcreate), V(vgcreate), V(vgextend), V(lvcreate), V(mkfs), V(mdadm_conf), V(fstab),
        V(systemd_reload), V(mkdir), V(mount) or V(update_initramfs).
      type: str
      sample: mdadm_create
    volume:
      description: The volume the step is for; null for steps of the whole host.
      type: str
      sample: data
    device:
      description: The device the step works on.
      type: str
      sample: /dev/md/data
    serial:
      description: Serial of the drive the step works on; several are separated by commas; null when none.
      type: str
      sample: S64ANS0T123456, S64ANS0T123457
    detail:
      description: What the step does, in words.
      type: str
    command:
      description: The command the step runs (tool names without their path), null for file edits and mkdir.
      type: str
      sample: mdadm --create /dev/md/data --run --metadata=1.2 --level=1 --raid-devices=2 --homehost=node1
        --name=data --uuid=0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9 /dev/nvme0n1 /dev/nvme1n1
  sample:
    - action: mkfs
      volume: data
      device: /dev/md/data
      serial: S64ANS0T123456, S64ANS0T123457
      detail: create an xfs filesystem labelled data with UUID 5d0b7c1e-4a52-4a3b-9b1e-0f6d2e7a9c11
      command: mkfs.xfs -L data -m uuid=5d0b7c1e-4a52-4a3b-9b1e-0f6d2e7a9c11 /dev/md/data
volumes:
  description:
    - What is on the host for each volume of the layout, read after applying (in check mode, read before).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Volume name.
      type: str
    type:
      description: Volume type.
      type: str
    device:
      description: The volume's block device (C(/dev/md/<name>), the disk) or volume group directory.
      type: str
      sample: /dev/md/data
    disks:
      description: The drives of the volume, each with C(serial), C(path) and C(size_bytes).
      type: list
      elements: dict
    raid:
      description:
        - For arrays - C(md) (kernel name), C(level), C(uuid), C(label) (C(<host>:<name>)), C(members), C(state)
          (md C(array_state)), C(degraded) (missing members) and C(sync_action) (V(idle), V(resync), ...); null
          otherwise or while there is no array.
      type: dict
    vg:
      description: Volume group name for V(lvm) volumes that exist; null otherwise.
      type: str
    filesystems:
      description: Filesystems of the volume, each with C(lv), C(device), C(fs_type), C(uuid), C(label),
        C(mount_point) and C(mounted).
      type: list
      elements: dict
problems:
  description: Every problem found in the layout, when it was refused (nothing was changed then).
  returned: failure
  type: list
  elements: str
  sample:
    - "volume scratch: disk /dev/nvme2n1 (serial NB-SN-C) on node1 is in use: ext4 filesystem signature. Safe mode
      refuses to touch it. Fix: use another disk, or add serial NB-SN-C to wipe_allowlist and set wipe: true to erase it"
failed_step:
  description: The step that failed while applying.
  returned: failure
  type: dict
applied:
  description: The steps applied before the one that failed.
  returned: failure
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.baremetal.mlops.plugins.module_utils.common.command import command_runner
from ansible_collections.baremetal.mlops.plugins.module_utils.common.exceptions import MlopsError
from ansible_collections.baremetal.mlops.plugins.module_utils.disk import conffiles
from ansible_collections.baremetal.mlops.plugins.module_utils.disk import planner
from ansible_collections.baremetal.mlops.plugins.module_utils.disk.apply import Applier, file_writer
from ansible_collections.baremetal.mlops.plugins.module_utils.disk.state import StorageStateCollector

# Where the host's views and files are; unit tests point these at fake trees.
SYSFS_ROOT = "/sys"
PROC_ROOT = "/proc"
DEV_ROOT = "/dev"
FSTAB_PATH = "/etc/fstab"
SYSTEMD_DIR = "/run/systemd/system"

FS_TYPES = list(planner.FS_TYPES)


def argspec():
    lv_options = dict(
        name=dict(type="str"),
        size=dict(type="str"),
        fs_type=dict(type="str"),
        fs_label=dict(type="str"),
        mount_point=dict(type="str"),
        mount_options=dict(type="str", default=planner.DEFAULT_MOUNT_OPTIONS),
    )
    disk_options = dict(
        serials=dict(type="list", elements="str"),
        model_pattern=dict(type="str"),
        count=dict(type="int"),
    )
    volume_options = dict(
        name=dict(type="str"),
        type=dict(type="str"),
        disks=dict(type="dict", options=disk_options),
        raid_level=dict(type="int"),
        allow_mixed_sizes=dict(type="bool", default=False),
        fs_type=dict(type="str", default=planner.DEFAULT_FS_TYPE),
        fs_label=dict(type="str"),
        mount_point=dict(type="str"),
        mount_options=dict(type="str", default=planner.DEFAULT_MOUNT_OPTIONS),
        lvs=dict(type="list", elements="dict", options=lv_options),
    )
    return dict(
        # Values (names, types, levels, which disks option goes with which) are checked by the planner with the
        # rest of the layout and the host: one run reports every problem (issue 26); Ansible's check stops first.
        volumes=dict(type="list", elements="dict", default=[], options=volume_options),
        wipe=dict(type="bool", default=False),
        wipe_allowlist=dict(type="list", elements="str", default=[]),
        state=dict(type="str", choices=["present"], default="present"),
        mdadm_conf=dict(type="path", default="/etc/mdadm/mdadm.conf"),
        update_initramfs=dict(type="bool", default=True),
    )


def view(fstab, mdadm_conf, described):
    """What the diff shows and ``changed`` compares: fstab, mdadm.conf ARRAY lines, device summary."""
    arrays = "".join(entry["line"] + "\n" for entry in conffiles.array_entries(mdadm_conf))
    return {"fstab": fstab or "", "arrays": arrays, "devices": planner.summary_text(described)}


def diff_of(before, after, mdadm_conf):
    headers = (("fstab", "/etc/fstab"), ("arrays", "%s (ARRAY lines)" % mdadm_conf), ("devices", "NVMe volumes"))
    return [dict(before=before[key], after=after[key], before_header=header, after_header=header)
            for key, header in headers]


def main():
    module = AnsibleModule(argument_spec=argspec(), supports_check_mode=True)
    params = module.params
    volumes = planner.normalize_volumes(params["volumes"])
    wipefs = module.get_bin_path("wipefs", required=True)
    # LVM is read whenever lvm2 is installed, not only for lvm volumes: a disk to wipe may be a physical
    # volume of a group that also lives on a disk nobody allowlisted (issue 26). Without lvm2 the planner
    # refuses to wipe a disk that carries an LVM signature.
    lvm_tools = dict((tool, module.get_bin_path(tool, required=False)) for tool in ("pvs", "vgs", "lvs"))
    lvm = lvm_tools if all(lvm_tools.values()) else None
    if lvm is None and any(vol["type"] == "lvm" for vol in volumes):
        lvm = dict((tool, module.get_bin_path(tool, required=True)) for tool in ("pvs", "vgs", "lvs"))
    run = command_runner(module)
    collector = StorageStateCollector(
        run, wipefs, lvm=lvm, sysfs_root=SYSFS_ROOT, proc_root=PROC_ROOT, dev_root=DEV_ROOT, fstab_path=FSTAB_PATH,
        mdadm_conf_path=params["mdadm_conf"], systemd_dir=SYSTEMD_DIR, mount_points=planner.mount_points(volumes),
        blkid=module.get_bin_path("blkid", required=False), mdadm=module.get_bin_path("mdadm", required=False),
        systemctl=module.get_bin_path("systemctl", required=False),
    )
    try:
        before = collector.collect()
        plan = planner.make_plan(before, volumes, wipe=params["wipe"], wipe_allowlist=params["wipe_allowlist"],
                                 mdadm_conf=params["mdadm_conf"], update_initramfs=params["update_initramfs"])
    except MlopsError as exc:
        module.fail_json(plan=[], **exc.fail_kwargs())
    for warning in collector.warnings + plan["warnings"]:
        module.warn(warning)
    steps = plan["steps"]
    public_plan = [planner.public_step(step) for step in steps]
    before_view = view(before["fstab"], before["mdadm_conf"], planner.describe_volumes(before, volumes))
    after = before
    after_view = before_view
    # Every tool the plan needs, also in check mode: a missing one fails before any change.
    bins = dict((tool, module.get_bin_path(tool, required=True)) for tool in plan["tools"])
    bins["wipefs"] = wipefs
    if steps and module.check_mode:
        after_view = view(plan["fstab"], plan["mdadm_conf"], plan["predicted"])
    elif steps:
        applier = Applier(run, bins, file_writer(module), fstab_path=FSTAB_PATH, udevadm=module.get_bin_path("udevadm"))
        try:
            applier.apply(steps)
            after = collector.collect()
        except MlopsError as exc:
            # A plan that failed half way changed the host when any step before the failure ran (issue 26):
            # changed says so, and `applied` lists what ran.
            module.fail_json(plan=public_plan, changed=bool(applier.applied), **exc.fail_kwargs())
        after_view = view(after["fstab"], after["mdadm_conf"], planner.describe_volumes(after, volumes))
    result = dict(
        changed=before_view != after_view,
        plan=public_plan,
        volumes=planner.describe_volumes(after, volumes),
    )
    if module._diff:
        result["diff"] = diff_of(before_view, after_view, params["mdadm_conf"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
