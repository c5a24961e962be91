package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kiln-dev/kiln/runtime/status"
	"github.com/kiln-dev/kiln/runtime/statusapi"
	"github.com/spf13/pflag"
)

// describeLogLines is how many of a resource's last log lines kiln describe shows.
const describeLogLines = 10

// describeCmd is kiln describe RESOURCE: all that the project's kiln watch knows of one
// resource, gathered from every kind of its status API and laid out for a person to read,
// as kubectl describe does. kiln get shows one kind at a time; this answers "why is X not
// working" in one place.
func describeCmd(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("kiln describe", pflag.ContinueOnError)
	file := fs.StringP("file", "f", ".", "the Kilnfile or Tiltfile, or a directory holding one")
	showYAML := fs.Bool("show-yaml", false, "also print the YAML kiln applied and the server's answer")
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: kiln describe RESOURCE [-f FILE] [--show-yaml]; kiln get resources lists them")
		return exitUsage
	}
	return askWatch(*file, stderr, func(ctx context.Context, c *statusapi.Client) error {
		d, err := fetchDescription(ctx, c, fs.Arg(0))
		if err == nil {
			printDescription(stdout, d, *showYAML, time.Now())
		}
		return err
	})
}

// description is what kiln describe shows of one resource: its object and the objects of
// the other kinds that speak of it. The pointers are nil where the store has none.
type description struct {
	Resource    status.Object
	Spec        status.ResourceSpec
	Status      status.ResourceStatus
	Discovery   *status.Object
	Forwards    []status.Object
	Apply       *status.Object
	Images      map[string]status.Object // kind images, by ref: those of Spec.Images
	LiveUpdates map[string]status.Object // kind liveupdates, by image ref
	Local       *status.Object
	FileWatch   *status.Object
	Logs        []statusapi.LogLine // the last describeLogLines lines, oldest first
}

// fetchDescription lists every kind in one request, so that the parts describe the same
// moment, then reads the resource's stored log lines (without following them).
func fetchDescription(ctx context.Context, c *statusapi.Client, name string) (description, error) {
	l, err := c.List(ctx, "all")
	if err != nil {
		return description{}, err
	}
	d, err := newDescription(l.Items, name)
	if err != nil {
		return description{}, err
	}
	d.Logs, err = lastLogLines(ctx, c, name, describeLogLines)
	return d, err
}

// lastLogLines keeps the last n of the lines the API has for a resource: the API sends
// them all, oldest first.
func lastLogLines(ctx context.Context, c *statusapi.Client, name string, n int) ([]statusapi.LogLine, error) {
	var lines []statusapi.LogLine
	err := c.Logs(ctx, statusapi.LogQuery{Resources: []string{name}}, false, func(l statusapi.LogLine) error {
		lines = append(lines, l)
		if len(lines) > 2*n { // a resource keeps up to 2,000 lines: drop as we go
			lines = append(lines[:0], lines[len(lines)-n:]...)
		}
		return nil
	})
	return lines[max(0, len(lines)-n):], err
}

// newDescription picks out of every object of the store those that speak of the resource
// name. A name with no resources object is an error that says where the names are.
func newDescription(objs []status.Object, name string) (description, error) {
	d := description{Images: map[string]status.Object{}, LiveUpdates: map[string]status.Object{}}
	found := false
	for _, o := range objs {
		switch {
		case o.Kind == status.KindResource && o.Name == name:
			d.Resource, found = o, true
		case o.Kind == status.KindDiscovery && o.Name == name:
			d.Discovery = &o
		case o.Kind == status.KindApply && o.Name == name:
			d.Apply = &o
		case o.Kind == status.KindLocal && o.Name == name:
			d.Local = &o
		case o.Kind == status.KindForward && decode[status.ForwardSpec](o.Spec).Resource == name:
			d.Forwards = append(d.Forwards, o)
		case o.Kind == status.KindImage:
			d.Images[o.Name] = o
		case o.Kind == status.KindLiveUpdate:
			d.LiveUpdates[o.Name] = o
		case o.Kind == status.KindFileWatch:
			d.FileWatch = &o
		}
	}
	if !found {
		return description{}, fmt.Errorf("no resource named %q (kiln get resources lists them)", name)
	}
	d.Spec = decode[status.ResourceSpec](d.Resource.Spec)
	d.Status = decode[status.ResourceStatus](d.Resource.Status)
	return d, nil
}

// describeWriter writes "Label:  value" lines with the values of a level aligned, and
// blocks indented under a label, as kubectl describe lays them out.
type describeWriter struct {
	w   io.Writer
	now time.Time
}

const labelWidth = 15

// field writes one label and its value at an indentation level (two spaces each).
func (dw describeWriter) field(level int, label, value string) {
	fmt.Fprintf(dw.w, "%s%-*s %s\n", strings.Repeat("  ", level), labelWidth, label+":", value)
}

