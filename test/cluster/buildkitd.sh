#!/usr/bin/env bash
# A standalone buildkitd, for the e2e test of KILN_BUILDKIT_HOST (kiln building without the
# Docker engine's BuildKit). Built from the wrapper module buildkitd/ (buildkitd is a `tool`
# there: `go install pkg@version` refuses buildkit, whose go.mod has exclude directives) at
# the buildkit version kiln's own go.mod uses, into $KILN_E2E_CACHE/buildkitd-<key>/bin.
# Prints its path. Its OCI worker runs RUN steps with Debian's runc (installed with docker.io).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

want="$(cd "$REPO_ROOT" && GOWORK=off "$(go_bin)" list -m -f '{{.Version}}' github.com/moby/buildkit)"
grep -Eq "^[[:space:]]*github.com/moby/buildkit $want( |\$)" "$CLUSTER_DIR/buildkitd/go.mod" ||
  die "buildkitd/go.mod does not require github.com/moby/buildkit $want (kiln's go.mod): go get it there"

key="buildkitd-$want-$(recipe_hash buildkitd)"
build_buildkitd() {
  (cd "$CLUSTER_DIR/buildkitd" && GOWORK=off CGO_ENABLED=0 nice -n 10 "$(go_bin)" build \
    -trimpath -ldflags '-s -w' -o "$OUT/buildkitd" github.com/moby/buildkit/cmd/buildkitd)
}
cached "$key" build_buildkitd
echo "$KILN_E2E_CACHE/$key/bin/buildkitd"
