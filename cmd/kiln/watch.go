package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/kiln-dev/kiln/builtins"
	"github.com/kiln-dev/kiln/runtime/apply"
	"github.com/kiln-dev/kiln/runtime/engine"
	"github.com/kiln-dev/kiln/runtime/filewatch"
	"github.com/kiln-dev/kiln/runtime/inputwatch"
	"github.com/kiln-dev/kiln/runtime/plan"
	"github.com/kiln-dev/kiln/runtime/status"
	"github.com/kiln-dev/kiln/runtime/statusapi"
	"github.com/spf13/pflag"
)

// watchCmd is kiln watch: kiln run, then keep the cluster equal to the project until Ctrl-C.
func watchCmd(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("kiln watch", pflag.ContinueOnError)
	var common commonFlags
	common.register(fs)
	debounce := fs.Duration("debounce", filewatch.DefaultDebounce, "how long the files must be quiet before a batch of changes is acted on (Tilt waits 200ms)")
	scriptArgs, code, ok := parseFlags(fs, args, stderr)
	if !ok {
		return code
	}
	if *debounce <= 0 || *debounce > 10*time.Second {
		fmt.Fprintf(stderr, "kiln watch: --debounce %s: want more than 0 and at most 10s\n", *debounce)
		return exitUsage
	}
	if !common.readLimits(stderr) {
		return exitUsage
	}
	ctx, stop := commandContext("", 0)
	defer stop()
	p, ok := evaluate(ctx, common, scriptArgs, "watch", stderr)
	if !ok {
		return exitFail
	}
	w, err := inputwatch.New(p, filewatch.Options{Debounce: *debounce})
	if err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return exitFail
	}
	defer w.Close()
	changes := make(chan engine.ChangeBatch)
	go func() {
		defer close(changes)
		for b := range w.Batches() {
			if b.Err != nil {
				fmt.Fprintf(stderr, "Warning: %v\n", b.Err)
			}
			if len(b.Paths) == 0 {
				continue
			}
			select {
			case changes <- engine.ChangeBatch{Paths: b.Paths, Seen: b.Seen}:
			case <-ctx.Done():
				return
			}
		}
	}()
	store := status.New()
	stateDir, err := statusapi.StateDir(apply.ProjectID(p.Dir))
	if err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return exitFail
	}
	triggers := make(chan string, 16)
	logSrc := &logSource{}
	api, err := statusapi.Start(stateDir, store, statusapi.Handlers{Logs: logSrc, Trigger: func(name string) error {
		if _, ok := store.Get(status.KindResource, name); !ok {
			return fmt.Errorf("the project has no resource named %q (kiln get resources lists them)", name)
		}
		select {
		case triggers <- name:
			return nil
		default:
			return fmt.Errorf("too many triggers are waiting; try again when the current update is done")
		}
	}})
	if err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return exitFail
	}
	defer api.Close()
	fmt.Fprintf(stderr, "kiln watch: status API at %s (kiln get resources)\n", stateDir)
	warned := slices.Clone(p.Warnings)
	err = engine.Watch(ctx, p, engine.WatchOptions{
		Options: engine.Options{Out: stdout, Context: common.context, Namespace: common.namespace, CacheDir: cacheDir(), Store: store,
			Replan: func(registry string) (*plan.Plan, error) {
				opts := evalOptions(common, scriptArgs, "watch", io.Discard)
				opts.DefaultRegistry = registry
				return builtins.EvaluateContext(ctx, common.file, opts)
			},
			Retag: func(p *plan.Plan, refs []string) (*plan.Plan, error) { return builtins.Retag(p, refs, cacheDir()) }},
		Evaluate: func(ctx context.Context, registry string) (*plan.Plan, error) {
			opts := evalOptions(common, scriptArgs, "watch", stderr)
			opts.DefaultRegistry = registry
			opts.Memo = w.Memo() // what did not change since the last evaluation is not read again
			np, err := builtins.EvaluateContext(ctx, common.file, opts)
			if err != nil {
				return nil, err
			}
			for _, msg := range np.Warnings {
				if !slices.Contains(warned, msg) {
					fmt.Fprintf(stderr, "Warning: %s\n", msg)
				}
			}
			warned = slices.Clone(np.Warnings)
			return np, nil
		},
		Changes:     changes,
		Triggers:    triggers,
		LogSpillDir: stateDir,
		Logs:        logSrc.set,
		Watch:       w.SetPlan,
	})
	if err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return exitFail
	}
	fmt.Fprintln(stderr, "kiln watch: stopped; everything stays up (kiln down deletes it)")
	return exitOK
}
