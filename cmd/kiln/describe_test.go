package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kiln-dev/kiln/runtime/status"
	"github.com/kiln-dev/kiln/runtime/statusapi"
)

// projectStore is a store as a kiln watch fills it for a project with a Deployment "web"
// (two images, one with live_update, an init container, a forward), a Deployment "api"
// with a forward of its own, and a local resource "migrate". Pod ages count from now.
func projectStore(now time.Time) *status.Store {
	s := status.New()
	s.Put(status.KindResource, "web",
		status.ResourceSpec{Type: "k8s", TriggerMode: "auto", AutoInit: true, ResourceDeps: []string{"migrate"},
			Images: []string{"example.local/web", "example.local/sidecar"}, Labels: []string{"frontend"}, Links: []string{"http://web.local/"}},
		status.ResourceStatus{State: status.StateFailed, Error: "deployment/web failed: CrashLoopBackOff\ncontainer web exited with code 3\nlast line: panic: boom",
			Steps:     []status.Step{{Name: "apply", DurationMS: 41, Note: "2 objects"}, {Name: "ready", DurationMS: 2512.4}},
			PodsReady: 0, Pods: 1, Restarts: 2, Forwards: []string{"http://localhost:8000/"}, Reason: "CrashLoopBackOff"})
	s.Put(status.KindResource, "api", status.ResourceSpec{Type: "k8s", AutoInit: true}, status.ResourceStatus{State: status.StateReady})
	s.Put(status.KindResource, "migrate", status.ResourceSpec{Type: "local", AutoInit: true},
		status.ResourceStatus{State: status.StateReady, Steps: []status.Step{{Name: "run", DurationMS: 1234}}})
	s.Put(status.KindDiscovery, "web", nil, status.DiscoveryStatus{Pods: []status.Pod{{
		Namespace: "dev", Name: "web-6d9f", Phase: "Running", Created: now.Add(-40 * time.Second),
		Containers: []status.Container{
			{Name: "init-db", Init: true, State: "terminated", Ready: false},
			{Name: "web", State: "waiting", Restarts: 2, Reason: "CrashLoopBackOff"},
		},
	}}})
	s.Put(status.KindForward, "web:8000", status.ForwardSpec{Resource: "web", LocalPort: 8000, ContainerPort: 8080, Host: "0.0.0.0"},
		status.ForwardStatus{URL: "http://localhost:8000/", State: "waiting", Error: "no ready pod", Since: now.Add(-5 * time.Second)})
	s.Put(status.KindForward, "api:9000", status.ForwardSpec{Resource: "api", LocalPort: 9000},
		status.ForwardStatus{URL: "http://localhost:9000/", State: "active", Pod: "dev/api-1"})
	s.Put(status.KindApply, "web", status.ApplySpec{YAML: "kind: Deployment\nmetadata:\n  name: web\n"},
		status.ApplyStatus{ResultYAML: "kind: Deployment\nstatus:\n  replicas: 1\n", Objects: []string{"deployment/web", "service/web"}, LastApply: now.Add(-time.Minute)})
	s.Put(status.KindImage, "example.local/web", status.ImageSpec{Ref: "example.local/web", LiveUpdate: true},
		status.ImageStatus{Tag: "example.local/web:kiln-5d2f0c8a", State: "built", Why: "no image had this tag: its inputs changed", DurationMS: 1500})
	s.Put(status.KindImage, "example.local/other", status.ImageSpec{Ref: "example.local/other"}, status.ImageStatus{State: "up to date"})
	s.Put(status.KindLiveUpdate, "example.local/web", nil,
		status.LiveUpdateStatus{Files: []string{"www/index.html"}, Containers: []string{"dev/web-6d9f/web"}, Result: "synced", At: now.Add(-3 * time.Second)})
	code := 0
	s.Put(status.KindLocal, "migrate", nil, status.LocalStatus{LastRun: now.Add(-10 * time.Second), ExitCode: &code, Serve: "running", DurationMS: 1234})
	s.Put(status.KindLogStream, "web/dev/web-6d9f/web", nil, status.LogStreamStatus{Resource: "web", State: "streaming", Lines: 15})
	s.Put(status.KindFileWatch, "project", nil, status.FileWatchStatus{Changed: []string{"web/www/index.html"}, Triggered: "update image example.local/web", At: now.Add(-3 * time.Second)})
	return s
}

// fakeLogs serves fixed log lines, as runtime/logs would through the engine.
type fakeLogs []statusapi.LogLine

