package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/kiln-dev/kiln/builtins"
	"github.com/kiln-dev/kiln/runtime/engine"
	"github.com/kiln-dev/kiln/runtime/plan"
	"github.com/kiln-dev/kiln/starlark/host"
	"github.com/spf13/pflag"
)

// signalContext is cancelled on Ctrl-C or SIGTERM, so that a run stops cleanly.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

func runCmd(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("kiln run", pflag.ContinueOnError)
	var common commonFlags
	common.register(fs)
	timeout := fs.Duration("timeout", 0, "give up after this long, evaluation included (default: ci_settings(timeout=), 30m, from the end of evaluation)")
	scriptArgs, code, ok := parseFlags(fs, args, stderr)
	if !ok {
		return code
	}
	if !common.readLimits(stderr) {
		return exitUsage
	}
	// Ctrl-C and --timeout stop the evaluation too: it can run local() commands and loops.
	ctx, stop := commandContext("kiln run --timeout", *timeout)
	defer stop()
	start := time.Now()
	p, ok := evaluate(ctx, common, scriptArgs, "run", stderr)
	if !ok {
		return exitFail
	}
	fmt.Fprintf(stdout, "evaluated %s in %s\n", p.Main, time.Since(start).Round(time.Millisecond))
	sum, err := engine.Run(ctx, p, engine.Options{
		Out: stdout, Context: common.context, Namespace: common.namespace, Timeout: *timeout, CacheDir: cacheDir(),
		Replan: func(registry string) (*plan.Plan, error) {
			opts := evalOptions(common, scriptArgs, "run", io.Discard)
			opts.DefaultRegistry = registry
			return builtins.EvaluateContext(ctx, common.file, opts)
		},
		Retag: func(p *plan.Plan, refs []string) (*plan.Plan, error) { return builtins.Retag(p, refs, cacheDir()) },
	})
	printSummary(stdout, sum)
	if err != nil {
		if errors.Is(err, context.Canceled) && ctx.Err() != nil {
			fmt.Fprintln(stderr, "kiln run: interrupted")
		} else {
			fmt.Fprintf(stderr, "Error: %v\n", err)
		}
		return exitFail
	}
	return exitOK
}

// printSummary prints one row per resource with its steps' durations, then the totals.
func printSummary(w io.Writer, sum *engine.Summary) {
	if sum == nil || sum.Context == "" {
		return
	}
	fmt.Fprintln(w)
	if len(sum.Results) > 0 {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "RESOURCE\tKIND\tSTATUS\tSTEPS")
		for _, r := range sum.Results {
			var steps []string
			for _, s := range r.Steps {
				step := fmt.Sprintf("%s %s", s.Name, s.Duration.Round(time.Millisecond))
				if s.Note != "" {
					step += " (" + s.Note + ")"
				}
				steps = append(steps, step)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Name, r.Kind, r.Status, strings.Join(steps, ", "))
		}
		tw.Flush()
	}
	fmt.Fprintf(w, "context %s: %d built, %d loaded, %d pruned, in %s\n", sum.Context, len(sum.Built), len(sum.Loaded), len(sum.Pruned), sum.Duration.Round(time.Millisecond))
}

func downCmd(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("kiln down", pflag.ContinueOnError)
	var common commonFlags
	common.register(fs)
	deleteNS := fs.Bool("delete-namespaces", false, "delete the Namespaces kiln applied too")
	timeout := fs.Duration("timeout", 0, "give up after this long, evaluation included (default: no limit)")
	scriptArgs, code, ok := parseFlags(fs, args, stderr)
	if !ok {
		return code
	}
	if !common.readLimits(stderr) {
		return exitUsage
	}
	ctx, stop := commandContext("kiln down --timeout", *timeout)
	defer stop()
	p, ok := evaluate(ctx, common, scriptArgs, "down", stderr)
	if !ok {
		if ctx.Err() != nil {
			return exitFail
		}
		// A broken Kilnfile must not strand what kiln applied: the inventory on the cluster
		// says what that is.
		if p = inventoryOnlyPlan(common.file); p == nil {
			return exitFail
		}
		fmt.Fprintf(stderr, "Warning: the project file does not evaluate; deleting what kiln's inventory on the cluster lists instead (local contexts only, since allow_k8s_contexts is unknown; no k8s_custom_deploy delete_cmd runs)\n")
	}
	deleted, err := engine.Down(ctx, p, engine.DownOptions{Out: stdout, Context: common.context, Namespace: common.namespace, DeleteNamespaces: *deleteNS})
	if err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return exitFail
	}
	fmt.Fprintf(stdout, "deleted %d objects\n", len(deleted))
	return exitOK
}

// inventoryOnlyPlan is the plan kiln down uses when the project file does not evaluate: the
// project directory alone, which names the project's inventory. nil if there is no project.
func inventoryOnlyPlan(file string) *plan.Plan {
	dir, err := filepath.Abs(file)
	if err != nil {
		return nil
	}
	if main, err := host.FindMain(file); err == nil {
		dir = filepath.Dir(main)
	} else if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil
	}
	return &plan.Plan{Dir: dir}
}
