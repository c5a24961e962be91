package dockerfile

import (
	"bytes"
	"errors"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/distribution/reference"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// fuzzDockerfiles are real-looking Dockerfiles: multi-stage builds, ARGs in FROM, flags,
// continuations with comments inside, the escape directive, CRLF, a byte-order mark,
// heredocs, lower-case keywords, stages named like images.
var fuzzDockerfiles = []string{
	multiStage,
	"FROM alpine\nRUN true\n",
	"FROM golang:1.22 AS build\nCOPY . /src\nRUN go build -o /app ./cmd/app\nFROM gcr.io/distroless/static\nCOPY --from=build /app /app\nENTRYPOINT [\"/app\"]\n",
	"ARG TAG=1\nFROM --platform=$BUILDPLATFORM  kiln/base:${TAG}   AS builder\nRUN make\nfrom \\\n  # a comment inside a continuation\n\n  kiln/base:1 as second\nFROM builder\nFROM alpine\nFROM other",
	"# escape=`\r\nFROM `\r\n  mcr.microsoft.com/windows/nanoserver:ltsc2022\r\nCOPY a b\r\n",
	"\ufeffFROM debian:bookworm-slim\nRUN apt-get update\n",
	"# syntax=docker/dockerfile:1\nFROM alpine\nRUN <<EOF\necho hi\nEOF\nCOPY <<EOT /etc/x\nFROM not-an-instruction\nEOT\n",
	"ARG BASE\nFROM ${BASE:-alpine:3.20}\nARG BASE\nRUN echo $BASE\n",
	"FROM scratch\nCOPY x /x\n",
	"FROM builder AS base\nFROM base\nFROM golang AS builder\nFROM builder\n",
	"FROM alpine AS a\nFROM a AS b\nCOPY --from=a /x /y\nRUN --mount=type=bind,from=nginx:1.27,target=/n true\n",
	"FROM \\\n alpine \\\n AS \\\n x\n",
	"FROM --platform=linux/amd64 \\\n\t--platform=linux/arm64 busybox\n",
	"ARG A=al\nARG B=pine\nFROM $A$B\n",
	"FROM alp\\\nine\n",
	"FROM \\ \t\n  alpine\n",
	"FROM alpine \\  \n AS \\\r\n base\r\n",
	"FROM alpine # not a comment\n",
	"FROM  \t alpine\t\r\nWORKDIR app\nCOPY a b/\n",
	"RUN true\nFROM alpine\n",
	"FROM\n",
	"",
}

// buildArgsOf reads "KEY=VALUE" lines.
func buildArgsOf(s string) map[string]string {
	args := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && k != "" {
			args[k] = v
		}
	}
	return args
}

