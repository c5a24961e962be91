package cluster

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"sigs.k8s.io/kind/pkg/log"
)

// kindLogger shows kind's user-facing messages (its V(0) status lines and warnings) as lines
// on out, each step with its duration. Debug levels are dropped.
type kindLogger struct {
	mu     sync.Mutex
	out    io.Writer
	prefix string
	step   time.Time
}

var _ log.Logger = (*kindLogger)(nil)

func newKindLogger(out io.Writer, prefix string) *kindLogger {
	return &kindLogger{out: out, prefix: prefix}
}

func (l *kindLogger) Warn(message string)               { l.write("WARNING: " + message) }
func (l *kindLogger) Warnf(format string, args ...any)  { l.Warn(fmt.Sprintf(format, args...)) }
func (l *kindLogger) Error(message string)              { l.write("ERROR: " + message) }
func (l *kindLogger) Errorf(format string, args ...any) { l.Error(fmt.Sprintf(format, args...)) }
func (l *kindLogger) V(level log.Level) log.InfoLogger  { return infoLogger{l: l, on: level <= 0} }

func (l *kindLogger) write(message string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range strings.Split(message, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		switch {
		case strings.HasPrefix(line, "•") && strings.HasSuffix(line, "..."): // a step starts
			l.step = time.Now()
			line = strings.TrimSpace(strings.TrimSuffix(line, "..."))
		case strings.HasPrefix(line, "✓"), strings.HasPrefix(line, "✗"): // and ends
			if !l.step.IsZero() {
				line += " (" + since(l.step) + ")"
				l.step = time.Time{}
			}
		}
		fmt.Fprintf(l.out, "%s%s\n", l.prefix, line)
	}
}

type infoLogger struct {
	l  *kindLogger
	on bool
}

func (i infoLogger) Info(message string) {
	if i.on {
		i.l.write(message)
	}
}

func (i infoLogger) Infof(format string, args ...any) {
	if i.on {
		i.l.write(fmt.Sprintf(format, args...))
	}
}

func (i infoLogger) Enabled() bool { return i.on }
