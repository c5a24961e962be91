package build

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kiln-dev/kiln/internal/testenv"
	"github.com/kiln-dev/kiln/runtime/docker"
	"github.com/kiln-dev/kiln/runtime/plan"
)

// The tests below use the real Docker engine (DOCKER_HOST or the default
// socket) and the local image kiln.local/busybox:latest; nothing is pulled.
// They skip when no engine answers or the base image is missing, and fail
// instead under `make test` (testenv.Missing).

const baseImage = "kiln.local/busybox:latest"

func engine(tb testing.TB) *docker.Client {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := docker.Connect(ctx)
	if err != nil {
		testenv.Missing(tb, "no Docker engine: %v", err)
	}
	tb.Cleanup(func() { _ = d.Close() })
	ok, err := d.ImageExists(ctx, baseImage)
	if err != nil || !ok {
		testenv.Missing(tb, "Docker engine has no %s (needed as a base image; nothing can be pulled): %v", baseImage, err)
	}
	return d
}

// uniqueTag makes every run build cold.
func uniqueTag(tb testing.TB) string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		tb.Fatal(err)
	}
	return "t" + hex.EncodeToString(b)
}

func removeAfter(tb testing.TB, d *docker.Client, refs ...string) {
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, r := range refs {
			if err := d.RemoveImage(ctx, r, true); err != nil {
				tb.Logf("cleanup: %v", err)
			}
		}
	})
}

func writeFiles(tb testing.TB, dir string, files map[string]string) {
	tb.Helper()
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
}

// syncBuffer is a goroutine-safe bytes.Buffer.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestBuildAll builds two images with the engine's BuildKit: a base image
// (RUN, a build arg, COPY of a filtered context, a syntax directive that
// must not be pulled, an extra tag) and an image built FROM it through an
// inline Dockerfile whose FROM is rewritten to the base's tag. The second
// image's RUN checks, inside the real build, what the first put in the
// image and what the context filter kept out. A second build must skip
// both.
func TestBuildAll(t *testing.T) {
	d := engine(t)
	tag := uniqueTag(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"base/Dockerfile": "# syntax=docker/dockerfile:1\n" +
			"FROM kiln.local/busybox:latest\n" +
			"ARG GREETING=unset\n" +
			"ARG NONCE\n" + // a new value every run: no BuildKit cache hit for RUN

			"RUN echo \"$GREETING\" > /greeting && echo \"greeting is $GREETING\"\n" +
			"COPY . /app/\n",
		"base/.dockerignore":    "ignored.txt\n",
		"base/keep.txt":         "kept\n",
		"base/sub/nested.txt":   "nested\n",
		"base/ignored.txt":      "dockerignored\n",
		"base/kiln-only.txt":    "excluded by the plan's filter only\n",
		"base/.git/HEAD":        "ref: refs/heads/main\n",
		"app/marker.txt":        "app\n",
		"app/unrelated/big.txt": "x\n",
	})
	base := plan.Image{
		Ref: "kiln-test/base", Repo: "kiln-test/base", Tag: tag, Source: "docker_build",
		Context: "base", Dockerfile: "base/Dockerfile",
		BuildArgs: map[string]string{"GREETING": "hello", "NONCE": tag},
		Excludes:  []string{"ignored.txt", "kiln-only.txt", "**/.git", "**/.git/**"},
		ExtraTags: []string{"kiln-test/base:extra-" + tag},
		Platform:  "linux/" + runtime.GOARCH,
	}
	app := plan.Image{
		Ref: "kiln-test/app", Repo: "kiln-test/app", Tag: tag, Source: "docker_build",
		Context: "app",
		DockerfileContents: "FROM kiln-test/base AS b\n" +
			"RUN test \"$(cat /greeting)\" = hello \\\n" +
			" && test \"$(cat /app/keep.txt)\" = kept \\\n" +
			" && test -f /app/sub/nested.txt \\\n" +
			" && test ! -e /app/ignored.txt \\\n" +
			" && test ! -e /app/kiln-only.txt \\\n" +
			" && test ! -e /app/.git \\\n" +
			" && echo checks passed\n" +
			"COPY marker.txt /marker.txt\n" +
			"FROM b AS not-the-target\n" +
			"RUN echo this stage must not be built; exit 1\n",
		Target:    "b",
		Excludes:  []string{"unrelated"},
		Network:   "none",
		ImageDeps: []string{"kiln-test/base"},
	}
	p := &plan.Plan{Dir: dir, Images: []plan.Image{app, base}, Settings: plan.Settings{MaxParallelUpdates: 2}}
	removeAfter(t, d, base.FullRef(), "kiln-test/base:extra-"+tag, app.FullRef())

	b := New(d)
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	var out syncBuffer
	start := time.Now()
	res, err := buildAll(ctx, b, p, &out)
	cold := time.Since(start)
	t.Logf("build output:\n%s", out.String())
	if err != nil {
		t.Fatalf("buildAll: %v", err)
	}
	t.Logf("cold build of 2 images: %v", cold)
	if len(res) != 2 || res[0].Ref != app.FullRef() || res[1].Ref != base.FullRef() || res[0].Skipped || res[1].Skipped {
		t.Fatalf("results = %+v", res)
	}
	for _, want := range []string{
		"kiln-test/base │ ", "kiln-test/app  │ ",
		"greeting is hello", "checks passed",
		`ignoring the Dockerfile's syntax directive "docker/dockerfile:1"`,
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if strings.Contains(out.String(), "docker.io/docker/dockerfile") {
		t.Errorf("the syntax directive's frontend image was resolved")
	}
	for _, r := range []string{base.FullRef(), "kiln-test/base:extra-" + tag, app.FullRef()} {
		if ok, err := d.ImageExists(ctx, r); err != nil || !ok {
			t.Errorf("image %s not in the engine (%v)", r, err)
		}
	}
	// Nothing changed: both are skipped, fast.
	out = syncBuffer{}
	start = time.Now()
	res, err = buildAll(ctx, b, p, &out)
	warm := time.Since(start)
	if err != nil {
		t.Fatalf("second buildAll: %v", err)
	}
	if len(res) != 2 || !res[0].Skipped || !res[1].Skipped {
		t.Fatalf("second buildAll results = %+v, want both skipped", res)
	}
	t.Logf("second buildAll (skip): %v; output:\n%s", warm, out.String())
	if warm > 2*time.Second {
		t.Errorf("skipping took %v", warm)
	}
}