// FuzzRewriteFrom parses random Dockerfiles and rewrites their FROM images. Neither Parse nor
// RewriteFrom may panic; they agree on what is an error, and an error names a line. A
// rewrite with no match returns the very bytes. A rewrite of every image returns a
// Dockerfile of the same lines but its FROM instructions' ones, that parses to the same
// stages and copies with the new images; rewriting it again changes nothing; and rewriting
// each image to itself parses to the same Dockerfile.
func FuzzRewriteFrom(f *testing.F) {
	for _, df := range fuzzDockerfiles {
		f.Add(df, "")
	}
	f.Add(multiStage, "BASE=alpine\nREGISTRY=localhost:5000")
	f.Add("ARG TAG=1\nFROM kiln/base:${TAG}\n", "TAG=2")
	f.Fuzz(func(t *testing.T, df, buildArgs string) {
		args := buildArgsOf(buildArgs)
		info, copies, err := Parse([]byte(df), args)
		same, rerr := RewriteFrom([]byte(df), args, map[string]string{"kiln-no-such-image.invalid/x": "x/y:z"})
		if (err == nil) != (rerr == nil) {
			t.Fatalf("Parse: %v; RewriteFrom: %v", err, rerr)
		}
		if err != nil {
			var le *Error
			if !errors.As(err, &le) {
				t.Fatalf("Parse error %v (%T) is not an *Error", err, err)
			}
			return
		}
		if !bytes.Equal(same, []byte(df)) {
			t.Fatalf("a rewrite with no match changed the Dockerfile:\n%q\n%q", df, same)
		}
		if empty, err := RewriteFrom([]byte(df), args, nil); err != nil || !bytes.Equal(empty, []byte(df)) {
			t.Fatalf("a rewrite with no refs: %v\n%q", err, empty)
		}

		// Every image, to a new reference no FROM names yet.
		refs := map[string]string{}
		for i, st := range info.Stages {
			if _, done := refs[st.BaseName]; st.BaseStage < 0 && !done {
				refs[st.BaseName] = "kiln.test/fuzz-" + strconv.Itoa(i) + ":kiln-0123abcd"
			}
		}
		for _, v := range refs {
			if _, isKey := refs[v]; isKey {
				return // the Dockerfile already names our references
			}
		}
		out, err := RewriteFrom([]byte(df), args, refs)
		if err != nil && (!utf8.ValidString(df) || namesNonReference(info)) {
			// Bytes that are not text (FROM --\xa0), or a FROM naming something that is no
			// image reference at all (FROM \\\\): BuildKit's parser and the rewrite's scanner
			// may read them differently. An error is the right answer there; a wrong
			// rewrite never is, and the checks below still apply when it succeeds.
			return
		}
		if err != nil {
			// Only an image split across lines cannot be rewritten; the error says where.
			var le *Error
			if !errors.As(err, &le) || le.Line < 1 || !strings.Contains(err.Error(), "split across lines") {
				t.Fatalf("RewriteFrom: %v\n%q", err, df)
			}
			if !imageSplit(t, df) {
				t.Fatalf("RewriteFrom: %v, but every FROM image is written on one line\n%q", err, df)
			}
			return
		}
		info2, copies2, err := Parse(out, args)
		if err != nil {
			t.Fatalf("the rewritten Dockerfile does not parse: %v\n%q\n%q", err, df, out)
		}
		want := &Info{Stages: append([]Stage{}, info.Stages...)}
		for i, st := range want.Stages {
			if st.BaseStage < 0 {
				want.Stages[i].BaseName = refs[st.BaseName]
			}
		}
		if !reflect.DeepEqual(info2, want) {
			t.Fatalf("rewritten stages\n got %+v\nwant %+v\n%q\n%q", info2.Stages, want.Stages, df, out)
		}
		if !reflect.DeepEqual(copies2, copies) {
			t.Fatalf("rewritten copies\n got %+v\nwant %+v", copies2, copies)
		}
		checkOnlyFromLinesChanged(t, df, string(out))

		again, err := RewriteFrom(out, args, refs)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("a second rewrite changed the Dockerfile: %v\n%q\n%q", err, out, again)
		}

		// Each image to itself: the same Dockerfile, where the names are valid image
		// references (RewriteFrom refuses to write in anything else).
		identity := map[string]string{}
		for name := range refs {
			if _, err := reference.ParseNormalizedNamed(name); err == nil {
				identity[name] = name
			}
		}
		self, err := RewriteFrom([]byte(df), args, identity)
		if err != nil {
			t.Fatalf("rewriting each image to itself: %v, but the new images worked\n%q", err, df)
		}
		info3, copies3, err := Parse(self, args)
		if err != nil || !reflect.DeepEqual(info3, info) || !reflect.DeepEqual(copies3, copies) {
			t.Fatalf("rewriting each image to itself changed the Dockerfile: %v\n%q\n%q", err, df, self)
		}
	})
}

// imageSplit reports whether the image word of some FROM instruction of df, as the parser
// reads it, is not written whole (as a blank-delimited token) in the instruction's lines: a
// line continuation inside it.
func imageSplit(t *testing.T, df string) bool {
	res, err := parser.Parse(strings.NewReader(df))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(strings.TrimPrefix(df, "\ufeff"), "\n")
	for _, n := range res.AST.Children {
		if !strings.EqualFold(n.Value, "from") || n.Next == nil || n.EndLine > len(lines) {
			continue
		}
		text := strings.Join(lines[n.StartLine-1:n.EndLine], "")
		if !slices.Contains(strings.Fields(text), n.Next.Value) {
			return true
		}
	}
	return false
}

// checkOnlyFromLinesChanged fails unless after has the lines of before, but for lines that
// hold a FROM instruction.
func checkOnlyFromLinesChanged(t *testing.T, before, after string) {
	t.Helper()
	b, a := strings.Split(before, "\n"), strings.Split(after, "\n")
	if len(a) != len(b) {
		t.Fatalf("the rewrite changed the number of lines: %d to %d\n%q\n%q", len(b), len(a), before, after)
	}
	res, err := parser.Parse(strings.NewReader(before))
	if err != nil {
		t.Fatal(err)
	}
	from := map[int]bool{}
	for _, n := range res.AST.Children {
		if strings.EqualFold(n.Value, "from") {
			for l := n.StartLine; l <= n.EndLine; l++ {
				from[l] = true
			}
		}
	}
	for i := range b {
		if a[i] != b[i] && !from[i+1] {
			t.Fatalf("the rewrite changed line %d, which holds no FROM:\n%q\n%q", i+1, b[i], a[i])
		}
	}
}

// namesNonReference reports whether a stage's FROM names something that cannot be an image
// reference.
func namesNonReference(info *Info) bool {
	for _, st := range info.Stages {
		if st.BaseStage < 0 && st.BaseName != Scratch {
			if _, err := reference.ParseNormalizedNamed(st.BaseName); err != nil {
				return true
			}
		}
	}
	return false
}
