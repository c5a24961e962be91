#!/usr/bin/env bash
# `make docker`: a Docker engine answering at the default socket.
# Installs Debian's docker.io if needed and starts dockerd in the background
# when none answers (these machines have no systemd). Idempotent.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

WRAPPER=/usr/local/sbin/kiln-runc
RUNTIME_NAME=kiln-runc
DOCKERD_LOG=/var/log/kiln-dockerd.log

# A privileged container gets every capability the kernel knows; runc fails
# if some are missing from our bounding set. Compare CapBnd with the full set.
need_wrapper() {
  local last bnd full
  last=$(cat /proc/sys/kernel/cap_last_cap)
  bnd=$((16#$(awk '/^CapBnd:/ {print $2}' /proc/self/status)))
  full=$(((1 << (last + 1)) - 1))
  [ "$bnd" -ne "$full" ]
}

# Containers must not reach private addresses beyond this machine: a pod whose
# Service rules are missing (say kube-proxy is down) would otherwise send its
# traffic for 10.96.0.1 out of the host's own interface. Such packets are
# rejected in the chain KILN-EGRESS, called from DOCKER-USER (which dockerd
# keeps). The host's own DNS servers and public addresses (e.g. a Debian
# mirror for `RUN apt-get`) stay reachable. KILN_E2E_PRIVATE_EGRESS=1 skips it.
guard_egress() {
  [ "${KILN_E2E_PRIVATE_EGRESS:-}" = 1 ] && return 0
  local ext net ns
  ext="$(ip -4 route show default 2>/dev/null | awk '{print $5; exit}')"
  [ -n "$ext" ] || return 0
  iptables -N KILN-EGRESS 2>/dev/null || iptables -F KILN-EGRESS
  for ns in $(awk '$1 == "nameserver" && $2 ~ /^[0-9.]+$/ {print $2}' /etc/resolv.conf); do
    iptables -A KILN-EGRESS -d "$ns" -p udp --dport 53 -j RETURN
    iptables -A KILN-EGRESS -d "$ns" -p tcp --dport 53 -j RETURN
  done
  for net in 10.0.0.0/8 172.16.0.0/12 192.168.0.0/16 100.64.0.0/10; do
    iptables -A KILN-EGRESS -d "$net" -j REJECT
  done
  iptables -N DOCKER-USER 2>/dev/null || true
  iptables -C DOCKER-USER -o "$ext" -j KILN-EGRESS 2>/dev/null ||
    iptables -I DOCKER-USER -o "$ext" -j KILN-EGRESS
}

# stale_pidfile FILE NAME: stop process NAME recorded in FILE, or remove FILE
# if it names no such process.
stale_pidfile() {
  local file="$1" name="$2" pid _
  [ -f "$file" ] || return 0
  pid="$(cat "$file")"
  if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$name" ]; then
    log "$name $pid does not answer; stopping it"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$file"
}

# install(1) writes a new file and renames it: a running engine never sees a
# half-written wrapper. Only when it changed.
install_wrapper() {
  cmp -s "$CLUSTER_DIR/docker/runc-wrapper.sh" "$WRAPPER" ||
    install -m 0755 "$CLUSTER_DIR/docker/runc-wrapper.sh" "$WRAPPER"
}

answers() { timeout 10 "$(docker_bin)" info >/dev/null 2>&1; }

start_dockerd() {
  local args=()
  if need_wrapper; then
    log "capability bounding set is not full: registering runc wrapper $WRAPPER as default runtime"
    install_wrapper
    args+=(--add-runtime "$RUNTIME_NAME=$WRAPPER" --default-runtime "$RUNTIME_NAME")
  fi
  # A dockerd left from an earlier session that no longer answers: stop it.
  # /run is not a tmpfs on these machines, so after a restart the pid files
  # may name some other process: remove those instead.
  stale_pidfile /var/run/docker.pid dockerd
  stale_pidfile /var/run/docker/containerd/containerd.pid containerd
  log "starting dockerd ${args[*]} (log: $DOCKERD_LOG)"
  # setsid: out of make's process group, so ^C on make does not stop the engine.
  setsid nohup dockerd "${args[@]}" >>"$DOCKERD_LOG" 2>&1 </dev/null &
  local _
  for _ in $(seq 1 60); do
    answers && return 0
    sleep 1
  done
  tail -20 "$DOCKERD_LOG" >&2
  die "dockerd did not answer within 60s"
}

main() {
  if answers; then
    if need_wrapper; then
      if [ "$(dk info --format '{{.DefaultRuntime}}')" = "$RUNTIME_NAME" ]; then
        install_wrapper
      else
        log "WARNING: a Docker engine answers without the runc wrapper; privileged containers (kind) may fail"
      fi
    fi
    guard_egress
    log "docker engine answers ($(dk version --format '{{.Server.Version}}'))"
    return 0
  fi
  # jq: used by the runc wrapper. xz-utils, ca-certificates: docker's recommends we need.
  need_pkgs docker.io jq ca-certificates xz-utils
  step "start dockerd" start_dockerd
  guard_egress
  log "docker engine answers ($(dk version --format '{{.Server.Version}}'))"
}

main "$@"
