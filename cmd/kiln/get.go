package main

import (
	"context"
	"encoding/json"
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
	output := fs.StringP("output", "o", "", "table (default), json or yaml")
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() < 1 || fs.NArg() > 2 {
		fmt.Fprintf(stderr, "usage: kiln get KIND [NAME] [-o json|yaml]; KIND is all or one of %s\n", strings.Join(status.Kinds, ", "))
		return exitUsage
	}
	if *output != "" && *output != "json" && *output != "yaml" {
		fmt.Fprintf(stderr, "kiln get: --output must be json or yaml, not %q\n", *output)
		return exitUsage
	}
	c, err := dialProject(*file)
	if err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return exitFail
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var items []status.Object
	var single any
	if fs.NArg() == 2 {
		o, err := c.Get(ctx, fs.Arg(0), fs.Arg(1))
		if err != nil {
			fmt.Fprintf(stderr, "Error: %v\n", err)
			return exitFail
		}
		items, single = []status.Object{o}, o
	} else {
		l, err := c.List(ctx, fs.Arg(0))
		if err != nil {
			fmt.Fprintf(stderr, "Error: %v\n", err)
			return exitFail
		}
		items, single = l.Items, l
	}
	switch *output {
	case "json":
		b, _ := json.MarshalIndent(single, "", "  ")
		fmt.Fprintf(stdout, "%s\n", b)
	case "yaml":
		b, err := yaml.Marshal(single)
		if err != nil {
			fmt.Fprintf(stderr, "Error: %v\n", err)
			return exitFail
		}
		stdout.Write(b)
	default:
		printTable(stdout, items, time.Now())
	}
	return exitOK
}

// printTable prints objects with the columns a user scans for, one table per kind: for
// resources their type, state, pods ready, restarts, forward, last update and error; for
// forwards where they go; for discovery each pod; for the other kinds their state and error.
func printTable(w io.Writer, items []status.Object, now time.Time) {
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
			resourceTable(tw, byKind[kind], now)
		case status.KindForward:
			forwardTable(tw, byKind[kind], now)
		case status.KindDiscovery:
			discoveryTable(tw, byKind[kind], now)
		default:
			genericTable(tw, byKind[kind], now)
		}
		tw.Flush()
	}
}

func ago(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return now.Sub(t).Round(time.Second).String() + " ago"
}

func resourceTable(tw io.Writer, items []status.Object, now time.Time) {
	fmt.Fprintln(tw, "NAME\tTYPE\tSTATUS\tPODS\tRESTARTS\tFORWARD\tUPDATED\tERROR")
	for _, o := range items {
		var spec status.ResourceSpec
		var st status.ResourceStatus
		_ = json.Unmarshal(o.Spec, &spec)
		_ = json.Unmarshal(o.Status, &st)
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
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", o.Name, orDash(spec.Type), orDash(st.State), pods, st.Restarts, fwd,
			ago(now, o.Updated), firstLine(errText))
	}
}

func forwardTable(tw io.Writer, items []status.Object, now time.Time) {
	fmt.Fprintln(tw, "NAME\tURL\tSTATE\tPOD\tCONTAINER PORT\tSINCE\tERROR")
	for _, o := range items {
		var spec status.ForwardSpec
		var st status.ForwardStatus
		_ = json.Unmarshal(o.Spec, &spec)
		_ = json.Unmarshal(o.Status, &st)
		port := "-"
		if spec.ContainerPort != 0 {
			port = fmt.Sprint(spec.ContainerPort)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", o.Name, st.URL, orDash(st.State), orDash(st.Pod), port, ago(now, st.Since), firstLine(st.Error))
	}
}

func discoveryTable(tw io.Writer, items []status.Object, now time.Time) {
	fmt.Fprintln(tw, "RESOURCE\tPOD\tPHASE\tREADY\tRESTARTS\tAGE\tREASON")
	for _, o := range items {
		var st status.DiscoveryStatus
		_ = json.Unmarshal(o.Status, &st)
		for _, p := range st.Pods {
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
			phase := p.Phase
			if p.Deleting {
				phase = "Terminating"
			}
			fmt.Fprintf(tw, "%s\t%s/%s\t%s\t%d/%d\t%d\t%s\t%s\n", o.Name, p.Namespace, p.Name, phase, ready, main, restarts,
				strings.TrimSuffix(ago(now, p.Created), " ago"), orDash(reason))
		}
	}
}

// genericTable is for kinds whose status has a state and an error, at most.
func genericTable(tw io.Writer, items []status.Object, now time.Time) {
	fmt.Fprintln(tw, "KIND\tNAME\tUPDATED\tERROR")
	for _, o := range items {
		var st struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(o.Status, &st)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", o.Kind, o.Name, ago(now, o.Updated), firstLine(st.Error))
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
