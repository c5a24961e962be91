// Command kiln runs a Kubernetes project described by a Kilnfile (or a Tiltfile): it builds
// the images, applies the manifests to a local cluster, and keeps them live.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"

	"github.com/kiln-dev/kiln/builtins"
	"github.com/kiln-dev/kiln/runtime/plan"
	"github.com/kiln-dev/kiln/runtime/supervise"
	"github.com/kiln-dev/kiln/starlark/ext"
	"github.com/kiln-dev/kiln/starlark/host"
	"github.com/spf13/pflag"
)

// Exit codes: 0 success, 1 a failed run, 2 a usage error.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

const usage = `kiln: the Kubernetes inner loop.

Usage:
  kiln run    [-f FILE] [--context CTX] [--namespace NS] [--timeout D] [-- ARGS]
  kiln watch  [-f FILE] [--context CTX] [--namespace NS] [--debounce 20ms] [-- ARGS]
  kiln down   [-f FILE] [--context CTX] [--namespace NS] [--delete-namespaces] [--timeout D] [-- ARGS]
  kiln render [-f FILE] [-o yaml|json] [--context CTX] [--namespace NS] [--timeout D] [-- ARGS]
  kiln get    KIND [NAME] [-f FILE] [-o wide|json|yaml|jsonpath=TEMPLATE]
  kiln describe RESOURCE [-f FILE] [--show-yaml]
  kiln trigger RESOURCE... [-f FILE]
  kiln wait   --for=ready RESOURCE...|--all [-f FILE] [--timeout 5m]
  kiln logs   [RESOURCE...] [-f] [--since 5m] [--container NAME] [--file FILE]
  kiln ext    list|update [NAME]|vendor [-f FILE] [-- ARGS]

Commands:
  run      build, load, apply and wait: exit 0 only when every resource is up and ready
  watch    run, then keep the cluster equal to the project as files change, until Ctrl-C
  down     delete what kiln applied for the project
  render   print the fully resolved manifests (or, with -o json, the whole plan)
  get      show what the project's kiln watch is doing: resources, images, ... (its status API)
  describe all the project's kiln watch knows of one resource: state, steps, pods, forwards, logs
  trigger  run a resource now in the project's kiln watch (trigger_mode manual, or to re-run)
  wait     wait until resources of the project's kiln watch are ready, for scripts
  logs     print the logs of the project's kiln watch: every container and local command
  ext      the ext:// extensions kiln.lock pins: list them, update them, vendor them

Run 'kiln COMMAND --help' for a command's flags.
`

func main() {
	if len(os.Args) > 1 && os.Args[1] == supervise.Command {
		// Inside a container, in front of its program (restart_container()).
		os.Exit(supervise.Main(os.Args[2:], os.Stderr))
	}
	spareProcs()
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// spareProcs gives the Go scheduler two more Ps than CPUs (unless GOMAXPROCS is set). The
// evaluation's memory watch (starlark/host) is a goroutine that must run while evaluation
// copies a huge value — a memmove that cannot be preempted — and the GC takes the other P:
// with only as many Ps as CPUs it sometimes waits out one more doubling of a runaway value
// (1.1 GB peak RSS or 2.1 GB, half and half, on 2 cores). Spare Ps let the OS schedule it.
func spareProcs() {
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(max(runtime.GOMAXPROCS(0), runtime.NumCPU()+2))
	}
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usage)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	switch args[0] {
	case "render":
		return render(args[1:], stdout, stderr)
	case "run":
		return runCmd(args[1:], stdout, stderr)
	case "down":
		return downCmd(args[1:], stdout, stderr)
	case "watch":
		return watchCmd(args[1:], stdout, stderr)
	case "ext":
		return extCmd(args[1:], stdout, stderr)
	case "get":
		return getCmd(args[1:], stdout, stderr)
	case "describe":
		return describeCmd(args[1:], stdout, stderr)
	case "trigger":
		return triggerCmd(args[1:], stdout, stderr)
	case "wait":
		return waitCmd(args[1:], stdout, stderr)
	case "logs":
		return logsCmd(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "kiln: unknown command %q\n\n%s", args[0], usage)
	return exitUsage
}

// commonFlags are the flags every command that evaluates a project takes.
type commonFlags struct {
	file, context, namespace string
	frozen                   bool        // refuse to change kiln.lock (also CI=true)
	limits                   host.Limits // from the environment (readLimits)
}

