package filewatch

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
)

func limitsEnv(l *limits) env {
	e := defaultEnv
	e.limits = func() (limits, error) { return *l, nil }
	return e
}

func TestWatchLimitIsCheckedBeforeWatching(t *testing.T) {
	d := tempDir(t)
	for i := range 30 {
		mkdir(t, filepath.Join(d, fmt.Sprintf("d%02d", i)))
	}
	l := limits{maxWatches: 20, maxInstances: 128, usedWatches: 5, usedInstances: 2,
		holders: []holder{{name: "code", pid: 42, watches: 5}}}
	w, err := newWatcher(Options{}, limitsEnv(&l))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()

	err = w.SetRoots([]Root{{Path: d}})
	var le *LimitError
	if !errors.As(err, &le) {
		t.Fatalf("SetRoots with 31 directories and a limit of 20 = %v, want a *LimitError", err)
	}
	if le.Setting != "fs.inotify.max_user_watches" || le.Needed != 31 || le.Others != 5 || le.Limit != 20 || le.Suggested != 524288 {
		t.Errorf("LimitError = %+v", le)
	}
	msg := err.Error()
	for _, want := range []string{
		"kiln needs 31 watches", "other programs of this user hold 5 (code[42]: 5)", "fs.inotify.max_user_watches is 20",
		"sudo sysctl fs.inotify.max_user_watches=524288",
		"echo fs.inotify.max_user_watches=524288 | sudo tee /etc/sysctl.d/60-kiln-inotify.conf",
		".kilnignore",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	if got := watched(w, d); len(got) != 0 {
		t.Errorf("watches were added before the check: %v", got)
	}

	l.maxWatches = 36 // 31 + 5 fit
	if err := w.SetRoots([]Root{{Path: d}}); err != nil {
		t.Fatal(err)
	}
	if got := len(watched(w, d)); got != 31 {
		t.Errorf("%d watches, want 31", got)
	}
}

func TestSuggestedLimit(t *testing.T) {
	for _, c := range []struct{ n, want int }{{10, 524288}, {262144, 524288}, {262145, 1048576}, {600000, 2097152}} {
		if got := suggest(c.n, 524288); got != c.want {
			t.Errorf("suggest(%d) = %d, want %d", c.n, got, c.want)
		}
	}
}

func TestENOSPCIsALimitError(t *testing.T) {
	d := tempDir(t)
	for i := range 5 {
		mkdir(t, filepath.Join(d, fmt.Sprintf("d%d", i)))
	}
	l := limits{maxWatches: 1000, maxInstances: 128, usedWatches: 0, usedInstances: 1}
	e := limitsEnv(&l)
	var budget atomic.Int32 // watches that succeed; then the kernel says ENOSPC
	budget.Store(3)
	e.addWatch = func(w *Watcher, p string) error {
		if budget.Add(-1) < 0 {
			return syscall.ENOSPC
		}
		return w.fs.Add(p)
	}
	w, err := newWatcher(Options{Debounce: 10e6}, e)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	err = w.SetRoots([]Root{{Path: d}})
	var le *LimitError
	if !errors.As(err, &le) || le.Path == "" {
		t.Fatalf("SetRoots = %v, want a *LimitError naming the directory", err)
	}
	if !strings.Contains(err.Error(), "sudo sysctl fs.inotify.max_user_watches=") {
		t.Errorf("message lacks the fix:\n%s", err)
	}
	if got := watched(w, d); len(got) != 0 {
		t.Errorf("the failed SetRoots left watches: %v", got)
	}

	budget.Store(6)
	if err := w.SetRoots([]Root{{Path: d}}); err != nil {
		t.Fatal(err)
	}
	r := record(t, w)
	budget.Store(0)
	write(t, filepath.Join(d, "new/file.txt"), "x") // its watch fails
	r.wait(filepath.Join(d, "new"))
	var batchErr error
	for _, b := range r.all() {
		batchErr = errors.Join(batchErr, b.Err)
	}
	if !errors.As(batchErr, &le) {
		t.Errorf("batch error = %v, want a *LimitError", batchErr)
	}
}

func TestInstanceLimit(t *testing.T) {
	l := limits{maxWatches: 1000, maxInstances: 128, usedWatches: 0, usedInstances: 128}
	_, err := newWatcher(Options{}, limitsEnv(&l))
	var le *LimitError
	if !errors.As(err, &le) || le.Setting != "fs.inotify.max_user_instances" {
		t.Fatalf("New with every instance used = %v, want a *LimitError", err)
	}
	if !strings.Contains(err.Error(), "sudo sysctl fs.inotify.max_user_instances=512") {
		t.Errorf("message lacks the fix:\n%s", err)
	}
}

func TestReadLimitsCountsThisProcess(t *testing.T) {
	d := tempDir(t)
	for i := range 10 {
		mkdir(t, filepath.Join(d, fmt.Sprintf("d%d", i)))
	}
	w := newTestWatcher(t, Options{}, Root{Path: d})
	l, err := readLimits()
	if err != nil {
		t.Skip("no /proc limits:", err)
	}
	if l.maxWatches <= 0 || l.maxInstances <= 0 {
		t.Errorf("limits = %+v", l)
	}
	if n := len(watched(w, d)); l.usedWatches < n || l.usedInstances < 1 {
		t.Errorf("used watches %d, instances %d: this process alone holds %d watches and 1 instance", l.usedWatches, l.usedInstances, n)
	}
}
