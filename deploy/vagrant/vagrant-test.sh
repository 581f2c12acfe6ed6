#!/usr/bin/env bash
# `make vagrant-test`: the three-VM cluster for real, end to end, timing each stage.
#
# box (built or reused) -> libvirt in our netns -> vagrant up -> three Ready nodes -> a Deployment served
# through its Service by DNS name from a pod -> power-off (`virsh destroy`) of the VM whose store member leads ->
# the cluster still serves (reads, writes, the Service) -> vagrant destroy -> libvirt and netns gone.
# Teardown runs on every exit, failure included. Opt-in: not part of `make test`.
#
# Environment: TINYKUBE_VM_CPUS / TINYKUBE_VM_MEMORY (the Vagrantfile's defaults, 2 and 2048), TINYKUBE_VAGRANT_KEEP=1
# (leave the VMs up for inspection; tear down later with `libvirt-env.sh exec vagrant destroy -f` run in this
# directory and `libvirt-env.sh down`).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
export TINYKUBE_VAGRANT_CACHE=${TINYKUBE_VAGRANT_CACHE:-/var/cache/tinykube-vagrant}
export VAGRANT_HOME=${VAGRANT_HOME:-$TINYKUBE_VAGRANT_CACHE/vagrant.d}
export TINYKUBE_LIBVIRT_POOL=${TINYKUBE_LIBVIRT_POOL:-tinykube-vagrant}
export TINYKUBE_CLUSTER=${TINYKUBE_CLUSTER:-tinykube}
export VAGRANT_DEFAULT_PROVIDER=libvirt
export LIBVIRT_DEFAULT_URI=qemu:///system
# Each VM's serial console (the guest kernel's log, heartbeats, SysRq dumps), kept after teardown for a look.
export TINYKUBE_CONSOLE_LOG_DIR=$TINYKUBE_VAGRANT_CACHE/console-logs
# The VMs live for one run and are never booted again: qemu may ignore their flushes (each one cost 43 ms
# here). What they write still reaches the image through the host's page cache; only a host crash loses
# it, and that ends the run anyway.
export TINYKUBE_DISK_CACHE=${TINYKUBE_DISK_CACHE:-unsafe}
SUBNET=${TINYKUBE_SUBNET:-192.168.56}
STATE=/var/lib/tinykube/$TINYKUBE_CLUSTER
WORK=$(mktemp -d /tmp/tinykube-vagrant-test.XXXXXX)
KUBECONFIG_FILE=$WORK/admin.kubeconfig
ENV_SH=$HERE/libvirt-env.sh
STARTED=$(date +%s)
STAGE_TIMES=()

log() { printf '[vagrant-test %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
stage() {  # stage NAME COMMAND...: run it, print and remember how long it took
  local name=$1 began=$SECONDS; shift
  log "== $name"
  "$@"
  local took=$((SECONDS - began))
  local load
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  STAGE_TIMES+=("$(printf '%-28s %5ds  (host load %s)' "$name" "$took" "$load")")
  log "== $name: done in ${took}s (host load average $load)"
}
vg() { "$ENV_SH" exec env -C "$HERE" vagrant "$@"; }
kc() { "$ENV_SH" exec kubectl --kubeconfig "$KUBECONFIG_FILE" --cache-dir "$WORK/kube-cache" --request-timeout=20s "$@"; }
on() { local node=$1; shift; vg ssh "$node" -c "$*" -- -q 2>/dev/null; }
until_ok() {  # until_ok SECONDS WHAT COMMAND...: retry every 5 s
  local limit=$1 what=$2 began=$SECONDS; shift 2
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS - began > limit)); then log "timed out after ${limit}s: $what"; return 1; fi
    sleep 5
  done
}

