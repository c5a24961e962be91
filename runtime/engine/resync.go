package engine

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/kiln-dev/kiln/runtime/discovery"
	"github.com/kiln-dev/kiln/runtime/liveupdate"
	"github.com/kiln-dev/kiln/runtime/plan"
)

// syncLedger records, per built image (repo:tag), every path live-updated into its containers
// since it was built, and which containers have them all. A container that starts later from
// that image (a replaced pod, a restarted container) lacks them: discovery tells the runner
// (resync), which syncs them in, so that no update is ever lost. An image built again has the
// changes in it, and a new tag with no ledger.
type syncLedger struct {
	mu     sync.Mutex
	images map[string]*imageSyncs
	// initial are the containers that had their initial_sync().
	initial map[string]bool
}

type imageSyncs struct {
	paths map[string]bool // absolute paths changed, deleted ones included
	done  map[string]bool // container IDs that have every path
	busy  sync.Mutex      // one replay at a time per image
}

// record notes paths synced into targets of image.
func (l *syncLedger) record(image string, paths []string, targets []liveupdate.Target) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.images == nil {
		l.images = map[string]*imageSyncs{}
	}
	s := l.images[image]
	if s == nil {
		s = &imageSyncs{paths: map[string]bool{}, done: map[string]bool{}}
		l.images[image] = s
	}
	now := map[string]bool{}
	for _, p := range paths {
		now[p] = true
	}
	covered := true // this sync carried every path synced before it
	for p := range s.paths {
		covered = covered && now[p]
	}
	for p := range now {
		s.paths[p] = true
	}
	// A container has every path now if it was synced now and had all the earlier ones;
	// the others (not synced now, or caught up later) are owed the lot.
	done := map[string]bool{}
	for _, t := range targets {
		if t.ContainerID != "" && (covered || s.done[t.ContainerID]) {
			done[t.ContainerID] = true
		}
	}
	s.done = done
}

