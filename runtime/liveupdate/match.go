// Package liveupdate copies changed files into running containers instead of rebuilding
// their image: Match decides from a plan's live_update steps whether a change can be synced,
// and Sync streams it into one container over the exec API.
package liveupdate

import (
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/kiln-dev/kiln/runtime/plan"
)

// Change is what a batch of changed files means for one container.
type Change struct {
	// Copies maps a local file (absolute) to its path in the container.
	Copies map[string]string
	// Deletes are container paths whose local file is gone.
	Deletes []string
	// Runs are the run() commands whose triggers the change matches (all of them when a run
	// step has no triggers), in order.
	Runs []plan.Command
	// Restart is set when the live_update has restart_container(): after the copies and the
	// runs, the container's program starts again (see NodeSyncer.Restart).
	Restart bool
}

// Match maps changed paths (absolute) through the sync steps of lu. It returns ok=false when
// the change cannot be live-updated: a path outside every sync, or one that matches
// fall_back_on. Directories that still exist are skipped (their files come as paths of
// their own).
func Match(projectDir string, lu *plan.LiveUpdate, paths []string) (Change, bool) {
	c := Change{Copies: map[string]string{}}
	if lu == nil {
		return c, false
	}
	abs := func(rel string) string { return filepath.Join(projectDir, filepath.FromSlash(rel)) }
	for _, p := range paths {
		for _, st := range lu.Steps {
			if st.Kind != plan.StepFallBackOn {
				continue
			}
			for _, f := range st.Paths {
				if under(p, abs(f)) {
					return c, false
				}
			}
		}
		// The most specific sync wins.
		remote, ok, best := "", false, -1
		for _, st := range lu.Steps {
			if st.Kind == plan.StepSync && under(p, abs(st.Local)) && len(st.Local) > best {
				rel, _ := filepath.Rel(abs(st.Local), p)
				remote, ok, best = path.Join(st.Remote, filepath.ToSlash(rel)), true, len(st.Local)
			}
		}
		if !ok {
			return c, false
		}
		info, err := os.Lstat(p)
		switch {
		case err != nil:
			c.Deletes = append(c.Deletes, remote)
		case info.IsDir():
		default:
			c.Copies[p] = remote
		}
	}
	for _, st := range lu.Steps {
		if st.Kind == plan.StepRestartContainer {
			c.Restart = c.Restart || len(st.Triggers) == 0 || anyUnder(paths, projectDir, st.Triggers)
		}
		if st.Kind != plan.StepRun || st.Command == nil {
			continue
		}
		if len(st.Triggers) == 0 || anyUnder(paths, projectDir, st.Triggers) {
			c.Runs = append(c.Runs, *st.Command)
		}
	}
	return c, true
}

// anyUnder reports whether one of paths is at or under one of the project-relative dirs.
func anyUnder(paths []string, projectDir string, dirs []string) bool {
	for _, d := range dirs {
		for _, p := range paths {
			if under(p, filepath.Join(projectDir, filepath.FromSlash(d))) {
				return true
			}
		}
	}
	return false
}

// under reports whether p is dir or inside it.
func under(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, dir+string(filepath.Separator))
}
