#!/usr/bin/env bash
# Build the virtual-rack base image: a Debian root file system made with
# debootstrap, packed into an ext4 raw disk without loop mounts, plus the
# kernel and initrd to boot it directly with qemu -kernel/-initrd.
#
# Called by `scripts/vrack image` (which hashes this file to key the cache):
#   build-image.sh OUTDIR
# Environment (set by scripts/vrack from versions.yml):
#   VRACK_SUITE           Debian suite, e.g. bookworm
#   VRACK_MIRROR          Debian mirror URL
#   VRACK_KERNEL_PACKAGE  kernel package, e.g. linux-image-cloud-amd64
#   VRACK_DEB_CACHE       optional debootstrap --cache-dir (speeds up rebuilds)
# Writes into OUTDIR: base.raw, vmlinuz, initrd.img, kernel-version,
# packages.tsv (package<TAB>version). Needs root (debootstrap, chroot).
#
# Guest contract (what scripts/vrack passes on the kernel command line):
#   root=/dev/vda (the ext4 file system is also labelled vmroot)
#   systemd.hostname=NAME systemd.machine_id=<32 hex>
#   vrack.ssh_key=<base64 of an ssh-ed25519 public key>  -> root's authorized_keys
#   vrack.lan=<IPv4/prefix> vrack.lan_mac=<MAC> [vrack.lan_gw=<IPv4>]
#   The management NIC (slirp, SSH port forward) has MAC 52:54:00:12:34:56
#   and gets 10.0.2.15/24; the LAN NIC carries the default route so the
#   default IPv4 fact is the LAN address, as on a real rack.
#   Once sshd is up, a unit writes "VRACK-READY <hostname>" to ttyS0.
set -euo pipefail

out=${1:?usage: build-image.sh OUTDIR}
suite=${VRACK_SUITE:?}
mirror=${VRACK_MIRROR:?}
kernel_pkg=${VRACK_KERNEL_PACKAGE:?}

packages=(
  systemd-sysv udev kmod dbus libnss-myhostname openssh-server
  python3 python3-apt sudo nvme-cli mdadm xfsprogs lvm2 parted e2fsprogs
  iproute2 iputils-ping netbase initramfs-tools zstd procps
  iptables nftables conntrack ethtool socat
  # The node-local load balancer in front of the control planes (kubeadm role).
  haproxy
  # LUKS volumes and crypttab, for nvme_storage's wipe scenario (issue 26):
  # systemd's cryptsetup generator acts on /etc/crypttab at boot.
  cryptsetup
  "$kernel_pkg"
)

mkdir -p "$out"
root="$out/root"
rm -rf "$root"
cleanup() {
  # A failed debootstrap can leave proc, sys or a /dev bind mount in the
  # target: unmount whatever is below it, and never cross into another file
  # system while deleting.
  local m
  { findmnt -rn -o TARGET | grep -F "$root/" | sort -r || true; } | while read -r m; do
    umount -l "$m" || true
  done
  rm -rf --one-file-system "$root" || true
}
trap cleanup EXIT

log() { printf '[build-image] %s\n' "$*"; }

cache_args=()
if [ -n "${VRACK_DEB_CACHE:-}" ]; then
  mkdir -p "$VRACK_DEB_CACHE"
  cache_args=(--cache-dir="$(cd "$VRACK_DEB_CACHE" && pwd)")
fi

log "debootstrap $suite from $mirror"
include=$(IFS=,; echo "${packages[*]}")
debootstrap --variant=minbase --components=main "${cache_args[@]}" \
  --include="$include" "$suite" "$root" "$mirror" >"$out/debootstrap.log" 2>&1 \
  || { tail -n 30 "$out/debootstrap.log" >&2; exit 1; }

