#!/usr/bin/env bash
# Runs inside each VM as root (Vagrant's shell provisioner). Installs tinykube from the box's wheelhouse
# and the synced project wheel, then starts the node's bring-up (`tinykube init` on node1, `tinykube join`
# elsewhere) as the unit tinykube-bringup.service and returns: the nodes wait for each other, and
# machines that Vagrant brings up one after another must not wait inside their provisioning.
# Follow it with `journalctl -fu tinykube-bringup` or /var/lib/tinykube/<cluster>/logs/bringup.log.
# TINYKUBE_EXTRA_ARGS: space-separated COMPONENT:--FLAG=VALUE, each passed as `--extra-arg` (the Vagrantfile's
# timings for slow machines).
set -euo pipefail
: "${TINYKUBE_ROLE:?}" "${TINYKUBE_NODE_IPS:?}" "${TINYKUBE_JOIN_TOKEN:?}"
CLUSTER=${TINYKUBE_CLUSTER:-tinykube}
EXTRA_ARGS=""
for arg in ${TINYKUBE_EXTRA_ARGS:-}; do EXTRA_ARGS+=" --extra-arg=$arg"; done
VENV=/opt/tinykube
WHEELHOUSE=/opt/tinykube-wheels   # in the tinykube/bookworm box
PROJECT_WHEEL=$(ls /vagrant/.wheels/tinykube-*.whl 2>/dev/null | head -1 || true)
[[ -n $PROJECT_WHEEL ]] || { echo "no tinykube wheel in /vagrant/.wheels: run 'make box' on the host" >&2; exit 1; }

if [[ ! -d $WHEELHOUSE ]]; then
  # Another box (VirtualBox users): the packages and wheels come from the network, once.
  echo "not the tinykube/bookworm box: installing Debian packages and Python wheels from the network"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends python3-venv iptables nftables conntrack iproute2 bridge-utils \
    ipset busybox-static docker-registry haproxy etcd-client containernetworking-plugins >/dev/null
  PIP_SOURCES=()
else
  # The box's venv already holds every dependency (a change to them rebuilds the box), so pip skips its
  # resolver: under software emulation each pip run costs minutes.
  PIP_SOURCES=(--no-index --find-links "$WHEELHOUSE" --no-deps)
fi

if [[ ! -x $VENV/bin/tinykube ]]; then
  [[ -x $VENV/bin/python ]] || python3 -m venv "$VENV"   # the box has it, with the dependencies installed
  "$VENV/bin/pip" install -q "${PIP_SOURCES[@]}" "$PROJECT_WHEEL"
else  # re-provisioning: the project's code may have changed, its dependencies rarely do
  "$VENV/bin/pip" install -q "${PIP_SOURCES[@]}" --force-reinstall --no-deps "$PROJECT_WHEEL"
fi
ln -sf "$VENV/bin/tinykube" /usr/local/bin/tinykube
ln -sf "$VENV/bin/tkctl" /usr/local/bin/tkctl
# The default images (busybox, pause) from the box's busybox-static, where `tinykube up` looks for them.
[[ -d $VENV/images ]] || "$VENV/bin/tinykube" image build-defaults --out "$VENV/images" >/dev/null

# The packages' own services would hold the ports the cluster's load balancer and registry use.
systemctl disable --now haproxy.service docker-registry.service >/dev/null 2>&1 || true

install -d -m 0700 /etc/tinykube
umask 077
printf 'TINYKUBE_JOIN_TOKEN=%s\n' "$TINYKUBE_JOIN_TOKEN" >/etc/tinykube/join-token.env
LOG=/var/lib/tinykube/$CLUSTER/logs/bringup.log
install -d "$(dirname "$LOG")"
cat >/etc/systemd/system/tinykube-bringup.service <<EOF
[Unit]
Description=tinykube $TINYKUBE_ROLE: bring this machine up as a node of cluster $CLUSTER
After=network-online.target
Wants=network-online.target
[Service]
Type=oneshot
RemainAfterExit=yes
EnvironmentFile=/etc/tinykube/join-token.env
ExecStart=$VENV/bin/tinykube $TINYKUBE_ROLE --name $CLUSTER --node-ips $TINYKUBE_NODE_IPS$EXTRA_ARGS
StandardOutput=append:$LOG
StandardError=append:$LOG
EOF
systemctl daemon-reload
systemctl restart --no-block tinykube-bringup.service
echo "$(hostname): tinykube $TINYKUBE_ROLE started (log: $LOG)"