func (f fakeLogs) Lines(q statusapi.LogQuery) ([]statusapi.LogLine, error) {
	var out []statusapi.LogLine
	for _, l := range f {
		for _, r := range q.Resources {
			if l.Resource == r {
				out = append(out, l)
			}
		}
	}
	return out, nil
}

func (fakeLogs) Follow(context.Context, statusapi.LogQuery, func(statusapi.LogLine) error) error {
	return nil
}

// serveProject serves store (and logs) over the status API as the kiln watch of a new
// project, and returns the project's directory for -f.
func serveProject(t *testing.T, store *status.Store, logs statusapi.LogSource) string {
	t.Helper()
	t.Setenv("KILN_STATE_DIR", t.TempDir())
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Kilnfile"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	stateDir, err := projectStateDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	s, err := statusapi.Start(stateDir, store, statusapi.Handlers{Logs: logs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return dir
}

// runKiln runs the CLI in-process.
func runKiln(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func describeOf(t *testing.T, store *status.Store, name string, showYAML bool, now time.Time) string {
	t.Helper()
	objs, _ := store.List("")
	d, err := newDescription(objs, name)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	printDescription(&b, d, showYAML, now)
	return b.String()
}

// mustMatch checks that out has a line matching each pattern (regexp, multi-line mode).
func mustMatch(t *testing.T, out string, patterns ...string) {
	t.Helper()
	for _, p := range patterns {
		if !regexp.MustCompile(`(?m)` + p).MatchString(out) {
			t.Errorf("no match for %s in:\n%s", p, out)
		}
	}
}

func TestDescribeKubernetesResource(t *testing.T) {
	now := time.Now()
	out := describeOf(t, projectStore(now), "web", false, now)
	mustMatch(t, out,
		`^Name: +web$`, `^Type: +k8s$`, `^State: +failed$`, `^Reason: +CrashLoopBackOff$`,
		// The error whole, every line indented under its label.
		`^Error:\n    deployment/web failed: CrashLoopBackOff\n    container web exited with code 3\n    last line: panic: boom\n`,
		`^Updated: +0s ago$`, `^Trigger mode: +auto$`, `^Auto init: +true$`, `^Resource deps: +migrate$`,
		`^Labels: +frontend$`, `^Links: +http://web.local/$`, `^Images: +example.local/web, example.local/sidecar$`,
		`^Pods ready: +0/1 \(2 restarts\)$`,
		`^Steps \(last update\):\n  apply +41ms +2 objects\n  ready +2\.512s\n`,
		`^Pods:\n  dev/web-6d9f  Running  not ready  age 40s\n    init-db \(init\) +terminated +not ready +restarts 0\n    web +waiting +not ready +restarts 2 +CrashLoopBackOff\n`,
		`^Forwards:\n  web:8000\n    URL: +http://localhost:8000/\n    State: +waiting since 5s ago\n    Pod: +<none>\n    Error:\n        no ready pod\n`,
		`^Apply:\n  Last apply: +1m0s ago\n  Objects: +deployment/web, service/web\n`,
		`^Image builds:\n  example.local/web\n    Tag: +example.local/web:kiln-5d2f0c8a\n    State: +built in 1\.5s\n    Why: +no image had this tag: its inputs changed\n`,
		`^    Live update:\n      Result: +synced 3s ago\n      Files: +1 copied, 0 deleted\n      Containers: +dev/web-6d9f/web\n`,
		`^  example.local/sidecar\n    not built yet\n`,
		`^Recent events:\n  File change: +3s ago: web/www/index.html\n  Triggered: +update image example.local/web\n  Logs \(last 10 lines\):\n    <none>\n`,
	)
	for _, not := range []string{"api:9000", "Applied YAML", "Result YAML", "Local:", "example.local/other"} {
		if strings.Contains(out, not) {
			t.Errorf("kiln describe web shows %q:\n%s", not, out)
		}
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.TrimRight(line, " ") != line {
			t.Errorf("line ends in spaces: %q", line)
		}
	}
}

func TestDescribeShowYAMLAndLocalResource(t *testing.T) {
	now := time.Now()
	store := projectStore(now)
	out := describeOf(t, store, "web", true, now)
	mustMatch(t, out,
		`^  Applied YAML:\n    kind: Deployment\n    metadata:\n      name: web\n  Result YAML:\n    kind: Deployment\n    status:\n      replicas: 1\n`)

	out = describeOf(t, store, "migrate", false, now)
	mustMatch(t, out, `^Type: +local$`, `^State: +ready$`, `^Images: +<none>$`,
		`^Local:\n  Last run: +10s ago, exit code 0, 1\.234s\n  Serve: +running\n`)
	for _, not := range []string{"Pods:", "Forwards:", "Apply:", "Image builds:", "Error:"} {
		if strings.Contains(out, not) {
			t.Errorf("kiln describe migrate shows %q:\n%s", not, out)
		}
	}
}

func TestDescribeUnknownResource(t *testing.T) {
	objs, _ := projectStore(time.Now()).List("")
	_, err := newDescription(objs, "nope")
	if err == nil || err.Error() != `no resource named "nope" (kiln get resources lists them)` {
		t.Fatalf("newDescription(nope) = %v", err)
	}
	// The image named like a resource is not one: only kind resources names resources.
	if _, err := newDescription(objs, "example.local/web"); err == nil {
		t.Fatalf("an image's name described as a resource")
	}
}

// TestDescribeCommand runs kiln describe against a served store: the last 10 of the
// resource's log lines, the exit codes of an unknown resource, of usage errors and of a
// project with no kiln watch.
func TestDescribeCommand(t *testing.T) {
	now := time.Now()
	var lines fakeLogs
	for i := 1; i <= 15; i++ {
		lines = append(lines, statusapi.LogLine{Seq: uint64(i), Resource: "web", Container: "web", Time: now, Text: fmt.Sprintf("count %02d", i), Previous: i == 7})
	}
	lines = append(lines, statusapi.LogLine{Seq: 16, Resource: "api", Time: now, Text: "api line"})
	dir := serveProject(t, projectStore(now), lines)

	code, out, errOut := runKiln("describe", "web", "-f", dir)
	if code != exitOK {
		t.Fatalf("kiln describe web: exit %d\n%s", code, errOut)
	}
	mustMatch(t, out, `^Name: +web$`, `^  Logs \(last 10 lines\):\n    \d\d:\d\d:\d\d web │ count 06\n    \d\d:\d\d:\d\d web │ \(previous container\) count 07\n`, `web │ count 15$`)
	for i := 1; i <= 5; i++ {
		if strings.Contains(out, fmt.Sprintf("count %02d", i)) {
			t.Errorf("kiln describe shows log line %d of 15:\n%s", i, out)
		}
	}
	if strings.Contains(out, "api line") {
		t.Errorf("kiln describe web shows another resource's log line:\n%s", out)
	}

	code, _, errOut = runKiln("describe", "nope", "-f", dir)
	if code != exitFail || !strings.Contains(errOut, `no resource named "nope" (kiln get resources lists them)`) {
		t.Errorf("kiln describe nope: exit %d, stderr %q", code, errOut)
	}
	for _, args := range [][]string{{"describe"}, {"describe", "web", "api"}, {"describe", "--bogus", "web"}} {
		if code, _, errOut := runKiln(append(args, "-f", dir)...); code != exitUsage {
			t.Errorf("kiln %v: exit %d, want %d (usage)\n%s", args, code, exitUsage, errOut)
		}
	}
	if code, _, _ := runKiln("describe", "--help"); code != exitOK {
		t.Errorf("kiln describe --help: exit %d", code)
	}

	idle := t.TempDir()
	if err := os.WriteFile(filepath.Join(idle, "Kilnfile"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = runKiln("describe", "web", "-f", idle)
	if code != exitFail || !strings.Contains(errOut, "no kiln watch is running for this project") {
		t.Errorf("kiln describe with no kiln watch: exit %d, stderr %q", code, errOut)
	}
}

func TestLastLogLinesKeepsTheLast(t *testing.T) {
	var lines fakeLogs
	for i := 0; i < 2000; i++ {
		lines = append(lines, statusapi.LogLine{Seq: uint64(i + 1), Resource: "web", Text: fmt.Sprint(i)})
	}
	dir := serveProject(t, status.New(), lines)
	c, err := dialProject(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, 10} {
		got, err := lastLogLines(context.Background(), c, "web", n)
		if err != nil || len(got) != n || got[0].Text != fmt.Sprint(2000-n) || got[n-1].Text != "1999" {
			t.Errorf("lastLogLines(%d) = %v, %v", n, got, err)
		}
	}
	if got, err := lastLogLines(context.Background(), c, "api", 10); err != nil || len(got) != 0 {
		t.Errorf("lastLogLines of a resource with no lines = %v, %v", got, err)
	}
}
