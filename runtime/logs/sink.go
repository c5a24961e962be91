package logs

import (
	"bytes"
	"sync"
	"time"
)

const truncatedMarker = " … [kiln: line truncated]"

// sink turns one source (a container's stream, a local command's output) into stored lines.
// It scrubs the stream, not each line, so a secret spanning lines is still found; bytes that
// could be the start of one are held until what follows decides, or until the sink is idle.
type sink struct {
	m        *Manager
	tmpl     Line // Resource, Pod, Container, Previous, Local
	mu       sync.Mutex
	held     []byte    // not yet scrubbed: it may be the start of a secret
	clear    []byte    // scrubbed, waiting for its newline
	dropping bool      // the current line was truncated: drop the rest of it
	ts       time.Time // the stamp of the newest input line; zero for local output
	fed      time.Time // when input last came, for the idle flush
	closed   bool
}

// line takes one whole input line from a pod stream (without its newline). cut says the
// reader dropped the end of it.
func (s *sink) line(text []byte, ts time.Time, cut bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.ts, s.fed = ts, s.m.opts.Now()
	s.held = append(s.held, text...)
	if !cut {
		s.held = append(s.held, '\n')
		s.release(false)
		return
	}
	// What is held at the cut may be half a secret: drop it rather than let it through.
	out, _ := s.m.scrubber().ScrubStream(s.held, false)
	s.clear = append(s.clear, out...)
	s.held = s.held[:0]
	s.clear = append(s.clear, truncatedMarker+"\n"...)
	s.emit()
}

// Write takes local output in any chunks.
func (s *sink) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, ErrClosed
	}
	s.fed = s.m.opts.Now()
	s.held = append(s.held, b...)
	s.release(false)
	return len(b), nil
}

// Close flushes what is held and a trailing partial line.
func (s *sink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.release(true)
	if len(s.clear) > 0 && !s.dropping {
		s.add(s.clear)
	}
	s.clear, s.held, s.closed = nil, nil, true
	s.m.dropSink(s)
	return nil
}

// flushIdle releases held bytes that waited longer than d: a program that printed the start
// of something secret-shaped and stopped would otherwise show nothing.
func (s *sink) flushIdle(now time.Time, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed && len(s.held) > 0 && now.Sub(s.fed) >= d {
		s.release(true)
	}
}

// release scrubs what can be decided (all of it when final) and stores the complete lines.
func (s *sink) release(final bool) {
	out, rest := s.m.scrubber().ScrubStream(s.held, final)
	s.clear = append(s.clear, out...)
	s.held = append(s.held[:0], rest...) // rest is the tail of held: copy it down
	s.emit()
}

// emit stores each complete line of clear, and truncates a line that grew too long.
func (s *sink) emit() {
	max := s.m.opts.MaxLineBytes
	rest := s.clear
	for {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			break
		}
		if s.dropping {
			s.dropping = false
		} else if i > max { // a whole long line that came in one write
			s.add(append(rest[:max:max], truncatedMarker...))
		} else {
			s.add(rest[:i])
		}
		rest = rest[i+1:]
	}
	if len(rest) > max {
		if !s.dropping {
			s.add(append(rest[:max:max], truncatedMarker...))
			s.dropping = true
		}
		rest = rest[:0]
	}
	s.clear = append(s.clear[:0], rest...)
}

func (s *sink) add(text []byte) {
	l := s.tmpl
	l.Text = string(bytes.TrimSuffix(text, []byte("\r")))
	l.Time = s.ts
	if l.Time.IsZero() {
		l.Time = s.m.opts.Now()
	}
	s.m.add(l)
}
