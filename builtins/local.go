package builtins

import (
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/kiln-dev/kiln/runtime/plan"
	"github.com/kiln-dev/kiln/starlark/host"
	"go.starlark.net/starlark"
)

func (s *State) localBuiltins() starlark.StringDict {
	return starlark.StringDict{
		"local":             starlark.NewBuiltin("local", s.local),
		"local_resource":    starlark.NewBuiltin("local_resource", s.localResource),
		"probe":             starlark.NewBuiltin("probe", makeProbe),
		"exec_action":       starlark.NewBuiltin("exec_action", execAction),
		"http_get_action":   starlark.NewBuiltin("http_get_action", httpGetAction),
		"tcp_socket_action": starlark.NewBuiltin("tcp_socket_action", tcpSocketAction),
	}
}

// local is local(command, quiet=False, command_bat=”, echo_off=False, env={}, dir=”,
// stdin=None, timeout='5m'): run a command now, at evaluation time, and return its stdout as a
// blob. This is the one builtin that acts during evaluation: the user asked for it explicitly.
func (s *State) local(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var cmd, cmdBat command
	var quiet, echoOff bool
	var env stringMap
	var dir string
	var stdin starlark.Value
	limit := timeout(defaultLocalTimeout)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "command", &cmd, "quiet?", &quiet,
		"command_bat?", &cmdBat, "echo_off?", &echoOff, "env?", &env, "dir?", &dir, "stdin?", &stdin,
		"timeout?", &limit); err != nil {
		return nil, err
	}
	if len(cmd) == 0 {
		return nil, fmt.Errorf("%s: command is empty", b.Name())
	}
	c := exec.Command(cmd[0], cmd[1:]...)
	c.Dir = dirOf(t)
	if dir != "" {
		c.Dir = s.abs(t, dir)
	}
	c.Env = s.commandEnv(t)
	for _, k := range sortedStrings(env) {
		c.Env = append(c.Env, k+"="+env[k])
	}
	if stdin != nil && stdin != starlark.None {
		text, ok := starlark.AsString(stdin)
		if !ok {
			if blob, isBlob := stdin.(Blob); isBlob {
				text = blob.Text
			} else {
				return nil, fmt.Errorf("%s: stdin must be a string or blob, got %s", b.Name(), stdin.Type())
			}
		}
		c.Stdin = strings.NewReader(text)
	}
	display := strings.Join(cmd, " ")
	if len(cmd) == 3 && cmd[0] == "sh" && cmd[1] == "-c" {
		display = cmd[2]
	}
	if !echoOff {
		fmt.Fprintf(s.opts.Stdout, "local: %s\n", display)
	}
	if objs, ok := tiltApplyInput(display, env); ok {
		// `… | tilt apply -f -` (sys.executable is kiln): Tilt's API objects, which kiln has
		// no server for; the UI buttons and their commands are recorded as buttons.
		if err := s.applyTiltObjects(t, b, objs); err != nil {
			return nil, err
		}
		return Blob{Text: "", Source: "local(" + display + ")"}, nil
	}
	if out, ok := tiltProbe(display); ok {
		if !quiet {
			fmt.Fprint(s.opts.Stdout, out)
		}
		return Blob{Text: out, Source: "local(" + display + ")"}, nil
	}
	run := localRun{name: b.Name(), display: display, timeout: time.Duration(limit)}
	if !quiet {
		run.echo = s.opts.Stdout
	}
	out, err := run.run(host.Context(t), c)
	if err != nil {
		return nil, err
	}
	return Blob{Text: out, Source: "local(" + display + ")"}, nil
}

// TiltVersion is the Tilt release whose Tiltfile API kiln follows: what `tilt version`
// answers inside kiln.
const TiltVersion = "0.33.22"

// tiltProbe answers the `tilt version` probes extensions make (min_tilt_version and the like)
// as Tilt prints it, without running a tilt binary: under kiln there is none to ask.
func tiltProbe(display string) (string, bool) {
	switch strings.Join(strings.Fields(display), " ") {
	case "tilt version", "tilt --version":
		return "v" + TiltVersion + ", built 2025-01-01\n", true
	}
	return "", false
}

