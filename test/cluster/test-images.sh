#!/usr/bin/env bash
# `make test-images`: the base images kiln's examples and e2e tests use, built
# offline into the Docker engine:
#   kiln.local/busybox:latest   FROM scratch + Debian's static busybox (sh, tar, ...)
#   kiln.local/debian:<suite>   the debootstrap'ed minbase rootfs
#   kiln.local/goserver:latest  FROM scratch static Go HTTP server (images/goserver)
# Each image carries a kiln.e2e.key label; it is rebuilt only when the key changes.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

# current_key TAG: the kiln.e2e.key label of TAG in the engine, or nothing.
current_key() { dk image inspect -f '{{index .Config.Labels "kiln.e2e.key"}}' "$1" 2>/dev/null || true; }

# import_dir DIR TAG KEY [--change ...]: a FROM-scratch image made of DIR.
import_dir() {
  local dir="$1" tag="$2" key="$3"; shift 3
  replace_image "$tag" import_tar "$dir" "$tag" --change "LABEL kiln.e2e.key=$key" "$@"
}

busybox_image() {
  local tag=kiln.local/busybox:latest debs="$KILN_E2E_CACHE/debs-$DEBIAN_SUITE" deb
  mkdir -p "$debs"
  deb="$(ls "$debs"/busybox-static_*.deb 2>/dev/null | tail -1 || true)"
  if [ -z "$deb" ]; then
    # apt-get download, not install: the host keeps its own busybox (or none).
    (cd "$debs" && { apt-get download busybox-static >/dev/null 2>&1 ||
      { apt-get update -qq && apt-get download busybox-static >/dev/null; }; })
    deb="$(ls "$debs"/busybox-static_*.deb | tail -1)"
  fi
  local key
  key="$(basename "$deb" .deb)-$(recipe_hash test-images.sh)"
  [ "$(current_key "$tag")" = "$key" ] && { log "$tag: up to date"; return 0; }
  local tmp
  tmp="$(mktemp -d)"
  dpkg-deb -x "$deb" "$tmp/deb"
  mkdir -p "$tmp/root/bin" "$tmp/root/etc" "$tmp/root/root" "$tmp/root/var" "$tmp/root/tmp"
  chmod 1777 "$tmp/root/tmp"
  install -m 0755 "$tmp/deb/bin/busybox" "$tmp/root/bin/busybox"
  # One symlink per applet (sh, tar, ls, cat, wget, sleep, ...), at busybox's own paths.
  local applet
  for applet in $("$tmp/root/bin/busybox" --list-full); do
    [ "$applet" = bin/busybox ] && continue
    mkdir -p "$tmp/root/$(dirname "$applet")"
    ln -sf /bin/busybox "$tmp/root/$applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$tmp/root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$tmp/root/etc/group"
  import_dir "$tmp/root" "$tag" "$key" \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["sh"]'
  rm -rf "$tmp"
}

debian_image() {
  local tag="kiln.local/debian:$DEBIAN_SUITE" key
  key="$(rootfs_key)"
  [ "$(current_key "$tag")" = "$key" ] && { log "$tag: up to date"; return 0; }
  bash "$CLUSTER_DIR/rootfs.sh" minbase
  replace_image "$tag" import_tar "$KILN_E2E_CACHE/$key/minbase.tar" "$tag" \
    --change "LABEL kiln.e2e.key=$key" \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]'
}

goserver_image() {
  local tag=kiln.local/goserver:latest key
  key="$("$(go_bin)" env GOVERSION)-$(recipe_hash images/goserver test-images.sh)"
  [ "$(current_key "$tag")" = "$key" ] && { log "$tag: up to date"; return 0; }
  local tmp
  tmp="$(mktemp -d)"
  mkdir -p "$tmp/root/tmp" && chmod 1777 "$tmp/root/tmp"
  # Built from kiln's module (stdlib only), static for FROM scratch.
  (cd "$REPO_ROOT" && CGO_ENABLED=0 "$(go_bin)" build -trimpath -ldflags '-s -w' \
    -o "$tmp/root/goserver" ./test/cluster/images/goserver)
  import_dir "$tmp/root" "$tag" "$key" \
    --change 'ENTRYPOINT ["/goserver"]' --change 'EXPOSE 8080'
  rm -rf "$tmp"
}

main() {
  step "image kiln.local/busybox:latest" busybox_image
  step "image kiln.local/debian:$DEBIAN_SUITE" debian_image
  step "image kiln.local/goserver:latest" goserver_image
}

main "$@"
