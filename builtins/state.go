// Package builtins implements the functions a Kilnfile calls: docker_build, k8s_yaml, helm,
// local_resource and the rest, with Tilt's names, parameters and semantics. Builtins only
// record: they validate their arguments, read files through the host (so every read is
// watched), and add to the State. Assemble turns the State into a plan.
package builtins

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/kiln-dev/kiln/internal/filememo"
	"github.com/kiln-dev/kiln/runtime/contexthash"
	"github.com/kiln-dev/kiln/runtime/plan"
	"github.com/kiln-dev/kiln/starlark/ext"
	"github.com/kiln-dev/kiln/starlark/host"
	"go.starlark.net/starlark"
)

// Options configure one evaluation.
type Options struct {
	// Args are the script arguments after "--", read by config.parse().
	Args []string
	// Subcommand is the kiln command: "render", "run", "watch", "down" (config.tilt_subcommand
	// answers Tilt's name for it: see tiltSubcommand).
	Subcommand string
	// Context is the kubeconfig context chosen on the command line ("" = kubeconfig's current).
	Context string
	// Namespace is the namespace chosen on the command line.
	Namespace string
	// Stdout receives print() and local() output; Stderr receives warnings.
	Stdout, Stderr io.Writer
	// CacheDir holds the content-hash cache ("" = no persistent cache).
	CacheDir string
	// Env overrides os.Getenv for os.getenv(), for tests (nil = the process environment).
	Env map[string]string
	// DefaultRegistry applies when the Kilnfile calls no default_registry(): the local
	// registry a cluster advertises (KEP-1755).
	DefaultRegistry string
	// Limits bound the evaluation: Starlark steps, call depth, file sizes, memory (zero
	// fields: the defaults).
	Limits host.Limits
	// Memo, under kiln watch, holds what earlier evaluations read and hashed, for as long as the
	// file watcher vouches that it did not change (runtime/inputwatch). nil: read and hash
	// everything.
	Memo *filememo.Memo
	// Ext configures ext:// resolution and kiln.lock. ProjectDir and CacheDir are filled in
	// when empty; Getenv defaults to Env (or the process environment).
	Ext ext.Options
}

// State is everything the builtins recorded during one evaluation.
type State struct {
	opts      Options
	host      *host.Host
	mainPath  string
	hashCache *contexthash.Cache
	renders   *renderCache

	yaml      []yamlEntry
	declared  map[string]string // objectKey → source of the last k8s_yaml() that declared it
	images    []*imageTarget
	resources []*resourceOpts // k8s_resource calls, in call order
	kinds     []*kindRule
	customs   []*customDeploy
	// depPos is where k8s_resource() gave each (resource, dependency) of resource_deps.
	depPos     map[[2]string]string
	locals     []*plan.LocalResource
	cluster    *plan.Cluster
	convention conventionRule
	settings   plan.Settings
	config     *configState
	warnings   []string
	// workloadToResource is the function from workload_to_resource_function, or nil.
	workloadToResource starlark.Callable
	// steps are the live_update steps created and not yet used, keyed by identity.
	unusedSteps map[*stepValue]bool
	// env holds os.putenv changes, visible to os.getenv and local().
	env map[string]*string
	// kube is the scoped kubeconfig local() commands get (see commandEnv).
	kube scopedKube
	// ext resolves ext:// loads and keeps kiln.lock.
	ext *ext.Resolver
	// nativeOff are the native extensions the project turned off (extension_settings).
	nativeOff map[string]bool
	// groups are releases whose objects make one resource each (helm_resource).
	groups []*objectGroup
	// helmRepos are helm_repo() names and URLs; resource_deps may name them.
	helmRepos map[string]string
	// buttons and buttonCmds are v1alpha1.ui_button and v1alpha1.cmd calls (see buttons.go).
	buttons    []*plan.Button
	buttonCmds []buttonCmd
	// compose and dcOpts are docker_compose() services and dc_resource() calls.
	compose []*composeService
	dcOpts  []*dcOpts
}

// newState returns an empty state with Tilt's default settings.
func newState(h *host.Host, opts Options) *State {
	if opts.Stdout == nil {
		opts.Stdout = os.Stdout
	}
	if opts.Stderr == nil {
		opts.Stderr = os.Stderr
	}
	s := &State{
		opts: opts,
		host: h,
		settings: plan.Settings{
			MaxParallelUpdates: 3,
			K8sUpsertTimeout:   30,
			CITimeout:          30 * 60,
			ReadinessTimeout:   5 * 60,
			ScrubSecrets:       true,
			TriggerMode:        triggerAuto,
			DefaultRegistry:    opts.DefaultRegistry,
		},
		convention:  defaultConvention(),
		unusedSteps: map[*stepValue]bool{},
		env:         map[string]*string{},
	}
	s.config = newConfigState(s)
	return s
}

// pos returns "file:line:col" of the Starlark call that invoked the running builtin.
func pos(t *starlark.Thread) string {
	if t.CallStackDepth() < 2 {
		return ""
	}
	return t.CallFrame(1).Pos.String()
}

// warn records a warning; it is printed and kept in the plan.
func (s *State) warn(format string, args ...any) {
	s.warnings = append(s.warnings, fmt.Sprintf(format, args...))
}

// abs resolves a path given to a builtin against the executing file's directory.
func (s *State) abs(t *starlark.Thread, path string) string {
	return host.AbsPath(t, path)
}

// rel returns a project-relative, '/'-separated form of an absolute path.
func (s *State) rel(path string) string { return s.host.Rel(path) }

// getenv reads an environment variable, honouring os.putenv and the test override.
func (s *State) getenv(key string) (string, bool) {
	if v, ok := s.env[key]; ok {
		if v == nil {
			return "", false
		}
		return *v, true
	}
	if s.opts.Env != nil {
		v, ok := s.opts.Env[key]
		return v, ok
	}
	return os.LookupEnv(key)
}

// environ returns the environment local commands run with.
func (s *State) environ() []string {
	base := map[string]string{}
	if s.opts.Env != nil {
		for k, v := range s.opts.Env {
			base[k] = v
		}
	} else {
		for _, kv := range os.Environ() {
			for i := 0; i < len(kv); i++ {
				if kv[i] == '=' {
					base[kv[:i]] = kv[i+1:]
					break
				}
			}
		}
	}
	for k, v := range s.env {
		if v == nil {
			delete(base, k)
		} else {
			base[k] = *v
		}
	}
	out := make([]string, 0, len(base))
	for _, k := range sortedStrings(base) {
		out = append(out, k+"="+base[k])
	}
	return out
}

// dirOf is the directory of the file executing on t.
func dirOf(t *starlark.Thread) string { return filepath.Dir(host.CurrentFile(t)) }
