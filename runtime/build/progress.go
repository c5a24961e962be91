package build

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	bkclient "github.com/moby/buildkit/client"
	digest "github.com/opencontainers/go-digest"
)

// tailLines is how many log lines a failure error quotes.
const tailLines = 20

// ring keeps the last tailLines lines written to it.
type ring struct {
	lines []string
	next  int
	full  bool
}

func (r *ring) add(line string) {
	if r.lines == nil {
		r.lines = make([]string, tailLines)
	}
	r.lines[r.next] = line
	r.next = (r.next + 1) % tailLines
	if r.next == 0 {
		r.full = true
	}
}

func (r *ring) get() []string {
	if r.lines == nil {
		return nil
	}
	if !r.full {
		return append([]string(nil), r.lines[:r.next]...)
	}
	return append(append([]string(nil), r.lines[r.next:]...), r.lines[:r.next]...)
}

// lineWriter writes whole lines, each prefixed, to out in one Write call
// each (so parallel builds sharing a locked writer never interleave within a
// line), and keeps the last lines for error messages. It buffers a partial
// last line until the next newline or Flush.
type lineWriter struct {
	mu     sync.Mutex
	out    io.Writer
	prefix string
	buf    []byte
	tail   ring
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.emit(string(w.buf[:i]))
		w.buf = w.buf[i+1:]
	}
	return len(p), nil
}

// Flush writes a buffered partial line.
func (w *lineWriter) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.emit(string(w.buf))
		w.buf = w.buf[:0]
	}
}

func (w *lineWriter) emit(line string) {
	line = strings.TrimRight(line, "\r")
	w.tail.add(line)
	if w.out != nil {
		_, _ = io.WriteString(w.out, w.prefix+line+"\n")
	}
}

// Tail returns the last lines written.
func (w *lineWriter) Tail() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.tail.get()
}

// printer turns BuildKit's status stream into plain, prefixed lines, in the
// spirit of `docker build --progress=plain`:
//
//	#3 [2/4] RUN make
//	#3 0.412 compiling...
//	#3 DONE 1.3s
//
// It remembers the last log lines of every step and the first step that
// failed, for the error message.
type printer struct {
	w *lineWriter

	seq      map[digest.Digest]int
	names    map[digest.Digest]string
	started  map[digest.Digest]time.Time
	done     map[digest.Digest]bool
	logs     map[digest.Digest]*ring
	partial  map[logKey][]byte
	failed   digest.Digest
	warnings int
}

type logKey struct {
	v      digest.Digest
	stream int
}

func newPrinter(out io.Writer, prefix string) *printer {
	return &printer{
		w:       &lineWriter{out: out, prefix: prefix},
		seq:     map[digest.Digest]int{},
		names:   map[digest.Digest]string{},
		started: map[digest.Digest]time.Time{},
		done:    map[digest.Digest]bool{},
		logs:    map[digest.Digest]*ring{},
		partial: map[logKey][]byte{},
	}
}

func (p *printer) line(format string, args ...any) {
	_, _ = fmt.Fprintf(p.w, format+"\n", args...)
}

func (p *printer) id(d digest.Digest) int {
	n, ok := p.seq[d]
	if !ok {
		n = len(p.seq) + 1
		p.seq[d] = n
	}
	return n
}

// run consumes the status channel until it is closed.
func (p *printer) run(ch <-chan *bkclient.SolveStatus) {
	for st := range ch {
		p.handle(st)
	}
	p.flushLogs()
	p.w.Flush()
}

func (p *printer) handle(st *bkclient.SolveStatus) {
	for _, v := range st.Vertexes {
		if v.Name != "" {
			p.names[v.Digest] = v.Name
		}
		if v.Started != nil {
			if _, ok := p.started[v.Digest]; !ok {
				p.started[v.Digest] = *v.Started
				if !v.Cached {
					p.line("#%d %s", p.id(v.Digest), p.names[v.Digest])
				}
			}
		}
		if v.Completed != nil && !p.done[v.Digest] {
			p.done[v.Digest] = true
			p.flushVertexLogs(v.Digest)
			n := p.id(v.Digest)
			switch {
			case v.Error != "":
				if p.failed == "" && !strings.Contains(v.Error, "context canceled") {
					p.failed = v.Digest
				}
				p.line("#%d ERROR: %s", n, v.Error)
			case v.Cached:
				p.line("#%d CACHED %s", n, p.names[v.Digest])
			default:
				d := time.Duration(0)
				if v.Started != nil {
					d = v.Completed.Sub(*v.Started)
				}
				p.line("#%d DONE %.1fs", n, d.Seconds())
			}
		}
	}
	for _, l := range st.Logs {
		k := logKey{l.Vertex, l.Stream}
		data := append(p.partial[k], l.Data...)
		for {
			i := bytes.IndexByte(data, '\n')
			if i < 0 {
				break
			}
			p.logLine(l.Vertex, string(data[:i]))
			data = data[i+1:]
		}
		if len(data) > 0 {
			p.partial[k] = append([]byte(nil), data...)
		} else {
			delete(p.partial, k)
		}
	}
	for _, w := range st.Warnings {
		p.warnings++
		p.line("WARNING: %s", bytes.TrimSpace(w.Short))
	}
}

func (p *printer) logLine(v digest.Digest, s string) {
	s = strings.TrimRight(s, "\r")
	r := p.logs[v]
	if r == nil {
		r = &ring{}
		p.logs[v] = r
	}
	r.add(s)
	p.line("#%d %s", p.id(v), s)
}

func (p *printer) flushVertexLogs(v digest.Digest) {
	for k, data := range p.partial {
		if k.v == v {
			p.logLine(v, string(data))
			delete(p.partial, k)
		}
	}
}

func (p *printer) flushLogs() {
	for k, data := range p.partial {
		p.logLine(k.v, string(data))
		delete(p.partial, k)
	}
}

// failure describes the failing step and its last log lines, or "" when no
// step failed (e.g. a frontend or export error).
func (p *printer) failure() string {
	if p.failed == "" {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "failing step: %s", p.names[p.failed])
	if r := p.logs[p.failed]; r != nil {
		lines := r.get()
		fmt.Fprintf(&b, "\nlast %d log lines:", len(lines))
		for _, l := range lines {
			b.WriteString("\n  ")
			b.WriteString(l)
		}
	}
	return b.String()
}