// buildAll builds p's images one at a time in dependency order, each FROM-rewritten to the
// tags of the images it depends on, as the engine does, and returns the results in plan
// order. Output lines are prefixed with the image's ref.
func buildAll(ctx context.Context, b *Builder, p *plan.Plan, out io.Writer) ([]Result, error) {
	byRef := map[string]*plan.Image{}
	width := 0
	for i := range p.Images {
		byRef[p.Images[i].Ref] = &p.Images[i]
		width = max(width, len(p.Images[i].Ref))
	}
	results := map[string]Result{}
	var visit func(img *plan.Image) error
	visit = func(img *plan.Image) error {
		if _, done := results[img.Ref]; done {
			return nil
		}
		deps := map[string]string{}
		for _, d := range img.ImageDeps {
			if err := visit(byRef[d]); err != nil {
				return err
			}
			deps[d] = byRef[d].FullRef()
		}
		res, err := b.Build(ctx, p, img, deps, out, fmt.Sprintf("%-*s │ ", width, img.Ref))
		if err != nil {
			return err
		}
		results[img.Ref] = res
		return nil
	}
	var out2 []Result
	for i := range p.Images {
		if err := visit(&p.Images[i]); err != nil {
			return nil, err
		}
	}
	for _, img := range p.Images {
		out2 = append(out2, results[img.Ref])
	}
	return out2, nil
}

// TestBuildFailure checks the error of a failing RUN: the image's ref,
// BuildKit's message and the step's last log lines.
func TestBuildFailure(t *testing.T) {
	d := engine(t)
	tag := uniqueTag(t)
	dir := t.TempDir()
	var lines strings.Builder
	for i := 1; i <= 30; i++ {
		lines.WriteString("echo line-" + string(rune('a'+i%26)) + "-" + hex.EncodeToString([]byte{byte(i)}) + "; ")
	}
	writeFiles(t, dir, map[string]string{
		"Dockerfile": "FROM kiln.local/busybox:latest\nRUN " + lines.String() + "echo about to fail; exit 3\n",
	})
	img := plan.Image{Ref: "kiln-test/fail", Repo: "kiln-test/fail", Tag: tag, Context: ".", Dockerfile: "Dockerfile"}
	removeAfter(t, d, img.FullRef())
	b := New(d)
	defer b.Close()
	var out syncBuffer
	_, err := b.Build(context.Background(), &plan.Plan{Dir: dir}, &img, nil, &out, "fail │ ")
	if err == nil {
		t.Fatal("Build succeeded")
	}
	msg := err.Error()
	t.Logf("error:\n%s", msg)
	for _, want := range []string{"build kiln-test/fail: ", "exit code: 3", "about to fail", "line-", "last 20 log lines"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q", want)
		}
	}
	_, tail, _ := strings.Cut(msg, "last 20 log lines:")
	if strings.Contains(tail, "line-b-01") || !strings.Contains(tail, "line-m-0c") {
		t.Errorf("error quotes more than the last 20 lines")
	}
	if !strings.Contains(out.String(), "fail │ ") {
		t.Errorf("no prefixed progress: %q", out.String())
	}
}

