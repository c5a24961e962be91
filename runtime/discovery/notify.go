package discovery

import "sync"

// notifier fans "resource changed" out to subscribers. A send never blocks: each subscriber
// has a pending set and a one-slot wake-up channel, so changes to one resource coalesce and
// the last change is never dropped, however slow the reader.
type notifier struct {
	mu   sync.Mutex
	subs map[*subscriber]bool
}

type subscriber struct {
	mu      sync.Mutex
	pending map[string]bool
	order   []string
	wake    chan struct{}
	out     chan string
	done    chan struct{}
}

// subscribe returns a channel of changed resources and a cancel that ends its goroutine.
func (n *notifier) subscribe() (<-chan string, func()) {
	s := &subscriber{pending: map[string]bool{}, wake: make(chan struct{}, 1), out: make(chan string), done: make(chan struct{})}
	n.mu.Lock()
	if n.subs == nil {
		n.subs = map[*subscriber]bool{}
	}
	n.subs[s] = true
	n.mu.Unlock()
	go s.deliver()
	var once sync.Once
	return s.out, func() {
		once.Do(func() {
			n.mu.Lock()
			delete(n.subs, s)
			n.mu.Unlock()
			close(s.done)
		})
	}
}

// notify marks resource changed for every subscriber.
func (n *notifier) notify(resource string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for s := range n.subs {
		s.mu.Lock()
		if !s.pending[resource] {
			s.pending[resource] = true
			s.order = append(s.order, resource)
		}
		s.mu.Unlock()
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

func (s *subscriber) deliver() {
	defer close(s.out)
	for {
		s.mu.Lock()
		var next string
		if len(s.order) > 0 {
			next, s.order = s.order[0], s.order[1:]
			delete(s.pending, next)
		}
		s.mu.Unlock()
		if next == "" {
			select {
			case <-s.wake:
				continue
			case <-s.done:
				return
			}
		}
		select {
		case s.out <- next:
		case <-s.done:
			return
		}
	}
}
