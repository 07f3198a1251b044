# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Fake hosts for unit tests: sysfs/procfs trees under tmp_path and a command runner.

Two ways to get a sysfs tree:

* :func:`load_sysfs_dump` replays a dump captured on a real kernel
  (``tests/unit/fixtures/nvme/qemu-deb12/sysfs.json``): directories,
  attribute files and the kernel's *relative* symlinks, so ``realpath``
  resolves inside the fake tree exactly as it does under ``/sys``.
* :class:`SysfsBuilder` constructs trees in the same layout for cases no
  capture has (a GPU node, a controller in a resetting state, ...).
"""

from __future__ import annotations

import json
import os

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures")


def fixture_path(*parts):
    return os.path.join(FIXTURES, *parts)


def read_fixture(*parts):
    with open(fixture_path(*parts), encoding="utf-8") as handle:
        return handle.read()


def load_sysfs_dump(dump_path, sysfs_root):
    """Recreate a captured sysfs dump (``{relpath: {type, content|target}}``) under ``sysfs_root``."""
    with open(dump_path, encoding="utf-8") as handle:
        entries = json.load(handle)
    for rel in sorted(entries):
        entry = entries[rel]
        path = os.path.join(sysfs_root, rel)
        if entry["type"] == "dir":
            os.makedirs(path, exist_ok=True)
    for rel in sorted(entries):
        entry = entries[rel]
        path = os.path.join(sysfs_root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if entry["type"] == "link":
            os.symlink(entry["target"], path)
        elif entry["type"] == "file" and "content" in entry:
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(entry["content"])
    return sysfs_root


class SysfsBuilder(object):
    """Write sysfs trees in the kernel's layout (real dirs under devices/, relative links)."""

    def __init__(self, root):
        self.root = str(root)
        os.makedirs(self.root, exist_ok=True)

    def write(self, rel, content):
        path = os.path.join(self.root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(content)

    def mkdir(self, rel):
        os.makedirs(os.path.join(self.root, rel), exist_ok=True)

    def link(self, rel, target_rel):
        """Symlink ``rel`` to ``target_rel`` (both relative to the root), written as a relative link."""
        path = os.path.join(self.root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        target = os.path.relpath(os.path.join(self.root, target_rel), os.path.dirname(path))
        os.symlink(target, path)

    # -- NVMe ---------------------------------------------------------------------

    def nvme_controller(self, index, serial, model, pci="0000:01:00.0", firmware="1.0", state="live", subsys=None,
                        transport="pcie", numa_node=-1):
        """A PCIe controller ``nvme<index>``; serial/model padded like Identify Controller strings."""
        ctrl = "devices/pci0000:00/%s/nvme/nvme%d" % (pci, index)
        self.mkdir("devices/pci0000:00/%s" % pci)
        attrs = {
            "serial": serial.ljust(20), "model": model.ljust(40), "firmware_rev": firmware.ljust(8),
            "transport": transport, "address": pci, "state": state, "cntlid": "0", "numa_node": str(numa_node),
            "subsysnqn": "nqn.2014.08.org.nvmexpress:%s" % serial, "dev": "247:%d" % index,
        }
        for name, value in attrs.items():
            self.write("%s/%s" % (ctrl, name), value + "\n")
        self.link("%s/device" % ctrl, "devices/pci0000:00/%s" % pci)
        self.link("class/nvme/nvme%d" % index, ctrl)
        subsys = index if subsys is None else subsys
        sub = "devices/virtual/nvme-subsystem/nvme-subsys%d" % subsys
        for name in ("serial", "model", "firmware_rev"):
            self.write("%s/%s" % (sub, name), attrs[name] + "\n")
        self.link("%s/nvme%d" % (sub, index), ctrl)
        self.link("class/nvme-subsystem/nvme-subsys%d" % subsys, sub)
        return ctrl

    def nvme_namespace(self, ctrl_rel, name, sectors, nsid=1, lbs=512, pbs=512, dev="259:0", wwid=None, nguid=None):
        ns = "%s/%s" % (ctrl_rel, name)
        files = {
            "size": str(sectors), "nsid": str(nsid), "dev": dev, "ro": "0", "hidden": "0",
            "queue/logical_block_size": str(lbs), "queue/physical_block_size": str(pbs),
        }
        if wwid:
            files["wwid"] = wwid
        if nguid:
            files["nguid"] = nguid
        for rel, value in files.items():
            self.write("%s/%s" % (ns, rel), value + "\n")
        self.mkdir("%s/holders" % ns)
        self.link("%s/device" % ns, ctrl_rel)
        self.link("class/block/%s" % name, ns)
        self.link("block/%s" % name, ns)
        return ns

    def partition(self, ns_rel, name, number, start, sectors, dev):
        part = "%s/%s" % (ns_rel, name)
        for rel, value in {"partition": number, "start": start, "size": sectors, "dev": dev}.items():
            self.write("%s/%s" % (part, rel), "%s\n" % value)
        self.mkdir("%s/holders" % part)
        self.link("class/block/%s" % name, part)
        return part

    def holder(self, holder_of_rel, name, dev, dm_name=None, dm_uuid=None, md_level=None):
        """A virtual block device (md/dm) holding ``holder_of_rel``."""
        rel = "devices/virtual/block/%s" % name
        self.write("%s/dev" % rel, dev + "\n")
        self.mkdir("%s/holders" % rel)
        if dm_name:
            self.write("%s/dm/name" % rel, dm_name + "\n")
            self.write("%s/dm/uuid" % rel, (dm_uuid or "LVM-x") + "\n")
        if md_level:
            self.write("%s/md/level" % rel, md_level + "\n")
        if not os.path.lexists(os.path.join(self.root, "class/block", name)):
            self.link("class/block/%s" % name, rel)
            self.link("block/%s" % name, rel)
        self.link("%s/holders/%s" % (holder_of_rel, name), rel)
        return rel

    # -- PCI ----------------------------------------------------------------------

    def pci_device(self, bus_id, vendor, device, pci_class, subsystem_vendor="0x10de", subsystem_device="0x0000",
                   numa_node=-1, driver=None, revision="0xa1"):
        """A PCI function as in Documentation/ABI/testing/sysfs-bus-pci (ids as ``0x%04x``, class ``0x%06x``)."""
        domain, bus = bus_id.split(":")[0:2]
        rel = "devices/pci%s:%s/%s" % (domain, bus, bus_id)
        files = {
            "vendor": vendor, "device": device, "class": pci_class, "subsystem_vendor": subsystem_vendor,
            "subsystem_device": subsystem_device, "numa_node": str(numa_node), "revision": revision,
        }
        for name, value in files.items():
            self.write("%s/%s" % (rel, name), value + "\n")
        self.link("bus/pci/devices/%s" % bus_id, rel)
        if driver:
            self.mkdir("bus/pci/drivers/%s" % driver)
            self.link("%s/driver" % rel, "bus/pci/drivers/%s" % driver)
        return rel


class FakeRunner(object):
    """Stands in for ``module.run_command``: answers argv (by tuple, or by prefix) and records calls."""

    def __init__(self, answers=None):
        self.answers = dict(answers or {})
        self.calls = []

    def add(self, argv, rc=0, out="", err=""):
        self.answers[tuple(argv)] = (rc, out, err)

    def __call__(self, argv):
        argv = tuple(argv)
        self.calls.append(argv)
        if argv in self.answers:
            return self.answers[argv]
        raise AssertionError("unexpected command: %s" % " ".join(argv))


def qemu_deb12_host(tmp_path):
    """sysfs/proc of the capture VM and a runner answering its real tool output.

    The VM (see fixtures/nvme/qemu-deb12/CAPTURE.md): nvme0 with GPT, p1 xfs
    on /data and p2 active swap; nvme1+nvme2 in md127 (raid1); nvme3 an LVM
    PV whose LV is mounted on /scratch and "/mnt/with space"; nvme4 blank;
    nvme5 a controller without namespaces; nvme6 with two namespaces (512 B
    and 4 KiB blocks); nvme7+nvme8 two controllers of one subsystem sharing
    namespace nvme7n1 through native multipath.
    """
    base = ("nvme", "qemu-deb12")
    sysfs_root = load_sysfs_dump(fixture_path(*base + ("sysfs.json",)), str(tmp_path / "sys"))
    proc = tmp_path / "proc"
    (proc / "self").mkdir(parents=True)
    (proc / "self" / "mountinfo").write_text(read_fixture(*base + ("mountinfo.txt",)))
    (proc / "swaps").write_text(read_fixture(*base + ("swaps.txt",)))
    runner = FakeRunner()
    runner.add(["/usr/sbin/nvme", "version"], out=read_fixture(*base + ("nvme_version.txt",)))
    runner.add(["/usr/sbin/nvme", "list", "-o", "json"], out=read_fixture(*base + ("nvme_list.json",)))
    smart0 = read_fixture(*base + ("smart_log_nvme0.json",))
    for index in range(9):
        name = "smart_log_nvme%d.json" % index
        out = read_fixture(*base + (name,)) if os.path.exists(fixture_path(*base + (name,))) else smart0
        runner.add(["/usr/sbin/nvme", "smart-log", "/dev/nvme%d" % index, "-o", "json"], out=out)
    for name in os.listdir(fixture_path(*base)):
        if name.startswith("wipefs_"):
            dev = name[len("wipefs_"):-len(".json")]
            runner.add(["/usr/sbin/wipefs", "--json", "/dev/%s" % dev], out=read_fixture(*base + (name,)))
    return str(sysfs_root), str(proc), runner


# -- GPU nodes ------------------------------------------------------------------------
# PCI ids from pci.ids (Debian 12 pciutils/hwdata 2023-04-10, /usr/share/misc/pci.ids); bus addresses as
# documented in tests/unit/fixtures/README.md.

def hgx_h100_pci(builder):
    """8x H100 SXM5 (10de:2330, 3D controller) + 4 NVSwitch bridges (class 0x0680) + ConnectX-7 NICs, like a p5.48xlarge."""
    for i, bus in enumerate(["53", "64", "75", "86", "97", "a8", "b9", "ca"]):
        builder.pci_device("0000:%s:00.0" % bus, "0x10de", "0x2330", "0x030200", "0x10de", "0x16c1",
                           numa_node=0 if i < 4 else 1, driver="nvidia")
    for bus in ["cf", "d0", "d1", "d2"]:
        builder.pci_device("0000:%s:00.0" % bus, "0x10de", "0x22a3", "0x068000", "0x10de", "0x1796", numa_node=1,
                           driver="nvidia")
    for bus in ["4b", "5c"]:
        builder.pci_device("0000:%s:00.0" % bus, "0x15b3", "0x1021", "0x020700", "0x15b3", "0x0041", numa_node=0,
                           driver="mlx5_core")
    builder.pci_device("0000:00:00.0", "0x8086", "0x09a2", "0x088000", "0x8086", "0x0000", numa_node=0)


def rtx_a4000_pci(builder, driver="nvidia"):
    """A workstation: RTX A4000 (10de:24b0, VGA controller) and its HD audio function (10de:228b)."""
    builder.pci_device("0000:65:00.0", "0x10de", "0x24b0", "0x030000", "0x10de", "0x14ad", driver=driver)
    builder.pci_device("0000:65:00.1", "0x10de", "0x228b", "0x040300", "0x10de", "0x14ad", driver="snd_hda_intel")


def rtx2080ti_x4_pci(builder):
    """4x RTX 2080 Ti (TU102, 10de:1e07) each with HD audio, USB 3.1 host and USB-C UCSI functions."""
    for bus in ["0a", "0b", "41", "42"]:
        builder.pci_device("0000:%s:00.0" % bus, "0x10de", "0x1e07", "0x030000", "0x10de", "0x12fa", driver="nvidia")
        builder.pci_device("0000:%s:00.1" % bus, "0x10de", "0x10f7", "0x040300", "0x10de", "0x12fa",
                           driver="snd_hda_intel")
        builder.pci_device("0000:%s:00.2" % bus, "0x10de", "0x1ad6", "0x0c0330", "0x10de", "0x12fa", driver="xhci_hcd")
        builder.pci_device("0000:%s:00.3" % bus, "0x10de", "0x1ad7", "0x0c8000", "0x10de", "0x12fa",
                           driver="nvidia-gpu")


def a100_mig_pci(builder):
    """2x A100 SXM4 80GB (10de:20b2, 3D controller)."""
    for bus in ["31", "b1"]:
        builder.pci_device("0000:%s:00.0" % bus, "0x10de", "0x20b2", "0x030200", "0x10de", "0x1463",
                           numa_node=0 if bus == "31" else 1, driver="nvidia")


def gpu_host(tmp_path, pci=None, proc_version=None, sys_module_version=None):
    """sysfs/proc roots for a GPU node; ``pci`` builds the bus (None: the capture VM's real PCI bus, no NVIDIA)."""
    sysfs_root = str(tmp_path / "sys")
    if pci is None:
        load_sysfs_dump(fixture_path("gpu", "qemu_deb12_pci_sysfs.json"), sysfs_root)
    builder = SysfsBuilder(sysfs_root)
    if pci is not None:
        pci(builder)
    proc = tmp_path / "proc"
    proc.mkdir()
    if proc_version is not None:
        (proc / "driver" / "nvidia").mkdir(parents=True)
        (proc / "driver" / "nvidia" / "version").write_text(read_fixture("gpu", proc_version))
    if sys_module_version is not None:
        builder.write("module/nvidia/version", sys_module_version + "\n")
    return sysfs_root, str(proc)
