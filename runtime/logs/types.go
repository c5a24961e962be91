// Package logs streams the logs of every container of every resource, and the output of
// local resources, into one store: split into lines, scrubbed of Secret values, bounded in
// memory per resource with older lines spilled to disk, readable by sequence number and
// followable by subscribers that can never block the streams.
package logs

import (
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/kiln-dev/kiln/runtime/output"
)

// Pod is what discovery knows of one pod of a resource.
type Pod struct {
	Resource, Namespace, Name string
	UID                       types.UID
	Containers                []Container
}

// Container is the state of one container of a pod, init containers included.
type Container struct {
	Name       string
	Init       bool
	Restarts   int32
	Running    bool
	Terminated bool // its current state is terminated (a finished Job, a done init container)
}

// Line is one line of output.
type Line struct {
	Seq                      uint64 // increasing over the whole manager, so After can resume
	Resource, Pod, Container string
	Time                     time.Time // the kubelet's timestamp; for local output, when it arrived
	Text                     string
	Previous                 bool // from the previous, crashed, container
	Local                    bool // from a local resource
	Kiln                     bool // a notice from kiln itself: lines dropped, a subscriber fell behind
	Overflow                 bool // to a subscriber: the lines after Seq were not delivered; Lines(Query{After: Seq}) has them
	ShowContainer            bool // the resource has several containers, so the container is worth naming
}

// Query selects lines. Zero fields select everything.
type Query struct {
	Resources []string
	Since     time.Time
	Container string
	After     uint64 // only lines with a greater Seq
}

func (q Query) match(l Line) bool {
	if l.Seq <= q.After || (!q.Since.IsZero() && l.Time.Before(q.Since)) {
		return false
	}
	if q.Container != "" && l.Container != q.Container && !l.Kiln {
		return false
	}
	return q.wants(l.Resource)
}

func (q Query) wants(resource string) bool {
	if len(q.Resources) == 0 {
		return true
	}
	for _, r := range q.Resources {
		if r == resource {
			return true
		}
	}
	return false
}

// Options configure a Manager. Zero fields take the defaults.
type Options struct {
	Scrub            *output.Scrubber // nil scrubs nothing
	MemoryLines      int              // lines kept in memory per resource (2000)
	MemoryBytes      int              // bytes of text kept in memory per resource (1 MiB)
	SpillDir         string           // where older lines go; "" drops them instead
	SpillBytes       int64            // the bound on all spill files together (64 MiB)
	MaxLineBytes     int              // longer lines are truncated with a marker (64 KiB)
	PreviousLines    int64            // lines shown of a crashed container we did not see (20)
	SubscriberBuffer int              // lines a subscriber may lag before it is told so (1024)
	Now              func() time.Time
}

func (o Options) withDefaults() Options {
	if o.MemoryLines <= 0 {
		o.MemoryLines = 2000
	}
	if o.MemoryBytes <= 0 {
		o.MemoryBytes = 1 << 20
	}
	if o.SpillBytes <= 0 {
		o.SpillBytes = 64 << 20
	}
	if o.MaxLineBytes <= 0 {
		o.MaxLineBytes = 64 << 10
	}
	if o.PreviousLines <= 0 {
		o.PreviousLines = 20
	}
	if o.SubscriberBuffer <= 0 {
		o.SubscriberBuffer = 1024
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}
