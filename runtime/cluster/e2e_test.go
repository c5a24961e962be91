package cluster

// Tests against the real Docker engine and the kind cluster `make cluster` leaves up
// (kiln-e2e, or $KILN_E2E_CLUSTER). They skip when either is missing, and fail instead under
// `make test` (testenv.Missing).

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kindcluster "sigs.k8s.io/kind/pkg/cluster"
	"sigs.k8s.io/kind/pkg/cluster/nodes"

	"github.com/kiln-dev/kiln/internal/testenv"
	"github.com/kiln-dev/kiln/runtime/docker"
	"github.com/kiln-dev/kiln/runtime/plan"
)

const (
	busyboxImage  = "kiln.local/busybox:latest"
	goserverImage = "kiln.local/goserver:latest"
	createName    = "kiln-test-create"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func e2eClusterName() string {
	if n := os.Getenv("KILN_E2E_CLUSTER"); n != "" {
		return n
	}
	return "kiln-e2e"
}

// needDocker skips unless a Docker engine answers and the docker CLI (which kind runs) is there.
func needDocker(tb testing.TB) *docker.Client {
	tb.Helper()
	if _, err := exec.LookPath("docker"); err != nil {
		testenv.Missing(tb, "no docker CLI on PATH (kind needs it)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	dc, err := docker.Connect(ctx)
	if err != nil {
		testenv.Missing(tb, "no Docker engine answers: %v", err)
	}
	tb.Cleanup(func() { dc.Close() })
	return dc
}

// needCluster also skips unless the e2e kind cluster exists; it returns its name.
func needCluster(tb testing.TB) (*docker.Client, string) {
	tb.Helper()
	dc := needDocker(tb)
	name := e2eClusterName()
	names, err := kindcluster.NewProvider(kindcluster.ProviderWithDocker()).List()
	if err != nil {
		testenv.Missing(tb, "cannot list kind clusters: %v", err)
	}
	if !slices.Contains(names, name) {
		testenv.Missing(tb, "kind cluster %s does not exist (context kind-%s); run `make cluster`", name, name)
	}
	return dc, name
}

func needImage(tb testing.TB, dc *docker.Client, ref string) {
	tb.Helper()
	ok, err := dc.ImageExists(context.Background(), ref)
	if err != nil || !ok {
		testenv.Missing(tb, "image %s is not in the Docker engine (run `make test-images`): %v", ref, err)
	}
}

func randomTag(tb testing.TB) string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		tb.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func internalNodes(tb testing.TB, name string) []nodes.Node {
	tb.Helper()
	ns, err := kindcluster.NewProvider(kindcluster.ProviderWithDocker()).ListInternalNodes(name)
	if err != nil || len(ns) == 0 {
		tb.Fatalf("nodes of %s: %v (%d)", name, err, len(ns))
	}
	return ns
}

// ctrImages lists the node's images: ref → target digest.
func ctrImages(tb testing.TB, n nodes.Node, filters ...string) map[string]string {
	tb.Helper()
	var out bytes.Buffer
	args := append([]string{ctrNamespace, "images", "ls"}, filters...)
	if err := n.Command("ctr", args...).SetStdout(&out).Run(); err != nil {
		tb.Fatalf("ctr images ls on %s: %v", n, err)
	}
	return parseCtrImages(out.String())
}

// tagForTest gives srcs[0] a random test tag in the engine (repo:<random>). At cleanup it
// removes the tag from the engine and from the nodes of cluster, and the names containerd
// added for the images of srcs (sha256:<ID>, import-<date>@<digest>) when no other name uses
// those images any more (someone else may have loaded them).
func tagForTest(tb testing.TB, dc *docker.Client, cluster, repo string, srcs ...string) string {
	tb.Helper()
	ctx := context.Background()
	var ids []string
	for _, src := range srcs {
		id, err := dc.ImageID(ctx, src)
		if err != nil {
			tb.Fatal(err)
		}
		ids = append(ids, id)
	}
	ref := repo + ":" + randomTag(tb)
	if err := dc.Tag(ctx, srcs[0], ref); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := dc.RemoveImage(context.Background(), ref, false); err != nil {
			tb.Errorf("cleanup: %v", err)
		}
	})
	tb.Cleanup(func() { removeFromNodes(tb, cluster, ref, ids) })
	return ref
}

func removeFromNodes(tb testing.TB, cluster, ref string, ids []string) {
	name, err := ContainerdName(ref)
	if err != nil {
		tb.Error(err)
		return
	}
	ns, err := kindcluster.NewProvider(kindcluster.ProviderWithDocker()).ListInternalNodes(cluster)
	if err != nil {
		tb.Errorf("cleanup: %v", err)
		return
	}
	unnamed := func(r string) bool { return strings.HasPrefix(r, "sha256:") || strings.HasPrefix(r, "import-") }
	for _, n := range ns {
		all := ctrImages(tb, n)
		targets := map[string]bool{}
		var rm []string
		if t, ok := all[name]; ok {
			targets[t] = true
			rm = append(rm, name)
		}
		for _, id := range ids {
			if t, ok := all[id]; ok {
				targets[t] = true
			}
		}
		for target := range targets {
			var extra []string
			shared := false
			for r, t := range all {
				switch {
				case t != target || r == name:
				case unnamed(r):
					extra = append(extra, r)
				default:
					shared = true
				}
			}
			if !shared {
				rm = append(rm, extra...)
			}
		}
		if len(rm) == 0 {
			continue
		}
		args := append([]string{ctrNamespace, "images", "rm"}, rm...)
		if err := n.Command("ctr", args...).Run(); err != nil {
			tb.Errorf("cleanup: ctr images rm %v on %s: %v", rm, n, err)
		}
	}
}

func TestLoadImages(t *testing.T) {
	dc, name := needCluster(t)
	needImage(t, dc, busyboxImage)
	needImage(t, dc, goserverImage)
	ctx := context.Background()
	ref := tagForTest(t, dc, name, "kiln-test/load", busyboxImage, goserverImage)
	cname, _ := ContainerdName(ref)

	var out bytes.Buffer
	t0 := time.Now()
	loaded, err := LoadImages(ctx, name, []string{ref, ref}, &out)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("load: %s\n%s", time.Since(t0), out.String())
	if !slices.Equal(loaded, []string{ref}) {
		t.Fatalf("loaded = %v, want [%s]", loaded, ref)
	}
	busyboxID, err := dc.ImageID(ctx, busyboxImage)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range internalNodes(t, name) {
		have := ctrImages(t, n, "name=="+cname)
		if _, ok := have[cname]; !ok {
			t.Fatalf("node %s has no image %s after the load: %v", n, cname, have)
		}
		if ids := ctrImages(t, n, "name=="+busyboxID); ids[busyboxID] != have[cname] {
			t.Errorf("node %s: %s → %s, but the engine's image %s → %q", n, cname, have[cname], busyboxID, ids[busyboxID])
		}
	}

	// Everything present: nothing is loaded.
	out.Reset()
	t0 = time.Now()
	loaded, err = LoadImages(ctx, name, []string{ref, cname}, &out)
	skip := time.Since(t0)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("skip: %s\n%s", skip, out.String())
	if len(loaded) != 0 {
		t.Fatalf("second load loaded %v, want nothing", loaded)
	}

	// The tag now names another image in the engine: the node's copy is stale and reloaded.
	goserverID, err := dc.ImageID(ctx, goserverImage)
	if err != nil {
		t.Fatal(err)
	}
	if err := dc.Tag(ctx, goserverImage, ref); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	loaded, err = LoadImages(ctx, name, []string{ref}, &out)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("retagged: %s", out.String())
	if !slices.Equal(loaded, []string{ref}) {
		t.Fatalf("after retagging, loaded = %v, want [%s]", loaded, ref)
	}
	for _, n := range internalNodes(t, name) {
		have := ctrImages(t, n, "name=="+cname, "name=="+goserverID)
		if have[cname] == "" || have[cname] != have[goserverID] {
			t.Errorf("node %s: %s → %q, want the goserver image (%s → %q)", n, cname, have[cname], goserverID, have[goserverID])
		}
	}
}

func TestLoadImagesErrors(t *testing.T) {
	dc, name := needCluster(t)
	_ = dc
	ctx := context.Background()
	if _, err := LoadImages(ctx, name, []string{"kiln-test/does-not-exist:" + randomTag(t)}, nil); err == nil ||
		!strings.Contains(err.Error(), "no such image") {
		t.Errorf("missing engine image: err = %v", err)
	}
	if _, err := LoadImages(ctx, "kiln-test-no-such-cluster", []string{busyboxImage}, nil); err == nil ||
		!strings.Contains(err.Error(), "has no nodes") {
		t.Errorf("missing cluster: err = %v", err)
	}
	if loaded, err := LoadImages(ctx, name, nil, nil); err != nil || loaded != nil {
		t.Errorf("no refs: %v, %v", loaded, err)
	}
}

func BenchmarkLoadImagesSkip(b *testing.B) {
	dc, name := needCluster(b)
	needImage(b, dc, busyboxImage)
	needImage(b, dc, goserverImage)
	ctx := context.Background()
	refs := []string{
		tagForTest(b, dc, name, "kiln-test/bench", busyboxImage),
		tagForTest(b, dc, name, "kiln-test/bench", goserverImage),
	}
	if _, err := LoadImages(ctx, name, refs, nil); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		loaded, err := LoadImages(ctx, name, refs, nil)
		if err != nil {
			b.Fatal(err)
		}
		if len(loaded) != 0 {
			b.Fatalf("loaded %v, want nothing", loaded)
		}
	}
}

