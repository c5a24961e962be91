// Package status is the store of what a kiln session is doing: one object per resource,
// image, apply, live update, local resource, file watch, forward and log stream, each with
// a spec (what was asked) and a status (what happened). The engine writes it; the local API,
// `kiln get`, the terminal view and the web page read it and subscribe to its changes.
//
// Objects are stored as JSON, marshalled when they are put: a reader can never see a value
// the engine is still changing, and the API serves the bytes as they are.
package status

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"time"
)

// Object is one entry of the store.
type Object struct {
	Kind string          `json:"kind"`
	Name string          `json:"name"`
	Spec json.RawMessage `json:"spec,omitempty"`
	// Status is the last status put; Error repeats its error, if any, for listings.
	Status  json.RawMessage `json:"status,omitempty"`
	Created time.Time       `json:"created"`
	Updated time.Time       `json:"updated"`
	// Version is the store's version when the object last changed: a reader that has seen
	// version v asks for what changed after v (Store.Since).
	Version uint64 `json:"version"`
	// Deleted marks an object removed after version Version (only in Since's answer).
	Deleted bool `json:"deleted,omitempty"`
}

type key struct{ kind, name string }

// Store holds the objects. Its zero value is not usable; call New.
type Store struct {
	mu      sync.Mutex
	version uint64
	objects map[key]*Object
	// tombstones remember deletions so that Since can report them, bounded by maxTombstones.
	tombstones []Object
	subs       map[*Subscription]struct{}
	now        func() time.Time
}

const maxTombstones = 1024

// New makes an empty store.
func New() *Store {
	return &Store{objects: map[key]*Object{}, subs: map[*Subscription]struct{}{}, now: time.Now}
}

// Put sets the spec and status of an object, creating it if needed. A nil spec or status
// leaves the stored one as it was; a Put that changes nothing is not a change. Values are marshalled now; an unmarshallable value is a
// programming error and panics.
func (s *Store) Put(kind, name string, spec, st any) {
	specJSON, statusJSON := marshal(spec), marshal(st)
	s.mu.Lock()
	defer s.mu.Unlock()
	k := key{kind, name}
	o := s.objects[k]
	now := s.now()
	if o == nil {
		o = &Object{Kind: kind, Name: name, Created: now}
		s.objects[k] = o
	}
	if o.Version != 0 && (specJSON == nil || bytes.Equal(specJSON, o.Spec)) && (statusJSON == nil || bytes.Equal(statusJSON, o.Status)) {
		return // nothing changed: no new version, no subscriber woken, Updated stays the time of the last change
	}
	if specJSON != nil {
		o.Spec = specJSON
	}
	if statusJSON != nil {
		o.Status = statusJSON
	}
	o.Updated = now
	s.version++
	o.Version = s.version
	s.notify()
}

func marshal(v any) json.RawMessage {
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("status: cannot marshal %T: %v", v, err))
	}
	return b
}

// Delete removes an object; deleting what is not there does nothing.
func (s *Store) Delete(kind, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := key{kind, name}
	o := s.objects[k]
	if o == nil {
		return
	}
	delete(s.objects, k)
	s.version++
	s.tombstones = append(s.tombstones, Object{Kind: kind, Name: name, Version: s.version, Deleted: true, Updated: s.now()})
	if len(s.tombstones) > maxTombstones {
		s.tombstones = append(s.tombstones[:0], s.tombstones[len(s.tombstones)-maxTombstones:]...)
	}
	s.notify()
}

// Get returns one object.
func (s *Store) Get(kind, name string) (Object, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.objects[key{kind, name}]
	if o == nil {
		return Object{}, false
	}
	return *o, true
}

// List returns the objects of a kind ("" for every kind), sorted by kind then name, and the
// store's version they are current at.
func (s *Store) List(kind string) ([]Object, uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Object
	for k, o := range s.objects {
		if kind == "" || k.kind == kind {
			out = append(out, *o)
		}
	}
	sortObjects(out)
	return out, s.version
}

// Since returns what changed after version v: the objects changed since, and deletions as
// objects marked Deleted. complete is false when deletions that old are no longer
// remembered; the reader then starts again from List.
func (s *Store) Since(v uint64) (changed []Object, version uint64, complete bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range s.objects {
		if o.Version > v {
			changed = append(changed, *o)
		}
	}
	complete = true
	if len(s.tombstones) == maxTombstones && s.tombstones[0].Version > v+1 {
		complete = false
	}
	for _, t := range s.tombstones {
		if t.Version > v {
			changed = append(changed, t)
		}
	}
	sortObjects(changed)
	return changed, s.version, complete
}

func sortObjects(objs []Object) {
	sort.Slice(objs, func(i, j int) bool {
		if objs[i].Kind != objs[j].Kind {
			return objs[i].Kind < objs[j].Kind
		}
		return objs[i].Name < objs[j].Name
	})
}

// Subscription tells a reader that the store changed. Notifications coalesce: a reader that
// is busy gets one notification for any number of changes, then calls Since with the last
// version it saw. A slow reader never blocks the engine and never misses the last change.
type Subscription struct {
	C     <-chan struct{}
	c     chan struct{}
	store *Store
}

// Subscribe starts a subscription; Close ends it.
func (s *Store) Subscribe() *Subscription {
	c := make(chan struct{}, 1)
	sub := &Subscription{C: c, c: c, store: s}
	s.mu.Lock()
	s.subs[sub] = struct{}{}
	s.mu.Unlock()
	return sub
}

// Close ends the subscription.
func (sub *Subscription) Close() {
	sub.store.mu.Lock()
	delete(sub.store.subs, sub)
	sub.store.mu.Unlock()
}

// notify wakes every subscriber; called with s.mu held.
func (s *Store) notify() {
	for sub := range s.subs {
		select {
		case sub.c <- struct{}{}:
		default: // a notification is pending already
		}
	}
}
