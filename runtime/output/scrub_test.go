package output

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestScrubber(t *testing.T) {
	s := NewScrubber(map[string]string{
		"hunter2hunter2": "default/db:password",
		"hunter2":        "default/db:short",
		"on":             "default/db:flag", // too short to scrub
	})
	for in, want := range map[string]string{
		"password is hunter2hunter2.":   "password is [redacted: secret default/db:password].",
		"just hunter2":                  "just [redacted: secret default/db:short]",
		"b64 aHVudGVyMmh1bnRlcjI= here": "b64 [redacted: secret default/db:password] here",
		"turn it on":                    "turn it on",
	} {
		if got := s.Scrub(in); got != want {
			t.Errorf("Scrub(%q) = %q, want %q", in, got, want)
		}
	}
	if NewScrubber(map[string]string{"ab": "x"}) != nil {
		t.Error("only short values: want a nil scrubber")
	}
	var none *Scrubber
	if none.Scrub("hunter2") != "hunter2" {
		t.Error("a nil scrubber must leave text alone")
	}
}

func TestScrubError(t *testing.T) {
	s := NewScrubber(map[string]string{"s3cr3t-token": "ns/api:token"})
	err := s.ScrubError(fmt.Errorf("container log: auth with s3cr3t-token failed: %w", context.Canceled))
	if strings.Contains(err.Error(), "s3cr3t-token") || !strings.Contains(err.Error(), "ns/api:token") {
		t.Errorf("error not scrubbed: %v", err)
	}
	if !errors.Is(err, context.Canceled) {
		t.Error("a scrubbed error must still unwrap to its cause")
	}
}

func TestPrinterScrubs(t *testing.T) {
	var buf bytes.Buffer
	p := New(&buf)
	p.ScrubWith(NewScrubber(map[string]string{"s3cr3t-token": "ns/api:token"}))
	p.Line("api", "token=%s", "s3cr3t-token")
	w := p.Writer("api")
	fmt.Fprint(w, "partial s3cr3t-")
	fmt.Fprint(w, "token split across writes\n")
	p.Plain("plain s3cr3t-token")
	if strings.Contains(buf.String(), "s3cr3t") {
		t.Errorf("a secret reached the output:\n%s", buf.String())
	}
}
