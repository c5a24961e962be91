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
	p.write(resource, fmt.Sprintf(format, args...))
}

func (p *Printer) write(resource, line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(resource) > p.width {
		p.width = len(resource)
	}
	fmt.Fprintf(p.w, "%-*s │ %s\n", p.width, resource, p.scrub.Scrub(line))
}

// Plain prints a line without a resource column.
func (p *Printer) Plain(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintln(p.w, p.scrub.Scrub(fmt.Sprintf(format, args...)))
}

// Writer returns an io.Writer whose output becomes lines of the resource. Partial lines are
// held until their newline, or until Flush.
func (p *Printer) Writer(resource string) *LineWriter {
	return &LineWriter{p: p, resource: resource}
}

// LineWriter splits what is written into lines for a Printer.
type LineWriter struct {
	p        *Printer
	resource string
	mu       sync.Mutex
	buf      bytes.Buffer
}

func (w *LineWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(b)
	for {
		i := bytes.IndexByte(w.buf.Bytes(), '\n')
		if i < 0 {
			break
		}
		line := string(bytes.TrimRight(w.buf.Next(i+1), "\r\n"))
		w.p.write(w.resource, line)
	}
	return len(b), nil
}

// Flush prints a trailing partial line.
func (w *LineWriter) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.buf.Len() > 0 {
		w.p.write(w.resource, w.buf.String())
		w.buf.Reset()
	}
}
