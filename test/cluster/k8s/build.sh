#!/usr/bin/env bash
# Builds the Kubernetes binaries (static, version-stamped) from this wrapper
# module into OUT_DIR. Called by build-binaries.sh.
set -euo pipefail
cd "$(dirname "$0")"
OUT_DIR="$1" K8S_VERSION="$2"

minor="${K8S_VERSION#v}"; major="${minor%%.*}"; minor="${minor#*.}"; minor="${minor%%.*}"
# kubeadm refuses to work with an unstamped ("v0.0.0-master") version.
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

# static binaries: the control-plane images are FROM scratch
CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$OUT_DIR/" \
  k8s.io/kubernetes/cmd/kube-apiserver \
  k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kube-scheduler \
  k8s.io/kubernetes/cmd/kube-proxy \
  k8s.io/kubernetes/cmd/kubelet \
  k8s.io/kubernetes/cmd/kubeadm \
  k8s.io/kubernetes/cmd/kubectl