func nodeContainer(t *testing.T, dc *docker.Client, name string) (created, image string) {
	t.Helper()
	res, err := dc.API().ContainerInspect(context.Background(), name+"-control-plane", client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return res.Container.Created, res.Container.Config.Image
}

func TestEnsureExisting(t *testing.T) {
	dc, name := needCluster(t)
	before, _ := nodeContainer(t, dc, name)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c := &plan.Cluster{Name: name, Context: ContextName(name)}

	var out bytes.Buffer
	res, err := dc.API().ContainerInspect(ctx, name+"-control-plane", client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if started, err := time.Parse(time.RFC3339Nano, res.Container.State.StartedAt); err == nil && time.Since(started) < startWait {
		// The cluster is shared: someone just (re)started it. Ensure waits for it; the 2s
		// budget is for a settled cluster, measured on the next call.
		t0 := time.Now()
		err := Ensure(ctx, c, &out)
		t.Logf("node started %s ago; Ensure waited %s\n%s", time.Since(started).Round(time.Second), time.Since(t0), out.String())
		if err != nil {
			t.Fatal(err)
		}
		out.Reset()
	}
	t0 := time.Now()
	err = Ensure(ctx, c, &out)
	d := time.Since(t0)
	t.Logf("Ensure on existing %s: %s\n%s", name, d, out.String())
	if err != nil {
		t.Fatal(err)
	}
	if d > 2*time.Second {
		t.Errorf("Ensure on a running cluster took %s, want ≤ 2s", d)
	}
	if after, _ := nodeContainer(t, dc, name); after != before {
		t.Errorf("node container recreated: created %s, was %s", after, before)
	}
	if strings.Contains(out.String(), "creating") {
		t.Errorf("Ensure said it creates the cluster:\n%s", out.String())
	}
}

func TestLocalRegistryCluster(t *testing.T) {
	_, name := needCluster(t)
	ctx := context.Background()
	cs, err := clientFor(ContextName(name))
	if err != nil {
		t.Fatal(err)
	}
	host, ok, err := LocalRegistry(ctx, cs)
	if err != nil {
		t.Fatal(err)
	}
	_, gerr := cs.CoreV1().ConfigMaps(RegistryConfigMapNamespace).Get(ctx, RegistryConfigMapName, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(gerr):
		if ok || host != "" {
			t.Errorf("no ConfigMap, but LocalRegistry = %q, %v", host, ok)
		}
	case gerr == nil:
		t.Logf("cluster advertises a local registry: %q (ok=%v)", host, ok)
	default:
		t.Fatal(gerr)
	}
}

// TestEnsureCreate creates a new cluster and deletes it. It is slow (a minute or more), so it
// runs only with KILN_E2E_CREATE=1. The node image is $KILN_KIND_NODE_IMAGE or the one the e2e
// cluster runs (made offline by `make cluster`), with that cluster's networking (no kindnetd:
// the node image brings a static bridge CNI config). The default kubeconfig is not touched:
// KUBECONFIG points to a temporary file.
func TestEnsureCreate(t *testing.T) {
	if os.Getenv("KILN_E2E_CREATE") != "1" {
		t.Skip("creates and deletes a kind cluster (slow): set KILN_E2E_CREATE=1 to run")
	}
	dc := needDocker(t)
	image := os.Getenv(NodeImageEnv)
	if image == "" {
		_, name := needCluster(t)
		_, image = nodeContainer(t, dc, name)
	}
	needImage(t, dc, image)
	t.Setenv(NodeImageEnv, image)
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	t.Setenv("KUBECONFIG", kubeconfig)

	p := kindcluster.NewProvider(kindcluster.ProviderWithDocker())
	names, err := p.List()
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(names, createName) {
		t.Logf("deleting %s left by an earlier run", createName)
		if err := p.Delete(createName, kubeconfig); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		// Retried: the engine may be restarting (it is shared).
		t0 := time.Now()
		for {
			err := p.Delete(createName, kubeconfig)
			if err == nil {
				t.Logf("deleted %s in %s", createName, time.Since(t0))
				return
			}
			if time.Since(t0) > 2*time.Minute {
				t.Errorf("delete %s: %v — remove it with `kind delete cluster --name %s`", createName, err, createName)
				return
			}
			t.Logf("delete %s: %v; retrying", createName, err)
			time.Sleep(5 * time.Second)
		}
	})

	c := &plan.Cluster{
		Name:    createName,
		Context: ContextName(createName),
		Config: map[string]any{
			"kind":       "Cluster",
			"apiVersion": kindAPIVersion,
			"networking": map[string]any{"disableDefaultCNI": true, "podSubnet": "10.244.0.0/16"},
		},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	var out bytes.Buffer
	t0 := time.Now()
	err = Ensure(ctx, c, &out)
	t.Logf("Ensure (create) %s: %s\n%s", createName, time.Since(t0), out.String())
	if err != nil {
		t.Fatal(err)
	}
	created, nodeImage := nodeContainer(t, dc, createName)
	if nodeImage != image {
		t.Errorf("node runs %s, want %s", nodeImage, image)
	}
	cs, err := clientFor(ContextName(createName))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{}); err != nil {
		t.Errorf("default service account: %v", err)
	}
	if data, err := os.ReadFile(kubeconfig); err != nil || !strings.Contains(string(data), "kind-"+createName) {
		t.Errorf("kubeconfig %s has no context kind-%s (%v)", kubeconfig, createName, err)
	}

	// Now it exists: Ensure is quick and leaves it alone.
	out.Reset()
	t0 = time.Now()
	if err := Ensure(ctx, c, &out); err != nil {
		t.Fatal(err)
	}
	t.Logf("Ensure again: %s\n%s", time.Since(t0), out.String())
	if again, _ := nodeContainer(t, dc, createName); again != created {
		t.Errorf("node container recreated")
	}

	// As after a machine restart: the node container is stopped. Ensure starts it again.
	t0 = time.Now()
	if _, err := dc.API().ContainerStop(ctx, createName+"-control-plane", client.ContainerStopOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Logf("stopped the node in %s", time.Since(t0))
	out.Reset()
	t0 = time.Now()
	err = Ensure(ctx, c, &out)
	t.Logf("Ensure on the stopped cluster: %s\n%s", time.Since(t0), out.String())
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := nodeContainer(t, dc, createName); again != created {
		t.Errorf("node container recreated")
	}
	if !strings.Contains(out.String(), "started stopped node(s) "+createName+"-control-plane") {
		t.Errorf("Ensure did not say it started the node:\n%s", out.String())
	}
	if _, err := cs.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{}); err != nil {
		t.Errorf("default service account after the restart: %v", err)
	}

	// As after an engine restart: the engine started the node again a moment ago and the API
	// server is still coming up. Ensure waits for it.
	if _, err := dc.API().ContainerRestart(ctx, createName+"-control-plane", client.ContainerRestartOptions{}); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	t0 = time.Now()
	err = Ensure(ctx, c, &out)
	t.Logf("Ensure on the just restarted cluster: %s\n%s", time.Since(t0), out.String())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "started ") {
		t.Errorf("Ensure did not notice the node was just started:\n%s", out.String())
	}
}
