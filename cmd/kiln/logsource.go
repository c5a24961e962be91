package main

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/kiln-dev/kiln/runtime/logs"
	"github.com/kiln-dev/kiln/runtime/statusapi"
)

// logSource serves a watch session's logs to the status API (kiln logs). The engine makes
// the log manager once it has connected to the cluster; until then there are no lines.
type logSource struct{ m atomic.Pointer[logs.Manager] }

func (s *logSource) set(m *logs.Manager) { s.m.Store(m) }

func (s *logSource) Lines(q statusapi.LogQuery) ([]statusapi.LogLine, error) {
	m := s.m.Load()
	if m == nil {
		return nil, nil
	}
	lines, err := m.Lines(logQuery(q))
	if err != nil {
		return nil, err
	}
	out := make([]statusapi.LogLine, 0, len(lines))
	for _, l := range lines {
		out = append(out, apiLine(l))
	}
	return out, nil
}

// Follow subscribes before it catches up with the stored lines, so that nothing written in
// between is lost, and skips what it has already sent, so that nothing comes twice. A
// subscriber that fell behind is told so by the manager and catches up from the store.
func (s *logSource) Follow(ctx context.Context, q statusapi.LogQuery, fn func(statusapi.LogLine) error) error {
	m := s.m.Load()
	for m == nil {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(100 * time.Millisecond):
		}
		m = s.m.Load()
	}
	query := logQuery(q)
	ch, cancel := m.Subscribe(query)
	defer cancel()
	last := q.After
	send := func(l logs.Line) error {
		if l.Seq <= last {
			return nil
		}
		last = l.Seq
		return fn(apiLine(l))
	}
	catchUp := func() error {
		query.After = last
		lines, err := m.Lines(query)
		if err != nil {
			return err
		}
		for _, l := range lines {
			if err := send(l); err != nil {
				return err
			}
		}
		return nil
	}
	if err := catchUp(); err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case l, ok := <-ch:
			if !ok {
				return nil
			}
			var err error
			if l.Overflow {
				err = catchUp()
			} else {
				err = send(l)
			}
			if err != nil {
				return err
			}
		}
	}
}

func logQuery(q statusapi.LogQuery) logs.Query {
	return logs.Query{Resources: q.Resources, Container: q.Container, Since: q.Since, After: q.After}
}

func apiLine(l logs.Line) statusapi.LogLine {
	return statusapi.LogLine{Seq: l.Seq, Resource: l.Resource, Pod: l.Pod, Container: l.Container, Time: l.Time, Text: l.Text, Previous: l.Previous,
		Kiln: l.Kiln, ShowContainer: l.ShowContainer}
}
