#!/usr/bin/env bash
# The kind node image, built offline: kiln.local/kind-node:<k8s version>-<key>.
# Skipped when that tag is already in the engine (KILN_E2E_REBUILD=1 forces it). Steps:
#   1. Go binaries (build-binaries.sh) and Debian rootfs (rootfs.sh), cached;
#   2. FROM-scratch images for everything kubeadm runs, tagged exactly as
#      `kubeadm config images list` names them;
#   3. the node base image: node/Dockerfile, following kind's images/base;
#   4. as kind's node-image builder: run the base, import the images into its
#      containerd, write /kind/version, and commit.
# Prints the node image tag on stdout.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

IMAGE="$(node_image)"
KEY="$(node_key)"
K8S_BIN="$KILN_E2E_CACHE/$(k8s_key)/bin"
ETCD_BIN="$KILN_E2E_CACHE/$(etcd_key)/bin"
COREDNS_BIN="$KILN_E2E_CACHE/$(coredns_key)/bin"
ROOTFS_IMAGE="kiln.local/kind-rootfs:$(rootfs_key)"
BASE_IMAGE="kiln.local/kind-base:${K8S_VERSION}-$KEY"
WORK=""

cleanup() {
  if [ -n "${BUILD_CONTAINER:-}" ]; then dk rm -f -v "$BUILD_CONTAINER" >/dev/null 2>&1 || true; fi
  if [ -n "$WORK" ]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT

rootfs_image() {
  image_exists "$ROOTFS_IMAGE" && return 0
  import_tar "$KILN_E2E_CACHE/$(rootfs_key)/node.tar" "$ROOTFS_IMAGE"
}

# scratch_image DIR TAG [--change ...]: a FROM-scratch image made of DIR.
scratch_image() {
  local dir="$1" tag="$2"; shift 2
  mkdir -p "$dir/tmp" && chmod 1777 "$dir/tmp"
  replace_image "$tag" import_tar "$dir" "$tag" \
    --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/bin:/usr/sbin:/bin:/sbin' "$@"
}

# bin_image TAG BINARY...: a FROM-scratch image with BINARY in /usr/local/bin.
bin_image() {
  local tag="$1" dir; shift
  dir="$(mktemp -d "$WORK/img.XXXXXX")"
  mkdir -p "$dir/usr/local/bin"
  cp "$@" "$dir/usr/local/bin/"
  scratch_image "$dir" "$tag"
}

# Builds every image kubeadm needs; sets IMAGES to their tags.
control_plane_images() {
  mapfile -t IMAGES < <("$K8S_BIN/kubeadm" config images list --kubernetes-version "$K8S_VERSION" 2>/dev/null)
  [ ${#IMAGES[@]} -ge 7 ] || die "kubeadm config images list gave: ${IMAGES[*]}"
  local img name dir
  for img in "${IMAGES[@]}"; do
    name="${img##*/}"; name="${name%%:*}"
    case "$name" in
      kube-apiserver|kube-controller-manager|kube-scheduler) bin_image "$img" "$K8S_BIN/$name" ;;
      kube-proxy)
        # kube-proxy runs iptables (nft variant), with every xtables plugin's libraries.
        dir="$(mktemp -d "$WORK/img.XXXXXX")"
        dk run --rm -v "$dir:/out" -v "$CLUSTER_DIR/node/collect-iptables.sh:/collect:ro" \
          "$ROOTFS_IMAGE" bash /collect /out
        mkdir -p "$dir/usr/local/bin" && cp "$K8S_BIN/kube-proxy" "$dir/usr/local/bin/"
        scratch_image "$dir" "$img" ;;
      etcd)
        [[ "${img##*:}" == "$ETCD_VERSION"* ]] || die "kubeadm wants $img; set ETCD_VERSION in versions.env"
        bin_image "$img" "$ETCD_BIN/etcd" ;;
      coredns)
        [ "${img##*:}" = "$COREDNS_VERSION" ] || die "kubeadm wants $img; set COREDNS_VERSION in versions.env"
        dir="$(mktemp -d "$WORK/img.XXXXXX")"
        cp "$COREDNS_BIN/coredns" "$dir/coredns"
        scratch_image "$dir" "$img" --change 'ENTRYPOINT ["/coredns"]' --change 'EXPOSE 53 53/udp' ;;
      pause)
        PAUSE_IMAGE="$img"
        dir="$(mktemp -d "$WORK/img.XXXXXX")"
        (cd "$REPO_ROOT" && CGO_ENABLED=0 "$(go_bin)" build -trimpath -ldflags '-s -w' -o "$dir/pause" ./test/cluster/images/pause)
        scratch_image "$dir" "$img" --change 'ENTRYPOINT ["/pause"]' ;;
      *) die "no recipe for image $img" ;;
    esac
    log "  built $img"
  done
}

