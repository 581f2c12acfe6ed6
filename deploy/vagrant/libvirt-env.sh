#!/usr/bin/env bash
# A private libvirt for `make vagrant-test`: libvirtd, virtlogd, the VMs and their networks all live in a
# network namespace of ours, so every address the VMs have (192.168.56.x, the management 192.168.121.x)
# is inside it; no NAT, no forwarding, no route out. Run vagrant through `libvirt-env.sh exec vagrant ...`.
#
#   libvirt-env.sh up      create the namespace, start virtlogd + libvirtd in it, define the storage pool
#   libvirt-env.sh exec …  run a command in the namespace (vagrant needs to reach the VMs' addresses)
#   libvirt-env.sh down    remove our domains, networks and pool, stop the daemons, delete the namespace
#
# No systemd here (PID 1 is not systemd), so the daemons are started by hand and stopped by their pid files.
# Environment: TINYKUBE_VAGRANT_NETNS (tkvagrant), TINYKUBE_VAGRANT_CACHE (/var/cache/tinykube-vagrant),
# TINYKUBE_CLUSTER (tinykube: the prefix of our domains), TINYKUBE_LIBVIRT_POOL (tinykube-vagrant).
set -euo pipefail

NS=${TINYKUBE_VAGRANT_NETNS:-tkvagrant}
CACHE=${TINYKUBE_VAGRANT_CACHE:-/var/cache/tinykube-vagrant}
CLUSTER=${TINYKUBE_CLUSTER:-tinykube}
POOL=${TINYKUBE_LIBVIRT_POOL:-tinykube-vagrant}
RUN=$CACHE/run
NETWORKS=(tinykube-hostonly vagrant-libvirt)
export LIBVIRT_DEFAULT_URI=qemu:///system

log() { printf '[libvirt-env %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
in_ns() { ip netns exec "$NS" "$@"; }

up() {
  if [[ -S /run/libvirt/libvirt-sock ]] && virsh -q version >/dev/null 2>&1; then
    log "error: a libvirtd is already running on this machine; refusing to share it"; exit 1
  fi
  mkdir -p "$RUN" "$CACHE/pool"
  ip netns add "$NS"
  in_ns ip link set lo up
  in_ns sysctl -qw net.ipv4.ip_forward=0
  # `ip netns exec` gives the daemons a mount namespace whose /sys shows this namespace's links (libvirt
  # reads its bridges there); cgroup mounts are not in it, so libvirt puts the VMs in no cgroup of ours.
  in_ns virtlogd -d -p "$RUN/virtlogd.pid"
  in_ns libvirtd -d -p "$RUN/libvirtd.pid"
  for _ in $(seq 100); do virsh -q version >/dev/null 2>&1 && break; sleep 0.2; done
  virsh -q version >/dev/null || { log "libvirtd did not start"; exit 1; }
  virsh -q pool-define-as "$POOL" dir --target "$CACHE/pool" >/dev/null
  virsh -q pool-start "$POOL" >/dev/null
  log "libvirt up in netns $NS (pool $POOL at $CACHE/pool)"
}

down() {
  if virsh -q version >/dev/null 2>&1; then
    for dom in $(virsh list --all --name | grep "^${CLUSTER}_" || true); do
      virsh -q destroy "$dom" >/dev/null 2>&1 || true
      virsh -q undefine "$dom" --remove-all-storage >/dev/null 2>&1 || virsh -q undefine "$dom" >/dev/null 2>&1 || true
      log "removed domain $dom"
    done
    for net in "${NETWORKS[@]}"; do
      virsh -q net-destroy "$net" >/dev/null 2>&1 || true
      virsh -q net-undefine "$net" >/dev/null 2>&1 && log "removed network $net" || true
    done
    virsh -q pool-destroy "$POOL" >/dev/null 2>&1 || true
    virsh -q pool-undefine "$POOL" >/dev/null 2>&1 || true
  fi
  for daemon in libvirtd virtlogd; do
    pid=$(cat "$RUN/$daemon.pid" 2>/dev/null || true)
    if [[ -n $pid ]] && kill "$pid" 2>/dev/null; then
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$RUN/$daemon.pid"
  done
  if ip netns list | grep -qw "$NS"; then
    # Whatever still runs in our namespace (a qemu or dnsmasq that outlived libvirtd) was started by us.
    for pid in $(ip netns pids "$NS"); do kill -9 "$pid" 2>/dev/null || true; done
    ip netns del "$NS"
    log "netns $NS removed"
  fi
}

case ${1:-} in
  up) up ;;
  down) down ;;
  exec) shift; in_ns "$@" ;;
  *) echo "usage: $0 up|down|exec COMMAND..." >&2; exit 2 ;;
esac
