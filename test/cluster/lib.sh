# Shared helpers for the e2e cluster scripts. Sourced, never run.
# shellcheck shell=bash

CLUSTER_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck disable=SC2034 # used by the scripts that source this file
REPO_ROOT="$(cd "$CLUSTER_DIR/../.." && pwd)"
# shellcheck source=versions.env
source "$CLUSTER_DIR/versions.env"

# Everything built is cached here, in sub-directories keyed by versions.
KILN_E2E_CACHE="${KILN_E2E_CACHE:-/var/cache/kiln-e2e}"
mkdir -p "$KILN_E2E_CACHE"

export GOFLAGS="${GOFLAGS:-}"
export PATH="$PATH:/usr/local/go/bin:/usr/sbin:/sbin"

log() { printf '[kiln-e2e %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# step NAME CMD...: runs CMD, logging what it does and how long it took.
step() {
  local name="$1"; shift
  local t0=$SECONDS
  log "$name ..."
  "$@"
  log "$name: done in $((SECONDS - t0))s"
}

# recipe_hash FILE_OR_DIR...: a short hash of the recipe files, so a change to
# a script or go.mod gives a new cache key.
recipe_hash() {
  (cd "$CLUSTER_DIR" && find "$@" -type f ! -name '*~' -print0 | LC_ALL=C sort -z |
    xargs -0 sha256sum) | sha256sum | cut -c1-10
}

# Cache keys, one per piece. Each is version + hash of the files that build it.
k8s_key()     { echo "k8s-${K8S_VERSION}-$(recipe_hash k8s)"; }
etcd_key()    { echo "etcd-${ETCD_VERSION}-$(recipe_hash etcd)"; }
coredns_key() { echo "coredns-${COREDNS_VERSION}"; }
rootfs_key()  { echo "rootfs-${DEBIAN_SUITE}-$(recipe_hash rootfs.sh)"; }
# The node image depends on all of the above plus its own recipe.
node_key() {
  printf '%s\n' "$(k8s_key)" "$(etcd_key)" "$(coredns_key)" "$(rootfs_key)" \
    "$(recipe_hash node images/pause build-node.sh)" | sha256sum | cut -c1-10
}
node_image() { echo "kiln.local/kind-node:${K8S_VERSION}-$(node_key)"; }

# docker: Debian's client (API 1.41, with BuildKit built in) if present, so
# `docker build` works without the buildx plugin; else whatever is on PATH.
docker_bin() {
  if [ -x /usr/bin/docker ]; then echo /usr/bin/docker; else command -v docker; fi
}
dk() { "$(docker_bin)" "$@"; }

image_exists() { dk image inspect "$1" >/dev/null 2>&1; }

# replace_image TAG CMD...: runs CMD, which (re)creates image TAG, then removes
# the image TAG named before if nothing else uses it, so rebuilds leave no
# dangling images behind.
replace_image() {
  local tag="$1" old new; shift
  old="$(dk image inspect -f '{{.Id}}' "$tag" 2>/dev/null || true)"
  "$@"
  new="$(dk image inspect -f '{{.Id}}' "$tag")"
  if [ -n "$old" ] && [ "$old" != "$new" ]; then dk rmi "$old" >/dev/null 2>&1 || true; fi
}

# remove_old_images REPO KEEP: removes the REPO:* tags other than KEEP, left
# from older cache keys (rmi fails, harmlessly, for one still in use).
remove_old_images() {
  local old
  for old in $(dk images --format '{{.Repository}}:{{.Tag}}' "$1"); do
    [ "$old" = "$2" ] || dk rmi "$old" >/dev/null 2>&1 || true
  done
}

# import_tar SRC TAG [--change ...]: a FROM-scratch image of SRC, a directory
# or a tar file.
import_tar() {
  local src="$1" tag="$2"; shift 2
  if [ -d "$src" ]; then
    tar --numeric-owner -C "$src" -c . | dk import "$@" - "$tag" >/dev/null
  else
    dk import "$@" "$src" "$tag" >/dev/null
  fi
}

# need_pkgs PKG...: apt-get install the Debian packages not yet installed.
need_pkgs() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing Debian packages: ${missing[*]}"
  # Keep package scripts from starting services (docker.sh starts dockerd
  # itself, with its flags; a second engine would break the docker0 bridge).
  local policy=/usr/sbin/policy-rc.d added=""
  if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod +x "$policy"; added=1; fi
  apt-get update -qq || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  [ -n "$added" ] && rm -f "$policy"
  return 0
}

go_bin() { command -v go || echo /usr/local/go/bin/go; }

# cached KEY CMD...: runs CMD with $OUT set to an empty bin directory, and
# moves it to $KILN_E2E_CACHE/KEY/bin only if it succeeds.
cached() {
  local key="$1"; shift
  local dir="$KILN_E2E_CACHE/$key"
  [ -f "$dir/.done" ] && { log "$key: cached"; return 0; }
  rm -rf "$dir" && mkdir -p "$dir/bin.tmp"
  OUT="$dir/bin.tmp" step "build $key" "$@"
  mv "$dir/bin.tmp" "$dir/bin"
  touch "$dir/.done"
}