base_image() {
  local ctx="$WORK/ctx" kind_dir
  # kind's images/base files, from the kind module (a declared dependency).
  # (go mod download: fetched into the module cache if it is not there yet)
  kind_dir="$(cd "$REPO_ROOT" && "$(go_bin)" mod download -json sigs.k8s.io/kind | jq -r .Dir)"
  [ -d "$kind_dir/images/base/files" ] || die "kind's images/base/files not found in the kind module ($kind_dir)"
  mkdir -p "$ctx/bin"
  cp -r "$kind_dir/images/base/files" "$ctx/kind"
  cp -r "$CLUSTER_DIR/node/files" "$ctx/files"
  cp "$CLUSTER_DIR/node/Dockerfile" "$ctx/"
  cp "$K8S_BIN/kubelet" "$K8S_BIN/kubeadm" "$K8S_BIN/kubectl" "$ctx/bin/"
  # Modes as kind's Dockerfile sets them: scripts 0755, the rest 0644.
  chmod -R u+w "$ctx"
  find "$ctx/kind" "$ctx/files" -type d -exec chmod 0755 {} +
  find "$ctx/kind" "$ctx/files" -type f -exec chmod 0644 {} +
  chmod 0755 "$ctx"/kind/usr/local/bin/* "$ctx"/kind/kind/bin/* "$ctx"/bin/*
  DOCKER_BUILDKIT=1 dk build -q --build-arg "BASE_IMAGE=$ROOTFS_IMAGE" \
    --build-arg "PAUSE_IMAGE=$PAUSE_IMAGE" -t "$BASE_IMAGE" "$ctx" >/dev/null
}

assemble() {
  BUILD_CONTAINER="kiln-node-build-$$"
  # Not privileged: containerd only stores the images (--no-unpack), as in kind's builder.
  dk run -d --name "$BUILD_CONTAINER" --entrypoint=sleep --security-opt seccomp=unconfined \
    "$BASE_IMAGE" infinity >/dev/null
  dk exec "$BUILD_CONTAINER" bash -c 'nohup containerd >/var/log/containerd-build.log 2>&1 &'
  dk exec "$BUILD_CONTAINER" bash -c 'for i in $(seq 1 50); do [ -S /run/containerd/containerd.sock ] && ctr version >/dev/null 2>&1 && exit 0; sleep 0.2; done; cat /var/log/containerd-build.log; exit 1'
  dk save "${IMAGES[@]}" | dk exec -i "$BUILD_CONTAINER" \
    ctr --namespace=k8s.io images import --all-platforms --no-unpack --digests - >/dev/null
  local listed img
  listed="$(dk exec "$BUILD_CONTAINER" ctr --namespace=k8s.io images list -q)"
  for img in "${IMAGES[@]}"; do
    grep -qx "$img" <<<"$listed" || die "$img missing from the node's containerd"
    # Pinned, so kubelet's image garbage collection leaves them (containerd
    # >= 1.7 honours it; Debian's 1.6 ctr has no `import --label`).
    dk exec "$BUILD_CONTAINER" ctr --namespace=k8s.io images label "$img" io.cri-containerd.pinned=pinned >/dev/null
  done
  dk exec "$BUILD_CONTAINER" bash -c "pkill containerd; echo -n '$K8S_VERSION' >/kind/version; rm -f /var/log/containerd-build.log"
  sleep 1
  dk commit --change 'ENTRYPOINT [ "/usr/local/bin/entrypoint", "/sbin/init" ]' --change 'CMD []' \
    --change "LABEL kiln.e2e.key=$KEY" "$BUILD_CONTAINER" "$IMAGE" >/dev/null
  dk rm -f -v "$BUILD_CONTAINER" >/dev/null
  BUILD_CONTAINER=""
}

main() {
  if [ "${KILN_E2E_REBUILD:-}" != 1 ] && image_exists "$IMAGE"; then
    log "node image $IMAGE: present"
    echo "$IMAGE"
    return 0
  fi
  # debootstrap (network, disk) runs beside the Go builds (CPU).
  bash "$CLUSTER_DIR/rootfs.sh" node &
  local rootfs_pid=$!
  bash "$CLUSTER_DIR/build-binaries.sh"
  wait "$rootfs_pid" || die "node rootfs failed"
  WORK="$(mktemp -d)"
  step "rootfs image $ROOTFS_IMAGE" rootfs_image
  step "control-plane images" control_plane_images
  step "node base image $BASE_IMAGE" base_image
  step "node image $IMAGE" assemble
  # The base image was only a step to the node image.
  dk rmi "$BASE_IMAGE" >/dev/null || true
  remove_old_images kiln.local/kind-rootfs "$ROOTFS_IMAGE"
  echo "$IMAGE"
}

main "$@"
