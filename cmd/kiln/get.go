package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kiln-dev/kiln/runtime/apply"
	"github.com/kiln-dev/kiln/runtime/status"
	"github.com/kiln-dev/kiln/runtime/statusapi"
	"github.com/kiln-dev/kiln/starlark/host"
	"github.com/spf13/pflag"
	"k8s.io/client-go/util/jsonpath"
	"sigs.k8s.io/yaml"
)

// projectStateDir is the state directory of the project whose file is file (-f): where its
// kiln watch serves the status API. It evaluates nothing.
func projectStateDir(file string) (string, error) {
	main, err := host.FindMain(file)
	if err != nil {
		return "", err
	}
	return statusapi.StateDir(apply.ProjectID(filepath.Dir(main)))
}

// getCmd is kiln get KIND [NAME]: what the project's kiln watch knows, from its status API.
func getCmd(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("kiln get", pflag.ContinueOnError)
	file := fs.StringP("file", "f", ".", "the Kilnfile or Tiltfile, or a directory holding one")
	output := fs.StringP("output", "o", "", "table (default), wide, json, yaml or jsonpath=TEMPLATE")
	allowMissing := fs.Bool("allow-missing-template-keys", true, "with -o jsonpath: a missing field prints nothing (false: it is an error)")
	fs.SetOutput(stderr)
	if code, ok := parseArgs(fs, args); !ok {
		return code
	}
	if fs.NArg() < 1 || fs.NArg() > 2 {
		fmt.Fprintf(stderr, "usage: kiln get KIND [NAME] [-o wide|json|yaml|jsonpath=TEMPLATE]; KIND is all or one of %s\n", strings.Join(status.Kinds, ", "))
		return exitUsage
	}
	out, err := parseOutput(*output, *allowMissing)
	if err != nil {
		fmt.Fprintf(stderr, "kiln get: %v\n", err)
		return exitUsage
	}
	return askWatch(*file, stderr, func(ctx context.Context, c *statusapi.Client) error {
		items, whole, err := fetchObjects(ctx, c, fs.Args())
		if err != nil {
			return err
		}
		return out.write(stdout, items, whole, time.Now())
	})
}

// askWatch runs ask against the project's kiln watch within 10 s: how kiln get and kiln
// describe talk to it. An error, a missing kiln watch included, is printed and is exit 1.
func askWatch(file string, stderr io.Writer, ask func(context.Context, *statusapi.Client) error) int {
	c, err := dialProject(file)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err = ask(ctx, c)
	}
	if err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return exitFail
	}
	return exitOK
}

// fetchObjects gets what kiln get KIND [NAME] asks for: the objects, for the tables, and
// the API's whole answer (the list object, or the one object), for -o json, yaml, jsonpath.
func fetchObjects(ctx context.Context, c *statusapi.Client, args []string) ([]status.Object, any, error) {
	if len(args) == 2 {
		o, err := c.Get(ctx, args[0], args[1])
		return []status.Object{o}, o, err
	}
	l, err := c.List(ctx, args[0])
	return l.Items, l, err
}

// getOutput is how kiln get prints what it fetched (-o).
type getOutput struct {
	format   string // "table", "wide", "json", "yaml" or "jsonpath"
	template string // the jsonpath template, as given
	jsonPath *jsonpath.JSONPath
}

// parseOutput reads -o before anything is fetched, so that a bad value or a template that
// does not parse is a usage error. Missing keys print nothing unless allowMissing is false,
// as in kubectl (--allow-missing-template-keys).
func parseOutput(s string, allowMissing bool) (getOutput, error) {
	switch s {
	case "", "table":
		return getOutput{format: "table"}, nil
	case "wide", "json", "yaml":
		return getOutput{format: s}, nil
	}
	tmpl, ok := strings.CutPrefix(s, "jsonpath=")
	if !ok {
		return getOutput{}, fmt.Errorf("--output must be table (default), wide, json, yaml or jsonpath=TEMPLATE, not %q", s)
	}
	if tmpl == "" {
		return getOutput{}, errors.New("-o jsonpath= needs a template, e.g. jsonpath={.items[*].name}")
	}
	j := jsonpath.New("kiln get").AllowMissingKeys(allowMissing)
	if err := j.Parse(tmpl); err != nil {
		return getOutput{}, fmt.Errorf("bad jsonpath template %q: %v", tmpl, err)
	}
	return getOutput{format: "jsonpath", template: tmpl, jsonPath: j}, nil
}