log "configuring the guest"
# Identity comes from the kernel command line; the image holds none of its own.
rm -f "$root/etc/hostname"
# A non-empty machine-id: not a "first boot" (no firstboot prompts); systemd
# replaces it with systemd.machine_id= from the command line at boot.
echo 00000000000000000000000000000001 >"$root/etc/machine-id"
cat >"$root/etc/hosts" <<'EOF'
127.0.0.1 localhost
::1 localhost ip6-localhost ip6-loopback
EOF
# No DNS in the guest (slirp restrict=on): fail fast instead of waiting.
cat >"$root/etc/resolv.conf" <<'EOF'
nameserver 127.0.0.1
options timeout:1 attempts:1
EOF
cat >"$root/etc/fstab" <<'EOF'
/dev/vda / ext4 rw,errors=remount-ro 0 1
EOF
grep -q myhostname "$root/etc/nsswitch.conf" \
  || sed -i 's/^hosts:.*/& myhostname/' "$root/etc/nsswitch.conf"

# Root: no password, SSH by key only; the key arrives on the command line.
chroot "$root" usermod -p '*' root
rm -f "$root"/etc/ssh/ssh_host_*
cat >"$root/etc/ssh/sshd_config.d/vrack.conf" <<'EOF'
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
HostKey /etc/ssh/ssh_host_ed25519_key
EOF

cat >"$root/usr/local/sbin/vrack-init" <<'EOF'
#!/bin/sh
# vrack guest setup, once per boot before sshd: management and LAN
# addresses, root's authorized key, the SSH host key (see build-image.sh).
# Shell built-ins wherever possible: every exec costs under TCG at boot.
set -eu
read -r cmdline </proc/cmdline
lan='' lan_mac='' lan_gw='' key=''
for w in $cmdline; do
  case "$w" in
    vrack.lan=*) lan=${w#*=} ;;
    vrack.lan_mac=*) lan_mac=${w#*=} ;;
    vrack.lan_gw=*) lan_gw=${w#*=} ;;
    vrack.ssh_key=*) key=${w#*=} ;;
  esac
done
dev_by_mac() {
  i=0
  while [ "$i" -lt 100 ]; do
    for d in /sys/class/net/*; do
      read -r a <"$d/address" || continue
      if [ "$a" = "$1" ]; then echo "${d##*/}"; return 0; fi
    done
    i=$((i + 1))
    sleep 0.1
  done
  echo "vrack-init: no network interface with MAC $1" >&2
  return 1
}
mgmt=$(dev_by_mac 52:54:00:12:34:56)
cmds="link set lo up
address replace 10.0.2.15/24 dev $mgmt
link set $mgmt up"
if [ -n "$lan" ]; then
  dev=$(dev_by_mac "$lan_mac")
  cmds="$cmds
address replace $lan dev $dev
link set $dev up"
  if [ -n "$lan_gw" ]; then
    cmds="$cmds
route replace default via $lan_gw dev $dev onlink"
  fi
else
  cmds="$cmds
route replace default via 10.0.2.2 dev $mgmt"
fi
printf '%s\n' "$cmds" >/run/vrack-ip.batch
ip -batch /run/vrack-ip.batch
if [ -n "$key" ]; then
  umask 077
  [ -d /root/.ssh ] || mkdir -m 700 /root/.ssh
  printf 'ssh-ed25519 %s vrack\n' "$key" >/root/.ssh/authorized_keys
  umask 022
fi
if [ ! -s /etc/ssh/ssh_host_ed25519_key ]; then
  ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/ssh_host_ed25519_key
fi
EOF
chmod 755 "$root/usr/local/sbin/vrack-init"

# Early (no default dependencies): the root file system is mounted rw by the
# kernel and the NICs exist once the initrd loaded virtio_net.
cat >"$root/etc/systemd/system/vrack-init.service" <<'EOF'
[Unit]
Description=vrack guest setup (addresses, SSH keys)
DefaultDependencies=no
After=systemd-journald.socket
Before=network-pre.target network.target ssh.service shutdown.target
Wants=network-pre.target
Conflicts=shutdown.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/vrack-init

[Install]
WantedBy=multi-user.target
EOF

cat >"$root/etc/systemd/system/vrack-ready.service" <<'EOF'
[Unit]
Description=vrack ready marker on the serial console
Requires=ssh.service
After=ssh.service vrack-init.service

[Service]
Type=oneshot
ExecStart=/bin/sh -c 'echo "VRACK-READY $(cat /proc/sys/kernel/hostname)" >/dev/ttyS0'

