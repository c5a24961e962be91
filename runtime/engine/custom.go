package engine

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/kiln-dev/kiln/builtins/k8syaml"
	"github.com/kiln-dev/kiln/runtime/discovery"
	"github.com/kiln-dev/kiln/runtime/local"
	"github.com/kiln-dev/kiln/runtime/plan"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// imageEnv gives a custom deploy command its images as Tilt does: TILT_IMAGE_i is the full
// ref of image_deps[i], TILT_IMAGE_MAP_i its ref as written. KILN_ names are set too.
func imageEnv(p *plan.Plan, refs []string) map[string]string {
	env := map[string]string{}
	for i, ref := range refs {
		for _, img := range p.Images {
			if img.Ref == ref {
				n := strconv.Itoa(i)
				for _, prefix := range []string{"TILT_", "KILN_"} {
					env[prefix+"IMAGE_"+n] = img.FullRef()
					env[prefix+"IMAGE_MAP_"+n] = img.Ref
				}
			}
		}
	}
	return env
}

// customDeploy runs a k8s_custom_deploy's apply_cmd; the YAML it prints on stdout is what it
// applied, and those objects' workloads are waited for.
func (e *runner) customDeploy(ctx context.Context, p *plan.Plan, r *plan.Resource, res *ResourceResult) error {
	cd := r.CustomDeploy
	start := time.Now()
	var stdout bytes.Buffer
	w := e.out.Writer(r.Name)
	defer w.Flush()
	cmd := local.Command(ctx, p.Dir, &cd.ApplyCmd, w, imageEnv(p, cd.ImageDeps), e.kubeEnv)
	cmd.Stdout = &stdout
	if err := cmd.Run(); err != nil {
		e.failStep(res, err)
		return fmt.Errorf("resource %s: apply_cmd failed: %w", r.Name, err)
	}
	objs, err := k8syaml.DecodeObjects("apply_cmd output", stdout.Bytes())
	if err != nil {
		e.failStep(res, err)
		return fmt.Errorf("resource %s: apply_cmd must print the YAML it applied: %w", r.Name, err)
	}
	e.addStep(res, Step{Name: "apply", Duration: time.Since(start), Note: fmt.Sprintf("%d objects (apply_cmd)", len(objs))})
	e.out.Line(r.Name, "apply  apply_cmd reported %d objects in %s", len(objs), round(time.Since(start)))
	var us []*unstructured.Unstructured
	for _, o := range objs {
		u := &unstructured.Unstructured{Object: map[string]any(o)}
		if u.GetNamespace() == "" {
			u.SetNamespace(e.applier.Namespace)
		}
		us = append(us, u)
	}
	// What apply_cmd deployed is for discovery (pods, logs, forwards, live update) only: it
	// stays out of the inventory, since delete_cmd, not kiln, removes it.
	found := make([]discovery.Object, len(us))
	for i, u := range us {
		found[i] = discovery.Object{Kind: u.GetKind(), Namespace: u.GetNamespace(), Name: u.GetName()}
	}
	e.mu.Lock()
	if e.customObjects == nil {
		e.customObjects = map[string][]discovery.Object{}
	}
	e.customObjects[r.Name] = found
	e.mu.Unlock()
	return e.waitReady(ctx, r, res, us)
}
