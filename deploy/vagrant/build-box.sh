#!/usr/bin/env bash
# Builds the `tinykube/bookworm` libvirt box offline-ready and adds it to Vagrant (`make box`).
#
# The box is Debian 12 from debootstrap: kernel, GRUB, systemd, openssh (user vagrant, the insecure key,
# passwordless sudo), every Debian package a tinykube node runs, an empty machine-id (each VM makes its
# own, so DHCP leases differ) and a wheelhouse of tinykube's Python dependencies, so that provisioning
# needs no network (the dependencies come installed in /opt/tinykube). The project's own wheel is not in the
# box: it travels in the synced folder, so a code change needs no rebuild. Two cached layers, each named by
# the hash of what goes into it: the debootstrap result (build-rootfs.sh, the slow part), and the box made
# from it here (this script, the rootfs, the dependency wheels), so a new dependency or a change to the
# configuration below rebuilds only the second.
#
# Environment: TINYKUBE_VAGRANT_CACHE (default /var/cache/tinykube-vagrant) holds the box, the build
# and VAGRANT_HOME; DEBIAN_MIRROR (default http://deb.debian.org/debian, for build-rootfs.sh) is the only
# network source.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CACHE=${TINYKUBE_VAGRANT_CACHE:-/var/cache/tinykube-vagrant}
BOX_NAME=tinykube/bookworm
export VAGRANT_HOME=${VAGRANT_HOME:-$CACHE/vagrant.d}
VENV=$REPO/.venv
INSECURE_KEY=$(ls /usr/share/rubygems-integration/all/gems/vagrant-*/keys/vagrant.pub 2>/dev/null | head -1)

