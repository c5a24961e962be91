package liveupdate

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/kiln-dev/kiln/runtime/plan"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
)

// Target is one running container.
type Target struct {
	Namespace, Pod, Container string
	// ContainerID is the runtime's ID of the container now: a restart makes a new one, which
	// has lost what was synced into the old.
	ContainerID string
	// Node is the node the pod runs on (for NodeSyncer).
	Node string
}

// Sync applies c to the container t over the exec API: the deletes with one rm -rf, the
// copies as one tar stream into `tar -C / -x -f -` (one exec for the whole change, not one
// per file), then each run command. It needs tar and sh in the image; NodeSyncer does not.
func Sync(ctx context.Context, cfg *rest.Config, cs kubernetes.Interface, t Target, c Change) error {
	if len(c.Deletes) > 0 {
		if err := execIn(ctx, cfg, cs, t, append([]string{"rm", "-rf", "--"}, c.Deletes...), nil); err != nil {
			return fmt.Errorf("delete in %s/%s: %w", t.Pod, t.Container, err)
		}
	}
	if len(c.Copies) > 0 {
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(writeTar(pw, c.Copies)) }()
		if err := execIn(ctx, cfg, cs, t, []string{"tar", "-C", "/", "-x", "-f", "-"}, pr); err != nil {
			return fmt.Errorf("copy into %s/%s: %w", t.Pod, t.Container, err)
		}
	}
	return Run(ctx, cfg, cs, t, c.Runs)
}

// Run runs a change's run() commands in the container t, in order, over the exec API.
func Run(ctx context.Context, cfg *rest.Config, cs kubernetes.Interface, t Target, runs []plan.Command) error {
	for _, r := range runs {
		if err := execIn(ctx, cfg, cs, t, r.Argv, nil); err != nil {
			return fmt.Errorf("run %q in %s/%s: %w", strings.Join(r.Argv, " "), t.Pod, t.Container, err)
		}
	}
	return nil
}

// writeTar writes the copies (local → container path) as a tar stream, in path order.
func writeTar(w io.Writer, copies map[string]string) error {
	locals := make([]string, 0, len(copies))
	for l := range copies {
		locals = append(locals, l)
	}
	sort.Strings(locals)
	tw := tar.NewWriter(w)
	for _, l := range locals {
		f, err := os.Open(l)
		if err != nil {
			if os.IsNotExist(err) {
				continue // removed since the change was seen: the next change deletes it
			}
			return err
		}
		st, err := f.Stat()
		if err != nil || !st.Mode().IsRegular() {
			f.Close()
			continue
		}
		hdr := &tar.Header{Name: strings.TrimPrefix(copies[l], "/"), Mode: int64(st.Mode().Perm()), Size: st.Size(), ModTime: st.ModTime(), Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(hdr); err != nil {
			f.Close()
			return err
		}
		_, err = io.CopyN(tw, f, st.Size())
		f.Close()
		if err != nil {
			return err
		}
	}
	return tw.Close()
}

// execIn runs argv in the container, with stdin when given, and returns its stderr in the
// error when it fails.
func execIn(ctx context.Context, cfg *rest.Config, cs kubernetes.Interface, t Target, argv []string, stdin io.Reader) error {
	req := cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(t.Namespace).Name(t.Pod).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Container: t.Container, Command: argv, Stdin: stdin != nil, Stdout: true, Stderr: true}, scheme.ParameterCodec)
	ex, err := remotecommand.NewSPDYExecutor(cfg, "POST", req.URL())
	if err != nil {
		return err
	}
	var stderr bytes.Buffer
	err = ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdin: stdin, Stdout: io.Discard, Stderr: &stderr})
	if err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return fmt.Errorf("%w: %s", err, msg)
		}
		return err
	}
	return nil
}
