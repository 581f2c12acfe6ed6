#!/usr/bin/env bash
# Installs the Debian packages tinykube needs on a host (this machine, or a Vagrant VM when it is provisioned).
# Idempotent and fast when nothing is missing: it asks dpkg first and runs apt-get only for what is absent.
set -euo pipefail

PACKAGES=(
  iptables nftables conntrack iproute2 bridge-utils ipset   # node networking, kube-proxy data plane
  busybox-static                                          # the default busybox and pause images
  docker-registry                                         # the cluster image registry
  haproxy                                                 # load balancer in front of the apiservers
  etcd-server etcd-client                                 # the store's peer in benchmarks and etcdctl in tests
  runc containernetworking-plugins                        # the runtime's peer in benchmarks; reference CNI plugins
  vagrant                                                 # Vagrantfile validation
  gcc libc6-dev                                           # shim pump, CNI client (Python fallbacks without)
)
# `setup-host.sh vagrant` (make box / make vagrant-test, opt-in): real VMs under libvirt with software emulation.
if [[ ${1:-} == vagrant ]]; then
  PACKAGES+=(qemu-system-x86 qemu-utils debootstrap vagrant-libvirt libvirt-daemon-system libvirt-clients
             dnsmasq-base rsync zstd)
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done

if ((${#missing[@]})); then
  if [[ $EUID -ne 0 ]]; then
    echo "setup: missing Debian packages (${missing[*]}); run as root to install them" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # policy-rc.d may forbid starting services; tinykube runs them itself, so that refusal is harmless.
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
