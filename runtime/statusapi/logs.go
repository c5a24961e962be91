package statusapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// LogLine is one line of a resource's log, as the API sends it.
type LogLine struct {
	Seq       uint64    `json:"seq"`
	Resource  string    `json:"resource"`
	Pod       string    `json:"pod,omitempty"`
	Container string    `json:"container,omitempty"`
	Time      time.Time `json:"time"`
	Text      string    `json:"text"`
	// Previous marks the last lines of a container that crashed.
	Previous bool `json:"previous,omitempty"`
	// Kiln marks kiln's own notices (lines dropped); ShowContainer says the resource has
	// several containers, so the container is worth naming.
	Kiln          bool `json:"kiln,omitempty"`
	ShowContainer bool `json:"showContainer,omitempty"`
}

// LogQuery selects lines: of these resources (none: all), this container (""), at or after
// Since, with a sequence number above After.
type LogQuery struct {
	Resources []string
	Container string
	Since     time.Time
	After     uint64
}

// LogSource is where the API reads logs from (runtime/logs, through the engine).
type LogSource interface {
	// Lines returns the stored lines that match q, oldest first.
	Lines(q LogQuery) ([]LogLine, error)
	// Follow calls fn with each new line that matches q until ctx ends or fn fails.
	Follow(ctx context.Context, q LogQuery, fn func(LogLine) error) error
}

// logs answers with newline-delimited JSON lines: the stored ones, then, with ?follow=1,
// new ones as they come.
func (s *Server) logs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	query := LogQuery{Resources: q["resource"], Container: q.Get("container")}
	if v := q.Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			http.Error(w, "since: "+err.Error(), http.StatusBadRequest)
			return
		}
		query.Since = t
	}
	query.After, _ = strconv.ParseUint(q.Get("after"), 10, 64)
	w.Header().Set("Content-Type", "application/x-ndjson")
	if s.handlers.Logs == nil {
		return
	}
	lines, err := s.handlers.Logs.Lines(query)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	enc := json.NewEncoder(w)
	for _, l := range lines {
		if err := enc.Encode(l); err != nil {
			return
		}
		query.After = l.Seq
	}
	if q.Get("follow") != "1" {
		return
	}
	flusher, _ := w.(http.Flusher)
	if flusher != nil {
		flusher.Flush()
	}
	_ = s.handlers.Logs.Follow(r.Context(), query, func(l LogLine) error {
		if err := enc.Encode(l); err != nil {
			return err
		}
		if flusher != nil {
			flusher.Flush()
		}
		return nil
	})
}