// write prints the fetched objects: items as tables, whole (the list object, or the one
// object asked for) as JSON, YAML or through the jsonpath template.
func (o getOutput) write(w io.Writer, items []status.Object, whole any, now time.Time) error {
	switch o.format {
	case "json":
		b, _ := json.MarshalIndent(whole, "", "  ")
		_, err := fmt.Fprintf(w, "%s\n", b)
		return err
	case "yaml":
		b, err := yaml.Marshal(whole)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	case "jsonpath":
		return o.writeJSONPath(w, whole)
	}
	printTable(w, items, now, o.format == "wide")
	return nil
}

// writeJSONPath evaluates the template against the very value -o json prints, read back as
// plain JSON (as kubectl does), so that the template names the fields -o json shows. Like
// kubectl, it adds no newline; an evaluation error prints nothing.
func (o getOutput) writeJSONPath(w io.Writer, whole any) error {
	b, err := json.Marshal(whole)
	if err != nil {
		return err
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := o.jsonPath.Execute(&buf, v); err != nil {
		return fmt.Errorf("jsonpath %s: %v", o.template, err)
	}
	_, err = w.Write(buf.Bytes())
	return err
}

// printTable prints objects with the columns a user scans for, one table per kind: for
// resources their type, state, pods ready, restarts, forward, last update and error; for
// forwards where they go; for discovery each pod; for the other kinds their state and error.
// wide (-o wide) adds columns: a resource's images, labels and last step, a forward's host,
// a pod's containers, another kind's state. The error stays last, where it may run long.
func printTable(w io.Writer, items []status.Object, now time.Time, wide bool) {
	var kinds []string
	byKind := map[string][]status.Object{}
	for _, o := range items {
		if byKind[o.Kind] == nil {
			kinds = append(kinds, o.Kind)
		}
		byKind[o.Kind] = append(byKind[o.Kind], o)
	}
	for i, kind := range kinds {
		if i > 0 {
			fmt.Fprintln(w)
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		switch kind {
		case status.KindResource:
			resourceTable(tw, byKind[kind], now, wide)
		case status.KindForward:
			forwardTable(tw, byKind[kind], now, wide)
		case status.KindDiscovery:
			discoveryTable(tw, byKind[kind], now, wide)
		default:
			genericTable(tw, byKind[kind], now, wide)
		}
		tw.Flush()
	}
}

// decode reads a spec or status as the API sent it. What does not parse reads as the zero
// value: a table or a description shows what it can rather than nothing.
func decode[T any](raw json.RawMessage) T {
	var v T
	_ = json.Unmarshal(raw, &v)
	return v
}

// row writes one tab-separated table row.
func row(w io.Writer, cols ...string) {
	fmt.Fprintln(w, strings.Join(cols, "\t"))
}

func ago(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return now.Sub(t).Round(time.Second).String() + " ago"
}

// msDuration shows a duration the API sends in milliseconds as kiln run's summary does.
func msDuration(ms float64) string {
	return (time.Duration(ms * float64(time.Millisecond))).Round(time.Millisecond).String()
}

// stepText is a step as kiln run's summary shows it: its name and duration.
func stepText(s status.Step) string {
	return s.Name + " " + msDuration(s.DurationMS)
}

func resourceTable(tw io.Writer, items []status.Object, now time.Time, wide bool) {
	head := []string{"NAME", "TYPE", "STATUS", "PODS", "RESTARTS", "FORWARD", "UPDATED"}
	if wide {
		head = append(head, "IMAGES", "LABELS", "LAST STEP")
	}
	row(tw, append(head, "ERROR")...)
	for _, o := range items {
		spec := decode[status.ResourceSpec](o.Spec)
		st := decode[status.ResourceStatus](o.Status)
		pods := "-" // until discovery reports pods: 0/0 would claim a count nobody made
		if spec.Type == "k8s" && st.Pods > 0 {
			pods = fmt.Sprintf("%d/%d", st.PodsReady, st.Pods)
		}
		fwd := "-"
		if len(st.Forwards) > 0 {
			fwd = st.Forwards[0]
			if len(st.Forwards) > 1 {
				fwd += fmt.Sprintf(" (+%d)", len(st.Forwards)-1)
			}
		}
		errText := st.Error
		if errText == "" && st.Reason != "" {
			errText = st.Reason
		}
		cols := []string{o.Name, orDash(spec.Type), orDash(st.State), pods, fmt.Sprint(st.Restarts), fwd, ago(now, o.Updated)}
		if wide {
			last := "-"
			if len(st.Steps) > 0 {
				last = stepText(st.Steps[len(st.Steps)-1])
			}
			cols = append(cols, orDash(strings.Join(spec.Images, ",")), orDash(strings.Join(spec.Labels, ",")), last)
		}
		row(tw, append(cols, firstLine(errText))...)
	}
}

func forwardTable(tw io.Writer, items []status.Object, now time.Time, wide bool) {
	head := []string{"NAME", "URL", "STATE", "POD", "CONTAINER PORT", "SINCE"}
	if wide {
		head = append(head, "HOST")
	}
	row(tw, append(head, "ERROR")...)
	for _, o := range items {
		spec := decode[status.ForwardSpec](o.Spec)
		st := decode[status.ForwardStatus](o.Status)
		port := "-"
		if spec.ContainerPort != 0 {
			port = fmt.Sprint(spec.ContainerPort)
		}
		cols := []string{o.Name, st.URL, orDash(st.State), orDash(st.Pod), port, ago(now, st.Since)}
		if wide {
			cols = append(cols, orDash(spec.Host))
		}
		row(tw, append(cols, firstLine(st.Error))...)
	}
}

func discoveryTable(tw io.Writer, items []status.Object, now time.Time, wide bool) {
	head := []string{"RESOURCE", "POD", "PHASE", "READY", "RESTARTS", "AGE", "REASON"}
	if wide {
		head = append(head, "CONTAINERS")
	}
	row(tw, head...)
	for _, o := range items {
		for _, p := range decode[status.DiscoveryStatus](o.Status).Pods {
			ready, restarts, reason := 0, int32(0), ""
			main := 0
			for _, c := range p.Containers {
				if c.Init {
					continue
				}
				main++
				if c.Ready {
					ready++
				}
				restarts += c.Restarts
				if reason == "" && c.Reason != "" {
					reason = c.Reason
				}
			}
			cols := []string{o.Name, p.Namespace + "/" + p.Name, podPhase(p), fmt.Sprintf("%d/%d", ready, main), fmt.Sprint(restarts),
				strings.TrimSuffix(ago(now, p.Created), " ago"), orDash(reason)}
			if wide {
				cols = append(cols, containerStates(p.Containers))
			}
			row(tw, cols...)
		}
	}
}

// podPhase is a pod's phase, or Terminating once it is being deleted, as kubectl shows it.
func podPhase(p status.Pod) string {
	if p.Deleting {
		return "Terminating"
	}
	return p.Phase
}

// containerStates is the wide CONTAINERS column: name:state for each container, init ones
// marked, in the pod's order.
func containerStates(cs []status.Container) string {
	var parts []string
	for _, c := range cs {
		name := c.Name
		if c.Init {
			name += "(init)"
		}
		parts = append(parts, name+":"+orDash(c.State))
	}
	return orDash(strings.Join(parts, ","))
}

// genericTable is for kinds whose status has a state and an error, at most. Their state is
// in a field named state (images, logs), result (liveupdates) or serve (locals).
func genericTable(tw io.Writer, items []status.Object, now time.Time, wide bool) {
	head := []string{"KIND", "NAME"}
	if wide {
		head = append(head, "STATUS")
	}
	row(tw, append(head, "UPDATED", "ERROR")...)
	for _, o := range items {
		st := decode[struct {
			State  string `json:"state"`
			Result string `json:"result"`
			Serve  string `json:"serve"`
			Error  string `json:"error"`
		}](o.Status)
		cols := []string{o.Kind, o.Name}
		if wide {
			cols = append(cols, orDash(cmp.Or(st.State, st.Result, st.Serve)))
		}
		row(tw, append(cols, ago(now, o.Updated), firstLine(st.Error))...)
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// firstLine keeps a table row on one line: a long error is shown whole by -o yaml.
func firstLine(s string) string {
	s, _, cut := strings.Cut(s, "\n")
	if len(s) > 100 {
		s, cut = s[:100], true
	}
	if cut {
		s += " …"
	}
	return s
}
