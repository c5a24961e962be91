package logs

import "fmt"

// subscriber is a live tail. Lines are offered without blocking; one that finds the buffer
// full is dropped, and the subscriber is owed an Overflow marker, sent as soon as there is
// room again, naming the last Seq it got so that it can re-read the rest with Lines.
type subscriber struct {
	q      Query
	ch     chan Line
	last   uint64 // the Seq of the last line delivered (or of the newest line at Subscribe)
	behind bool
}

func (s *subscriber) offer(l Line) {
	if !s.q.match(l) || !s.catchUp() {
		return
	}
	select {
	case s.ch <- l:
		s.last = l.Seq
	default:
		s.behind = true
	}
}

// catchUp sends the owed marker, if any, and reports whether the subscriber is up to date.
func (s *subscriber) catchUp() bool {
	if !s.behind {
		return true
	}
	marker := Line{Seq: s.last, Kiln: true, Overflow: true,
		Text: fmt.Sprintf("[kiln: fell behind: lines after %d were not delivered here]", s.last)}
	select {
	case s.ch <- marker:
		s.behind = false
		return true
	default:
		return false
	}
}

// Subscribe follows the lines q selects from now on; the channel closes when stop is called
// or the manager closes. To read the history and then follow without a gap, subscribe first,
// then call Lines, and skip from the channel what has a Seq not above the last line read.
func (m *Manager) Subscribe(q Query) (<-chan Line, func()) {
	s := &subscriber{q: q, ch: make(chan Line, m.opts.SubscriberBuffer)}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		close(s.ch)
		return s.ch, func() {}
	}
	s.last = m.seq
	m.subs[s] = struct{}{}
	return s.ch, func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		if _, ok := m.subs[s]; ok {
			delete(m.subs, s)
			close(s.ch)
		}
	}
}
