# kiln's e2e cluster: a real kind cluster built offline (see test/cluster/README.md).
# Included by the top-level Makefile.
#   make docker        Docker engine installed and answering (starts dockerd if needed)
#   make test-images   kiln.local/{busybox:latest,debian:bookworm,goserver:latest}
#   make node-image    the kind node image (cached under $KILN_E2E_CACHE)
#   make cluster       kind cluster kiln-e2e ready, context kind-kiln-e2e
#   make cluster-down  delete it (caches and images stay)
#   make buildkitd     a standalone buildkitd binary (cached), for the KILN_BUILDKIT_HOST test

KILN_E2E_CACHE ?= /var/cache/kiln-e2e
export KILN_E2E_CACHE

.PHONY: docker test-images node-image cluster cluster-down buildkitd

docker:
	@bash test/cluster/docker.sh

test-images: docker
	@bash test/cluster/test-images.sh

node-image: docker
	@bash test/cluster/build-node.sh >/dev/null

cluster: docker test-images
	@bash test/cluster/cluster.sh up

cluster-down: docker
	@bash test/cluster/cluster.sh down

buildkitd:
	@bash test/cluster/buildkitd.sh >/dev/null
