// Package output owns the terminal: every line is written whole, prefixed with the resource
// it belongs to, so that concurrent builds and deploys never interleave mid-line.
package output

import (
	"bytes"
	"fmt"
	"io"
	"sync"
)

// Printer writes prefixed lines to one writer. It is safe for concurrent use.
type Printer struct {
	mu    sync.Mutex
	w     io.Writer
	width int // the widest prefix seen, so that columns line up
	scrub *Scrubber
}

// New returns a printer writing to w.
func New(w io.Writer) *Printer { return &Printer{w: w, width: 12} }

// ScrubWith makes the printer replace secret values in everything it prints from now on.
func (p *Printer) ScrubWith(s *Scrubber) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.scrub = s
}

// Line prints one line for a resource.
func (p *Printer) Line(resource, format string, args ...any) {
	p.write(resource, p.scrubber().Scrub(fmt.Sprintf(format, args...)))
}

// Scrub returns text with the secret values replaced, as Line would print it.
func (p *Printer) Scrub(text string) string { return p.scrubber().Scrub(text) }

func (p *Printer) scrubber() *Scrubber {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.scrub
}

// write prints a line that is already scrubbed.
func (p *Printer) write(resource, line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(resource) > p.width {
		p.width = len(resource)
	}
	fmt.Fprintf(p.w, "%-*s │ %s\n", p.width, resource, line)
}

// Plain prints a line without a resource column.
func (p *Printer) Plain(format string, args ...any) {
	line := p.scrubber().Scrub(fmt.Sprintf(format, args...))
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintln(p.w, line)
}

// Writer returns an io.Writer whose output becomes lines of the resource. Partial lines are
// held until their newline, or until Flush.
func (p *Printer) Writer(resource string) *LineWriter {
	return &LineWriter{p: p, resource: resource}
}

// LineWriter splits what is written into lines for a Printer. It scrubs the stream, not each
// line: a secret may span lines and arrive split over many writes. Output that could be the
// start of a secret is held back until the bytes after it decide (at most the length of the
// longest secret form), or until Flush.
type LineWriter struct {
	p        *Printer
	resource string
	mu       sync.Mutex
	held     []byte       // not yet scrubbed: it may be the start of a secret
	line     bytes.Buffer // scrubbed, waiting for its newline
}

func (w *LineWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.held = append(w.held, b...)
	w.release(false)
	return len(b), nil
}

// release scrubs what can be decided (all of it when final) and prints the complete lines.
func (w *LineWriter) release(final bool) {
	clear, rest := w.p.scrubber().scrub(w.held, final)
	w.line.Write(clear)
	w.held = append(w.held[:0], rest...) // rest is the tail of held: copy it down
	for {
		i := bytes.IndexByte(w.line.Bytes(), '\n')
		if i < 0 {
			break
		}
		w.p.write(w.resource, string(bytes.TrimRight(w.line.Next(i+1), "\r\n")))
	}
}

// Flush prints what is held and a trailing partial line.
func (w *LineWriter) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.release(true)
	if w.line.Len() > 0 {
		w.p.write(w.resource, w.line.String())
		w.line.Reset()
	}
}
