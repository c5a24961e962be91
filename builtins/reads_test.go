package builtins

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kiln-dev/kiln/internal/testenv"
	"github.com/kiln-dev/kiln/starlark/host"
)

// A FIFO named as a file, or a Dockerfile, hung evaluation; /dev/zero grew past 3 GB.
func TestReadsRefuseDevicesAndFIFOs(t *testing.T) {
	dir := t.TempDir()
	testenv.WriteFiles(t, dir, map[string]string{"k/kustomization.yaml": "resources: [pipe.yaml]\n"})
	for _, fifo := range []string{"pipe", "k/pipe.yaml"} {
		if err := syscall.Mkfifo(filepath.Join(dir, fifo), 0o644); err != nil {
			t.Skipf("mkfifo: %v", err)
		}
	}
	const pod = "k8s_yaml(blob('apiVersion: v1\\nkind: Pod\\nmetadata: {name: p}\\nspec: {containers: [{name: c, image: app}]}\\n'))"
	for kf, want := range map[string]string{
		"read_file('pipe')":             "Error in read_file: file pipe is a named pipe (FIFO), not a regular file",
		"read_yaml('pipe')":             "Error in read_yaml: file pipe is a named pipe (FIFO)",
		"k8s_yaml('pipe')":              "Error in k8s_yaml: file pipe is a named pipe (FIFO)",
		"k8s_yaml('/dev/urandom')":      "Error in k8s_yaml: file /dev/urandom is a character device",
		"read_file('/dev/zero')":        "Error in read_file: file /dev/zero is a character device",
		"load('pipe', 'x')":             "file pipe is a named pipe (FIFO)",
		"helm('pipe')":                  "named pipe (FIFO)",
		"kind_cluster(config = 'pipe')": "file pipe is a named pipe (FIFO)",
		"k8s_yaml(kustomize('k'))":      "k/pipe.yaml is a named pipe (FIFO)",
		"docker_build('app', '.', dockerfile = 'pipe')\n" + pod: "file pipe is a named pipe (FIFO)",
		"custom_build('app', 'true', deps = ['pipe'])\n" + pod:  "custom_build dep pipe: file",
	} {
		if err := os.WriteFile(filepath.Join(dir, "Kilnfile"), []byte(kf+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		done := make(chan string, 1)
		go func() { done <- evalDir(t, context.Background(), dir, Options{}) }()
		select {
		case msg := <-done:
			mustContain(t, msg, "Kilnfile:", want)
		case <-time.After(20 * time.Second):
			t.Fatalf("%s: evaluation hangs", kf)
		}
	}
}

func TestFileSizeLimit(t *testing.T) {
	msg := evalFiles(t, context.Background(), map[string]string{
		"Kilnfile": "read_file('big.txt')\n",
		"big.txt":  strings.Repeat("x", 10_000),
	}, Options{Limits: host.Limits{MaxFileSize: 4096}})
	mustContain(t, msg, "Kilnfile:1:", "file big.txt is larger than 4 KiB", "KILN_MAX_FILE_SIZE")
}
