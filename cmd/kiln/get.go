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

// printTable prints objects with the columns a user scans for: for resources their type,
// state, pods ready, restarts, last update and error; for other kinds their status fields.
func printTable(w io.Writer, items []status.Object, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	defer tw.Flush()
	fmt.Fprintln(tw, "KIND\tNAME\tTYPE\tSTATUS\tPODS\tRESTARTS\tUPDATED\tERROR")
	for _, o := range items {
		var spec status.ResourceSpec
		var st status.ResourceStatus
		_ = json.Unmarshal(o.Spec, &spec)
		_ = json.Unmarshal(o.Status, &st)
		pods := "-" // until discovery reports pods: 0/0 would claim a count nobody made
		if spec.Type == "k8s" && st.Pods > 0 {
			pods = fmt.Sprintf("%d/%d", st.PodsReady, st.Pods)
		}
		state := st.State
		if state == "" {
			state = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s ago\t%s\n", o.Kind, o.Name, orDash(spec.Type), state, pods, st.Restarts,
			now.Sub(o.Updated).Round(time.Second), firstLine(st.Error))
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
