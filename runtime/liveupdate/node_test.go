package liveupdate

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kiln-dev/kiln/internal/testenv"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// fakeNode starts a Debian container that stands in for a kind node: it carries kind's
// cluster label, and a containerd task directory for container ID "c1" whose init.pid is
// the node's own PID 1, so the "container's root" is the fake node's /. It returns the
// container's name.
func fakeNode(t *testing.T, api *client.Client, cluster string) string {
	t.Helper()
	ctx := context.Background()
	name := fmt.Sprintf("kiln-unit-node-%d", time.Now().UnixNano())
	task := "/run/containerd/io.containerd.runtime.v2.task/k8s.io/c1"
	_, err := api.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name: name,
		Config: &container.Config{
			Image:  "kiln.local/debian:bookworm",
			Labels: map[string]string{"io.x-k8s.kind.cluster": cluster},
			Cmd:    []string{"sh", "-c", "mkdir -p " + task + " && echo $$ > " + task + "/init.pid && ln -s /tmp /lnk && exec sleep infinity"},
		},
	})
	if err != nil {
		testenv.Missing(t, "cannot create a container: %v", err)
	}
	t.Cleanup(func() {
		_, _ = api.ContainerRemove(context.Background(), name, client.ContainerRemoveOptions{Force: true})
	})
	if _, err := api.ContainerStart(ctx, name, client.ContainerStartOptions{}); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		if out, _ := nodeExec(t, api, name, "cat", task+"/init.pid"); strings.TrimSpace(out) == "1" {
			return name
		}
		if i > 100 {
			t.Fatal("the fake node did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func nodeExec(t *testing.T, api *client.Client, node string, argv ...string) (string, error) {
	t.Helper()
	ctx := context.Background()
	created, err := api.ExecCreate(ctx, node, client.ExecCreateOptions{Cmd: argv, AttachStdout: true, AttachStderr: true})
	if err != nil {
		return "", err
	}
	att, err := api.ExecAttach(ctx, created.ID, client.ExecAttachOptions{})
	if err != nil {
		return "", err
	}
	defer att.Close()
	var out, errOut bytes.Buffer
	_, err = stdcopy.StdCopy(&out, &errOut, att.Reader)
	return out.String() + errOut.String(), err
}

func dockerAPI(t *testing.T) *client.Client {
	t.Helper()
	api, err := client.New(client.FromEnv)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err = api.Ping(ctx, client.PingOptions{})
	}
	if err != nil {
		testenv.Missing(t, "no Docker engine: %v", err)
	}
	t.Cleanup(func() { _ = api.Close() })
	return api
}

// The node agent against a real Docker engine: copies (into a new directory too) and
// deletes land in the container's root; a copy through a symbolic link, a container that is
// not there and a dead agent are errors after which the next change still works; a node of
// another cluster is refused.
func TestNodeSyncer(t *testing.T) {
	api := dockerAPI(t)
	node := fakeNode(t, api, "unit")
	ctx := context.Background()
	src := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(src, name)
		if err := os.WriteFile(p, []byte(content), 0o640); err != nil {
			t.Fatal(err)
		}
		return p
	}
	n := &NodeSyncer{API: api, Cluster: "unit"}
	defer n.Close()
	target := Target{Pod: "p", Container: "c", ContainerID: "containerd://c1", Node: node}
	sh := func(script string) string {
		out, _ := nodeExec(t, api, node, "sh", "-c", script+" 2>&1 || true")
		return strings.TrimSpace(out)
	}
	cat := func(path string) string { return sh("cat " + path) }

	a, b := file("a.txt", "one"), file("b.txt", "two")
	if err := n.Sync(ctx, target, Change{Copies: map[string]string{a: "/app/a.txt", b: "/app/deep/er/b.txt"}}); err != nil {
		t.Fatal(err)
	}
	if got := cat("/app/a.txt") + "," + cat("/app/deep/er/b.txt"); got != "one,two" {
		t.Fatalf("after the copy: %q", got)
	}
	if got := sh("stat -c %a /app/a.txt"); got != "640" {
		t.Errorf("mode of the copied file: %q, want 640", got)
	}

	err := n.Sync(ctx, target, Change{Copies: map[string]string{a: "/lnk/a.txt"}})
	if err == nil || !strings.Contains(err.Error(), "/lnk is a symbolic link") {
		t.Fatalf("a copy through a symbolic link: %v", err)
	}
	if got := cat("/tmp/a.txt"); !strings.Contains(got, "No such file") {
		t.Errorf("the copy went through the link: /tmp/a.txt is %q", got)
	}

	gone := target
	gone.ContainerID = "containerd://c2"
	if err := n.Sync(ctx, gone, Change{Copies: map[string]string{a: "/x"}}); err == nil || !strings.Contains(err.Error(), "not running") {
		t.Fatalf("a container that is not there: %v", err)
	}

	// After both errors (each with a tar the agent had to skip), the same agent still works.
	c := file("c.txt", "three")
	if err := n.Sync(ctx, target, Change{Copies: map[string]string{c: "/app/c.txt"}, Deletes: []string{"/app/a.txt"}}); err != nil {
		t.Fatal(err)
	}
	if got := cat("/app/c.txt"); got != "three" {
		t.Errorf("after the errors: c.txt is %q", got)
	}
	if got := cat("/app/a.txt"); !strings.Contains(got, "No such file") {
		t.Errorf("a deleted file is still there: %q", got)
	}

	// The agent dies (the node restarted, say): the next change starts another.
	n.mu.Lock()
	n.agents[node].close()
	n.mu.Unlock()
	if err := n.Sync(ctx, target, Change{Copies: map[string]string{a: "/app/a.txt"}}); err != nil {
		t.Fatalf("after the agent died: %v", err)
	}
	if got := cat("/app/a.txt"); got != "one" {
		t.Errorf("after the agent died: a.txt is %q", got)
	}

	other := &NodeSyncer{API: api, Cluster: "another"}
	defer other.Close()
	if err := other.Sync(ctx, target, Change{Copies: map[string]string{a: "/app/z.txt"}}); err == nil || !strings.Contains(err.Error(), "not a node of kind cluster another") {
		t.Fatalf("a node of another cluster: %v", err)
	}
}
