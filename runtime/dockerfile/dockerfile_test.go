package dockerfile

import (
	"errors"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

const multiStage = `# syntax=docker/dockerfile:1
ARG GO_VERSION=1.22
ARG BASE=debian:bookworm-slim
ARG REGISTRY

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS Build
WORKDIR /src
ENV OUT=/out
COPY go.mod go.sum ./
COPY . .
RUN --mount=type=cache,target=/root/.cache/go-build --mount=type=bind,from=tools,source=/x,target=/y go build -o $OUT/app .

FROM alpine:3.20 AS tools
RUN apk add curl

FROM ${REGISTRY:-docker.io}/library/${BASE} AS runtime
COPY --from=build /out/app /usr/local/bin/app
ADD --chmod=644 config.yaml /etc/app/
COPY --from=nginx:1.27 /etc/nginx/nginx.conf /etc/nginx/

FROM scratch AS export
COPY --from=1 /usr/bin/curl /curl

FROM runtime
`

func TestParseMultiStage(t *testing.T) {
	info, copies, err := Parse([]byte(multiStage), nil)
	if err != nil {
		t.Fatal(err)
	}
	plat := "linux/" + runtime.GOARCH
	want := []Stage{
		{Name: "build", BaseName: "golang:1.22", BaseStage: -1, Platform: plat, Uses: []string{"tools"}, Line: 6},
		{Name: "tools", BaseName: "alpine:3.20", BaseStage: -1, Line: 13},
		{Name: "runtime", BaseName: "docker.io/library/debian:bookworm-slim", BaseStage: -1, Uses: []string{"build", "nginx:1.27"}, Line: 16},
		{Name: "export", BaseName: "scratch", BaseStage: -1, Uses: []string{"1"}, Line: 21},
		{Name: "", BaseName: "runtime", BaseStage: 2, Line: 24},
	}
	if !reflect.DeepEqual(info.Stages, want) {
		t.Fatalf("stages:\n got %+v\nwant %+v", info.Stages, want)
	}
	wantCopies := []Copy{
		{Stage: 0, Sources: []string{"go.mod", "go.sum"}, Dest: "./", Workdir: "/src", Line: 9},
		{Stage: 0, Sources: []string{"."}, Dest: ".", Workdir: "/src", Line: 10},
		{Stage: 2, Sources: []string{"/out/app"}, Dest: "/usr/local/bin/app", From: "build", Line: 17},
		{Stage: 2, Add: true, Sources: []string{"config.yaml"}, Dest: "/etc/app/", Line: 18},
		{Stage: 2, Sources: []string{"/etc/nginx/nginx.conf"}, Dest: "/etc/nginx/", From: "nginx:1.27", Line: 19},
		{Stage: 3, Sources: []string{"/usr/bin/curl"}, Dest: "/curl", From: "1", Line: 22},
	}
	if !reflect.DeepEqual(copies, wantCopies) {
		t.Fatalf("copies:\n got %+v\nwant %+v", copies, wantCopies)
	}
}

func TestParseBuildArgOverrides(t *testing.T) {
	info, _, err := Parse([]byte(multiStage), map[string]string{
		"GO_VERSION":    "1.23",
		"REGISTRY":      "registry.local:5000",
		"BUILDPLATFORM": "linux/arm64",
		"UNDECLARED":    "ignored",
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Stages[0].BaseName; got != "golang:1.23" {
		t.Errorf("build base = %q", got)
	}
	if got := info.Stages[0].Platform; got != "linux/arm64" {
		t.Errorf("build platform = %q", got)
	}
	if got := info.Stages[2].BaseName; got != "registry.local:5000/library/debian:bookworm-slim" {
		t.Errorf("runtime base = %q", got)
	}
}

func TestArgDefaultsReferToEarlierArgs(t *testing.T) {
	df := "ARG V=3.19\nARG IMG=alpine:$V\nFROM $IMG\nARG V\nCOPY a-$V /b\n"
	info, copies, err := Parse([]byte(df), map[string]string{"V": "3.20"})
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Stages[0].BaseName; got != "alpine:3.20" {
		t.Errorf("base = %q", got)
	}
	// A stage-level ARG without default takes the build arg.
	if got := copies[0].Sources; !reflect.DeepEqual(got, []string{"a-3.20"}) {
		t.Errorf("sources = %q", got)
	}
	info, copies, err = Parse([]byte(df), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Stages[0].BaseName; got != "alpine:3.19" {
		t.Errorf("base = %q", got)
	}
	if got := copies[0].Sources; !reflect.DeepEqual(got, []string{"a-3.19"}) {
		t.Errorf("sources (global ARG inherited) = %q", got)
	}
}

func TestBaseImages(t *testing.T) {
	info, _, err := Parse([]byte(multiStage), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		target string
		want   []string
	}{
		{"", []string{"golang:1.22", "alpine:3.20", "docker.io/library/debian:bookworm-slim"}},
		{"tools", []string{"alpine:3.20"}},
		{"build", []string{"golang:1.22", "alpine:3.20"}}, // RUN --mount=from=tools
		{"runtime", []string{"golang:1.22", "alpine:3.20", "docker.io/library/debian:bookworm-slim"}},
		{"export", []string{"alpine:3.20"}}, // COPY --from=1; scratch is not an image
		{"EXPORT", []string{"alpine:3.20"}},
		{"nope", nil},
	} {
		if got := BaseImages(info, tc.target); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("BaseImages(%q) = %q, want %q", tc.target, got, tc.want)
		}
	}
}

func TestErrorsNameTheLine(t *testing.T) {
	for _, tc := range []struct {
		df   string
		line int
		msg  string
	}{
		{"FROM alpine\nRUN true\nFORM busybox\n", 3, "unknown instruction"},
		{"FROM alpine\n\nCOPY onlyone\n", 3, "COPY requires at least two arguments"},
		{"ARG X\nFROM $X\n", 2, "should not be blank"},
		{"RUN true\nFROM alpine\n", 1, "before the first FROM"},
		{"FROM alpine AS\n", 1, "FROM requires either one or three arguments"},
		{"FROM alpine\nCOPY --nope a b\n", 2, "unknown flag"},
	} {
		_, _, err := Parse([]byte(tc.df), nil)
		var de *Error
		if !errors.As(err, &de) {
			t.Errorf("%q: error %v is not an *Error", tc.df, err)
			continue
		}
		if de.Line != tc.line || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%q: got line %d %q, want line %d containing %q", tc.df, de.Line, err, tc.line, tc.msg)
		}
		if !strings.HasPrefix(err.Error(), "Dockerfile line ") || strings.Count(err.Error(), "line") > 1 && strings.Contains(err.Error(), "parse error on line") {
			t.Errorf("%q: badly formatted error %q", tc.df, err)
		}
	}
	if _, _, err := Parse([]byte("# just a comment\n"), nil); err == nil {
		t.Error("no FROM: want an error")
	}
}

func TestRewriteFrom(t *testing.T) {
	df := "\ufeff# comment\nARG TAG=1\n" +
		"FROM --platform=$BUILDPLATFORM  kiln/base:${TAG}   AS builder\n" +
		"RUN make\n" +
		"from \\\n" +
		"  # a comment inside a continuation\n" +
		"\n" +
		"  kiln/base:1 as second\n" +
		"FROM builder\n" +
		"FROM alpine\n" +
		"FROM other"
	refs := map[string]string{
		"kiln/base:1": "localhost:5000/kiln-base:kiln-0123abcd",
		"builder":     "must-not-be-used",
		"other":       "other:new",
	}
	got, err := RewriteFrom([]byte(df), nil, refs)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.NewReplacer(
		"kiln/base:${TAG}", "localhost:5000/kiln-base:kiln-0123abcd",
		"  kiln/base:1 as", "  localhost:5000/kiln-base:kiln-0123abcd as",
		"FROM other", "FROM other:new",
	).Replace(df)
	if string(got) != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
	// With a build arg the first FROM no longer names kiln/base:1.
	got, err = RewriteFrom([]byte(df), map[string]string{"TAG": "2"}, refs)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(got), "kiln/base:${TAG}") || strings.Contains(string(got), "  kiln/base:1 as") {
		t.Fatalf("build arg not honoured:\n%s", got)
	}
	// No match: the very same bytes.
	same, err := RewriteFrom([]byte(df), nil, map[string]string{"nope": "x"})
	if err != nil || string(same) != df {
		t.Fatalf("unchanged rewrite: %v %q", err, same)
	}
	if _, err := RewriteFrom([]byte(df), nil, map[string]string{"other": "bad ref"}); err == nil {
		t.Fatal("a replacement with a space must be refused")
	}
}

func TestRewriteFromEscapeDirective(t *testing.T) {
	df := "# escape=`\r\nFROM `\r\n  mcr.microsoft.com/windows/nanoserver:ltsc2022\r\nCOPY a b\r\n"
	got, err := RewriteFrom([]byte(df), nil, map[string]string{"mcr.microsoft.com/windows/nanoserver:ltsc2022": "x/y:z"})
	if err != nil {
		t.Fatal(err)
	}
	if want := "# escape=`\r\nFROM `\r\n  x/y:z\r\nCOPY a b\r\n"; string(got) != want {
		t.Fatalf("got %q want %q", got, want)
	}
}

func TestCopyExpansionAndWorkdir(t *testing.T) {
	df := `FROM golang:1.22 AS build
ARG APP=svc
ENV OUT=/out HOME_DIR=/home/$APP
WORKDIR /src
WORKDIR $APP
COPY cmd/${APP} ./cmd/
FROM build AS child
COPY x $OUT/
COPY <<EOF /etc/motd
hello
EOF
`
	info, copies, err := Parse([]byte(df), map[string]string{"APP": "api"})
	if err != nil {
		t.Fatal(err)
	}
	want := []Copy{
		{Stage: 0, Sources: []string{"cmd/api"}, Dest: "./cmd/", Workdir: "/src/api", Line: 6},
		{Stage: 1, Sources: []string{"x"}, Dest: "/out/", Workdir: "/src/api", Line: 8},
		{Stage: 1, Dest: "/etc/motd", Workdir: "/src/api", Line: 9},
	}
	if !reflect.DeepEqual(copies, want) {
		t.Fatalf("copies:\n got %+v\nwant %+v", copies, want)
	}
	if info.Stages[1].BaseStage != 0 {
		t.Fatalf("child base stage = %d", info.Stages[1].BaseStage)
	}
	if got := BaseImages(info, "child"); !reflect.DeepEqual(got, []string{"golang:1.22"}) {
		t.Fatalf("BaseImages(child) = %q", got)
	}
}