// heading starts a section.
func (dw describeWriter) heading(level int, title string) {
	fmt.Fprintf(dw.w, "%s%s:\n", strings.Repeat("  ", level), title)
}

// block writes text whole, every line indented to level: errors and YAML keep their lines.
func (dw describeWriter) block(level int, text string) {
	pad := strings.Repeat("  ", level)
	for _, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		fmt.Fprintf(dw.w, "%s%s\n", pad, line)
	}
}

// table writes rows aligned in columns at an indentation level. Empty cells at the end of
// a row are left out, so that no line ends in padding.
func (dw describeWriter) table(level int, rows [][]string) {
	tw := tabwriter.NewWriter(dw.w, 0, 4, 2, ' ', 0)
	pad := strings.Repeat("  ", level)
	for _, r := range rows {
		for len(r) > 1 && r[len(r)-1] == "" {
			r = r[:len(r)-1]
		}
		fmt.Fprintln(tw, pad+strings.Join(r, "\t"))
	}
	tw.Flush()
}

// errorField writes an error under its label, whole and indented, since its later lines
// (a container's last log lines, a server's causes) are often the useful ones.
func (dw describeWriter) errorField(level int, err string) {
	if err == "" {
		return
	}
	dw.heading(level, "Error")
	dw.block(level+2, err)
}

// printDescription writes the sections of a description, the resource's own first, then
// the kinds around it, then what happened lately.
func printDescription(w io.Writer, d description, showYAML bool, now time.Time) {
	dw := describeWriter{w: w, now: now}
	describeResource(dw, d)
	describeSteps(dw, d.Status.Steps)
	if d.Discovery != nil {
		describePods(dw, decode[status.DiscoveryStatus](d.Discovery.Status).Pods)
	}
	describeForwards(dw, d.Forwards)
	if d.Apply != nil {
		describeApply(dw, *d.Apply, showYAML)
	}
	describeImages(dw, d)
	if d.Local != nil {
		describeLocal(dw, *d.Local)
	}
	describeEvents(dw, d)
}

// describeResource is what the plan says of the resource and the state of its last update.
func describeResource(dw describeWriter, d description) {
	dw.field(0, "Name", d.Resource.Name)
	dw.field(0, "Type", orNone(d.Spec.Type))
	dw.field(0, "State", orNone(d.Status.State))
	if d.Status.Reason != "" {
		dw.field(0, "Reason", d.Status.Reason)
	}
	dw.errorField(0, d.Status.Error)
	dw.field(0, "Updated", ago(dw.now, d.Resource.Updated))
	dw.field(0, "Trigger mode", orNone(d.Spec.TriggerMode))
	dw.field(0, "Auto init", fmt.Sprint(d.Spec.AutoInit))
	dw.field(0, "Resource deps", orNone(strings.Join(d.Spec.ResourceDeps, ", ")))
	dw.field(0, "Labels", orNone(strings.Join(d.Spec.Labels, ", ")))
	dw.field(0, "Links", orNone(strings.Join(d.Spec.Links, ", ")))
	dw.field(0, "Images", orNone(strings.Join(d.Spec.Images, ", ")))
	if d.Spec.Type == "k8s" && d.Status.Pods > 0 {
		dw.field(0, "Pods ready", fmt.Sprintf("%d/%d (%d restarts)", d.Status.PodsReady, d.Status.Pods, d.Status.Restarts))
	}
}

// describeSteps lists the last update's steps, each with its duration and note.
func describeSteps(dw describeWriter, steps []status.Step) {
	if len(steps) == 0 {
		return
	}
	dw.heading(0, "Steps (last update)")
	var rows [][]string
	for _, s := range steps {
		rows = append(rows, []string{s.Name, msDuration(s.DurationMS), s.Note})
	}
	dw.table(1, rows)
}

// describePods lists the resource's pods, newest first, each with its containers.
func describePods(dw describeWriter, pods []status.Pod) {
	dw.heading(0, "Pods")
	if len(pods) == 0 {
		dw.block(1, "<none>")
	}
	for _, p := range pods {
		ready := "not ready"
		if p.Ready {
			ready = "ready"
		}
		dw.block(1, fmt.Sprintf("%s/%s  %s  %s  age %s", p.Namespace, p.Name, podPhase(p), ready, strings.TrimSuffix(ago(dw.now, p.Created), " ago")))
		var rows [][]string
		for _, c := range p.Containers {
			name := c.Name
			if c.Init {
				name += " (init)"
			}
			ready := "not ready"
			if c.Ready {
				ready = "ready"
			}
			rows = append(rows, []string{name, orDash(c.State), ready, fmt.Sprintf("restarts %d", c.Restarts), c.Reason})
		}
		dw.table(2, rows)
	}
}

