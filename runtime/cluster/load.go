package cluster

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/distribution/reference"
	kindcluster "sigs.k8s.io/kind/pkg/cluster"
	"sigs.k8s.io/kind/pkg/cluster/nodes"
	"sigs.k8s.io/kind/pkg/cluster/nodeutils"

	"github.com/kiln-dev/kiln/runtime/docker"
)

// ctrNamespace is the containerd namespace the kubelet's CRI uses.
const ctrNamespace = "--namespace=k8s.io"

// image is one ref to load.
type image struct {
	ref  string // as the caller gave it
	name string // as containerd names it: docker.io/library/busybox:latest
	id   string // the engine's image ID, sha256:...
}

// LoadImages copies images from the Docker engine into every node of kind cluster
// clusterName, in process, and returns the refs it loaded (as given).
//
// A ref every node already has is skipped: the node's containerd must have the name, and it
// must be the engine's image (the CRI plugin also names each image by its config digest,
// sha256:<ID>, and both names must point at the same manifest). That check is one
// `ctr images ls` per node. The missing refs are then saved from the engine once
// (`docker save`) and imported into each node that lacks one (ctr images import, as
// `kind load docker-image` does). Refs by digest cannot be loaded this way and are refused.
func LoadImages(ctx context.Context, clusterName string, refs []string, out io.Writer) ([]string, error) {
	if out == nil {
		out = io.Discard
	}
	if len(refs) == 0 {
		return nil, nil
	}
	start := time.Now()
	imgs, err := normalizeRefs(refs)
	if err != nil {
		return nil, err
	}

	// kind lists nodes with the docker CLI; meanwhile, ask the engine for the image IDs.
	type listed struct {
		nodes []nodes.Node
		err   error
	}
	nodesc := make(chan listed, 1)
	go func() {
		kn, err := kindcluster.NewProvider(kindcluster.ProviderWithDocker()).ListInternalNodes(clusterName)
		nodesc <- listed{kn, err}
	}()
	dc, err := docker.Connect(ctx)
	if err != nil {
		return nil, err
	}
	defer dc.Close()
	for _, im := range imgs {
		res, err := dc.API().ImageInspect(ctx, im.ref)
		if err != nil {
			if cerrdefs.IsNotFound(err) {
				return nil, fmt.Errorf("load image %s into kind cluster %s: the Docker engine has no such image", im.ref, clusterName)
			}
			return nil, fmt.Errorf("inspect image %s: %w", im.ref, err)
		}
		im.id = res.ID
	}
	l := <-nodesc
	if l.err != nil {
		return nil, fmt.Errorf("list nodes of kind cluster %s: %w", clusterName, l.err)
	}
	kn := l.nodes
	if len(kn) == 0 {
		return nil, fmt.Errorf("kind cluster %s has no nodes (does it exist? `kind get clusters`)", clusterName)
	}

	// What each node lacks, checked on all nodes at once.
	lacks := make([][]*image, len(kn))
	err = eachNode(kn, func(i int, n nodes.Node) error {
		have, err := nodeImages(ctx, n, imgs, true)
		if err != nil {
			return err
		}
		for _, im := range imgs {
			t, ok := have[im.name]
			if !ok || (have[im.id] != t && im.id != t) {
				lacks[i] = append(lacks[i], im)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var missing []*image
	var targets []nodes.Node
	seen := map[*image]bool{}
	for i, l := range lacks {
		if len(l) > 0 {
			targets = append(targets, kn[i])
		}
		for _, im := range l {
			if !seen[im] {
				seen[im] = true
				missing = append(missing, im)
			}
		}
	}
	if len(missing) == 0 {
		fmt.Fprintf(out, "images: %d already in kind cluster %s (%s)\n", len(imgs), clusterName, since(start))
		return nil, nil
	}

	save := make([]string, len(missing))
	loaded := make([]string, len(missing))
	for i, im := range missing {
		save[i], loaded[i] = im.ref, im.ref
	}
	fmt.Fprintf(out, "images: loading %s into kind cluster %s (%d node(s))\n", strings.Join(save, ", "), clusterName, len(targets))
	t := time.Now()
	if err := saveAndLoad(ctx, dc, save, targets); err != nil {
		return nil, err
	}

	// Check the names are there now: an import that named the images otherwise would make
	// every later call load them again.
	err = eachNode(targets, func(_ int, n nodes.Node) error {
		have, err := nodeImages(ctx, n, missing, false)
		if err != nil {
			return err
		}
		for _, im := range missing {
			if _, ok := have[im.name]; !ok {
				return fmt.Errorf("load image %s into node %s: imported, but containerd has no image named %s", im.ref, n, im.name)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "images: loaded %d image(s) into kind cluster %s in %s (%d already there)\n",
		len(missing), clusterName, since(t), len(imgs)-len(missing))
	return loaded, nil
}

// normalizeRefs parses and dedupes refs.
func normalizeRefs(refs []string) ([]*image, error) {
	var out []*image
	seen := map[string]bool{}
	for _, r := range refs {
		name, err := ContainerdName(r)
		if err != nil {
			return nil, err
		}
		if seen[name] {
			continue
		}
		seen[name] = true
		out = append(out, &image{ref: r, name: name})
	}
	return out, nil
}

// ContainerdName is the name containerd gives an image loaded under ref:
// "example/web:tag" → "docker.io/example/web:tag", "busybox" → "docker.io/library/busybox:latest";
// refs with a registry host ("kiln.local/x:y", "localhost:5000/x:y") stay as they are.
// Refs by digest are refused: `docker save` cannot name an image by digest.
func ContainerdName(ref string) (string, error) {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return "", fmt.Errorf("image ref %q: %w", ref, err)
	}
	if _, ok := named.(reference.Digested); ok {
		return "", fmt.Errorf("image ref %q: refs by digest cannot be loaded into kind; use a tag", ref)
	}
	return reference.TagNameOnly(named).String(), nil
}

// nodeImages runs one `ctr images ls` on node n, filtered to the names of imgs (and, with ids,
// to their sha256:<ID> names), and returns name → target digest.
func nodeImages(ctx context.Context, n nodes.Node, imgs []*image, ids bool) (map[string]string, error) {
	args := []string{ctrNamespace, "images", "ls"}
	for _, im := range imgs {
		args = append(args, "name=="+strconv.Quote(im.name))
		if ids && im.id != "" {
			args = append(args, "name=="+strconv.Quote(im.id))
		}
	}
	var stdout, stderr bytes.Buffer
	if err := n.CommandContext(ctx, "ctr", args...).SetStdout(&stdout).SetStderr(&stderr).Run(); err != nil {
		return nil, fmt.Errorf("list images on node %s: %w: %s", n, err, strings.TrimSpace(stderr.String()))
	}
	return parseCtrImages(stdout.String()), nil
}

// parseCtrImages reads `ctr images ls` output (REF TYPE DIGEST SIZE PLATFORMS LABELS) into
// ref → digest.
func parseCtrImages(s string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || (f[0] == "REF" && f[2] == "DIGEST") {
			continue
		}
		m[f[0]] = f[2]
	}
	return m
}

// saveAndLoad saves refs from the engine once and imports them into targets. One node gets
// the stream directly; several get it from a temporary file, in parallel.
func saveAndLoad(ctx context.Context, dc *docker.Client, refs []string, targets []nodes.Node) error {
	rc, err := dc.SaveImages(ctx, refs)
	if err != nil {
		return err
	}
	defer rc.Close()
	if len(targets) == 1 {
		if err := nodeutils.LoadImageArchive(targets[0], &ctxReader{ctx: ctx, r: rc}); err != nil {
			return fmt.Errorf("load %s into node %s: %w", strings.Join(refs, ", "), targets[0], err)
		}
		return nil
	}
	f, err := os.CreateTemp("", "kiln-images-*.tar")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if _, err := io.Copy(f, &ctxReader{ctx: ctx, r: rc}); err != nil {
		return fmt.Errorf("save %s: %w", strings.Join(refs, ", "), err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	return eachNode(targets, func(_ int, n nodes.Node) error {
		tf, err := os.Open(f.Name())
		if err != nil {
			return err
		}
		defer tf.Close()
		if err := nodeutils.LoadImageArchive(n, &ctxReader{ctx: ctx, r: tf}); err != nil {
			return fmt.Errorf("load %s into node %s: %w", strings.Join(refs, ", "), n, err)
		}
		return nil
	})
}

// eachNode runs f for every node concurrently and returns the first error.
func eachNode(ns []nodes.Node, f func(int, nodes.Node) error) error {
	if len(ns) == 1 {
		return f(0, ns[0])
	}
	errs := make([]error, len(ns))
	var wg sync.WaitGroup
	for i, n := range ns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f(i, n)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// ctxReader fails reads once ctx is done, so a cancelled load stops feeding the node.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
