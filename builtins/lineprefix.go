package builtins

import (
	"bytes"
	"io"
	"sync"
)

// linePrefixer writes output with a prefix at the start of each line. Each Write becomes one
// write to w, whatever it holds: whole lines and the start of the next, prefixes included.
// Prefixers that share a writer share mu, so that their writes never interleave mid-write.
type linePrefixer struct {
	w       io.Writer
	prefix  []byte
	mu      *sync.Mutex
	atStart bool
	out     []byte // reused between writes
}

func newLinePrefixer(w io.Writer, prefix string, mu *sync.Mutex) *linePrefixer {
	return &linePrefixer{w: w, prefix: []byte(prefix), mu: mu, atStart: true}
}

func (p *linePrefixer) Write(b []byte) (int, error) {
	out := p.out[:0]
	for rest := b; len(rest) > 0; {
		if p.atStart {
			out = append(out, p.prefix...)
			p.atStart = false
		}
		line := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line = rest[:i+1]
			p.atStart = true
		}
		out = append(out, line...)
		rest = rest[len(line):]
	}
	p.out = out
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, err := p.w.Write(out); err != nil {
		return 0, err
	}
	return len(b), nil
}
