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

# Diagnosing a VM that stops answering: the kernel's log goes to the serial console (the box boots with
# console=ttyS0; `make vagrant-test` writes each console to a file), so the kernel's lockup and hung-task
# reports, a heartbeat with the guest's load, free memory and pressure every 30 s, and SysRq dumps sent
# from the host (`virsh send-key DOMAIN KEY_LEFTALT KEY_SYSRQ KEY_L`) are there after a hang. The journal is
# kept on disk for a later look (`vagrant reload` then `journalctl -b -1`).
sysctl -q -w kernel.sysrq=1 kernel.softlockup_all_cpu_backtrace=1 kernel.hung_task_timeout_secs=60 \
  kernel.hung_task_warnings=-1 kernel.printk="7 4 1 7"
install -d /var/log/journal
systemd-tmpfiles --create --prefix /var/log/journal
journalctl --flush
cat >/usr/local/sbin/tinykube-console-heartbeat <<'EOF_HEARTBEAT'
#!/bin/bash
# One kernel-log line every 30 s (so on the serial console too); the biggest processes every 5 minutes.
# Shell builtins only, no process per line: under emulation on a busy host each fork and exec takes seconds.
psi() {  # psi RESOURCE: REPLY=its "some" pressure, avg10
  local line
  read -r line <"/proc/pressure/$1" 2>/dev/null || { REPLY=-; return; }
  line=${line#*avg10=}
  REPLY=${line%% *}
}
for ((beat = 0; ; beat++)); do
  read -r l1 l5 l15 _ </proc/loadavg
  while read -r key value _; do [[ $key == MemAvailable: ]] && break; done </proc/meminfo
  psi cpu; cpu=$REPLY; psi memory; memory=$REPLY; psi io; io=$REPLY
  printf -v wall '%(%T)T' -1
  echo "<5>tinykube-heartbeat: load $l1 $l5 $l15, MemAvailable $((value / 1024)) MiB, pressure avg10 cpu $cpu" \
       "memory $memory io $io, wall $wall" >/dev/kmsg
  if ((beat % 10 == 0)); then
    echo "<5>tinykube-heartbeat: RSS MiB $(ps -eo rss=,comm= --sort=-rss | head -8 | awk '{printf "%s=%d ", $2, $1 / 1024}')" >/dev/kmsg
  fi
  sleep 30
done
EOF_HEARTBEAT
chmod +x /usr/local/sbin/tinykube-console-heartbeat
cat >/etc/systemd/system/tinykube-console-heartbeat.service <<'EOF_UNIT'
[Unit]
Description=tinykube: the guest's load and memory on the kernel log (serial console) every 30 s
[Service]
ExecStart=/usr/local/sbin/tinykube-console-heartbeat
[Install]
WantedBy=multi-user.target
EOF_UNIT
systemctl daemon-reload
systemctl enable --now tinykube-console-heartbeat.service >/dev/null 2>&1

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