// localResource is local_resource(name, cmd=”, deps=[], ...): a command on the developer's
// machine, re-run when deps change, and optionally a long-running serve_cmd.
func (s *State) localResource(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		name, dir, serveDir                      string
		cmd, serveCmd, cmdBat, serveCmdBat       command
		deps, resourceDeps, ignore, labels, tags stringList
		trigger, autoInit, links, readiness      starlark.Value
		allowParallel                            bool
		env, serveEnv                            stringMap
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name", &name, "cmd?", &cmd, "deps?", &deps,
		"trigger_mode?", &trigger, "resource_deps?", &resourceDeps, "ignore?", &ignore,
		"auto_init?", &autoInit, "serve_cmd?", &serveCmd, "cmd_bat?", &cmdBat,
		"serve_cmd_bat?", &serveCmdBat, "allow_parallel?", &allowParallel, "links?", &links,
		"tags?", &tags, "env?", &env, "serve_env?", &serveEnv, "readiness_probe?", &readiness,
		"dir?", &dir, "serve_dir?", &serveDir, "labels?", &labels); err != nil {
		return nil, err
	}
	if name == "" {
		return nil, fmt.Errorf("%s: name is empty", b.Name())
	}
	if len(cmd) == 0 && len(serveCmd) == 0 {
		return nil, fmt.Errorf("%s(%q): give cmd=, serve_cmd=, or both", b.Name(), name)
	}
	for _, other := range s.locals {
		if other.Name == name {
			return nil, fmt.Errorf("%s: local resource %q is already defined at %s", b.Name(), name, other.Pos)
		}
	}
	wd := func(d string) string {
		if d == "" {
			return s.rel(dirOf(t))
		}
		return s.rel(s.abs(t, d))
	}
	lr := &plan.LocalResource{
		Name: name, Pos: pos(t), ResourceDeps: resourceDeps, Ignore: ignore,
		TriggerMode: s.settings.TriggerMode, AutoInit: true, AllowParallel: allowParallel,
		Labels: append(labels, tags...),
	}
	if len(cmd) > 0 {
		lr.Cmd = &plan.Command{Argv: cmd, Dir: wd(dir), Env: env}
	}
	if len(serveCmd) > 0 {
		lr.ServeCmd = &plan.Command{Argv: serveCmd, Dir: wd(serveDir), Env: serveEnv}
	}
	for _, d := range deps {
		abs := s.abs(t, d)
		s.host.RecordRead(abs)
		lr.Deps = append(lr.Deps, s.rel(abs))
	}
	if trigger != nil && trigger != starlark.None {
		var tm triggerMode
		if err := tm.Unpack(trigger); err != nil {
			return nil, fmt.Errorf("%s(%q): trigger_mode: %v", b.Name(), name, err)
		}
		lr.TriggerMode = string(tm)
	}
	if autoInit != nil && autoInit != starlark.None {
		lr.AutoInit = bool(autoInit.Truth())
	}
	var err error
	if lr.Links, err = parseLinks(links, 0); err != nil {
		return nil, fmt.Errorf("%s(%q): links: %v", b.Name(), name, err)
	}
	if readiness != nil && readiness != starlark.None {
		p, ok := readiness.(probeValue)
		if !ok {
			return nil, fmt.Errorf("%s(%q): readiness_probe must be probe(...), got %s", b.Name(), name, readiness.Type())
		}
		if len(serveCmd) == 0 {
			return nil, fmt.Errorf("%s(%q): readiness_probe needs a serve_cmd to probe", b.Name(), name)
		}
		probe := p.p
		lr.ReadinessProbe = &probe
	}
	s.locals = append(s.locals, lr)
	return starlark.None, nil
}

// probeValue is what probe() returns; actionValue is what the *_action() builtins return.
type probeValue struct{ p plan.ReadinessProbe }
type actionValue struct {
	exec []string
	http *plan.HTTPGet
	tcp  *plan.TCPSocket
}

func (p probeValue) String() string         { return "probe(...)" }
func (p probeValue) Type() string           { return "probe" }
func (p probeValue) Freeze()                {}
func (p probeValue) Truth() starlark.Bool   { return true }
func (p probeValue) Hash() (uint32, error)  { return 0, fmt.Errorf("unhashable: probe") }
func (a actionValue) String() string        { return "action(...)" }
func (a actionValue) Type() string          { return "probe_action" }
func (a actionValue) Freeze()               {}
func (a actionValue) Truth() starlark.Bool  { return true }
func (a actionValue) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable: probe_action") }

func makeProbe(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	p := plan.ReadinessProbe{TimeoutSeconds: 1, PeriodSeconds: 10, SuccessThreshold: 1, FailureThreshold: 3}
	var execA, httpA, tcpA starlark.Value
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "initial_delay_secs?", &p.InitialDelaySeconds,
		"timeout_secs?", &p.TimeoutSeconds, "period_secs?", &p.PeriodSeconds,
		"success_threshold?", &p.SuccessThreshold, "failure_threshold?", &p.FailureThreshold,
		"exec?", &execA, "http_get?", &httpA, "tcp_socket?", &tcpA); err != nil {
		return nil, err
	}
	n := 0
	for _, a := range []starlark.Value{execA, httpA, tcpA} {
		if a == nil || a == starlark.None {
			continue
		}
		n++
		act, ok := a.(actionValue)
		if !ok {
			return nil, fmt.Errorf("%s: want exec_action(), http_get_action() or tcp_socket_action(), got %s", b.Name(), a.Type())
		}
		p.Exec, p.HTTPGet, p.TCPSocket = act.exec, act.http, act.tcp
	}
	if n != 1 {
		return nil, fmt.Errorf("%s: give exactly one of exec=, http_get= or tcp_socket=", b.Name())
	}
	return probeValue{p}, nil
}

func execAction(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var cmd stringList
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "command", &cmd); err != nil {
		return nil, err
	}
	return actionValue{exec: cmd}, nil
}

func httpGetAction(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	h := &plan.HTTPGet{}
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "port", &h.Port, "host?", &h.Host, "scheme?", &h.Scheme, "path?", &h.Path); err != nil {
		return nil, err
	}
	if err := checkPort(h.Port); err != nil {
		return nil, fmt.Errorf("%s: %v", b.Name(), err)
	}
	return actionValue{http: h}, nil
}

func tcpSocketAction(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	h := &plan.TCPSocket{}
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "port", &h.Port, "host?", &h.Host); err != nil {
		return nil, err
	}
	if err := checkPort(h.Port); err != nil {
		return nil, fmt.Errorf("%s: %v", b.Name(), err)
	}
	return actionValue{tcp: h}, nil
}
