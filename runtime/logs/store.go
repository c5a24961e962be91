package logs

import (
	"fmt"
	"sort"
)

// store holds one resource's lines: the newest in a ring in memory, older ones in spill
// segments, and a count of those dropped to keep within bounds.
type store struct {
	name          string
	ring          []Line // capacity MemoryLines
	head, n       int
	bytes         int // of text in the ring
	segs          []*segment
	dropped       uint64 // lines gone for good
	droppedSeq    uint64 // the Seq of the newest of them
	showContainer bool
}

func lineBytes(l Line) int { return len(l.Text) + len(l.Pod) + len(l.Container) + 64 }

// push adds l and returns the lines that no longer fit in memory, oldest first.
func (s *store) push(l Line, maxBytes int, evicted []Line) []Line {
	for s.n > 0 && (s.n == len(s.ring) || s.bytes+lineBytes(l) > maxBytes) {
		old := s.ring[s.head]
		s.ring[s.head] = Line{}
		s.head = (s.head + 1) % len(s.ring)
		s.n--
		s.bytes -= lineBytes(old)
		evicted = append(evicted, old)
	}
	s.ring[(s.head+s.n)%len(s.ring)] = l
	s.n++
	s.bytes += lineBytes(l)
	return evicted
}

// memory appends the lines in memory that q selects.
func (s *store) memory(q Query, out []Line) []Line {
	for i := 0; i < s.n; i++ {
		if l := s.ring[(s.head+i)%len(s.ring)]; q.match(l) {
			out = append(out, l)
		}
	}
	return out
}

func (s *store) drop(n, seq uint64) {
	s.dropped += n
	if seq > s.droppedSeq {
		s.droppedSeq = seq
	}
}

// marker is the line that stands for the dropped lines, at the Seq of the newest of them.
func (s *store) marker() Line {
	return Line{Seq: s.droppedSeq, Resource: s.name, Kiln: true,
		Text: fmt.Sprintf("[kiln: %d older lines dropped to stay within the log bounds]", s.dropped)}
}

// spill moves evicted lines of s to disk, or drops them when there is no spill directory;
// then it removes the oldest segments of all resources until the spill is within its bound.
// The caller holds m.mu.
func (m *Manager) spill(s *store, lines []Line) {
	for _, l := range lines {
		if m.spillDir == "" || !m.spillLine(s, l) {
			s.drop(1, l.Seq)
		}
	}
	for m.spillTotal > m.opts.SpillBytes {
		m.dropOldestSegment()
	}
}

func (m *Manager) spillLine(s *store, l Line) bool {
	segMax := min(max(m.opts.SpillBytes/16, 64<<10), 4<<20)
	if len(s.segs) == 0 || s.segs[len(s.segs)-1].size >= segMax {
		if len(s.segs) > 0 {
			s.segs[len(s.segs)-1].flush()
		}
		m.segN++
		seg, err := createSegment(m.spillDir, m.segN)
		if err != nil {
			return false
		}
		s.segs = append(s.segs, seg)
	}
	n, err := s.segs[len(s.segs)-1].append(l)
	m.spillTotal += n
	return err == nil
}

func (m *Manager) dropOldestSegment() {
	var oldest *store
	for _, s := range m.stores {
		if len(s.segs) > 0 && (oldest == nil || s.segs[0].first < oldest.segs[0].first) {
			oldest = s
		}
	}
	if oldest == nil {
		m.spillTotal = 0
		return
	}
	seg := oldest.segs[0]
	oldest.segs = oldest.segs[1:]
	seg.remove()
	m.spillTotal -= seg.size
	oldest.drop(seg.lines, seg.last)
}

type spilled struct {
	path, resource string
	size           int64
}

// Lines returns the stored lines q selects, in Seq order: a marker for lines dropped, then
// those spilled to disk, then those in memory.
func (m *Manager) Lines(q Query) ([]Line, error) {
	var out []Line
	var files []spilled
	m.mu.Lock()
	for _, s := range m.stores {
		if !q.wants(s.name) {
			continue
		}
		if s.dropped > 0 && s.droppedSeq > q.After {
			out = append(out, s.marker())
		}
		for _, seg := range s.segs {
			if seg.last <= q.After {
				continue
			}
			if err := seg.flush(); err != nil {
				continue
			}
			files = append(files, spilled{seg.path, s.name, seg.size})
		}
		out = s.memory(q, out)
	}
	m.mu.Unlock()
	// The files are read without the lock; one removed meanwhile lost its lines to the bound.
	for _, f := range files {
		err := readSegment(f.path, f.resource, f.size, func(l Line) {
			if q.match(l) {
				out = append(out, l)
			}
		})
		if err != nil && !isNotExist(err) {
			return nil, err
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	return out, nil
}