// owed returns the paths a container of image lacks, and marks it as having them: nil when
// the image has no live updates or the container had them already.
func (l *syncLedger) owed(image, containerID string) (*imageSyncs, []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.images[image]
	if s == nil || containerID == "" || s.done[containerID] {
		return nil, nil
	}
	s.done[containerID] = true
	paths := make([]string, 0, len(s.paths))
	for p := range s.paths {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	return s, paths
}

// firstSeen reports whether containerID is new to the ledger's initial syncs, and marks it.
func (l *syncLedger) firstSeen(containerID string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.initial == nil {
		l.initial = map[string]bool{}
	}
	if containerID == "" || l.initial[containerID] {
		return false
	}
	l.initial[containerID] = true
	return true
}

// forget drops what a container was owed after its replay failed, so the next event of
// its pod tries again.
func (l *syncLedger) forget(image, containerID string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s := l.images[image]; s != nil {
		delete(s.done, containerID)
	}
}

// resync gives the running containers of a resource's pods the live updates their image
// has had since it was built. It runs in the background: discovery must not wait for execs.
func (e *runner) resync(pods []discovery.Pod) {
	e.mu.Lock()
	p := e.plan
	e.mu.Unlock()
	images := map[string]*plan.Image{}
	for i := range p.Images {
		if p.Images[i].LiveUpdate != nil {
			images[p.Images[i].FullRef()] = &p.Images[i]
		}
	}
	for _, pod := range pods {
		if pod.Deleting {
			continue
		}
		for _, c := range pod.Containers {
			img := images[c.Image]
			if img == nil || c.State != "running" {
				continue
			}
			e.warmNode(pod.Node)
			t := liveupdate.Target{Namespace: pod.Namespace, Pod: pod.Name, Container: c.Name, ContainerID: c.ContainerID, Node: pod.Node}
			if hasStep(img.LiveUpdate, plan.StepInitialSync) {
				if e.ledger.firstSeen(c.ContainerID) {
					e.ledger.owed(c.Image, c.ContainerID) // the initial sync brings everything
					go e.initialSync(p.Dir, img, t)
				}
				continue
			}
			s, paths := e.ledger.owed(c.Image, c.ContainerID)
			if s == nil {
				continue
			}
			go e.replay(p.Dir, img, s, t, paths)
		}
	}
}

// warmNode starts the sync agent of a node that runs a live-updatable container, in the
// background, so that the first edit does not wait for it (see liveupdate.NodeSyncer).
func (e *runner) warmNode(node string) {
	ns := e.nodeSyncer()
	if ns == nil || node == "" {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = ns.Warm(ctx, node) // a failure shows, with its reason, at the first live update
	}()
}

// replay syncs the paths an image's live updates changed into one new container.
func (e *runner) replay(dir string, img *plan.Image, s *imageSyncs, t liveupdate.Target, paths []string) {
	s.busy.Lock()
	defer s.busy.Unlock()
	label := "image " + img.Ref
	change, ok := liveupdate.Match(dir, img.LiveUpdate, paths)
	if !ok {
		return // the sync steps changed since: the next update rebuilds
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	name := t.Namespace + "/" + t.Pod + "/" + t.Container
	if err := e.syncInto(ctx, t, change); err != nil {
		e.ledger.forget(img.FullRef(), t.ContainerID)
		e.out.Line(label, "live update of the new container %s failed: %v", name, err)
		e.publishLiveUpdate(img, change, []string{name}, "failed to catch up a new container", nil, err)
		return
	}
	e.out.Line(label, "live update: the new container %s caught up with %d files, %d deleted, in %s",
		name, len(change.Copies), len(change.Deletes), round(time.Since(start)))
	e.publishLiveUpdate(img, change, []string{name}, "caught up a new container", map[string]time.Duration{"sync": time.Since(start)}, nil)
}

// maxInitialSyncFiles bounds an initial_sync(): a sync of a huge tree is a mistake to report,
// not a reason to stream without end.
const maxInitialSyncFiles = 50000

// initialSync is initial_sync(): a new container of img gets every file under the local
// paths of its sync() steps, as they are now, whatever the image holds; then its run()
// steps and restart, as for any live update. Files under fall_back_on are left out.
func (e *runner) initialSync(dir string, img *plan.Image, t liveupdate.Target) {
	label := "image " + img.Ref
	name := t.Namespace + "/" + t.Pod + "/" + t.Container
	paths, err := syncSources(dir, img.LiveUpdate)
	if err != nil {
		e.out.Line(label, "initial_sync into %s: %v", name, err)
		return
	}
	change, ok := liveupdate.Match(dir, img.LiveUpdate, paths)
	if !ok {
		e.out.Line(label, "initial_sync into %s: a file under the syncs matches fall_back_on; nothing synced", name)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	if err := e.syncInto(ctx, t, change); err != nil {
		e.out.Line(label, "initial_sync into %s failed: %v", name, err)
		e.publishLiveUpdate(img, change, []string{name}, "initial sync failed", nil, err)
		return
	}
	e.out.Line(label, "initial_sync: %d files into %s in %s", len(change.Copies), name, round(time.Since(start)))
	e.publishLiveUpdate(img, change, []string{name}, "initial sync", map[string]time.Duration{"sync": time.Since(start)}, nil)
}

// syncSources lists the files under the local paths of lu's sync() steps, skipping .git and
// the files fall_back_on names; at most maxInitialSyncFiles.
func syncSources(dir string, lu *plan.LiveUpdate) ([]string, error) {
	var fallBack []string
	for _, st := range lu.Steps {
		if st.Kind == plan.StepFallBackOn {
			for _, f := range st.Paths {
				fallBack = append(fallBack, filepath.Join(dir, filepath.FromSlash(f)))
			}
		}
	}
	under := func(p, d string) bool { return p == d || strings.HasPrefix(p, d+string(filepath.Separator)) }
	seen := map[string]bool{}
	var out []string
	for _, st := range lu.Steps {
		if st.Kind != plan.StepSync {
			continue
		}
		root := filepath.Join(dir, filepath.FromSlash(st.Local))
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				return err
			}
			if d.IsDir() && d.Name() == ".git" {
				return filepath.SkipDir
			}
			for _, f := range fallBack {
				if under(p, f) {
					if d.IsDir() {
						return filepath.SkipDir
					}
					return nil
				}
			}
			if d.Type().IsRegular() && !seen[p] {
				if len(out) >= maxInitialSyncFiles {
					return fmt.Errorf("more than %d files under the syncs; narrow the sync() paths", maxInitialSyncFiles)
				}
				seen[p] = true
				out = append(out, p)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Strings(out)
	return out, nil
}

// hasStep reports whether lu has a step of kind.
func hasStep(lu *plan.LiveUpdate, kind string) bool {
	if lu == nil {
		return false
	}
	for _, st := range lu.Steps {
		if st.Kind == kind {
			return true
		}
	}
	return false
}
