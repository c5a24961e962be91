#!/usr/bin/env bash
# Go binaries of the kind node, built from Go modules (no registry, no release
# tarball) into $KILN_E2E_CACHE/<piece>-<version>-<hash>/bin. Idempotent: a
# piece whose directory is complete is not rebuilt.
#   k8s/   kube-apiserver, -controller-manager, -scheduler, -proxy, kubelet, kubeadm, kubectl
#   etcd/  etcd at the version kubeadm expects
#   coredns, from `go install github.com/coredns/coredns@version`
set -euo pipefail
source "$(dirname "$0")/lib.sh"

GO="$(go_bin)"

# The wrapper modules pin versions in go.mod; they must agree with versions.env.
check_pin() {
  grep -Eq "^(require )?[[:space:]]*$2 $3( |\$)" "$CLUSTER_DIR/$1/go.mod" ||
    die "$1/go.mod does not require $2 $3 (versions.env): go get $2@$3 there"
}

# Every k8s.io staging module must be replaced by its published v0.<minor>.<patch>.
check_staging() {
  local want="v0.${K8S_VERSION#v1.}" bad
  bad="$(grep -E '^[[:space:]]*k8s\.io/[a-z-]+ => ' "$CLUSTER_DIR/k8s/go.mod" | grep -v " $want\$" || true)"
  [ -z "$bad" ] || die "k8s/go.mod: staging replaces not at $want: $bad"
}

build_k8s() { GOWORK=off nice -n 10 bash "$CLUSTER_DIR/k8s/build.sh" "$OUT" "$K8S_VERSION"; }

build_etcd() {
  (cd "$CLUSTER_DIR/etcd" && GOWORK=off CGO_ENABLED=0 nice -n 10 "$GO" build -trimpath -ldflags '-s -w' -o "$OUT/etcd" .)
}

build_coredns() {
  # go install pkg@version: built in module mode on its own, outside any go.mod.
  GOBIN="$OUT" CGO_ENABLED=0 nice -n 10 "$GO" install -trimpath -ldflags '-s -w' \
    "github.com/coredns/coredns@$COREDNS_VERSION"
}

main() {
  check_pin k8s k8s.io/kubernetes "$K8S_VERSION"
  check_staging
  check_pin etcd go.etcd.io/etcd/server/v3 "v$ETCD_VERSION"
  cached "$(k8s_key)" build_k8s
  cached "$(etcd_key)" build_etcd
  cached "$(coredns_key)" build_coredns
}

main "$@"
