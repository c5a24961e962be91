#!/usr/bin/env bash
# runc wrapper, registered as dockerd's default runtime by docker.sh only on
# machines whose capability bounding set is not full (e.g. no CAP_SYS_RESOURCE).
#
# Docker 20.10 gives a --privileged container (and a `docker exec --privileged`,
# which kind uses for every node command) every capability the kernel knows,
# and runc then fails with "unable to apply caps: operation not permitted" for
# the ones outside our bounding set. This drops those capabilities from the
# bundle's config.json (create/run) and from the --process JSON (exec), then
# hands over to the real runc with the same arguments.
set -euo pipefail

REAL_RUNC="${KILN_REAL_RUNC:-/usr/bin/runc}"

# Capability names by number (linux/capability.h).
CAPS=(CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP
  LINUX_IMMUTABLE NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER
  SYS_MODULE SYS_RAWIO SYS_CHROOT SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE
  SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG MKNOD LEASE AUDIT_WRITE AUDIT_CONTROL SETFCAP
  MAC_OVERRIDE MAC_ADMIN SYSLOG WAKE_ALARM BLOCK_SUSPEND AUDIT_READ PERFMON BPF
  CHECKPOINT_RESTORE)

# Find the sub-command and the file to fix; global flags come first and some
# of them take a value.
sub="" file="" bundle="" process="" i=0
args=("$@")
while [ $i -lt ${#args[@]} ]; do
  a="${args[$i]}"
  if [ -z "$sub" ]; then
    case "$a" in
      --root|--log|--log-format|--criu|--rootless) i=$((i + 1)) ;;
      -*) ;;
      *) sub="$a" ;;
    esac
  else
    case "$a" in
      --bundle|-b) i=$((i + 1)); bundle="${args[$i]:-}" ;;
      --bundle=*) bundle="${a#*=}" ;;
      --process|-p) i=$((i + 1)); process="${args[$i]:-}" ;;
      --process=*) process="${a#*=}" ;;
    esac
  fi
  i=$((i + 1))
done

case "$sub" in
  create|run) file="${bundle:-.}/config.json" ;;
  exec) file="$process" ;;
esac

if [ -n "$file" ] && [ -f "$file" ]; then
  bnd=$((16#$(awk '/^CapBnd:/ {print $2}' /proc/self/status)))
  drop=()
  for n in "${!CAPS[@]}"; do
    if (( (bnd >> n & 1) == 0 )); then drop+=("\"CAP_${CAPS[$n]}\""); fi
  done
  if [ ${#drop[@]} -gt 0 ]; then
    dropjson="[$(IFS=,; echo "${drop[*]}")]"
    # config.json has the capabilities under .process, the exec JSON at the top.
    filter='def fix: if type == "object" then with_entries(.value |= (if type == "array" then map(select(. as $c | $drop | index($c) | not)) else . end)) else . end;
      if has("process") then .process.capabilities |= fix else .capabilities |= fix end'
    tmp="$(mktemp "$(dirname "$file")/.kiln-runc.XXXXXX")"
    jq -c --argjson drop "$dropjson" "$filter" "$file" >"$tmp"
    chmod --reference="$file" "$tmp"
    mv -f "$tmp" "$file"
  fi
fi

exec "$REAL_RUNC" "$@"
