package build

import (
	"bytes"
	"context"
	"fmt"
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

// TestCustomBuildFailure: a custom_build command that fails gives an error naming the image,
// the exit status and the command's last output, with its output lines prefixed. (Build order,
// parallelism and stopping at the first failure are the engine's scheduler's: see
// runtime/engine/scheduler_test.go.)
func TestCustomBuildFailure(t *testing.T) {
	dir := t.TempDir()
	img := plan.Image{
		Ref: "t/bad", Repo: "t/bad", Tag: "fixed",
		Custom: &plan.CustomBuild{Tag: "fixed", SkipsLocal: true, Command: plan.Command{
			Argv: []string{"sh", "-c", "echo working on $EXPECTED_IMAGE; echo broken >&2; exit 7"},
		}},
	}
	p := &plan.Plan{Dir: dir, Images: []plan.Image{img}}
	var out syncBuffer
	_, err := New(nil).Build(context.Background(), p, &p.Images[0], nil, &out, "t/bad │ ")
	if err == nil || !strings.Contains(err.Error(), "build t/bad: ") || !strings.Contains(err.Error(), "exit status 7") || !strings.Contains(err.Error(), "broken") {
		t.Fatalf("error = %v", err)
	}
	if !strings.Contains(out.String(), "t/bad │ $ sh -c") || !strings.Contains(out.String(), "t/bad │ working on t/bad") {
		t.Errorf("output:\n%s", out.String())
	}
}
