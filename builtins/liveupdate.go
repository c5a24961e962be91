package builtins

import (
	"fmt"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/kiln-dev/kiln/runtime/dockerfile"
	"github.com/kiln-dev/kiln/runtime/plan"
	"go.starlark.net/starlark"
)

// stepValue is a live_update step: what sync(), run(), fall_back_on(), initial_sync() and
// restart_container() return. A step must be passed to a live_update, or it is an error.
type stepValue struct {
	kind     string
	pos      string
	localAbs string   // sync
	remote   string   // sync
	cmd      []string // run
	triggers []string // run, absolute
	paths    []string // fall_back_on, absolute
	echoOff  bool
	// exitPolicy is a restart_container's from docker_build_with_restart(exit_policy=):
	// "continue" keeps the container running when the program exits by itself.
	exitPolicy string
}

func (v *stepValue) String() string        { return v.kind + "(...)" }
func (v *stepValue) Type() string          { return "live_update_" + v.kind + "_step" }
func (v *stepValue) Freeze()               {}
func (v *stepValue) Truth() starlark.Bool  { return true }
func (v *stepValue) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable: %s", v.Type()) }

func (s *State) newStep(t *starlark.Thread, v *stepValue) *stepValue {
	v.pos = pos(t)
	s.unusedSteps[v] = true
	return v
}

// syncStep is sync(local_path, remote_path): copy changed files into running containers.
func (s *State) syncStep(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var local, remote string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "local_path", &local, "remote_path", &remote); err != nil {
		return nil, err
	}
	if !path.IsAbs(remote) {
		return nil, fmt.Errorf("sync(%q, %q): remote_path must be an absolute path in the container", local, remote)
	}
	return s.newStep(t, &stepValue{kind: plan.StepSync, localAbs: s.abs(t, local), remote: path.Clean(remote)}), nil
}

// runStep is run(cmd, trigger=[], echo_off=False): run a command in the container after syncing,
// only when a changed file matches a trigger (always, when there are no triggers).
func (s *State) runStep(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var cmd command
	var triggers stringList
	var echoOff bool
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "cmd", &cmd, "trigger?", &triggers, "echo_off?", &echoOff); err != nil {
		return nil, err
	}
	if len(cmd) == 0 {
		return nil, fmt.Errorf("run: cmd is empty")
	}
	v := &stepValue{kind: plan.StepRun, cmd: cmd, echoOff: echoOff}
	for _, tr := range triggers {
		v.triggers = append(v.triggers, s.abs(t, tr))
	}
	return s.newStep(t, v), nil
}

// fallBackOnStep is fall_back_on(files): a change to these files means a full rebuild.
func (s *State) fallBackOnStep(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var files stringList
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "files", &files); err != nil {
		return nil, err
	}
	v := &stepValue{kind: plan.StepFallBackOn}
	for _, f := range files {
		v.paths = append(v.paths, s.abs(t, f))
	}
	return s.newStep(t, v), nil
}

func (s *State) simpleStep(kind string) func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
	return func(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		if err := starlark.UnpackArgs(b.Name(), args, kwargs); err != nil {
			return nil, err
		}
		return s.newStep(t, &stepValue{kind: kind}), nil
	}
}

// stepRank is Tilt's required order of live_update steps.
var stepRank = map[string]int{
	plan.StepInitialSync:      0,
	plan.StepFallBackOn:       1,
	plan.StepSync:             2,
	plan.StepRun:              3,
	plan.StepRestartContainer: 4,
}

