#!/usr/bin/env bash
# `make cluster` / `make cluster-down`: the kind cluster kiln's e2e tests run on.
#   cluster.sh up    node image (built once, cached), then the cluster, ready
#   cluster.sh down  delete the cluster (the cached images stay)
# The cluster itself is made with the kind Go library (cmd/kiln-e2e-cluster).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

CREATOR="$KILN_E2E_CACHE/bin/kiln-e2e-cluster"

# go build is a no-op when the binary is up to date.
build_creator() {
  (cd "$REPO_ROOT" && "$(go_bin)" build -o "$CREATOR" ./test/cluster/cmd/kiln-e2e-cluster)
}

case "${1:-up}" in
  up)
    t0=$SECONDS
    image="$(bash "$CLUSTER_DIR/build-node.sh")"
    build_creator
    "$CREATOR" up -name "$KIND_CLUSTER_NAME" -image "$image"
    # Node images of older keys are no longer used by the cluster.
    remove_old_images kiln.local/kind-node "$image"
    log "make cluster: $KIND_CLUSTER_NAME ready, context kind-$KIND_CLUSTER_NAME ($((SECONDS - t0))s)"
    ;;
  down)
    build_creator
    "$CREATOR" down -name "$KIND_CLUSTER_NAME"
    ;;
  *) die "usage: cluster.sh up|down" ;;
esac
