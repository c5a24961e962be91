package filewatch

import (
	"errors"
	"fmt"
	"strings"
	"syscall"
)

// LimitError says that an inotify limit of the user is too low for what is watched, and how
// to raise it. Its message gives the exact commands.
type LimitError struct {
	// Setting is the sysctl: fs.inotify.max_user_watches or fs.inotify.max_user_instances.
	Setting string
	// Limit is its current value.
	Limit int
	// Needed is what this Watcher needs: its watches (one per directory), or 1 instance.
	Needed int
	// Others is what the other inotify users of the same user hold, -1 when unknown;
	// Holders names the biggest ones.
	Others  int
	Holders []string
	// Path is the directory whose watch failed (ENOSPC), or "" when the limit was checked
	// before watching.
	Path string
	// Suggested is the value the fix sets.
	Suggested int
}

func (e *LimitError) Error() string {
	var b strings.Builder
	unit := "watches (one per directory watched)"
	if e.Setting == settingInstances {
		unit = "inotify instance"
	}
	if e.Path != "" {
		fmt.Fprintf(&b, "cannot watch %s: the inotify watches of this user are used up: ", e.Path)
	}
	fmt.Fprintf(&b, "kiln needs %d %s", e.Needed, unit)
	if e.Others > 0 {
		fmt.Fprintf(&b, " and other programs of this user hold %d", e.Others)
		if len(e.Holders) > 0 {
			fmt.Fprintf(&b, " (%s)", strings.Join(e.Holders, ", "))
		}
	}
	fmt.Fprintf(&b, ", but %s is %d.\n", e.Setting, e.Limit)
	fmt.Fprintf(&b, "Raise it now:\n    sudo sysctl %s=%d\n", e.Setting, e.Suggested)
	fmt.Fprintf(&b, "and keep it after a reboot:\n    echo %s=%d | sudo tee /etc/sysctl.d/60-kiln-inotify.conf\n", e.Setting, e.Suggested)
	if e.Setting == settingWatches {
		b.WriteString("Or watch less: ignore big directories (node_modules, build output) in .kilnignore or with watch_settings(ignore=...).")
	} else {
		b.WriteString("Or stop other programs that watch files.")
	}
	return b.String()
}

const (
	settingWatches   = "fs.inotify.max_user_watches"
	settingInstances = "fs.inotify.max_user_instances"
)

// limits are the inotify limits and what the user holds of them.
type limits struct {
	maxWatches, maxInstances   int // 0 when unknown
	usedWatches, usedInstances int // by every process of the user, this one included; -1 unknown
	holders                    []holder
}

// holder is a process of the user that holds inotify watches.
type holder struct {
	name    string
	pid     int
	watches int
}

// suggest returns the value to raise a limit to, for a need of n: at least twice n, and at
// least floor, doubling.
func suggest(n, floor int) int {
	s := floor
	for s < 2*n {
		s *= 2
	}
	return s
}

// checkWatches fails with a *LimitError when need more watches do not fit.
func (w *Watcher) checkWatches(need int) error {
	l, err := w.env.limits()
	if err != nil || l.maxWatches <= 0 {
		return nil // cannot tell: ENOSPC will
	}
	mine := len(w.dirs)
	if e := watchLimit(l, mine, mine+need, ""); e != nil {
		return e
	}
	return nil
}

// watchLimit returns the *LimitError for a Watcher holding mine watches and needing total,
// or nil when they fit. With path (an ENOSPC for it), it returns the error in any case.
func watchLimit(l limits, mine, total int, path string) *LimitError {
	others := -1
	if l.usedWatches >= 0 {
		others = max(0, l.usedWatches-mine)
	}
	if path == "" && total+max(others, 0) <= l.maxWatches {
		return nil
	}
	e := &LimitError{
		Setting:   settingWatches,
		Limit:     l.maxWatches,
		Needed:    total,
		Others:    others,
		Path:      path,
		Suggested: suggest(total+max(others, 0), 524288),
	}
	for _, h := range l.holders {
		if len(e.Holders) == 3 {
			break
		}
		e.Holders = append(e.Holders, fmt.Sprintf("%s[%d]: %d", h.name, h.pid, h.watches))
	}
	return e
}

// exhausted is the error for an ENOSPC from inotify_add_watch on p.
func (w *Watcher) exhausted(p string) error {
	l, err := w.env.limits()
	if err != nil || l.maxWatches <= 0 {
		return fmt.Errorf("watch %s: %w (inotify watches used up: raise fs.inotify.max_user_watches)", p, syscall.ENOSPC)
	}
	return watchLimit(l, len(w.dirs), len(w.dirs)+1, p)
}

// checkInstances fails with a *LimitError when the user has no inotify instance left.
func checkInstances(e env) error {
	l, err := e.limits()
	if err != nil || l.maxInstances <= 0 || l.usedInstances < 0 || l.usedInstances < l.maxInstances {
		return nil
	}
	return instanceLimit(l)
}

// instanceError turns the failure of inotify_init (EMFILE) into a *LimitError.
func instanceError(e env, err error) error {
	if !errors.Is(err, syscall.EMFILE) {
		return nil
	}
	l, lerr := e.limits()
	if lerr != nil || l.maxInstances <= 0 {
		return fmt.Errorf("inotify: %w (raise fs.inotify.max_user_instances)", err)
	}
	return instanceLimit(l)
}

func instanceLimit(l limits) *LimitError {
	return &LimitError{
		Setting:   settingInstances,
		Limit:     l.maxInstances,
		Needed:    1,
		Others:    l.usedInstances,
		Suggested: suggest(max(l.usedInstances, 0)+1, 512),
	}
}