// TestBuildCancel cancels a long RUN.
func TestBuildCancel(t *testing.T) {
	d := engine(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"Dockerfile": "FROM kiln.local/busybox:latest\nRUN sleep 60\n"})
	img := plan.Image{Ref: "kiln-test/cancel", Repo: "kiln-test/cancel", Tag: uniqueTag(t), Context: "."}
	removeAfter(t, d, img.FullRef())
	b := New(d)
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	start := time.Now()
	_, err := b.Build(ctx, &plan.Plan{Dir: dir}, &img, nil, nil, "")
	if err == nil {
		t.Fatal("Build succeeded")
	}
	if el := time.Since(start); el > 30*time.Second {
		t.Errorf("cancel took %v", el)
	}
	t.Logf("cancelled after %v: %v", time.Since(start), err)
}

// TestBuildCustom runs a custom_build command that tags an existing image as
// $EXPECTED_REF with the docker CLI.
func TestBuildCustom(t *testing.T) {
	d := engine(t)
	if _, err := exec.LookPath("docker"); err != nil {
		testenv.Missing(t, "no docker CLI for the custom_build command")
	}
	tag := uniqueTag(t)
	dir := t.TempDir()
	img := plan.Image{
		Ref: "localhost:5000/kiln-test/custom", Repo: "localhost:5000/kiln-test/custom", Tag: tag, Source: "custom_build",
		Custom: &plan.CustomBuild{Command: plan.Command{
			Argv: []string{"sh", "-c", `echo "ref=$EXPECTED_REF registry=$EXPECTED_REGISTRY image=$EXPECTED_IMAGE tag=$EXPECTED_TAG extra=$EXTRA in=$(basename "$PWD")" && docker tag ` + baseImage + ` "$EXPECTED_REF"`},
			Dir:  "sub",
			Env:  map[string]string{"EXTRA": "yes"},
		}},
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	removeAfter(t, d, img.FullRef())
	p := &plan.Plan{Dir: dir, Images: []plan.Image{img}}
	b := New(d)
	defer b.Close()
	var out syncBuffer
	res, err := b.Build(context.Background(), p, &p.Images[0], nil, &out, "custom │ ")
	t.Logf("output:\n%s", out.String())
	if err != nil {
		t.Fatal(err)
	}
	want := "custom │ ref=localhost:5000/kiln-test/custom:" + tag + " registry=localhost:5000 image=kiln-test/custom tag=" + tag + " extra=yes in=sub"
	if !strings.Contains(out.String(), want) || res.Skipped {
		t.Errorf("res=%+v, output lacks %q", res, want)
	}
	res, err = b.Build(context.Background(), p, &p.Images[0], nil, nil, "")
	if err != nil || !res.Skipped {
		t.Errorf("second custom build = %+v, %v; want skipped", res, err)
	}

	// A command that does not produce the image fails clearly.
	bad := plan.Image{Ref: "kiln-test/custom-bad", Repo: "kiln-test/custom-bad", Tag: tag,
		Custom: &plan.CustomBuild{Command: plan.Command{Argv: []string{"sh", "-c", "echo did nothing"}}}}
	_, err = b.Build(context.Background(), p, &bad, nil, nil, "")
	if err == nil || !strings.Contains(err.Error(), "the engine has no image kiln-test/custom-bad:"+tag) {
		t.Errorf("error = %v", err)
	}
	failing := plan.Image{Ref: "kiln-test/custom-fail", Repo: "kiln-test/custom-fail", Tag: tag,
		Custom: &plan.CustomBuild{Command: plan.Command{Argv: []string{"sh", "-c", "echo oops >&2; exit 4"}}}}
	_, err = b.Build(context.Background(), p, &failing, nil, nil, "")
	if err == nil || !strings.Contains(err.Error(), "exit status 4") || !strings.Contains(err.Error(), "oops") {
		t.Errorf("error = %v", err)
	}
}

// BenchmarkBuildSkip measures Build of an image whose tag is already in the
// engine: one inspect call.
func BenchmarkBuildSkip(b *testing.B) {
	d := engine(b)
	tag := uniqueTag(b)
	ctx := context.Background()
	img := plan.Image{Ref: "kiln-test/bench", Repo: "kiln-test/bench", Tag: tag, Context: "."}
	if err := d.Tag(ctx, baseImage, img.FullRef()); err != nil {
		b.Fatal(err)
	}
	removeAfter(b, d, img.FullRef())
	p := &plan.Plan{Dir: b.TempDir()}
	bld := New(d)
	defer bld.Close()
	b.ResetTimer()
	for b.Loop() {
		res, err := bld.Build(ctx, p, &img, nil, nil, "")
		if err != nil || !res.Skipped {
			b.Fatalf("Build = %+v, %v", res, err)
		}
	}
}
