package build

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	bkclient "github.com/moby/buildkit/client"
	digest "github.com/opencontainers/go-digest"

	"github.com/kiln-dev/kiln/runtime/plan"
)

// These tests need no Docker engine.

func TestFromRewrites(t *testing.T) {
	p := &plan.Plan{Images: []plan.Image{
		{Ref: "example/base"},
		{Ref: "example/dev", MatchTag: "dev"},
	}}
	df := "ARG V=latest\n" +
		"FROM example/base AS a\n" +
		"FROM docker.io/example/base:${V} AS b\n" +
		"FROM a AS c\n" +
		"FROM example/dev:dev AS d\n" +
		"FROM example/dev:other AS e\n" +
		"FROM example/base@sha256:" + strings.Repeat("a", 64) + " AS f\n" +
		"FROM scratch\n"
	deps := map[string]string{"example/base": "example/base:h1", "example/dev": "example/dev:dev"}
	got, err := fromRewrites([]byte(df), p, &plan.Image{}, deps)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"example/base":                  "example/base:h1",
		"docker.io/example/base:latest": "example/base:h1",
		"example/dev:dev":               "example/dev:dev",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("fromRewrites = %v, want %v", got, want)
	}
	if got, _ := fromRewrites([]byte(df), p, &plan.Image{}, nil); got != nil {
		t.Errorf("no deps: %v", got)
	}
}

func TestSplitRegistry(t *testing.T) {
	for _, c := range []struct{ in, reg, name string }{
		{"example/web", "", "example/web"},
		{"web", "", "web"},
		{"localhost:5000/web", "localhost:5000", "web"},
		{"localhost/a/b", "localhost", "a/b"},
		{"gcr.io/proj/web", "gcr.io", "proj/web"},
	} {
		if reg, name := splitRegistry(c.in); reg != c.reg || name != c.name {
			t.Errorf("splitRegistry(%q) = %q, %q", c.in, reg, name)
		}
	}
}

func TestParseSecret(t *testing.T) {
	p := &plan.Plan{Dir: "/proj"}
	s, err := parseSecret(p, "id=npm,src=secrets/npmrc")
	if err != nil || s.ID != "npm" || s.FilePath != filepath.FromSlash("/proj/secrets/npmrc") {
		t.Errorf("got %+v, %v", s, err)
	}
	s, err = parseSecret(p, "id=tok,env=TOKEN")
	if err != nil || s.Env != "TOKEN" || s.FilePath != "" {
		t.Errorf("got %+v, %v", s, err)
	}
	s, err = parseSecret(p, "type=env,id=tok,src=TOKEN")
	if err != nil || s.Env != "TOKEN" || s.FilePath != "" {
		t.Errorf("got %+v, %v", s, err)
	}
	for _, bad := range []string{"src=x", "id=a,bogus=1", "id"} {
		if _, err := parseSecret(p, bad); err == nil {
			t.Errorf("parseSecret(%q) succeeded", bad)
		}
	}
}