diagnose_vms() {  # on failure, while the VMs still run: where each vCPU is, and the guest kernel's own dumps
  local dom
  for dom in $(virsh list --name 2>/dev/null | grep "^${TINYKUBE_CLUSTER}_"); do
    # Each vCPU's instruction pointer, privilege level (CPL 0: in the kernel) and whether it is halted (idle).
    log "$dom: $(virsh domstate "$dom" 2>&1); vCPUs: $(virsh qemu-monitor-command --hmp "$dom" 'info registers -a' 2>&1 \
      | awk '/^CPU#/ {printf "%s ", $1} /^RIP=/ {printf "%s %s %s; ", $1, $4, $8}')"
    # SysRq to the guest's keyboard: backtraces of the CPUs (l), blocked tasks (w), memory (m), onto its console.
    for key in KEY_L KEY_W KEY_M; do virsh send-key "$dom" KEY_LEFTALT KEY_SYSRQ "$key" >/dev/null 2>&1 || true; done
  done
  sleep 15
  for log_file in "$TINYKUBE_CONSOLE_LOG_DIR"/*-console.log; do
    [[ -f $log_file ]] || continue
    log "last lines of $log_file:"
    tail -n 30 "$log_file" | sed "s/^/  $(basename "$log_file" -console.log)| /" >&2
  done
  log "whole serial consoles (kernel log, heartbeats, SysRq dumps): $TINYKUBE_CONSOLE_LOG_DIR/"
}

teardown() {
  local rc=$?
  # Ignored from here on (and by the commands below): a second Ctrl-C or TERM must not cut the destroy short
  # and leave VMs, networks or the namespace behind.
  trap - EXIT
  trap '' INT TERM
  if [[ $rc -ne 0 ]]; then
    log "FAILED (exit $rc); the VMs' state and bring-up logs follow"
    diagnose_vms || true
    for n in node1 node2 node3; do
      timeout 120 "$ENV_SH" exec env -C "$HERE" vagrant ssh "$n" -c "sudo tail -n 25 $STATE/logs/bringup.log" -- -q 2>/dev/null | sed "s/^/  $n| /" >&2 || true
    done
  fi
  if [[ ${TINYKUBE_VAGRANT_KEEP:-0} == 1 ]]; then
    log "TINYKUBE_VAGRANT_KEEP=1: leaving the VMs and libvirt up (kubeconfig: $KUBECONFIG_FILE)"
  else
    local began=$SECONDS
    vg destroy -f >/dev/null 2>&1 || true
    "$ENV_SH" down || true
    rm -rf "$HERE/.vagrant" "$WORK"
    STAGE_TIMES+=("$(printf '%-28s %5ds' "destroy and clean up" $((SECONDS - began)))")
  fi
  log "stage times:"
  printf '  %s\n' "${STAGE_TIMES[@]}" >&2
  log "host load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
  log "VM consoles: $TINYKUBE_CONSOLE_LOG_DIR/"
  log "total $(( $(date +%s) - STARTED ))s, $( ((rc == 0)) && echo PASSED || echo FAILED)"
  exit "$rc"
}
trap teardown EXIT
trap 'exit 130' INT TERM

build_box() { bash "$HERE/build-box.sh" >/dev/null; }

fetch_kubeconfig() {  # the admin kubeconfig from a node, pointed at that node's apiserver
  local node=$1 ip=$2
  on "$node" "sudo cat $STATE/pki/admin.kubeconfig" >"$WORK/admin.tmp" && grep -q client-certificate-data "$WORK/admin.tmp" \
    && sed "s#server: https://.*#server: https://$ip:6443#" "$WORK/admin.tmp" >"$KUBECONFIG_FILE"
}

ready_nodes() { kc get nodes --no-headers 2>/dev/null | awk '$2 == "Ready"' | wc -l; }
three_ready() { [[ $(ready_nodes) -eq 3 ]]; }

wait_ready() {
  until_ok 1200 "admin kubeconfig on node1" fetch_kubeconfig node1 "$SUBNET.11"
  until_ok 1500 "three Ready nodes" three_ready
  kc get nodes -o wide >&2
}

WEB_POD_SCRIPT='mkdir -p /www && echo "served by $(hostname)" >/www/index.html && exec httpd -f -p 8080 -h /www'
deploy_web() {
  kc create deployment web --image=busybox --replicas=3 -- sh -c "$WEB_POD_SCRIPT" >/dev/null
  kc expose deployment web --port=80 --target-port=8080 >/dev/null
  kc rollout status deployment/web --timeout=900s >&2
  kc get pods -o wide >&2
}

store_leader() {  # the node whose store member leads, as the members report it (asked on a node)
  local node=$1
  on "$node" "sudo /opt/tinykube/bin/python -c 'from pathlib import Path; from tinykube.cluster import Cluster; \
from tinykube.lifecycle import store_leader; print(store_leader(Cluster.load(Path(\"$STATE\"))))'" | tr -d '\r' | tail -1
}

served_by_dns() {  # the Service, by its DNS name, from the client pod
  # busybox 1.35's `wget -T` segfaults (exit 139, any address): the time limit comes from `timeout` instead.
  kc exec client -- timeout 5 wget -q -O - http://web.default.svc.cluster.local/ | grep -q "served by web-"
}

start_client() {  # a client pod on a node that will survive
  local node=$1
  kc run client --image=busybox --restart=Never --overrides="{\"spec\":{\"nodeName\":\"$node\"}}" -- sleep 86400 >/dev/null
  kc wait --for=condition=Ready pod/client --timeout=600s >&2
  until_ok 300 "web by DNS name from a pod" served_by_dns
  log "from pod client on $node: $(kc exec client -- timeout 5 wget -q -O - http://web.default.svc.cluster.local/)"
}

LEADER=""
kill_leader() {
  LEADER=$(store_leader node1)
  [[ $LEADER == node? ]] || { log "no store leader found ($LEADER)"; return 1; }
  log "store leader: $LEADER; powering its VM off"
  # Pulled the plug on, as a node is lost: `vagrant halt -f` (vagrant-libvirt 0.11.2) first waits 60 s for a
  # graceful shutdown of the busy TCG guest, then raises Fog's timeout instead of forcing it.
  virsh destroy "${TINYKUBE_CLUSTER}_$LEADER" >/dev/null
}

survives() {
  local survivor=$1 ip=$2
  fetch_kubeconfig "$survivor" "$ip"
  until_ok 300 "apiserver answers through $survivor" kc get nodes
  local new
  new=$(store_leader "$survivor")
  log "new store leader: $new"
  [[ $new == node? && $new != "$LEADER" ]]
  until_ok 300 "a write after the leader's loss" kc create configmap after-leader-loss --from-literal=ok=yes
  until_ok 300 "web by DNS name after the leader's loss" served_by_dns
  kc get nodes >&2
}

main() {
  rm -rf "$TINYKUBE_CONSOLE_LOG_DIR" && mkdir -p "$TINYKUBE_CONSOLE_LOG_DIR"
  stage "box (build or reuse)" build_box
  stage "libvirt in netns" "$ENV_SH" up
  stage "vagrant up" vg up --provider=libvirt
  stage "all nodes Ready" wait_ready
  stage "Deployment available" deploy_web
  local survivor=node2 survivor_ip=$SUBNET.12
  LEADER=$(store_leader node1)
  [[ $LEADER == node2 ]] && survivor=node3 survivor_ip=$SUBNET.13
  stage "Service by DNS from a pod" start_client "$survivor"
  stage "power off the store leader" kill_leader
  [[ $LEADER == "$survivor" ]] && { log "the leader moved to $survivor before the power-off"; return 1; }
  stage "leader-loss recovery" survives "$survivor" "$survivor_ip"
}

main
