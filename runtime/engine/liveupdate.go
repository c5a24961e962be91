package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/distribution/reference"
	"github.com/kiln-dev/kiln/runtime/discovery"
	"github.com/kiln-dev/kiln/runtime/liveupdate"
	"github.com/kiln-dev/kiln/runtime/plan"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// liveUpdate syncs a change into the running containers of the one image whose live_update
// covers every changed path, instead of rebuilding it. It returns false, and the change is
// handled as any other (re-evaluate, rebuild, redeploy), when no image's sync steps cover
// all the paths, a path matches fall_back_on, no container of the image runs, or a sync
// fails (the error is printed).
func (e *runner) liveUpdate(ctx context.Context, paths []string) bool {
	img, change, many := e.syncingImage(paths)
	if many {
		return false // two images sync these files: rebuild both the ordinary way
	}
	if img == nil {
		return e.liveUpdateCustom(ctx, paths)
	}
	label := "image " + img.Ref
	targets, err := e.containersOf(ctx, img)
	if err != nil {
		return false
	}
	if len(targets) == 0 {
		if !e.imageStarting(img) {
			return false
		}
		// A container of this build is on its way (a pod being replaced, a container
		// restarting): the change waits in the ledger, and the container gets it as soon
		// as it runs, instead of a rebuild.
		e.ledger.record(img.FullRef(), paths, nil)
		e.out.Line(label, "live update: no container of %s runs right now; %d changes wait for the next one", img.FullRef(), len(paths))
		e.publishLiveUpdate(img, change, nil, "held for the next container", nil, nil)
		return true
	}
	start := time.Now()
	var names []string
	for _, t := range targets {
		names = append(names, t.Namespace+"/"+t.Pod+"/"+t.Container)
	}
	for _, t := range targets {
		if err := e.syncInto(ctx, t, change); err != nil {
			e.out.Line(label, "live update failed: %v; rebuilding instead", err)
			e.publishLiveUpdate(img, change, names, "failed, rebuilding", map[string]time.Duration{"sync": time.Since(start)}, err)
			return false
		}
	}
	e.publishLiveUpdate(img, change, names, "synced", map[string]time.Duration{"sync": time.Since(start)}, nil)
	e.ledger.record(img.FullRef(), paths, targets)
	restarted := ""
	if change.Restart {
		restarted = ", restarted"
	}
	e.out.Line(label, "live update: %d files copied, %d deleted, %d commands%s, into %d containers in %s",
		len(change.Copies), len(change.Deletes), len(change.Runs), restarted, len(targets), round(time.Since(start)))
	return true
}

// alreadyBuilt returns the image whose live_update covers every changed path, when each of
// those changes was seen before the image's inputs were hashed: its build, and so every
// container of its tag, has them already, and syncing them again (restarting the process)
// would do nothing useful. Paths that no image syncs, one change seen since, or a build of
// that image that failed (its containers run an older build) give nil.
func (e *runner) alreadyBuilt(b ChangeBatch) *plan.Image {
	img, _, _ := e.syncingImage(b.Paths)
	if img == nil || img.Inputs.HashedAt.IsZero() || len(b.Seen) != len(b.Paths) || e.buildFailed(img.Ref) {
		return nil
	}
	for _, at := range b.Seen {
		if !at.Before(img.Inputs.HashedAt) {
			return nil
		}
	}
	return img
}

// buildFailed says whether the last build of image ref failed.
func (e *runner) buildFailed(ref string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	r := e.results["image "+ref]
	return r != nil && r.Status == "failed"
}

// syncingImage returns the one image whose live_update covers every path, with what to do;
// many is true, and img nil, when more than one image does.
func (e *runner) syncingImage(paths []string) (img *plan.Image, change liveupdate.Change, many bool) {
	p := e.plan
	for i := range p.Images {
		if c, ok := liveupdate.Match(p.Dir, p.Images[i].LiveUpdate, paths); ok {
			if img != nil {
				return nil, liveupdate.Change{}, true
			}
			img, change = &p.Images[i], c
		}
	}
	return img, change, false
}

// syncInto applies a live update to one container. On kind, the files go in from the node
// (liveupdate.NodeSyncer), which needs nothing in the image, so FROM scratch and distroless
// images work; should that fail (a symbolic link on the way, say), the exec API is tried.
// The run() commands, which need the image's own programs, always go through the exec API.
// Elsewhere everything goes through exec, which needs tar and sh in the image.
func (e *runner) syncInto(ctx context.Context, t liveupdate.Target, c liveupdate.Change) error {
	ns := e.nodeSyncer()
	if ns == nil {
		if c.Restart {
			return fmt.Errorf("restart_container() needs a kind cluster, where kiln can restart the program without a new container")
		}
		return liveupdate.Sync(ctx, e.kc.Config, e.kc.Client, t, c)
	}
	if nodeErr := ns.Sync(ctx, t, c); nodeErr != nil {
		if err := liveupdate.Sync(ctx, e.kc.Config, e.kc.Client, t, c); err != nil {
			return fmt.Errorf("%w; and through exec: %w", nodeErr, err)
		}
	} else if err := liveupdate.Run(ctx, e.kc.Config, e.kc.Client, t, c.Runs); err != nil {
		return err
	}
	if !c.Restart {
		return nil
	}
	program, err := e.supervisorProgram()
	if err != nil {
		return err
	}
	return ns.Restart(ctx, t, program)
}

// nodeSyncer returns the runner's NodeSyncer, made at first use; nil off kind.
func (e *runner) nodeSyncer() *liveupdate.NodeSyncer {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.nodeSync == nil && e.isKind && e.docker != nil {
		e.nodeSync = &liveupdate.NodeSyncer{API: e.docker.API(), Cluster: e.kindName}
	}
	return e.nodeSync
}

