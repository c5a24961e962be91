//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	bkclient "github.com/moby/buildkit/client"
)

// startBuildkitd starts the standalone buildkitd that `make e2e` passes in KILN_E2E_BUILDKITD,
// with its state under a temp dir, and returns its address.
func startBuildkitd(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("KILN_E2E_BUILDKITD")
	if bin == "" {
		t.Fatal("KILN_E2E_BUILDKITD is not set: run `make e2e`, or set it to the path `bash test/cluster/buildkitd.sh` prints")
	}
	dir, err := os.MkdirTemp("", "kiln-bkd-") // short: a unix socket path has ~100 bytes
	if err != nil {
		t.Fatal(err)
	}
	addr := "unix://" + filepath.Join(dir, "buildkitd.sock")
	var logs bytes.Buffer
	cmd := exec.Command(bin, "--root", filepath.Join(dir, "state"), "--addr", addr,
		"--oci-worker=true", "--containerd-worker=false")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		_ = os.RemoveAll(dir)
		if t.Failed() {
			t.Logf("buildkitd log:\n%s", logs.String())
		}
	})

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		select {
		case err := <-exited:
			t.Fatalf("buildkitd exited: %v\n%s", err, logs.String())
		case <-ctx.Done():
			t.Fatalf("buildkitd did not answer at %s in 30s:\n%s", addr, logs.String())
		case <-time.After(200 * time.Millisecond):
		}
		c, err := bkclient.New(ctx, addr)
		if err != nil {
			continue
		}
		_, err = c.ListWorkers(ctx)
		c.Close()
		if err == nil {
			return addr
		}
	}
}

// TestRunStandaloneBuildKit: with KILN_BUILDKIT_HOST set, kiln builds with that buildkitd
// instead of the engine's BuildKit, and the image still reaches the cluster and serves.
func TestRunStandaloneBuildKit(t *testing.T) {
	c := connect(t)
	ns := newNamespace(t, c)
	addr := startBuildkitd(t)

	// A standalone buildkitd resolves FROM in registries, which this machine can't reach:
	// the image is FROM scratch around a static server built here.
	dir := writeProject(t, map[string]string{
		"Kilnfile": "docker_build('example.local/standalone', 'app')\nk8s_yaml('app.yaml')\n",
		// The namespace makes the context new on every run, so that a build must happen.
		"app/nonce":      ns + "\n",
		"app/Dockerfile": "FROM scratch\nCOPY server /server\nCOPY nonce /nonce\nENTRYPOINT [\"/server\"]\n",
		"app.yaml": fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: standalone, namespace: %[1]s}
spec:
  selector: {matchLabels: {app: standalone}}
  template:
    metadata: {labels: {app: standalone}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: server
        image: example.local/standalone
        env: [{name: GREETING, value: built by buildkitd}]
        readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 1}
`, ns),
	})
	build := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(dir, "app", "server"), "./test/cluster/images/goserver")
	build.Dir = repoRoot()
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build goserver: %v\n%s", err, out)
	}

	r := kiln(t, []string{"KILN_BUILDKIT_HOST=" + addr}, "run", "-f", dir, contextFlag(c))
	if r.code != 0 {
		t.Fatalf("kiln run with KILN_BUILDKIT_HOST:\n%s", r)
	}
	if b, l, _ := counts(t, r); b != 1 || l != 1 {
		t.Fatalf("want one image built and loaded, got built %d, loaded %d:\n%s", b, l, r)
	}
	serve(t, c, ns, "app=standalone", 8080, "built by buildkitd")

	// The build happened in buildkitd, not in the engine: its cache holds the build's records.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	bk, err := bkclient.New(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer bk.Close()
	usage, err := bk.DiskUsage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(usage) == 0 {
		t.Fatalf("buildkitd at %s has no build records: kiln did not build with it\n%s", addr, r)
	}

	if r := kiln(t, nil, "down", "-f", dir, contextFlag(c)); r.code != 0 {
		t.Fatalf("kiln down:\n%s", r)
	}
}