[Install]
WantedBy=multi-user.target
EOF

chroot "$root" systemctl enable --quiet vrack-init.service vrack-ready.service
# Every unit costs seconds under TCG: mask periodic jobs, NVMe-oF discovery,
# LVM monitoring, pstore, and the gettys (root has no password anyway).
chroot "$root" systemctl mask --quiet apt-daily.timer apt-daily-upgrade.timer \
  e2scrub_all.timer e2scrub_reap.service fstrim.timer dpkg-db-backup.timer \
  mdcheck_start.timer mdcheck_continue.timer mdmonitor-oneshot.timer \
  systemd-firstboot.service nvmf-autoconnect.service \
  nvmefc-boot-connections.service lvm2-monitor.service systemd-pstore.service \
  getty@tty1.service serial-getty@ttyS0.service \
  systemd-binfmt.service proc-sys-fs-binfmt_misc.automount \
  sys-fs-fuse-connections.mount sys-kernel-debug.mount sys-kernel-tracing.mount
# A volatile journal: nothing to flush to disk at boot.
mkdir -p "$root/etc/systemd/journald.conf.d"
printf '[Journal]\nStorage=volatile\n' >"$root/etc/systemd/journald.conf.d/vrack.conf"
rm -rf "$root/var/log/journal"

log "rebuilding the initrd (MODULES=list)"
sed -i 's/^MODULES=.*/MODULES=list/' "$root/etc/initramfs-tools/initramfs.conf"
printf '%s\n' virtio_pci virtio_blk virtio_net >>"$root/etc/initramfs-tools/modules"
# No udev in the initrd: MODULES=list loads the virtio modules by name and
# the kernel's devtmpfs creates /dev/vda (root=/dev/vda). udev's coldplug and
# settle cost 10-15 s there under TCG. The real root still runs udev.
mkdir -p "$root/usr/local/share/vrack/diverted"
for f in hooks/udev scripts/init-top/udev scripts/init-bottom/udev; do
  chroot "$root" dpkg-divert --quiet --local --rename \
    --divert "/usr/local/share/vrack/diverted/${f//\//_}" --add "/usr/share/initramfs-tools/$f"
done
# What udev's init-bottom script did: hand /dev over to the real root.
cat >"$root/etc/initramfs-tools/scripts/init-bottom/vrack-dev" <<'DEVEOF'
#!/bin/sh
case "$1" in prereqs) exit 0 ;; esac
mount -n -o move /dev "${rootmnt}/dev"
DEVEOF
chmod 755 "$root/etc/initramfs-tools/scripts/init-bottom/vrack-dev"
# No swap to resume from, no RAID to assemble before the root mount.
echo RESUME=none >"$root/etc/initramfs-tools/conf.d/resume"
sed -i "s/^INITRDSTART=.*/INITRDSTART='none'/" "$root/etc/default/mdadm"
grep -q "^INITRDSTART='none'" "$root/etc/default/mdadm" || echo "INITRDSTART='none'" >>"$root/etc/default/mdadm"
kver=$(find "$root/boot" -maxdepth 1 -name 'vmlinuz-*' -printf '%f\n' | sort -V | tail -n 1)
kver=${kver#vmlinuz-}
mount -t proc proc "$root/proc"
chroot "$root" update-initramfs -u -k "$kver" >>"$out/debootstrap.log" 2>&1
umount "$root/proc"

echo "$kver" >"$out/kernel-version"
cp "$root/boot/vmlinuz-$kver" "$out/vmlinuz"
cp "$root/boot/initrd.img-$kver" "$out/initrd.img"
dpkg-query --admindir="$root/var/lib/dpkg" -W -f '${Package}\t${Version}\n' >"$out/packages.tsv"

chroot "$root" apt-get clean
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/log/*.log "$root"/tmp/*

log "mkfs.ext4 -d (no loop mount)"
rm -f "$out/base.raw"
truncate -s 4G "$out/base.raw"
mkfs.ext4 -q -L vmroot -d "$root" "$out/base.raw"
log "done: kernel $kver"
