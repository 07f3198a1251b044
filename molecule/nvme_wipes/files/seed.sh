#!/bin/sh
# Seed the drives of issue 26's findings (run once by prepare.yml, as root):
#   seed.sh SPAN1 SPAN2 GONE MDA MDB PATHF LUKS UNITU   (device paths)
set -eux
span1=$1 span2=$2 gone=$3 mda=$4 mdb=$5 pathf=$6 luks=$7 unitu=$8

by_path() {
  # The /dev/disk/by-path link udev made for a device.
  for link in /dev/disk/by-path/*; do
    if [ "$(readlink -f "$link")" = "$1" ]; then echo "$link"; return 0; fi
  done
  echo "no by-path link for $1" >&2
  return 1
}
uuid() { blkid -s UUID -o value "$1"; }

mkdir -p /srv/span /srv/gone /srv/old /srv/path /srv/unit /root/units

# vgspan: one xfs LV over SPAN-1 and SPAN-2 (finding 1).
pvcreate -q "$span1" "$span2"
vgcreate -q vgspan "$span1" "$span2"
lvcreate -q -y -n lvspan -l 100%FREE vgspan
mkfs.xfs -q -L span /dev/vgspan/lvspan
echo "UUID=$(uuid /dev/vgspan/lvspan) /srv/span xfs defaults 0 0" >>/etc/fstab

# vggone: an ext4 LV on GONE-1 alone, deactivated below (finding 3's neighbour).
pvcreate -q "$gone"
vgcreate -q vggone "$gone"
lvcreate -q -y -n lvgone -L 500M vggone
mkfs.ext4 -q -L gone /dev/vggone/lvgone
echo "UUID=$(uuid /dev/vggone/lvgone) /srv/gone ext4 defaults 0 2" >>/etc/fstab

# md/old: RAID1 on MD-A and MD-B with xfs, in fstab and mdadm.conf (finding 3).
mdadm --create /dev/md/old --run --quiet --level=1 --raid-devices=2 --metadata=1.2 --assume-clean "$mda" "$mdb"
mkfs.xfs -q -L old /dev/md/old
echo "UUID=$(uuid /dev/md/old) /srv/old xfs defaults 0 0" >>/etc/fstab
mdadm --detail --brief /dev/md/old >>/etc/mdadm/mdadm.conf

# PATH-F: ext4 in fstab by its by-path link (finding 2).
mkfs.ext4 -q -L pathf "$pathf"
echo "$(by_path "$pathf") /srv/path ext4 defaults 0 2" >>/etc/fstab

# LUKS-C: LUKS2 (a quick PBKDF: TCG is slow), in crypttab by its by-path link (finding 2).
head -c 64 /dev/urandom >/root/luks.key
chmod 600 /root/luks.key
cryptsetup luksFormat --batch-mode --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
  --key-file /root/luks.key "$luks"
echo "secret $(by_path "$luks") /root/luks.key luks" >>/etc/crypttab

# UNIT-U: ext4 mounted by a unit that lives outside systemd's directories, linked in and enabled (finding 2).
mkfs.ext4 -q -L unitu "$unitu"
cat >/root/units/srv-unit.mount <<UNIT
[Unit]
Description=UNIT-U data (issue 26 scenario)

[Mount]
What=$(by_path "$unitu")
Where=/srv/unit
Type=ext4

[Install]
WantedBy=local-fs.target
UNIT
systemctl link /root/units/srv-unit.mount
systemctl enable srv-unit.mount
systemctl daemon-reload

# Data, then the state each finding had: vgspan mounted (prepare deactivates
# it later), vggone deactivated, md/old degraded with MD-B removed, stopped.
mount /srv/span
head -c 64M /dev/urandom >/srv/span/data
sha256sum /srv/span/data >/root/span.sha256
mount /srv/gone
echo gone >/srv/gone/data
umount /srv/gone
vgchange -an vggone
mount /srv/old
echo "before MD-B failed" >/srv/old/data
mdadm /dev/md/old --fail "$mdb" --remove "$mdb"
echo "after MD-B failed" >>/srv/old/data
umount /srv/old
mdadm --stop /dev/md/old
udevadm settle
touch /root/seeded
