package engine

import (
	"errors"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/kiln-dev/kiln/runtime/build"
	"github.com/kiln-dev/kiln/runtime/liveupdate"
	"github.com/kiln-dev/kiln/runtime/plan"
	"github.com/kiln-dev/kiln/runtime/status"
)

// The store's kinds other than resources (those are publish.go's): each records what one
// step did, for kiln get and the views. Without a store (kiln run) they do nothing.

// put writes an object when there is a store.
func (e *runner) put(kind, name string, spec, st any) {
	if e.opts.Store != nil {
		e.opts.Store.Put(kind, name, spec, st)
	}
}

// publishApply records the YAML kiln applied for a resource and the server's answer. Secret
// values never reach the store: a Secret's data is redacted, and everything scrubbed.
func (e *runner) publishApply(name string, objs []plan.Object, results []*unstructured.Unstructured, applyErr error) {
	if e.opts.Store == nil {
		return
	}
	spec := status.ApplySpec{YAML: e.out.Scrub(yamlDocs(len(objs), func(i int) map[string]any { return objs[i] }))}
	st := status.ApplyStatus{LastApply: time.Now()}
	st.ResultYAML = e.out.Scrub(yamlDocs(len(results), func(i int) map[string]any {
		obj := results[i].DeepCopy()
		unstructured.RemoveNestedField(obj.Object, "metadata", "managedFields")
		return obj.Object
	}))
	for _, r := range results {
		st.Objects = append(st.Objects, strings.ToLower(r.GetKind())+"/"+r.GetName())
	}
	if applyErr != nil {
		st.Error = e.out.Scrub(applyErr.Error())
	}
	e.put(status.KindApply, name, spec, st)
}

// yamlDocs renders n objects as one multi-document YAML stream, Secrets' values redacted.
func yamlDocs(n int, obj func(int) map[string]any) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		o := redactSecret(obj(i))
		out, err := yaml.Marshal(o)
		if err != nil {
			continue
		}
		if i > 0 {
			b.WriteString("---\n")
		}
		b.Write(out)
	}
	return b.String()
}

// redactSecret returns a copy of a Secret with every value of data and stringData replaced;
// other objects as they are.
func redactSecret(o map[string]any) map[string]any {
	if o["kind"] != "Secret" || o["apiVersion"] != "v1" {
		return o
	}
	out := make(map[string]any, len(o))
	for k, v := range o {
		out[k] = v
	}
	for _, field := range []string{"data", "stringData"} {
		if data, ok := o[field].(map[string]any); ok {
			red := make(map[string]any, len(data))
			for key := range data {
				red[key] = "<redacted by kiln>"
			}
			out[field] = red
		}
	}
	return out
}

// publishImage records an image's build: state is "building", "built", "up to date" or
// "failed".
func (e *runner) publishImage(img *plan.Image, state string, br build.Result, buildErr error) {
	if e.opts.Store == nil || img == nil {
		return
	}
	spec := status.ImageSpec{Ref: img.Ref, Context: img.Context, Dockerfile: img.Dockerfile, Custom: img.Custom != nil, LiveUpdate: img.LiveUpdate != nil}
	st := status.ImageStatus{Tag: br.Ref, State: state, DurationMS: ms(br.Duration)}
	if st.Tag == "" {
		st.Tag = img.Repo + ":" + img.Tag
	}
	switch state {
	case "up to date":
		st.Why = "an image with this tag (the hash of its inputs) is already in the engine"
	case "built":
		st.Why = "no image had this tag: its inputs changed"
	}
	if state != "building" {
		st.Finished = time.Now()
	}
	if buildErr != nil {
		st.Error = e.out.Scrub(buildErr.Error())
	}
	e.put(status.KindImage, img.Ref, spec, st)
}

// publishLocal records a local resource's last run and its serve_cmd.
func (e *runner) publishLocal(lr *plan.LocalResource, ran time.Time, runErr error, serve string) {
	if e.opts.Store == nil {
		return
	}
	st := status.LocalStatus{LastRun: ran, Serve: serve, DurationMS: ms(time.Since(ran))}
	if lr.Cmd != nil {
		code := 0
		var exitErr *exec.ExitError
		if errors.As(runErr, &exitErr) {
			code = exitErr.ExitCode()
		} else if runErr != nil {
			code = -1
		}
		st.ExitCode = &code
	}
	if runErr != nil {
		st.Error = e.out.Scrub(runErr.Error())
	}
	e.put(status.KindLocal, lr.Name, nil, st)
}

// publishLiveUpdate records a live update of an image into its containers.
func (e *runner) publishLiveUpdate(img *plan.Image, change liveupdate.Change, containers []string, result string, phases map[string]time.Duration, syncErr error) {
	if e.opts.Store == nil {
		return
	}
	st := status.LiveUpdateStatus{Containers: containers, Result: result, At: time.Now(), PhasesMS: map[string]float64{}}
	for local := range change.Copies {
		st.Files = append(st.Files, local)
	}
	sort.Strings(st.Files)
	st.Deleted = append(st.Deleted, change.Deletes...)
	for k, d := range phases {
		st.PhasesMS[k] = ms(d)
	}
	if syncErr != nil {
		st.Error = e.out.Scrub(syncErr.Error())
	}
	e.put(status.KindLiveUpdate, img.Ref, nil, st)
}

// publishFileWatch records a batch of changed files and what it set off.
func (e *runner) publishFileWatch(dir string, paths []string, triggered string) {
	if e.opts.Store == nil {
		return
	}
	st := status.FileWatchStatus{Triggered: triggered, At: time.Now()}
	for _, p := range paths {
		if rel, err := filepath.Rel(dir, p); err == nil && !strings.HasPrefix(rel, "..") {
			p = rel
		}
		st.Changed = append(st.Changed, p)
	}
	if len(st.Changed) > 100 { // a checkout of a branch: the count is what matters
		st.Changed = append(st.Changed[:100], "…")
	}
	e.put(status.KindFileWatch, "project", nil, st)
}

// triggered says what a change set off, for the file watch's status.
func triggered(changed map[plan.NodeID]bool, held, removed []string) string {
	var parts []string
	var nodes []string
	for n := range changed {
		nodes = append(nodes, nodeResult(n))
	}
	sort.Strings(nodes)
	if len(nodes) > 0 {
		parts = append(parts, "update "+strings.Join(nodes, ", "))
	}
	if len(held) > 0 {
		parts = append(parts, "waiting for kiln trigger: "+strings.Join(held, ", "))
	}
	if len(removed) > 0 {
		parts = append(parts, "removed "+strings.Join(removed, ", "))
	}
	if len(parts) == 0 {
		return "nothing (no input of a resource changed)"
	}
	return strings.Join(parts, "; ")
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
