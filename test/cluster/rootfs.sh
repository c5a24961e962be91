#!/usr/bin/env bash
# Debian root filesystems made with debootstrap (no container registry needed),
# cached as tarballs under $KILN_E2E_CACHE/rootfs-<suite>-<hash>/:
#   node.tar     base of the kind node image (systemd, containerd, runc, ...)
#   minbase.tar  a minimal system, imported as kiln.local/debian:<suite>
# Prints nothing on stdout; idempotent.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

# What kind's images/base installs, with Debian's containerd/runc/CNI plugins
# in place of kind's own builds (crictl and kindnetd can't be had here).
NODE_PKGS=(
  systemd
  conntrack iptables nftables iproute2 ethtool socat util-linux mount kmod
  libseccomp2 pigz fuse-overlayfs
  e2fsprogs bash ca-certificates jq procps
  containerd runc containernetworking-plugins
)

OUT="$KILN_E2E_CACHE/$(rootfs_key)"
DEBS="$KILN_E2E_CACHE/debs-$DEBIAN_SUITE"

# mk_rootfs NAME [debootstrap args...]: $OUT/NAME.tar, unless it is there.
mk_rootfs() {
  local name="$1"; shift
  [ -f "$OUT/$name.tar" ] && { log "rootfs $name: cached ($OUT/$name.tar)"; return 0; }
  local tmp
  tmp="$(mktemp -d "$OUT/.$name.XXXXXX")"
  # shellcheck disable=SC2064
  trap "rm -rf '$tmp'" EXIT
  # --cache-dir keeps the .debs, so the second rootfs and rebuilds download nothing.
  debootstrap --variant=minbase --cache-dir="$DEBS" "$@" \
    "$DEBIAN_SUITE" "$tmp/root" "$DEBIAN_MIRROR" >"$tmp/debootstrap.log" 2>&1 ||
    { tail -30 "$tmp/debootstrap.log" >&2; die "debootstrap $name failed"; }
  # Not needed in an image, and they change from one run to the next.
  rm -rf "$tmp/root/var/lib/apt/lists/"* "$tmp/root/var/cache/apt/"*.bin \
    "$tmp/root/var/log/"*.log "$tmp/root/var/log/apt/"*
  tar --numeric-owner --xattrs -C "$tmp/root" -cf "$tmp/$name.tar" .
  mv "$tmp/$name.tar" "$OUT/$name.tar"
  rm -rf "$tmp"
  trap - EXIT
}

# rootfs.sh [node|minbase]...: the named ones (default: both).
main() {
  need_pkgs debootstrap
  mkdir -p "$OUT" "$DEBS"
  local names=("$@") name
  [ ${#names[@]} -gt 0 ] || names=(node minbase)
  for name in "${names[@]}"; do
    case "$name" in
      node) step "debootstrap node rootfs ($DEBIAN_SUITE)" mk_rootfs node --include="$(IFS=,; echo "${NODE_PKGS[*]}")" ;;
      minbase) step "debootstrap minbase rootfs ($DEBIAN_SUITE)" mk_rootfs minbase ;;
      *) die "usage: rootfs.sh [node|minbase]..." ;;
    esac
  done
}

main "$@"