func TestPrinter(t *testing.T) {
	var out bytes.Buffer
	pr := newPrinter(&out, "web │ ")
	ch := make(chan *bkclient.SolveStatus, 10)
	t0 := time.Unix(100, 0)
	t1 := t0.Add(1500 * time.Millisecond)
	v1, v2 := digest.FromString("1"), digest.FromString("2")
	ch <- &bkclient.SolveStatus{Vertexes: []*bkclient.Vertex{
		{Digest: v1, Name: "[1/2] FROM base", Started: &t0, Completed: &t0, Cached: true},
		{Digest: v2, Name: "[2/2] RUN make", Started: &t0},
	}}
	var data strings.Builder
	for i := 1; i <= 25; i++ {
		fmt.Fprintf(&data, "line %d\n", i)
	}
	ch <- &bkclient.SolveStatus{Logs: []*bkclient.VertexLog{
		{Vertex: v2, Data: []byte(data.String() + "partial ")},
		{Vertex: v2, Data: []byte("end\nno newline")},
	}}
	ch <- &bkclient.SolveStatus{Vertexes: []*bkclient.Vertex{
		{Digest: v2, Name: "[2/2] RUN make", Started: &t0, Completed: &t1, Error: "exit code: 2"},
	}}
	close(ch)
	pr.run(ch)
	s := out.String()
	for _, want := range []string{
		"web │ #1 CACHED [1/2] FROM base\n",
		"web │ #2 [2/2] RUN make\n",
		"web │ #2 line 1\n",
		"web │ #2 partial end\n",
		"web │ #2 no newline\n",
		"web │ #2 ERROR: exit code: 2\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	f := pr.failure()
	if !strings.HasPrefix(f, "failing step: [2/2] RUN make\nlast 20 log lines:\n  line 8\n") || !strings.HasSuffix(f, "\n  partial end\n  no newline") {
		t.Errorf("failure() = %q", f)
	}
}

// TestBuildAllOrder runs custom builds that need no engine (skips_local_docker
// with a fixed tag) to check the dependency order, the parallelism bound and
// stopping at the first error.
func TestBuildAllOrder(t *testing.T) {
	dir := t.TempDir()
	logf := filepath.Join(dir, "log")
	mk := func(name, script string, deps ...string) plan.Image {
		return plan.Image{
			Ref: "t/" + name, Repo: "t/" + name, Tag: "fixed", ImageDeps: deps,
			Custom: &plan.CustomBuild{Tag: "fixed", SkipsLocal: true, Command: plan.Command{
				Argv: []string{"sh", "-c", "echo start $EXPECTED_IMAGE >> log; " + script + "; echo end $EXPECTED_IMAGE >> log"},
			}},
		}
	}
	p := &plan.Plan{Dir: dir, Images: []plan.Image{
		mk("a", "sleep 0.1", "t/b", "t/c"),
		mk("b", "sleep 0.1", "t/c"),
		mk("c", "sleep 0.2"),
		mk("d", "sleep 0.2"),
		mk("e", "sleep 0.1"),
	}}
	b := New(nil)
	var out syncBuffer
	res, err := b.BuildAll(context.Background(), p, nil, 2, &out)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 5 || res[0].Ref != "t/a:fixed" || res[4].Ref != "t/e:fixed" {
		t.Fatalf("results %+v", res)
	}
	data, _ := os.ReadFile(logf)
	events := strings.Split(strings.TrimSpace(string(data)), "\n")
	pos := map[string]int{}
	running, maxRunning := 0, 0
	for i, e := range events {
		pos[e] = i
		if strings.HasPrefix(e, "start") {
			running++
			maxRunning = max(maxRunning, running)
		} else {
			running--
		}
	}
	for _, edge := range [][2]string{{"t/c", "t/b"}, {"t/b", "t/a"}, {"t/c", "t/a"}} {
		if pos["end "+edge[0]] > pos["start "+edge[1]] {
			t.Errorf("%s started before %s ended: %v", edge[1], edge[0], events)
		}
	}
	if maxRunning > 2 {
		t.Errorf("%d builds ran at once, max 2: %v", maxRunning, events)
	}
	if !strings.Contains(out.String(), "t/a │ $ sh -c") {
		t.Errorf("output:\n%s", out.String())
	}

	// only: b pulls in c, nothing else.
	_ = os.Remove(logf)
	res, err = b.BuildAll(context.Background(), p, []string{"t/b"}, 3, nil)
	if err != nil || len(res) != 2 || res[0].Ref != "t/b:fixed" || res[1].Ref != "t/c:fixed" {
		t.Fatalf("only b: %+v, %v", res, err)
	}

	// A failure stops everything: the slow independent build is cancelled
	// and the dependents of the failed one never start.
	_ = os.Remove(logf)
	p2 := &plan.Plan{Dir: dir, Images: []plan.Image{
		mk("slow", "sleep 30"),
		mk("bad", "echo broken >&2; exit 7"),
		mk("after", "true", "t/bad"),
	}}
	start := time.Now()
	res, err = b.BuildAll(context.Background(), p2, nil, 3, nil)
	if err == nil || !strings.Contains(err.Error(), "build t/bad: ") || !strings.Contains(err.Error(), "exit status 7") || !strings.Contains(err.Error(), "broken") {
		t.Fatalf("error = %v", err)
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Errorf("stopping took %v", el)
	}
	if len(res) != 0 {
		t.Errorf("results %+v", res)
	}
	data, _ = os.ReadFile(logf)
	if strings.Contains(string(data), "t/after") || strings.Contains(string(data), "end t/slow") {
		t.Errorf("log:\n%s", data)
	}

	// A cycle in a hand-made plan is an error, not a hang.
	p3 := &plan.Plan{Dir: dir, Images: []plan.Image{mk("x", "true", "t/y"), mk("y", "true", "t/x")}}
	if _, err := b.BuildAll(context.Background(), p3, nil, 2, nil); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Errorf("cycle error = %v", err)
	}
}
