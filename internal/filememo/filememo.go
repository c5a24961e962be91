// Package filememo keeps what kiln computed from files (their bytes, a build context's hash)
// for as long as a file watcher vouches that those files did not change, so that a
// re-evaluation under kiln watch reads and walks only what changed.
//
// A value is kept only when every file or tree it came from was already watched before it was
// computed: a change can then not fall between the read and the watch. A watch that ends, or is
// replaced, ends what it vouched for. The watcher's batches drop the values whose files changed
// (Changed), and a batch that may have lost events drops them all (Reset).
package filememo

import (
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// Vouch says which watch covers path: a token that stays the same for as long as path is
// watched without interruption, or nil when it is not watched (or not reliably). Tokens are
// compared with ==.
type Vouch func(path string) any

// DefaultMaxBytes bounds the sizes given to Put, in total: a project that reads more than this
// is re-read beyond it, not held in memory.
const DefaultMaxBytes = 64 << 20

// resetOver is the batch size from which Changed drops everything instead of matching each path
// against each root (a branch switch, a generated tree).
const resetOver = 256

// maxSlots bounds the keys a Memo tracks, values or not.
const maxSlots = 100_000

// Memo is safe for concurrent use. A nil *Memo keeps nothing.
type Memo struct {
	vouch    Vouch
	maxBytes int64

	mu     sync.Mutex
	slots  map[string]*slot   // by key
	byRoot map[string][]*slot // by each root of each slot
	bytes  int64
}

type slot struct {
	key     string
	roots   []string
	tokens  []any // what vouched for each root when the value was computed
	value   any
	size    int64
	version uint64 // bumped by every drop, so that a Put computed before it is refused
	has     bool
}

// Ticket is what Get gives on a miss, for Put.
type Ticket struct {
	s       *slot
	version uint64
	tokens  []any
}

// New returns a Memo whose values are vouched for by vouch.
func New(vouch Vouch) *Memo {
	return &Memo{vouch: vouch, maxBytes: DefaultMaxBytes, slots: map[string]*slot{}, byRoot: map[string][]*slot{}}
}

// Get returns the value kept under key, computed from the files or trees at roots (absolute,
// clean paths), if the same watches still vouch for every root. Otherwise it returns a Ticket:
// compute the value now, then Put it.
func (m *Memo) Get(key string, roots ...string) (any, Ticket, bool) {
	if m == nil {
		return nil, Ticket{}, false
	}
	tokens := make([]any, len(roots))
	vouched := true
	for i, r := range roots {
		tokens[i] = m.vouch(r)
		vouched = vouched && tokens[i] != nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.slots[key]
	if s != nil && !slices.Equal(s.roots, roots) {
		m.dropLocked(s)
		m.unindexLocked(s)
		s = nil
	}
	if s == nil {
		if len(m.slots) >= maxSlots {
			// Keys only accumulate (every file ever read): start over rather than grow.
			m.slots, m.byRoot, m.bytes = map[string]*slot{}, map[string][]*slot{}, 0
		}
		s = &slot{key: key, roots: append([]string(nil), roots...)}
		m.slots[key] = s
		for _, r := range s.roots {
			m.byRoot[r] = append(m.byRoot[r], s)
		}
	}
	if s.has && vouched && slices.Equal(s.tokens, tokens) {
		return s.value, Ticket{}, true
	}
	m.dropLocked(s)
	if !vouched {
		return nil, Ticket{}, false // a Put with this ticket keeps nothing
	}
	return nil, Ticket{s: s, version: s.version, tokens: tokens}, false
}

// Put keeps value, of about size bytes, for the Get that gave t, unless one of its files
// changed meanwhile or the memory bound is reached.
func (m *Memo) Put(t Ticket, value any, size int64) {
	if m == nil || t.s == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s := t.s
	if m.slots[s.key] != s || s.version != t.version || s.has || m.bytes+size > m.maxBytes {
		return
	}
	s.value, s.size, s.tokens, s.has = value, size, t.tokens, true
	m.bytes += size
}

// Changed drops the values computed from paths (absolute, as the watcher reports them): a file
// itself, anything inside a directory, and any tree a removed or renamed directory held.
func (m *Memo) Changed(paths []string) {
	if m == nil || len(paths) == 0 {
		return
	}
	if len(paths) > resetOver {
		m.Reset()
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range paths {
		p = filepath.Clean(p)
		for q := p; ; { // p itself and the trees that hold it
			for _, s := range m.byRoot[q] {
				m.dropLocked(s)
			}
			up := filepath.Dir(q)
			if up == q {
				break
			}
			q = up
		}
		prefix := p + string(filepath.Separator)
		if p == string(filepath.Separator) {
			prefix = p
		}
		for r, slots := range m.byRoot { // what a removed or renamed directory held
			if strings.HasPrefix(r, prefix) {
				for _, s := range slots {
					m.dropLocked(s)
				}
			}
		}
	}
}

// Reset drops every value: the watcher may have missed events.
func (m *Memo) Reset() {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range m.slots {
		m.dropLocked(s)
	}
}

// Len returns how many values are kept, for tests and diagnostics.
func (m *Memo) Len() int {
	if m == nil {
		return 0
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, s := range m.slots {
		if s.has {
			n++
		}
	}
	return n
}

func (m *Memo) dropLocked(s *slot) {
	s.version++
	if s.has {
		m.bytes -= s.size
		s.value, s.size, s.tokens, s.has = nil, 0, nil, false
	}
}

// unindexLocked forgets s, whose key now names other roots.
func (m *Memo) unindexLocked(s *slot) {
	delete(m.slots, s.key)
	for _, r := range s.roots {
		list := m.byRoot[r]
		for i, o := range list {
			if o == s {
				list = append(list[:i], list[i+1:]...)
				break
			}
		}
		if len(list) == 0 {
			delete(m.byRoot, r)
		} else {
			m.byRoot[r] = list
		}
	}
}
