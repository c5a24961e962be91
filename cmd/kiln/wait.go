package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/kiln-dev/kiln/runtime/status"
	"github.com/kiln-dev/kiln/runtime/statusapi"
	"github.com/spf13/pflag"
)

// waitCmd is kiln wait --for=ready RESOURCE...|--all: it returns 0 once each resource is
// ready in the project's kiln watch, and 1 at the timeout, naming what is not ready and why.
// It follows the store's changes (a long poll), so it answers as soon as the state changes.
func waitCmd(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("kiln wait", pflag.ContinueOnError)
	file := fs.StringP("file", "f", ".", "the Kilnfile or Tiltfile, or a directory holding one")
	forCond := fs.String("for", "", "the condition: ready")
	all := fs.Bool("all", false, "every resource kiln runs (those skipped, by auto_init=False or config, are left out)")
	timeout := fs.Duration("timeout", 5*time.Minute, "give up after this long")
	fs.SetOutput(stderr)
	if code, ok := parseArgs(fs, args); !ok {
		return code
	}
	if *forCond != "ready" {
		fmt.Fprintln(stderr, "kiln wait: --for=ready is required (the one condition kiln wait knows)")
		return exitUsage
	}
	if (fs.NArg() == 0) == !*all {
		fmt.Fprintln(stderr, "usage: kiln wait --for=ready RESOURCE... | --all [-f FILE] [--timeout 5m]")
		return exitUsage
	}
	if *timeout <= 0 {
		fmt.Fprintln(stderr, "kiln wait: --timeout must be positive")
		return exitUsage
	}
	c, err := dialProject(*file)
	if err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return exitFail
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	var last []string
	for {
		l, err := c.List(ctx, status.KindResource)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			fmt.Fprintf(stderr, "Error: %v\n", err)
			return exitFail
		}
		notReady, err := notReady(l.Items, fs.Args(), *all)
		if err != nil {
			fmt.Fprintf(stderr, "Error: %v\n", err)
			return exitFail
		}
		if len(notReady) == 0 {
			fmt.Fprintln(stdout, "ready")
			return exitOK
		}
		last = notReady
		wait := time.Until(deadline(ctx))
		if wait > 30*time.Second {
			wait = 30 * time.Second
		}
		if wait <= 0 {
			break
		}
		if _, err := c.Changes(ctx, l.Version, wait); err != nil && ctx.Err() == nil {
			if errors.Is(err, statusapi.ErrNotRunning) {
				fmt.Fprintln(stderr, "Error: kiln watch stopped while waiting")
			} else {
				fmt.Fprintf(stderr, "Error: %v\n", err)
			}
			return exitFail
		}
	}
	fmt.Fprintf(stderr, "Error: timed out after %s; not ready: %s\n", *timeout, strings.Join(last, ", "))
	return exitFail
}

func deadline(ctx context.Context) time.Time {
	d, _ := ctx.Deadline()
	return d
}

// notReady lists, as "name (state: error)", the wanted resources that are not ready. A name
// the session does not know is an error once the session has published its resources.
func notReady(items []status.Object, names []string, all bool) ([]string, error) {
	states := map[string]status.ResourceStatus{}
	for _, o := range items {
		var st status.ResourceStatus
		_ = json.Unmarshal(o.Status, &st)
		states[o.Name] = st
	}
	if len(items) == 0 {
		return []string{"(kiln watch has not published its resources yet)"}, nil
	}
	var known []string
	for n := range states {
		known = append(known, n)
	}
	sort.Strings(known)
	want := names
	if all {
		want = known
	}
	var out []string
	for _, n := range want {
		st, ok := states[n]
		if !ok {
			return nil, fmt.Errorf("the project's kiln watch has no resource named %q; it has %s", n, strings.Join(known, ", "))
		}
		if st.State == status.StateReady || all && st.State == status.StateSkipped {
			continue
		}
		why := st.State
		if st.Error != "" {
			why += ": " + firstLine(st.Error)
		}
		out = append(out, fmt.Sprintf("%s (%s)", n, why))
	}
	return out, nil
}
