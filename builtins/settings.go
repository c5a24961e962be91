package builtins

import (
	"errors"
	"fmt"
	"time"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kiln-dev/kiln/runtime/plan"
)

// Trigger modes, as Tilt's TRIGGER_MODE_AUTO and TRIGGER_MODE_MANUAL.
const (
	triggerAuto   = plan.TriggerAuto
	triggerManual = plan.TriggerManual
)

// triggerMode is the value of TRIGGER_MODE_AUTO and TRIGGER_MODE_MANUAL.
type triggerMode string

func (m triggerMode) String() string {
	return "TRIGGER_MODE_" + map[string]string{triggerAuto: "AUTO", triggerManual: "MANUAL"}[string(m)]
}
func (m triggerMode) Type() string          { return "trigger_mode" }
func (m triggerMode) Freeze()               {}
func (m triggerMode) Truth() starlark.Bool  { return true }
func (m triggerMode) Hash() (uint32, error) { return starlark.String(m).Hash() }

// Unpack lets triggerMode be a parameter type.
func (m *triggerMode) Unpack(v starlark.Value) error {
	tm, ok := v.(triggerMode)
	if !ok {
		return fmt.Errorf("want TRIGGER_MODE_AUTO or TRIGGER_MODE_MANUAL, got %s", v.Type())
	}
	*m = tm
	return nil
}

// exitError is raised by exit(): it stops evaluation early.
type exitError struct{ code int }

func (e *exitError) Error() string { return fmt.Sprintf("exit(%d)", e.code) }

// isExit reports whether err came from exit(code), and the code.
func isExit(err error) (int, bool) {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code, true
	}
	return 0, false
}

func (s *State) settingsBuiltins() starlark.StringDict {
	noop := func(name string) *starlark.Builtin {
		// Accepted for Tiltfile compatibility; they configure Tilt features kiln doesn't have.
		return starlark.NewBuiltin(name, func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
			return starlark.None, nil
		})
	}
	return starlark.StringDict{
		"allow_k8s_contexts":    starlark.NewBuiltin("allow_k8s_contexts", s.allowContexts),
		"k8s_context":           starlark.NewBuiltin("k8s_context", s.k8sContext),
		"k8s_namespace":         starlark.NewBuiltin("k8s_namespace", s.k8sNamespace),
		"update_settings":       starlark.NewBuiltin("update_settings", s.updateSettings),
		"ci_settings":           starlark.NewBuiltin("ci_settings", s.ciSettings),
		"watch_settings":        starlark.NewBuiltin("watch_settings", s.watchSettings),
		"secret_settings":       starlark.NewBuiltin("secret_settings", s.secretSettings),
		"version_settings":      starlark.NewBuiltin("version_settings", s.versionSettings),
		"trigger_mode":          starlark.NewBuiltin("trigger_mode", s.setTriggerMode),
		"extension_settings":    starlark.NewBuiltin("extension_settings", s.extensionSettings),
		"TRIGGER_MODE_AUTO":     triggerMode(triggerAuto),
		"TRIGGER_MODE_MANUAL":   triggerMode(triggerManual),
		"fail":                  starlark.NewBuiltin("fail", fail),
		"warn":                  starlark.NewBuiltin("warn", s.warnBuiltin),
		"exit":                  starlark.NewBuiltin("exit", exit),
		"struct":                starlark.NewBuiltin("struct", starlarkstruct.Make),
		"analytics_settings":    noop("analytics_settings"),
		"enable_feature":        noop("enable_feature"),
		"disable_feature":       noop("disable_feature"),
		"disable_snapshots":     noop("disable_snapshots"),
		"set_team":              noop("set_team"),
		"docker_prune_settings": noop("docker_prune_settings"),
		// Tilt's telemetry hooks: kiln sends no telemetry.
		"experimental_analytics_report": noop("experimental_analytics_report"),
		"experimental_metrics_settings": noop("experimental_metrics_settings"),
		"experimental_telemetry_cmd":    noop("experimental_telemetry_cmd"),
	}
}

func (s *State) allowContexts(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var contexts stringList
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "contexts", &contexts); err != nil {
		return nil, err
	}
	s.settings.AllowK8sContexts = append(s.settings.AllowK8sContexts, contexts...)
	return starlark.None, nil
}

// kubeconfig returns the raw kubeconfig (KUBECONFIG or ~/.kube/config); missing is empty.
// kubeconfig loads the default kubeconfig, seen from context (its current context when empty).
func kubeconfig(context string) clientcmd.ClientConfig {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: context})
}

// k8sContext is k8s_context(): the context kiln will use (the --context flag, or the
// kubeconfig's current context). Reading a local file is fine at evaluation time; the
// cluster itself is never contacted.
func (s *State) k8sContext(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackArgs(b.Name(), args, kwargs); err != nil {
		return nil, err
	}
	return starlark.String(s.targetContext()), nil
}

