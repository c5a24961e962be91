package logs

import (
	"bytes"
	"time"
)

// cursor is where a container's stream is: the newest kubelet timestamp taken and how many
// lines carried exactly it. On reconnect the stream is asked again from that timestamp (the
// API rounds it down to the second), and the replayed lines are skipped: those older, and as
// many at the timestamp itself as were already taken, since several lines can share one.
type cursor struct {
	last   time.Time
	atLast int
	replay bool // since reconnect: no line newer than last has come yet
	skip   int  // lines at last still to skip in the replay
}

// reconnect starts a replay from last.
func (c *cursor) reconnect() {
	c.replay, c.skip = !c.last.IsZero(), c.atLast
}

// accept reports whether a line stamped ts is new, and takes it if so.
func (c *cursor) accept(ts time.Time) bool {
	if c.replay {
		switch {
		case ts.Before(c.last):
			return false
		case ts.Equal(c.last) && c.skip > 0:
			c.skip--
			return false
		}
		c.replay = false
	}
	switch {
	case ts.After(c.last):
		c.last, c.atLast = ts, 1
	case ts.Equal(c.last):
		c.atLast++
	} // an older stamp in a live stream (stdout and stderr racing) is kept but moves nothing
	return true
}

// splitTimestamp splits a kubelet line "2006-01-02T15:04:05.999999999Z text" into its
// timestamp and text. ok is false when the line has no timestamp (an error message).
func splitTimestamp(line []byte) (ts time.Time, text []byte, ok bool) {
	i := bytes.IndexByte(line, ' ')
	if i < 0 {
		i = len(line)
	}
	ts, err := time.Parse(time.RFC3339Nano, string(line[:i]))
	if err != nil {
		return time.Time{}, line, false
	}
	if i < len(line) {
		i++
	}
	return ts, line[i:], true
}