func (c *commonFlags) register(fs *pflag.FlagSet) {
	fs.StringVarP(&c.file, "file", "f", ".", "the Kilnfile or Tiltfile, or a directory holding one")
	fs.StringVar(&c.context, "context", "", "the kubeconfig context to use (default: the current context)")
	fs.StringVarP(&c.namespace, "namespace", "n", "", "the default namespace")
	fs.BoolVar(&c.frozen, "frozen", false, "refuse to change kiln.lock: an ext:// extension it does not pin is an error (default when CI=true)")
}

// parseArgs parses the flags of a command that evaluates nothing: --help exits 0, a bad flag
// 2 (pflag has printed why).
func parseArgs(fs *pflag.FlagSet, args []string) (code int, ok bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return exitOK, false
		}
		return exitUsage, false
	}
	return exitOK, true
}

// parseFlags parses args, splitting off the script args after "--".
func parseFlags(fs *pflag.FlagSet, args []string, stderr io.Writer) (scriptArgs []string, code int, ok bool) {
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return nil, exitOK, false
		}
		return nil, exitUsage, false
	}
	if n := fs.ArgsLenAtDash(); n >= 0 {
		if n > 0 {
			fmt.Fprintf(stderr, "kiln: unexpected arguments %v; script arguments go after --\n", fs.Args()[:n])
			return nil, exitUsage, false
		}
		return fs.Args(), exitOK, true
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "kiln: unexpected arguments %v; script arguments go after --\n", fs.Args())
		return nil, exitUsage, false
	}
	return nil, exitOK, true
}

func render(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("kiln render", pflag.ContinueOnError)
	var common commonFlags
	common.register(fs)
	output := fs.StringP("output", "o", "yaml", "yaml: the manifests as one YAML stream; json: the whole plan")
	timeout := fs.Duration("timeout", 0, "give up after this long (default: no limit beyond the evaluation's own)")
	scriptArgs, code, ok := parseFlags(fs, args, stderr)
	if !ok {
		return code
	}
	if *output != "yaml" && *output != "json" {
		fmt.Fprintf(stderr, "kiln render: --output must be yaml or json, not %q\n", *output)
		return exitUsage
	}
	if !common.readLimits(stderr) {
		return exitUsage
	}
	ctx, stop := commandContext("kiln render --timeout", *timeout)
	defer stop()
	p, ok := evaluate(ctx, common, scriptArgs, "render", stderr)
	if !ok {
		return exitFail
	}
	var out []byte
	var err error
	if *output == "json" {
		out, err = p.RenderJSON()
	} else {
		out, err = p.RenderYAML()
	}
	if err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return exitFail
	}
	if _, err := stdout.Write(out); err != nil {
		return exitFail
	}
	return exitOK
}

// cacheDir is where kiln keeps its content-hash cache: $KILN_CACHE_DIR, else the user cache
// directory. "" (no cache) when neither can be had.
func cacheDir() string {
	if d := os.Getenv("KILN_CACHE_DIR"); d != "" {
		return d
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(d, "kiln")
}

// evaluate runs the project file and prints its warnings. Errors are printed; ok is false.
// It stops when ctx ends.
func evaluate(ctx context.Context, common commonFlags, scriptArgs []string, subcommand string, stderr io.Writer) (*plan.Plan, bool) {
	p, err := builtins.EvaluateContext(ctx, common.file, evalOptions(common, scriptArgs, subcommand, stderr))
	if err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return nil, false
	}
	for _, w := range p.Warnings {
		fmt.Fprintf(stderr, "Warning: %s\n", w)
	}
	return p, true
}

func evalOptions(common commonFlags, scriptArgs []string, subcommand string, stderr io.Writer) builtins.Options {
	return builtins.Options{
		Args: scriptArgs, Subcommand: subcommand, Context: common.context, Namespace: common.namespace,
		Stdout: stderr, Stderr: stderr, CacheDir: cacheDir(), Limits: common.limits,
		// kiln down never fetches and never writes the lock.
		Ext: ext.Options{Frozen: common.frozen || ciMode(), Offline: subcommand == "down"},
	}
}

// ciMode reports whether CI=true (or 1) is set: CI refuses to change kiln.lock.
func ciMode() bool {
	v, _ := strconv.ParseBool(os.Getenv("CI"))
	return v
}