// k8sNamespace is k8s_namespace(): the --namespace flag, or the namespace of the context kiln
// will use (--context, then kind_cluster's, then the kubeconfig's current one).
func (s *State) k8sNamespace(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackArgs(b.Name(), args, kwargs); err != nil {
		return nil, err
	}
	if s.opts.Namespace != "" {
		return starlark.String(s.opts.Namespace), nil
	}
	context := s.opts.Context
	if context == "" && s.cluster != nil {
		context = s.cluster.Context
	}
	ns, _, err := kubeconfig(context).Namespace()
	if err != nil || ns == "" {
		ns = "default"
	}
	return starlark.String(ns), nil
}

func (s *State) updateSettings(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	maxParallel := s.settings.MaxParallelUpdates
	timeout := s.settings.K8sUpsertTimeout
	var suppress stringList
	var serverSide starlark.Value
	if err := starlark.UnpackArgs(b.Name(), args, kwargs,
		"max_parallel_updates?", &maxParallel,
		"k8s_upsert_timeout_secs?", &timeout,
		"suppress_unused_image_warnings?", &suppress,
		"k8s_server_side_apply?", &serverSide); err != nil {
		return nil, err
	}
	switch serverSide {
	case nil, starlark.None, starlark.True, starlark.String("true"), starlark.String("auto"):
		// kiln always applies server-side: what Tilt's "true" asks for, and "auto" picks.
	case starlark.False, starlark.String("false"):
		s.ignoredParam(t, b, "k8s_server_side_apply", "kiln always applies server-side, as field manager \"kiln\"")
	default:
		return nil, fmt.Errorf("%s: k8s_server_side_apply must be True, False, \"true\", \"false\" or \"auto\", got %s", b.Name(), serverSide.String())
	}
	if maxParallel < 1 {
		return nil, fmt.Errorf("%s: max_parallel_updates must be at least 1, got %d", b.Name(), maxParallel)
	}
	if timeout < 1 {
		return nil, fmt.Errorf("%s: k8s_upsert_timeout_secs must be at least 1, got %d", b.Name(), timeout)
	}
	s.settings.MaxParallelUpdates = maxParallel
	s.settings.K8sUpsertTimeout = timeout
	s.settings.SuppressUnusedImageWarnings = append(s.settings.SuppressUnusedImageWarnings, suppress...)
	return starlark.None, nil
}

func (s *State) ciSettings(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var grace, timeout, readiness string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "k8s_grace_period?", &grace, "timeout?", &timeout, "readiness_timeout?", &readiness); err != nil {
		return nil, err
	}
	for _, d := range []struct {
		name, val string
		dst       *int
	}{{"timeout", timeout, &s.settings.CITimeout}, {"readiness_timeout", readiness, &s.settings.ReadinessTimeout}, {"k8s_grace_period", grace, nil}} {
		if d.val == "" {
			continue
		}
		dur, err := time.ParseDuration(d.val)
		if err != nil {
			return nil, fmt.Errorf("%s: %s=%q is not a duration like \"30s\" or \"10m\"", b.Name(), d.name, d.val)
		}
		if dur < time.Second {
			// Zero or negative would end every run at once; sub-second rounds to zero.
			return nil, fmt.Errorf("%s: %s=%q must be at least 1s", b.Name(), d.name, d.val)
		}
		if d.dst == nil {
			s.warn("%s: %s: %s=%q is accepted and ignored: kiln run fails fast on a crashing container instead of waiting out a grace period", pos(t), b.Name(), d.name, d.val)
		}
		if d.dst != nil {
			*d.dst = int(dur.Seconds())
		}
	}
	return starlark.None, nil
}

func (s *State) watchSettings(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var ignore stringList
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "ignore", &ignore); err != nil {
		return nil, err
	}
	s.settings.WatchIgnore = append(s.settings.WatchIgnore, ignore...)
	return starlark.None, nil
}

func (s *State) secretSettings(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var disableScrub bool
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "disable_scrub?", &disableScrub); err != nil {
		return nil, err
	}
	s.settings.ScrubSecrets = !disableScrub
	return starlark.None, nil
}

func (s *State) versionSettings(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	checkUpdates := true
	var constraint string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "check_updates?", &checkUpdates, "constraint?", &constraint); err != nil {
		return nil, err
	}
	if constraint != "" {
		s.ignoredParam(t, b, "constraint", "it constrains Tilt's version, and kiln is not Tilt")
	}
	return starlark.None, nil
}

func (s *State) setTriggerMode(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var mode triggerMode
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "trigger_mode", &mode); err != nil {
		return nil, err
	}
	s.settings.TriggerMode = string(mode)
	return starlark.None, nil
}

func fail(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var msg string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "msg", &msg); err != nil {
		return nil, err
	}
	return nil, errors.New(msg)
}

func (s *State) warnBuiltin(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var msg string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "msg", &msg); err != nil {
		return nil, err
	}
	s.warn("%s: %s", pos(t), msg)
	return starlark.None, nil
}

func exit(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var code starlark.Value = starlark.MakeInt(0)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "code?", &code); err != nil {
		return nil, err
	}
	n := 0
	if i, ok := code.(starlark.Int); ok {
		n64, _ := i.Int64()
		n = int(n64)
	} else if code != starlark.None {
		return nil, fmt.Errorf("exit: %s", code.String())
	}
	return nil, &exitError{code: n}
}