// containersOf lists the running containers of img's current build: those whose image is
// exactly its repo:tag, in the namespaces of the resources that use it. Under kiln watch
// discovery already has them, without a request to the API server.
func (e *runner) containersOf(ctx context.Context, img *plan.Image) ([]liveupdate.Target, error) {
	if e.live != nil {
		return e.discoveredContainersOf(img), nil
	}
	namespaces := map[string]bool{}
	for _, r := range e.plan.Resources {
		for _, ref := range r.Images {
			if ref != img.Ref {
				continue
			}
			for _, o := range r.Objects {
				ns := o.Namespace()
				if ns == "" {
					ns = e.applier.Namespace
				}
				namespaces[ns] = true
			}
		}
	}
	var out []liveupdate.Target
	for ns := range namespaces {
		pods, err := e.kc.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, err
		}
		for _, pod := range pods.Items {
			if pod.DeletionTimestamp != nil || pod.Status.Phase != corev1.PodRunning {
				continue
			}
			for _, c := range pod.Spec.Containers {
				if id, ok := running(pod, c.Name); c.Image == img.FullRef() && ok {
					out = append(out, liveupdate.Target{Namespace: ns, Pod: pod.Name, Container: c.Name, ContainerID: id, Node: pod.Spec.NodeName})
				}
			}
		}
	}
	return out, nil
}

// discoveredContainersOf is containersOf from discovery's pods of the resources using img.
func (e *runner) discoveredContainersOf(img *plan.Image) []liveupdate.Target {
	var out []liveupdate.Target
	seen := map[string]bool{}
	for _, r := range e.plan.Resources {
		if !usesImage(r, img.Ref) {
			continue
		}
		for _, t := range e.runningContainers(r.Name, func(c discovery.Container) bool { return c.Image == img.FullRef() }) {
			if !seen[t.ContainerID] {
				seen[t.ContainerID] = true
				out = append(out, t)
			}
		}
	}
	return out
}

// runningContainers are the running containers that match accepts in discovery's running
// pods of a resource.
func (e *runner) runningContainers(resource string, match func(discovery.Container) bool) []liveupdate.Target {
	var out []liveupdate.Target
	for _, pod := range e.disc.Pods(resource) {
		if pod.Deleting || pod.Phase != string(corev1.PodRunning) {
			continue
		}
		for _, c := range pod.Containers {
			if c.State == "running" && match(c) {
				out = append(out, liveupdate.Target{Namespace: pod.Namespace, Pod: pod.Name, Container: c.Name, ContainerID: c.ContainerID, Node: pod.Node})
			}
		}
	}
	return out
}

// usesImage reports whether resource r deploys image ref.
func usesImage(r plan.Resource, ref string) bool {
	for _, used := range r.Images {
		if used == ref {
			return true
		}
	}
	return false
}

// running returns the ID of a pod's container when it runs.
func running(pod corev1.Pod, container string) (string, bool) {
	for _, st := range pod.Status.ContainerStatuses {
		if st.Name == container {
			return st.ContainerID, st.State.Running != nil
		}
	}
	return "", false
}

// liveUpdateCustom is liveUpdate for a k8s_custom_deploy's own live_update: the change goes
// into the running containers of the resource's pods that its container_selector names, or
// that run an image of its image_selector's repository (any tag: the deploy tool chose it).
func (e *runner) liveUpdateCustom(ctx context.Context, paths []string) bool {
	if e.live == nil {
		return false
	}
	var res *plan.Resource
	var change liveupdate.Change
	for i := range e.plan.Resources {
		r := &e.plan.Resources[i]
		if r.CustomDeploy == nil || r.CustomDeploy.LiveUpdate == nil {
			continue
		}
		if c, ok := liveupdate.Match(e.plan.Dir, r.CustomDeploy.LiveUpdate, paths); ok {
			if res != nil {
				return false
			}
			res, change = r, c
		}
	}
	if res == nil {
		return false
	}
	cd := res.CustomDeploy
	targets := e.runningContainers(res.Name, func(c discovery.Container) bool {
		if cd.ContainerSelector != "" {
			return c.Name == cd.ContainerSelector
		}
		return sameRepository(c.Image, cd.ImageSelector)
	})
	if len(targets) == 0 {
		return false
	}
	start := time.Now()
	for _, t := range targets {
		if err := e.syncInto(ctx, t, change); err != nil {
			e.out.Line(res.Name, "live update failed: %v; redeploying instead", err)
			return false
		}
	}
	e.out.Line(res.Name, "live update: %d files copied, %d deleted, %d commands, into %d containers in %s",
		len(change.Copies), len(change.Deletes), len(change.Runs), len(targets), round(time.Since(start)))
	return true
}

// sameRepository reports whether two image refs name one repository, whatever their tags.
func sameRepository(a, b string) bool {
	na, err1 := reference.ParseNormalizedNamed(a)
	nb, err2 := reference.ParseNormalizedNamed(b)
	return err1 == nil && err2 == nil && na.Name() == nb.Name()
}

// imageStarting reports whether, under kiln watch, a pod of a resource using img has a
// container of its current build that does not run yet: one that will, and can be caught up.
func (e *runner) imageStarting(img *plan.Image) bool {
	if e.live == nil {
		return false
	}
	for _, r := range e.plan.Resources {
		if !usesImage(r, img.Ref) {
			continue
		}
		for _, pod := range e.disc.Pods(r.Name) {
			if pod.Deleting {
				continue
			}
			for _, c := range pod.Containers {
				if c.Image == img.FullRef() && c.State != "running" {
					return true
				}
			}
		}
	}
	return false
}
