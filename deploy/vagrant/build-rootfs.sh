#!/usr/bin/env bash
# The box's first layer: Debian 12 from debootstrap with every package a tinykube node needs, as a tarball
# in the cache, named by the hash of its recipe (this script and the package list). build-box.sh unpacks it
# and adds the rest (users, configuration, Python dependencies, GRUB), so changing those or tinykube's
# dependencies does not repeat debootstrap, the slow part (minutes, from the network).
#
# Prints the tarball's path. Environment: TINYKUBE_VAGRANT_CACHE (/var/cache/tinykube-vagrant),
# DEBIAN_MIRROR (http://deb.debian.org/debian, the only network source).
set -euo pipefail

CACHE=${TINYKUBE_VAGRANT_CACHE:-/var/cache/tinykube-vagrant}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

# What the VMs need beyond a minimal system: boot, login, systemd tools, Python, and the node's packages
# (the same set deploy/setup-host.sh installs on a host, minus the benchmark and test peers).
BASE_PACKAGES=(systemd-sysv udev dbus kmod linux-image-amd64 initramfs-tools zstd grub-pc openssh-server sudo
               rsync netbase procps iproute2 iputils-ping python3 python3-venv ca-certificates)
NODE_PACKAGES=(iptables nftables conntrack bridge-utils ipset busybox-static docker-registry haproxy etcd-client
               containernetworking-plugins)
# File capabilities (ping's cap_net_raw) and ACLs travel in the tarball as well.
TAR_OPTS=(--numeric-owner --xattrs --xattrs-include='*' --acls)

log() { printf '[build-rootfs %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

[[ $EUID -eq 0 ]] || die "run as root (debootstrap)"
for cmd in debootstrap zstd; do
  command -v "$cmd" >/dev/null || die "missing $cmd: run 'bash deploy/setup-host.sh vagrant'"
done

HASH=$( { sha256sum <"$0"; printf '%s\n' "${BASE_PACKAGES[@]}" "${NODE_PACKAGES[@]}"; } | sha256sum | cut -c1-16)
TARBALL=$CACHE/rootfs/bookworm-$HASH.tar.zst
if [[ -f $TARBALL ]]; then
  log "rootfs $TARBALL is current: skipping debootstrap"
  echo "$TARBALL"
  exit 0
fi

mkdir -p "$CACHE/rootfs"
WORK=$(mktemp -d "$CACHE/rootfs-build.XXXXXX")
cleanup() {  # debootstrap mounts /proc in the target; an interrupted build leaves it mounted
  awk -v w="$WORK/" 'index($2, w) == 1 {print $2}' /proc/mounts | sort -r | xargs -r umount -l
  rm -rf "$WORK"
}
trap cleanup EXIT

log "debootstrap bookworm from $MIRROR"
packages=$(IFS=,; echo "${BASE_PACKAGES[*]},${NODE_PACKAGES[*]}")
DEBIAN_FRONTEND=noninteractive debootstrap --variant=minbase --include="$packages" bookworm "$WORK/rootfs" "$MIRROR" \
  >"$WORK/debootstrap.log" 2>&1 || { tail -20 "$WORK/debootstrap.log" >&2; die "debootstrap failed"; }
chroot "$WORK/rootfs" apt-get clean
rm -rf "$WORK"/rootfs/var/lib/apt/lists/* "$WORK"/rootfs/var/log/*.log

log "packing $TARBALL"
tar "${TAR_OPTS[@]}" -C "$WORK/rootfs" -cf - . | zstd -q -T0 -3 -o "$WORK/rootfs.tar.zst"
mv "$WORK/rootfs.tar.zst" "$TARBALL"
find "$CACHE/rootfs" -name 'bookworm-*.tar.zst' ! -name "$(basename "$TARBALL")" -delete
log "rootfs $TARBALL ($(du -h "$TARBALL" | cut -f1))"
echo "$TARBALL"