log() { printf '[build-box %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

[[ $EUID -eq 0 ]] || die "run as root (debootstrap and chroot)"
for cmd in zstd qemu-system-x86_64 qemu-img sfdisk mkfs.ext4 vagrant; do
  command -v "$cmd" >/dev/null || die "missing $cmd: run 'bash deploy/setup-host.sh vagrant'"
done
[[ -n $INSECURE_KEY ]] || die "vagrant's insecure public key not found (is vagrant installed?)"
[[ -x $VENV/bin/pip ]] || die "no $VENV: run 'make setup' first"

mkdir -p "$CACHE/boxes" "$VAGRANT_HOME"
WORK=$(mktemp -d "$CACHE/build.XXXXXX")
trap 'rm -rf "$WORK"' EXIT  # nothing is mounted under it here: debootstrap (which mounts /proc) is build-rootfs.sh's

# The dependency wheelhouse, from the local venv's package index (pip's own configuration).
log "wheelhouse of tinykube's dependencies"
"$VENV/bin/pip" wheel -q --no-build-isolation -w "$WORK/wheels" "$REPO" 2>&1 | grep -v "is ignored" >&2 || true
rm -f "$WORK"/wheels/tinykube-*.whl
ls "$WORK"/wheels/*.whl >/dev/null || die "pip wheel produced no dependency wheels"

ROOTFS_TARBALL=$(bash "$HERE/build-rootfs.sh")
HASH=$( { sha256sum <"$0"; basename "$ROOTFS_TARBALL"; (cd "$WORK/wheels" && ls); } | sha256sum | cut -c1-16)
BOX=$CACHE/boxes/tinykube-bookworm-$HASH.box
ADDED=$VAGRANT_HOME/tinykube-box.hash

if [[ -f $BOX ]]; then
  log "box $BOX is current (hash $HASH): skipping the build"
else
  ROOTFS=$WORK/rootfs
  log "unpacking $ROOTFS_TARBALL"
  mkdir "$ROOTFS"
  zstd -q -dc "$ROOTFS_TARBALL" | tar --numeric-owner --xattrs --xattrs-include='*' --acls -C "$ROOTFS" -xf -

  log "configuring the system"
  echo tinykube >"$ROOTFS/etc/hostname"
  : >"$ROOTFS/etc/machine-id"                    # empty: systemd makes a new one on each VM's first boot
  rm -f "$ROOTFS/var/lib/dbus/machine-id"
  echo 'LABEL=root / ext4 defaults,noatime 0 1' >"$ROOTFS/etc/fstab"
  echo '# no upstream resolver: the VMs are offline; pods resolve through the cluster DNS' >"$ROOTFS/etc/resolv.conf"
  chroot "$ROOTFS" sh -c 'echo root:root | chpasswd'
  chroot "$ROOTFS" useradd -m -s /bin/bash vagrant
  chroot "$ROOTFS" sh -c 'echo vagrant:vagrant | chpasswd'
  echo 'vagrant ALL=(ALL) NOPASSWD:ALL' >"$ROOTFS/etc/sudoers.d/vagrant"
  chmod 0440 "$ROOTFS/etc/sudoers.d/vagrant"
  install -d -m 0700 -o 1000 -g 1000 "$ROOTFS/home/vagrant/.ssh"
  install -m 0600 -o 1000 -g 1000 "$INSECURE_KEY" "$ROOTFS/home/vagrant/.ssh/authorized_keys"
  echo 'UseDNS no' >"$ROOTFS/etc/ssh/sshd_config.d/vagrant.conf"
  # DHCP on the first link (Vagrant's management network), keyed by MAC: a shared DUID would give three VMs
  # one lease. Vagrant configures the private network's link itself, in a file that sorts before this one.
  cat >"$ROOTFS/etc/systemd/network/99-dhcp.network" <<'EOF'
[Match]
Name=eth0
[Network]
DHCP=ipv4
[DHCPv4]
ClientIdentifier=mac
EOF
  chroot "$ROOTFS" systemctl enable systemd-networkd ssh >/dev/null 2>&1
  # The packages' own haproxy and registry would hold the ports the cluster's take, and stopping them in
  # provisioning took minutes under emulation: they never start.
  chroot "$ROOTFS" systemctl disable haproxy.service docker-registry.service >/dev/null 2>&1
  for unit in apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer e2scrub_reap.service fstrim.timer; do
    ln -sf /dev/null "$ROOTFS/etc/systemd/system/$unit"
  done
  # Kernel features a node uses, loaded at boot; forwarding is on inside the VMs (their network has no way out).
  printf '%s\n' overlay br_netfilter vxlan >"$ROOTFS/etc/modules-load.d/tinykube.conf"
  printf '%s\n' net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1 >"$ROOTFS/etc/sysctl.d/90-tinykube.conf"
  # The kernel's log on the serial console as well (after tty0, so ttyS0 is /dev/console). tsc=reliable: under
  # software emulation every vCPU's TSC is the host's, but the boot-time sync check, run on vCPUs the host
  # schedules unevenly, finds them apart and falls back to the emulated HPET; then each clock read is a
  # system call plus an emulated device access (~30 us here) instead of a vDSO read. With KVM the kernel
  # prefers kvm-clock anyway.
  cat >"$ROOTFS/etc/default/grub" <<'EOF'
GRUB_DEFAULT=0
GRUB_TIMEOUT=0
GRUB_DISTRIBUTOR=Debian
GRUB_CMDLINE_LINUX_DEFAULT=""
GRUB_CMDLINE_LINUX="console=tty0 console=ttyS0,115200 net.ifnames=0 biosdevname=0 tsc=reliable"
GRUB_TERMINAL="console serial"
GRUB_SERIAL_COMMAND="serial --speed=115200"
GRUB_DISABLE_OS_PROBER=true
EOF
  install -d "$ROOTFS/opt/tinykube-wheels"
  cp "$WORK"/wheels/*.whl "$ROOTFS/opt/tinykube-wheels/"
  # The dependencies installed into the venv now, natively: under emulation pip takes minutes per VM.
  chroot "$ROOTFS" python3 -m venv /opt/tinykube
  chroot "$ROOTFS" sh -c '/opt/tinykube/bin/pip install -q --no-cache-dir --no-index --find-links /opt/tinykube-wheels /opt/tinykube-wheels/*.whl'
  # Run once as init under emulation: GRUB goes onto the disk from inside, as the host kernel here has no
  # partition support to do it from outside. It removes itself and powers off.
  cat >"$ROOTFS/usr/local/sbin/tinykube-install-grub" <<'EOF'
#!/bin/sh
mountpoint -q /proc || mount -t proc proc /proc
mountpoint -q /sys || mount -t sysfs sys /sys
mountpoint -q /dev || mount -t devtmpfs dev /dev
if grub-install --target=i386-pc /dev/vda && update-grub; then echo TINYKUBE-GRUB-OK; else echo TINYKUBE-GRUB-FAILED; fi
rm -f /usr/local/sbin/tinykube-install-grub
sync
echo o >/proc/sysrq-trigger
sleep 60  # power-off is asynchronous: init must not exit (and panic) before it happens
EOF
  chmod +x "$ROOTFS/usr/local/sbin/tinykube-install-grub"

  log "disk image"
  kernel=$(ls "$ROOTFS"/boot/vmlinuz-* | head -1)
  initrd=$(ls "$ROOTFS"/boot/initrd.img-* | head -1)
  cp "$kernel" "$WORK/vmlinuz"
  cp "$initrd" "$WORK/initrd.img"
  truncate -s 8G "$WORK/box.raw"
  printf 'label: dos\nstart=2048, type=83, bootable\n' | sfdisk -q "$WORK/box.raw"
  # Partition 1 is populated in place (no loop device, no mount): offset 1 MiB, 8 GiB minus that.
  mkfs.ext4 -q -F -L root -E offset=1048576 -d "$ROOTFS" "$WORK/box.raw" 8387584k
  rm -rf "$ROOTFS"

  log "installing GRUB inside the image (one emulated boot)"
  timeout 600 qemu-system-x86_64 -accel tcg -cpu max -m 1024 -smp 1 -nographic -no-reboot -nodefaults \
    -kernel "$WORK/vmlinuz" -initrd "$WORK/initrd.img" \
    -append "root=/dev/vda1 rw console=ttyS0 panic=1 init=/usr/local/sbin/tinykube-install-grub" \
    -drive "file=$WORK/box.raw,format=raw,if=virtio" -serial "file:$WORK/grub.serial" -monitor none -display none \
    || true
  grep -q TINYKUBE-GRUB-OK "$WORK/grub.serial" || { tail -30 "$WORK/grub.serial" >&2; die "GRUB installation failed"; }

  log "packing the box"
  install -d "$WORK/box"
  qemu-img convert -c -O qcow2 "$WORK/box.raw" "$WORK/box/box.img"
  rm -f "$WORK/box.raw"
  echo '{"provider":"libvirt","format":"qcow2","virtual_size":8}' >"$WORK/box/metadata.json"
  cat >"$WORK/box/Vagrantfile" <<'EOF'
Vagrant.configure("2") do |config|
  config.vm.provider :libvirt do |libvirt|
    libvirt.disk_bus = "virtio"
  end
end
EOF
  tar -C "$WORK/box" -cf "$BOX.tmp" metadata.json Vagrantfile box.img
  mv "$BOX.tmp" "$BOX"
  find "$CACHE/boxes" -name 'tinykube-bookworm-*.box' ! -name "$(basename "$BOX")" -delete
  log "built $BOX ($(du -h "$BOX" | cut -f1))"
fi

if [[ $(cat "$ADDED" 2>/dev/null) != "$HASH" ]] || ! vagrant box list 2>/dev/null | grep -q "^$BOX_NAME "; then
  log "vagrant box add $BOX_NAME"
  vagrant box add --force --name "$BOX_NAME" "$BOX" >&2
  # libvirt keeps an uploaded copy of the box per name and version: a new box must not meet the old copy.
  rm -f "$CACHE"/pool/tinykube-VAGRANTSLASH-bookworm_vagrant_box_image_*
  echo "$HASH" >"$ADDED"
else
  log "box $BOX_NAME (hash $HASH) already added"
fi
# The project itself travels in the synced folder (deploy/vagrant/.wheels), rebuilt every time: it is quick.
rm -rf "$HERE/.wheels"
"$VENV/bin/pip" wheel -q --no-deps --no-build-isolation -w "$HERE/.wheels" "$REPO" 2>&1 | grep -v "is ignored" >&2 || true
ls "$HERE"/.wheels/tinykube-*.whl >/dev/null || die "could not build the tinykube wheel"
echo "$BOX"
