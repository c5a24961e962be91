package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/kiln-dev/kiln/runtime/build"
	"github.com/kiln-dev/kiln/runtime/cluster"
	"github.com/kiln-dev/kiln/runtime/plan"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// buildImage builds one image (skipped when its content tag exists) and loads it into kind
// (skipped when the nodes have it).
func (e *runner) buildImage(ctx context.Context, ref string) error {
	label := "image " + ref
	res := e.result(label, "image")
	w := e.out.Writer(label)
	defer w.Flush()
	before, _ := findImage(e.plan, ref)
	e.publishImage(before, "building", build.Result{}, nil)
	p, img, br, err := e.buildCurrent(ctx, ref, w)
	if err != nil {
		e.failStep(res, err)
		e.publishImage(before, "failed", br, err)
		return err
	}
	note := "built"
	defer func() { e.publishImage(img, note, br, nil) }()
	if br.Skipped {
		note = "up to date"
	} else {
		e.mu.Lock()
		e.built = append(e.built, br.Ref)
		e.mu.Unlock()
	}
	e.addStep(res, Step{Name: "build", Duration: br.Duration, Note: note})
	e.out.Line(label, "build  %s: %s in %s", br.Ref, note, round(br.Duration))
	if p.Settings.DefaultRegistry != "" && (img.Custom == nil || !img.Custom.DisablePush && !img.Custom.SkipsLocal) {
		start := time.Now()
		if err := e.docker.Push(ctx, br.Ref); err != nil {
			e.failStep(res, err)
			return err
		}
		e.addStep(res, Step{Name: "push", Duration: time.Since(start)})
		e.out.Line(label, "push   %s in %s", br.Ref, round(time.Since(start)))
	} else if e.isKind && (img.Custom == nil || !img.Custom.SkipsLocal) {
		start := time.Now()
		// A fixed custom_build tag says nothing about content: compare image IDs on the nodes.
		fixedTag := img.Custom != nil && img.Custom.Tag != ""
		if !fixedTag && e.nodesReport(ctx, br.Ref) {
			e.addStep(res, Step{Name: "load", Duration: time.Since(start), Note: "already on the nodes"})
			e.out.Line(label, "load   %s: already on the nodes (API) in %s", br.Ref, round(time.Since(start)))
			e.markStatus(res, "ready")
			return nil
		}
		loaded, err := cluster.LoadImages(ctx, e.kindName, []string{br.Ref}, w)
		if err != nil {
			e.failStep(res, err)
			return fmt.Errorf("load %s into kind cluster %s: %w", br.Ref, e.kindName, err)
		}
		note := "already on the nodes"
		if len(loaded) > 0 {
			note = "loaded"
			e.mu.Lock()
			e.loaded = append(e.loaded, loaded...)
			e.mu.Unlock()
		}
		e.addStep(res, Step{Name: "load", Duration: time.Since(start), Note: note})
		e.out.Line(label, "load   %s: %s in %s", br.Ref, note, round(time.Since(start)))
	}
	e.markStatus(res, "ready")
	return nil
}

// maxRebuilds bounds how often an image whose inputs keep changing during its build is
// re-hashed and built again in one run.
const maxRebuilds = 3

// buildCurrent builds image ref of the current plan. When its inputs changed while it was
// being built (build.InputsChangedError: the result was not kept), the project is
// re-evaluated, so that the tag names the new content, and the image built again.
func (e *runner) buildCurrent(ctx context.Context, ref string, w io.Writer) (*plan.Plan, *plan.Image, build.Result, error) {
	for attempt := 1; ; attempt++ {
		p, err := e.current()
		if err != nil {
			return nil, nil, build.Result{}, err
		}
		img, deps := findImage(p, ref)
		if img == nil {
			return nil, nil, build.Result{}, fmt.Errorf("image %q vanished from the project after re-evaluation", ref)
		}
		if img.Pending != nil && e.opts.Retag != nil {
			// Its inputs did not exist at evaluation: hash them now, before building.
			e.markRehash(ref)
			if p, err = e.current(); err != nil {
				return nil, nil, build.Result{}, err
			}
			if img, deps = findImage(p, ref); img == nil || img.Pending != nil {
				return nil, nil, build.Result{}, fmt.Errorf("image %q: its inputs could not be hashed", ref)
			}
		} else if img.Pending != nil {
			return nil, nil, build.Result{}, fmt.Errorf("image %q: %s", ref, img.Pending.Reason)
		}
		br, err := e.builder.Build(ctx, p, img, deps, w, "")
		var changed *build.InputsChangedError
		if !errors.As(err, &changed) || attempt == maxRebuilds || e.opts.Retag == nil {
			return p, img, br, err
		}
		e.out.Line("image "+ref, "build  %v; re-hashing and building again", changed)
		e.markRehash(ref)
	}
}

// findImage returns image ref of p and the full refs of the plan images it builds FROM.
func findImage(p *plan.Plan, ref string) (*plan.Image, map[string]string) {
	var img *plan.Image
	for i := range p.Images {
		if p.Images[i].Ref == ref {
			img = &p.Images[i]
		}
	}
	if img == nil {
		return nil, nil
	}
	deps := map[string]string{}
	for _, d := range img.ImageDeps {
		for i := range p.Images {
			if p.Images[i].Ref == d {
				deps[d] = p.Images[i].FullRef()
			}
		}
	}
	return img, deps
}

// nodesReport reports whether every node is known to have the image, from the API alone: the
// kubelet lists its node's images in the node status, and a running container's image is on
// its node. An image loaded on an earlier run is then found with two API calls instead of a
// command in each node. The status list is capped (50 images by default, the biggest first)
// and refreshed every few seconds, so small images drop out of it on busy nodes; the running
// pods of an unchanged project cover those. Otherwise LoadImages checks the nodes themselves.
func (e *runner) nodesReport(ctx context.Context, ref string) bool {
	name, err := cluster.ContainerdName(ref)
	if err != nil {
		return false
	}
	e.nodesOnce.Do(func() { e.nodeImages = listNodeImages(ctx, e.kc.Client) })
	if len(e.nodeImages) == 0 {
		return false
	}
	for _, images := range e.nodeImages {
		if !images[name] {
			return false
		}
	}
	return true
}

// listNodeImages maps each node's name to the images the API says it has (containerd names):
// those of its status, and those of the containers running on it. nil if the API can't say.
func listNodeImages(ctx context.Context, client kubernetes.Interface) map[string]map[string]bool {
	nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil || len(nodes.Items) == 0 {
		return nil
	}
	out := map[string]map[string]bool{}
	add := func(node, ref string) {
		if name, err := cluster.ContainerdName(ref); err == nil && out[node] != nil {
			out[node][name] = true
		}
	}
	for _, n := range nodes.Items {
		out[n.Name] = map[string]bool{}
		for _, img := range n.Status.Images {
			for _, nm := range img.Names {
				add(n.Name, nm)
			}
		}
	}
	// ResourceVersion "0": served from the API server's cache, cheap even with many pods.
	pods, err := client.CoreV1().Pods("").List(ctx, metav1.ListOptions{ResourceVersion: "0"})
	if err != nil {
		return out
	}
	for _, pod := range pods.Items {
		for _, st := range pod.Status.ContainerStatuses {
			if st.State.Running != nil {
				add(pod.Spec.NodeName, st.Image)
			}
		}
	}
	return out
}
