package output

import (
	"encoding/base64"
	"sort"
	"strings"
)

// MinSecretLen is the shortest secret value that is scrubbed: shorter ones ("1", "on") would
// redact ordinary words and numbers all over the output, and hide nothing worth hiding.
const MinSecretLen = 4

// Scrubber replaces secret values in text with a placeholder naming the secret. The zero
// value and nil scrub nothing.
type Scrubber struct {
	r *strings.Replacer
}

// NewScrubber scrubs each value of secrets (value → what to call it, e.g. "ns/name:key"), and
// its base64 form, which is how it appears in a Secret's data. Values shorter than
// MinSecretLen are left alone.
func NewScrubber(secrets map[string]string) *Scrubber {
	values := make([]string, 0, len(secrets))
	for v := range secrets {
		if len(v) >= MinSecretLen {
			values = append(values, v)
		}
	}
	if len(values) == 0 {
		return nil
	}
	// Longest first, so that a secret containing another is replaced whole.
	sort.Slice(values, func(i, j int) bool {
		if len(values[i]) != len(values[j]) {
			return len(values[i]) > len(values[j])
		}
		return values[i] < values[j]
	})
	var pairs []string
	for _, v := range values {
		placeholder := "[redacted: secret " + secrets[v] + "]"
		pairs = append(pairs, v, placeholder, base64.StdEncoding.EncodeToString([]byte(v)), placeholder)
	}
	return &Scrubber{r: strings.NewReplacer(pairs...)}
}

// Scrub returns s with every secret value replaced.
func (s *Scrubber) Scrub(text string) string {
	if s == nil || s.r == nil {
		return text
	}
	return s.r.Replace(text)
}

// ScrubError returns err with its message scrubbed; errors.Is and errors.As still see err.
func (s *Scrubber) ScrubError(err error) error {
	if err == nil || s == nil || s.r == nil {
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