// describeForwards lists the resource's port forwards: where each goes and whether it works.
func describeForwards(dw describeWriter, fwds []status.Object) {
	if len(fwds) == 0 {
		return
	}
	dw.heading(0, "Forwards")
	for _, o := range fwds {
		st := decode[status.ForwardStatus](o.Status)
		dw.block(1, o.Name)
		dw.field(2, "URL", orNone(st.URL))
		dw.field(2, "State", fmt.Sprintf("%s since %s", orNone(st.State), ago(dw.now, st.Since)))
		dw.field(2, "Pod", orNone(st.Pod))
		dw.errorField(2, st.Error)
	}
}

// describeApply is kiln's last apply of the resource, and with showYAML what it sent and
// what the server answered.
func describeApply(dw describeWriter, o status.Object, showYAML bool) {
	st := decode[status.ApplyStatus](o.Status)
	dw.heading(0, "Apply")
	dw.field(1, "Last apply", ago(dw.now, st.LastApply))
	dw.field(1, "Objects", orNone(strings.Join(st.Objects, ", ")))
	dw.errorField(1, st.Error)
	if !showYAML {
		return
	}
	if spec := decode[status.ApplySpec](o.Spec); spec.YAML != "" {
		dw.heading(1, "Applied YAML")
		dw.block(2, spec.YAML)
	}
	if st.ResultYAML != "" {
		dw.heading(1, "Result YAML")
		dw.block(2, st.ResultYAML)
	}
}

// describeImages is the last build of each of the resource's images, and its last live
// update, if any.
func describeImages(dw describeWriter, d description) {
	if len(d.Spec.Images) == 0 {
		return
	}
	dw.heading(0, "Image builds")
	for _, ref := range d.Spec.Images {
		dw.block(1, ref)
		img, ok := d.Images[ref]
		if !ok {
			dw.block(2, "not built yet")
			continue
		}
		st := decode[status.ImageStatus](img.Status)
		dw.field(2, "Tag", orNone(st.Tag))
		state := orNone(st.State)
		if st.DurationMS > 0 {
			state += " in " + msDuration(st.DurationMS)
		}
		dw.field(2, "State", state)
		if st.Why != "" {
			dw.field(2, "Why", st.Why)
		}
		dw.errorField(2, st.Error)
		if lu, ok := d.LiveUpdates[ref]; ok {
			describeLiveUpdate(dw, decode[status.LiveUpdateStatus](lu.Status))
		}
	}
}

// describeLiveUpdate is an image's last sync into its running containers.
func describeLiveUpdate(dw describeWriter, st status.LiveUpdateStatus) {
	dw.heading(2, "Live update")
	dw.field(3, "Result", fmt.Sprintf("%s %s", orNone(st.Result), ago(dw.now, st.At)))
	dw.field(3, "Files", fmt.Sprintf("%d copied, %d deleted", len(st.Files), len(st.Deleted)))
	dw.field(3, "Containers", orNone(strings.Join(st.Containers, ", ")))
	dw.errorField(3, st.Error)
}

// describeLocal is a local resource's last run of its cmd and the state of its serve_cmd.
func describeLocal(dw describeWriter, o status.Object) {
	st := decode[status.LocalStatus](o.Status)
	dw.heading(0, "Local")
	run := ago(dw.now, st.LastRun)
	if st.ExitCode != nil {
		run += fmt.Sprintf(", exit code %d", *st.ExitCode)
	}
	if st.DurationMS > 0 {
		run += ", " + msDuration(st.DurationMS)
	}
	dw.field(1, "Last run", run)
	dw.field(1, "Serve", orNone(st.Serve))
	dw.errorField(1, st.Error)
}

// describeEvents is what happened lately: the project's last file change and what it set
// off, and the resource's last log lines.
func describeEvents(dw describeWriter, d description) {
	dw.heading(0, "Recent events")
	if d.FileWatch != nil {
		fw := decode[status.FileWatchStatus](d.FileWatch.Status)
		dw.field(1, "File change", fmt.Sprintf("%s: %s", ago(dw.now, fw.At), orNone(strings.Join(fw.Changed, ", "))))
		dw.field(1, "Triggered", orNone(fw.Triggered))
	} else {
		dw.field(1, "File change", "<none>")
	}
	dw.heading(1, fmt.Sprintf("Logs (last %d lines)", describeLogLines))
	if len(d.Logs) == 0 {
		dw.block(2, "<none>")
	}
	for _, l := range d.Logs {
		dw.block(2, logLineText(l))
	}
}

// logLineText is one log line with its time and, for a pod's line, its container; lines
// of a container that crashed are marked as kiln logs marks them.
func logLineText(l statusapi.LogLine) string {
	text := l.Text
	if l.Previous {
		text = "(previous container) " + text
	}
	if l.Container != "" {
		text = l.Container + " │ " + text
	}
	return l.Time.Local().Format("15:04:05") + " " + text
}

// orNone is kubectl describe's word for an empty value.
func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}
