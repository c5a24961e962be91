package output

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
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

// pemKey returns a real RSA private key in PEM form: 28 lines of base64 between its header and
// footer, the way tls.key or a kubeconfig's client-key-data decode.
func pemKey(t *testing.T) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
}

// leaks returns what of a multi-line secret reached out: the value, or any line of it long
// enough to be scrubbed on its own.
func leaks(out, secret string) []string {
	var found []string
	if strings.Contains(out, strings.TrimSpace(secret)) {
		found = append(found, "the whole value")
	}
	for _, line := range strings.Split(secret, "\n") {
		if len(line) >= 16 && strings.Contains(out, line) { // MinFragmentLen

			found = append(found, line)
		}
	}
	return found
}

// TestLineWriterScrubsPEMSplitAtEveryOffset: a PEM key streamed through a LineWriter, split into
// two writes at every offset, and written a byte at a time, never prints in the clear, and the
// text around it prints whole and in order.
func TestLineWriterScrubsPEMSplitAtEveryOffset(t *testing.T) {
	key := pemKey(t)
	s := NewScrubber(map[string]string{key: "default/tls:tls.key"})
	stream := "before the key\nkey: " + key + "after the key\n"
	// The value is matched without its final newline, so the line after the key stays a line.
	want := "web          │ before the key\nweb          │ key: [redacted: secret default/tls:tls.key]\nweb          │ after the key\n"
	run := func(writes func(w *LineWriter)) string {
		var buf bytes.Buffer
		p := New(&buf)
		p.ScrubWith(s)
		w := p.Writer("web")
		writes(w)
		w.Flush()
		return buf.String()
	}
	for i := 0; i <= len(stream); i++ {
		out := run(func(w *LineWriter) {
			fmt.Fprint(w, stream[:i])
			fmt.Fprint(w, stream[i:])
		})
		if out != want {
			t.Fatalf("split at %d: got\n%s\nwant\n%s\nleaked: %q", i, out, want, leaks(out, key))
		}
	}
	out := run(func(w *LineWriter) {
		for i := 0; i < len(stream); i++ {
			fmt.Fprint(w, stream[i:i+1])
		}
	})
	if out != want {
		t.Fatalf("a byte at a time: got\n%s\nwant\n%s", out, want)
	}
}

// TestLineWriterHoldsOnlyWhatCouldBeASecret: lines print as soon as they are complete, unless
// their end could be the start of a secret; a held start that turns out not to be one prints
// unchanged, and Flush prints the rest.
func TestLineWriterHoldsOnlyWhatCouldBeASecret(t *testing.T) {
	var buf bytes.Buffer
	p := New(&buf)
	p.ScrubWith(NewScrubber(map[string]string{"line one\nline two": "ns/s:k"}))
	w := p.Writer("x")
	fmt.Fprint(w, "plain line\nline one\n")
	if got := buf.String(); got != "x            │ plain line\n" {
		t.Fatalf("after the first write: got %q, want only the plain line", got)
	}
	fmt.Fprint(w, "something else\n")
	fmt.Fprint(w, "partial")
	if !strings.Contains(buf.String(), "│ line one\n") || !strings.Contains(buf.String(), "│ something else\n") {
		t.Fatalf("a held line that was no secret did not print: %q", buf.String())
	}
	w.Flush()
	if !strings.HasSuffix(buf.String(), "│ partial\n") {
		t.Fatalf("Flush did not print the partial line: %q", buf.String())
	}
	fmt.Fprint(w, "line one\nline two\n")
	if !strings.HasSuffix(buf.String(), "│ [redacted: secret ns/s:k]\n") {
		t.Fatalf("the secret was not scrubbed: %q", buf.String())
	}
}

// TestScrubPrintedForms: a multi-line secret is scrubbed as JSON and Go quote it, with CRLF
// line ends, re-indented line by line, and inside errors.
func TestScrubPrintedForms(t *testing.T) {
	key := pemKey(t)
	s := NewScrubber(map[string]string{key: "default/tls:tls.key"})
	jsonForm, _ := json.Marshal(map[string]string{"tls.key": key})
	indented := "    " + strings.ReplaceAll(strings.TrimSpace(key), "\n", "\n    ")
	for name, text := range map[string]string{
		"json":     string(jsonForm),
		"go %q":    fmt.Sprintf("value %q", key),
		"crlf":     strings.ReplaceAll(key, "\n", "\r\n"),
		"indented": "tls.key: |\n" + indented + "\n",
	} {
		out := s.Scrub(text)
		if l := leaks(out, key); len(l) > 0 || !strings.Contains(out, "[redacted: secret default/tls:tls.key]") {
			t.Errorf("%s form: leaked %q:\n%s", name, l, out)
		}
	}
	err := s.ScrubError(fmt.Errorf("apply secret/tls: %s", jsonForm))
	if l := leaks(err.Error(), key); len(l) > 0 {
		t.Errorf("error leaked %q", l)
	}
	var buf bytes.Buffer
	p := New(&buf)
	p.ScrubWith(s)
	p.Line("tls", "key:\n%s", key)
	p.Plain("%s", indented)
	if l := leaks(buf.String(), key); len(l) > 0 {
		t.Errorf("printer leaked %q", l)
	}
}

// TestScrubStream: a multi-line secret fed one byte at a time comes out as one placeholder,
// and what is held back is never more than could still become the secret.
func TestScrubStream(t *testing.T) {
	secret := "first-line-of-the-key\nsecond-line-of-the-key\n"
	s := NewScrubber(map[string]string{secret: "ns/k:key"})
	in := "before\n" + secret + "after\n"
	var out, held []byte
	for i := 0; i < len(in); i++ {
		clear, rest := s.ScrubStream(append(held, in[i]), false)
		out = append(out, clear...)
		held = append([]byte(nil), rest...)
		if len(held) > len(secret) {
			t.Fatalf("held %d bytes, more than the secret", len(held))
		}
	}
	clear, rest := s.ScrubStream(held, true)
	out = append(out, clear...)
	if len(rest) != 0 {
		t.Fatalf("final left %q", rest)
	}
	if got := string(out); strings.Contains(got, "line-of-the-key") || !strings.Contains(got, "[redacted: secret ns/k:key]") || !strings.HasPrefix(got, "before\n") || !strings.HasSuffix(got, "after\n") {
		t.Fatalf("stream scrub = %q", got)
	}
}
