package output

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"sort"
	"strconv"
	"strings"
)

// MinSecretLen is the shortest secret value that is scrubbed: shorter ones ("1", "on") would
// redact ordinary words and numbers all over the output, and hide nothing worth hiding.
const MinSecretLen = 4

// MinFragmentLen is the shortest line of a multi-line secret that is also scrubbed on its own,
// for output that re-indents or re-wraps the value (kubectl describe, YAML block scalars).
// Shorter lines are structure more than secret ("-----END-----", "kind: Config").
const MinFragmentLen = 16

// Scrubber replaces secret values in text with a placeholder naming the secret. It matches
// every form a value takes when printed: as is, base64-encoded (as in a Secret's data),
// quoted as JSON or Go quote it (newlines become \n), with CRLF line ends, and line by line for
// a multi-line value. The zero value and nil scrub nothing.
type Scrubber struct {
	byFirst [256][]form // the forms by first byte, longest first
}

type form struct{ text, placeholder string }

// NewScrubber scrubs each value of secrets (value → what to call it, e.g. "ns/name:key").
// Values shorter than MinSecretLen are left alone.
func NewScrubber(secrets map[string]string) *Scrubber {
	names := map[string]string{} // form → secret name
	add := func(text, name string) {
		if len(text) < MinSecretLen {
			return
		}
		if prev, ok := names[text]; !ok || name < prev { // two secrets, one form: be deterministic
			names[text] = name
		}
	}
	for value, name := range secrets {
		if len(value) < MinSecretLen {
			continue
		}
		add(base64.StdEncoding.EncodeToString([]byte(value)), name)
		for _, text := range printedForms(strings.TrimSpace(value)) {
			add(text, name)
		}
		for _, line := range strings.Split(value, "\n") {
			if line = strings.TrimSpace(line); len(line) >= MinFragmentLen {
				add(line, name)
			}
		}
	}
	if len(names) == 0 {
		return nil
	}
	s := &Scrubber{}
	for text, name := range names {
		s.byFirst[text[0]] = append(s.byFirst[text[0]], form{text, "[redacted: secret " + name + "]"})
	}
	for _, forms := range s.byFirst {
		sort.Slice(forms, func(i, j int) bool { // longest first, so a secret containing another is replaced whole
			if len(forms[i].text) != len(forms[j].text) {
				return len(forms[i].text) > len(forms[j].text)
			}
			return forms[i].text < forms[j].text
		})
	}
	return s
}

// printedForms are the ways a value appears in printed text: itself, quoted as JSON (with and
// without HTML escapes) and as Go's %q does, without the quotes, and with CRLF line ends.
func printedForms(v string) []string {
	forms := []string{v, strings.ReplaceAll(v, "\n", "\r\n")}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	forms = append(forms, unquote(strings.TrimSuffix(buf.String(), "\n")))
	if b, err := json.Marshal(v); err == nil {
		forms = append(forms, unquote(string(b)))
	}
	return append(forms, unquote(strconv.Quote(v)))
}

func unquote(quoted string) string { return quoted[1 : len(quoted)-1] }

// Scrub returns text with every secret form replaced.
func (s *Scrubber) Scrub(text string) string {
	if s == nil {
		return text
	}
	out, _ := s.scrub([]byte(text), true)
	return string(out)
}

// ScrubStream scrubs the next part of a stream for callers that keep their own state (the
// log manager): out is decided, rest may still be the start of a secret and must be passed
// again in front of what follows, or with final when the stream ends. rest aliases b.
func (s *Scrubber) ScrubStream(b []byte, final bool) (out, rest []byte) { return s.scrub(b, final) }

// scrub replaces every secret form in b, scanning left to right and taking the longest form
// at each position. Unless final, it stops where the rest of b could still grow into a form
// (b ends inside one), and returns that rest unscrubbed, to be scrubbed with what follows.
// The rest is shorter than the longest form.
func (s *Scrubber) scrub(b []byte, final bool) (out, rest []byte) {
	if s == nil {
		return b, nil
	}
	out = make([]byte, 0, len(b))
	for p := 0; p < len(b); {
		f, partial := s.formAt(b[p:], final)
		switch {
		case partial:
			return out, b[p:]
		case f != nil:
			out = append(out, f.placeholder...)
			p += len(f.text)
		default:
			out = append(out, b[p])
			p++
		}
	}
	return out, nil
}

// formAt returns the longest form b starts with. partial says that b is the start of a longer
// form, so the match is not known until more input comes (never when final).
func (s *Scrubber) formAt(b []byte, final bool) (f *form, partial bool) {
	forms := s.byFirst[b[0]]
	for i := range forms {
		text := forms[i].text
		if len(text) > len(b) {
			if !final && text[:len(b)] == string(b) {
				return nil, true
			}
			continue
		}
		if string(b[:len(text)]) == text {
			return &forms[i], false
		}
	}
	return nil, false
}

// ScrubError returns err with its message scrubbed; errors.Is and errors.As still see err.
func (s *Scrubber) ScrubError(err error) error {
	if err == nil || s == nil {
		return err
	}
	msg := s.Scrub(err.Error())
	if msg == err.Error() {
		return err
	}
	return scrubbedError{msg: msg, err: err}
}

type scrubbedError struct {
	msg string
	err error
}

func (e scrubbedError) Error() string { return e.msg }
func (e scrubbedError) Unwrap() error { return e.err }
