package builtins

import (
	"fmt"
	"sort"

	"github.com/kiln-dev/kiln/runtime/plan"
	"go.starlark.net/starlark"
)

// Native extensions: kiln's own implementations of popular tilt-extensions, served for
// load('ext://NAME', ...) with the same function names and parameters, when NAME would come
// from Tilt's own repo. Some real scripts shell out to helper programs (helm, kubectl,
// python3) or pull helper images (tiltdev/restart-helper) that kiln does without; the pure
// Starlark ones would still need a fetch. Natives need no fetch and no lock entry.
// extension_settings(native=False) runs the real scripts instead. See
// docs/reference/extensions.md.
var nativeExtensions = map[string]func(s *State) starlark.StringDict{
	"restart_process":  (*State).restartProcessExt,
	"helm_resource":    (*State).helmResourceExt,
	"helm_remote":      (*State).helmRemoteExt,
	"secret":           (*State).secretExt,
	"configmap":        (*State).configmapExt,
	"namespace":        (*State).namespaceExt,
	"uibutton":         (*State).uibuttonExt,
	"min_tilt_version": (*State).minTiltVersionExt,
	"color":            (*State).colorExt,
	"dotenv":           (*State).dotenvExt,
}

// NativeExtensions are the load names kiln answers natively, sorted.
func NativeExtensions() []string {
	names := make([]string, 0, len(nativeExtensions))
	for n := range nativeExtensions {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// native answers a load of ext://name with kiln's implementation, unless the project opted
// out with extension_settings(native=...).
func (s *State) native(_ *starlark.Thread, name string) (starlark.StringDict, bool) {
	mk, ok := nativeExtensions[name]
	if !ok || !s.nativeAllowed(name) || s.ext != nil && !s.ext.Upstream(name) {
		return nil, false // a project's own extension of that name, or its own mirror, runs as is
	}
	return mk(s), true
}

func (s *State) nativeAllowed(name string) bool {
	if s.nativeOff == nil {
		return true
	}
	return !s.nativeOff[name]
}

// extensionSettings is extension_settings(native=True): native=False runs the real script of
// every extension kiln implements natively; a list keeps only those names native.
func (s *State) extensionSettings(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var native starlark.Value = starlark.True
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "native?", &native); err != nil {
		return nil, err
	}
	off := map[string]bool{}
	switch v := native.(type) {
	case starlark.Bool:
		if !v {
			for n := range nativeExtensions {
				off[n] = true
			}
		}
	default:
		var keep stringList
		if err := keep.Unpack(native); err != nil {
			return nil, fmt.Errorf("%s: native must be True, False or a list of extension names, got %s", b.Name(), native.Type())
		}
		for n := range nativeExtensions {
			off[n] = true
		}
		for _, n := range keep {
			if _, ok := nativeExtensions[n]; !ok {
				return nil, fmt.Errorf("%s: kiln has no native %q; the native extensions are %v", b.Name(), n, NativeExtensions())
			}
			delete(off, n)
		}
	}
	s.nativeOff = off
	return starlark.None, nil
}

// restartProcessExt is ext://restart_process: docker_build_with_restart and
// custom_build_with_restart. The real extension builds a second image whose entrypoint is a
// wrapper from a helper image, and restarts it by touching a file; kiln sets the image's
// entrypoint and ends its live_update with restart_container(), which kiln's own supervisor
// carries out, with no shell in the image (FROM scratch works).
func (s *State) restartProcessExt() starlark.StringDict {
	return starlark.StringDict{
		"docker_build_with_restart": starlark.NewBuiltin("docker_build_with_restart", s.withRestart(s.dockerBuild, []string{"ref", "context", "entrypoint", "live_update"})),
		"custom_build_with_restart": starlark.NewBuiltin("custom_build_with_restart", s.withRestart(s.customBuild, []string{"ref", "command", "deps", "entrypoint", "live_update"})),
	}
}

type builtinFunc = func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error)

// withRestart wraps build (docker_build or custom_build): positional are the wrapper's
// positional parameters, in Tilt's order; the wrapper's own keywords (base_suffix,
// restart_file, trigger, exit_policy) are taken out and the rest passed through.
func (s *State) withRestart(build builtinFunc, positional []string) builtinFunc {
	return func(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		if len(args) > len(positional) {
			return nil, fmt.Errorf("%s: got %d positional arguments, want at most %d (%v); pass the rest by name", b.Name(), len(args), len(positional), positional)
		}
		named := map[string]starlark.Value{}
		for i, a := range args {
			named[positional[i]] = a
		}
		var pass []starlark.Tuple
		for _, kv := range kwargs {
			k := string(kv[0].(starlark.String))
			if _, dup := named[k]; dup {
				return nil, fmt.Errorf("%s: got multiple values for %s", b.Name(), k)
			}
			switch k {
			case "entrypoint", "live_update", "base_suffix", "restart_file", "trigger", "exit_policy":
				named[k] = kv[1]
			default:
				pass = append(pass, kv)
			}
		}
		for _, p := range positional {
			if p == "entrypoint" || p == "live_update" {
				continue
			}
			if v, ok := named[p]; ok {
				pass = append(pass, starlark.Tuple{starlark.String(p), v})
			}
		}
		if named["entrypoint"] == nil {
			return nil, fmt.Errorf("%s: missing argument for entrypoint: the command to run when the container starts and again after each live update", b.Name())
		}
		for _, p := range []string{"base_suffix", "restart_file"} {
			if v, ok := named[p]; ok && v != starlark.None {
				s.ignoredParam(t, b, p, "kiln restarts the process with its own supervisor; there is no child image and no restart file")
			}
		}
		restart := &stepValue{kind: plan.StepRestartContainer}
		if v, ok := named["exit_policy"]; ok {
			policy, _ := starlark.AsString(v)
			if policy != "restart" && policy != "continue" {
				return nil, fmt.Errorf("%s: exit_policy must be 'restart' or 'continue', got %s", b.Name(), v)
			}
			if policy == "continue" {
				restart.exitPolicy = policy
			}
		}
		if v, ok := named["trigger"]; ok && v != starlark.None {
			var triggers stringList
			if err := triggers.Unpack(v); err != nil {
				return nil, fmt.Errorf("%s: trigger: %v", b.Name(), err)
			}
			for _, tr := range triggers {
				restart.triggers = append(restart.triggers, s.abs(t, tr))
			}
		}
		steps := []starlark.Value{}
		if lu, ok := named["live_update"]; ok && lu != starlark.None {
			seq, ok := lu.(starlark.Indexable)
			if !ok {
				return nil, fmt.Errorf("%s: live_update must be a list of steps, got %s", b.Name(), lu.Type())
			}
			for i := 0; i < seq.Len(); i++ {
				if st, ok := seq.Index(i).(*stepValue); ok && st.kind == plan.StepRestartContainer {
					// The restart comes from the wrapper; the user's own is redundant.
					delete(s.unusedSteps, st)
					continue
				}
				steps = append(steps, seq.Index(i))
			}
		}
		steps = append(steps, s.newStep(t, restart))
		pass = append(pass,
			starlark.Tuple{starlark.String("entrypoint"), named["entrypoint"]},
			starlark.Tuple{starlark.String("live_update"), starlark.NewList(steps)})
		return build(t, b, nil, pass)
	}
}