// takeSteps validates a live_update list and marks its steps used.
func (s *State) takeSteps(fn, ref string, v starlark.Value) ([]*stepValue, error) {
	if v == nil || v == starlark.None {
		return nil, nil
	}
	seq, ok := v.(starlark.Indexable)
	if !ok {
		return nil, fmt.Errorf("%s(%q): live_update must be a list of steps, got %s", fn, ref, v.Type())
	}
	var steps []*stepValue
	for i := 0; i < seq.Len(); i++ {
		st, ok := seq.Index(i).(*stepValue)
		if !ok {
			return nil, fmt.Errorf("%s(%q): live_update item %d is %s; want sync(), run(), fall_back_on(), initial_sync() or restart_container()", fn, ref, i, seq.Index(i).Type())
		}
		if len(steps) > 0 {
			prev := steps[len(steps)-1]
			if stepRank[st.kind] < stepRank[prev.kind] || st.kind == prev.kind && (st.kind == plan.StepInitialSync || st.kind == plan.StepRestartContainer) {
				return nil, fmt.Errorf("%s(%q): live_update step %s at %s comes after %s; the order is initial_sync, fall_back_on, sync, run, restart_container", fn, ref, st.kind, st.pos, prev.kind)
			}
		}
		steps = append(steps, st)
		delete(s.unusedSteps, st)
	}
	if len(steps) > 0 {
		hasSync := false
		for _, st := range steps {
			hasSync = hasSync || st.kind == plan.StepSync
		}
		for _, st := range steps {
			if st.kind == plan.StepRun && !hasSync {
				return nil, fmt.Errorf("%s(%q): live_update has run() at %s but no sync(); a run step needs files synced first", fn, ref, st.pos)
			}
		}
	}
	return steps, nil
}

// checkUnusedSteps fails if any live_update step was created but never passed to a build.
func (s *State) checkUnusedSteps() error {
	if len(s.unusedSteps) == 0 {
		return nil
	}
	var where []string
	for st := range s.unusedSteps {
		where = append(where, st.kind+"() at "+st.pos)
	}
	sort.Strings(where)
	return fmt.Errorf("live_update steps were created but never used: %s; pass them to a docker_build(live_update=[...]) or remove them", strings.Join(where, ", "))
}

// planSteps converts steps to plan form with project-relative paths.
func (s *State) planSteps(steps []*stepValue) *plan.LiveUpdate {
	if len(steps) == 0 {
		return nil
	}
	lu := &plan.LiveUpdate{}
	for _, st := range steps {
		ps := plan.LiveUpdateStep{Kind: st.kind, Remote: st.remote, EchoOff: st.echoOff, ExitPolicy: st.exitPolicy}
		if st.localAbs != "" {
			ps.Local = s.rel(st.localAbs)
		}
		if len(st.cmd) > 0 {
			ps.Command = &plan.Command{Argv: st.cmd}
		}
		for _, tr := range st.triggers {
			ps.Triggers = append(ps.Triggers, s.rel(tr))
		}
		for _, p := range st.paths {
			ps.Paths = append(ps.Paths, s.rel(p))
		}
		lu.Steps = append(lu.Steps, ps)
	}
	return lu
}

// inferSyncs adds to img's live_update the sync() steps its Dockerfile's COPY lines imply
// (dockerfile.InferSyncs), after the syncs it already has, so that the rules stay in Tilt's
// order; a context path the live_update already syncs keeps its own rule.
func (s *State) inferSyncs(img *imageTarget) error {
	contents := []byte(img.DockerfileContents)
	if img.dockerfileAbs != "" {
		data, err := s.host.ReadFile(img.dockerfileAbs)
		if err != nil {
			return fmt.Errorf("%s: infer_sync: %v", img.Pos, err)
		}
		contents = data
	}
	info, copies, err := dockerfile.ParseCached(contents, img.BuildArgs)
	if err != nil {
		return fmt.Errorf("%s: infer_sync: %s: %v", img.Pos, s.rel(img.dockerfileAbs), err)
	}
	have := map[string]bool{}
	last := -1 // the index after which the inferred syncs go: the last sync, else the last fall_back_on or initial_sync
	for i, st := range img.steps {
		if st.kind == plan.StepSync {
			have[st.localAbs] = true
		}
		if stepRank[st.kind] <= stepRank[plan.StepSync] {
			last = i
		}
	}
	var inferred []*stepValue
	for _, sy := range dockerfile.InferSyncs(info, copies, img.Target, func(p string) bool { return isDir(filepath.Join(img.contextAbs, filepath.FromSlash(p))) }) {
		local := filepath.Join(img.contextAbs, filepath.FromSlash(sy.Local))
		if have[local] {
			continue
		}
		inferred = append(inferred, &stepValue{kind: plan.StepSync, pos: img.Pos, localAbs: local, remote: sy.Remote})
	}
	steps := append([]*stepValue{}, img.steps[:last+1]...)
	steps = append(steps, inferred...)
	img.steps = append(steps, img.steps[last+1:]...)
	return nil
}
