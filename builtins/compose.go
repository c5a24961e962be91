package builtins

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/kiln-dev/kiln/runtime/plan"
	"github.com/kiln-dev/kiln/starlark/host"
	"go.starlark.net/starlark"
)

// docker_compose() and dc_resource(): Compose files parsed in-process with compose-spec's
// compose-go, each service a resource that kiln runs through the Docker engine API (see
// runtime/compose). No docker compose binary is involved.

func (s *State) composeBuiltins() starlark.StringDict {
	return starlark.StringDict{
		"docker_compose": starlark.NewBuiltin("docker_compose", s.dockerCompose),
		"dc_resource":    starlark.NewBuiltin("dc_resource", s.dcResource),
	}
}

// composeService is a service as docker_compose() read it; dc_resource() options apply at
// assembly, as k8s_resource()'s do.
type composeService struct {
	plan.ComposeService
}

// dcOpts is one dc_resource() call.
type dcOpts struct {
	name, newName, triggerMode string
	resourceDeps, labels       []string
	links                      []plan.Link
	autoInit                   *bool
	pos                        string
}

// dockerCompose is docker_compose(configPaths, env_file=None, project_name=”, profiles=[],
// wait=False).
func (s *State) dockerCompose(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var configPaths starlark.Value
	var envFile, projectName string
	var profiles stringList
	var wait bool
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "configPaths", &configPaths, "env_file?", &envFile,
		"project_name?", &projectName, "profiles?", &profiles, "wait?", &wait); err != nil {
		return nil, err
	}
	var files []types.ConfigFile
	workingDir := ""
	add := func(v starlark.Value) error {
		switch v := v.(type) {
		case Blob:
			files = append(files, types.ConfigFile{Filename: filepath.Join(filepath.Dir(host.CurrentFile(t)), "docker-compose.yml"), Content: []byte(v.Text)})
		case starlark.String:
			abs := s.abs(t, string(v))
			data, err := s.host.ReadFile(abs)
			if err != nil {
				return err
			}
			files = append(files, types.ConfigFile{Filename: abs, Content: data})
		default:
			return fmt.Errorf("want a path, a list of paths or a blob of YAML, got %s", v.Type())
		}
		if workingDir == "" {
			workingDir = filepath.Dir(files[0].Filename)
		}
		return nil
	}
	if list, ok := configPaths.(*starlark.List); ok {
		for i := 0; i < list.Len(); i++ {
			if err := add(list.Index(i)); err != nil {
				return nil, fmt.Errorf("%s: configPaths[%d]: %v", b.Name(), i, err)
			}
		}
	} else if err := add(configPaths); err != nil {
		return nil, fmt.Errorf("%s: configPaths: %v", b.Name(), err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s: configPaths is empty; give the compose file(s)", b.Name())
	}

	// The environment the files interpolate: kiln's (os.putenv included), then the .env
	// beside the first file or env_file=, as docker compose reads it.
	env := map[string]string{}
	for _, kv := range s.environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	dotEnv := filepath.Join(workingDir, ".env")
	if envFile != "" {
		dotEnv = s.abs(t, envFile)
	}
	if _, err := os.Stat(dotEnv); err == nil || envFile != "" {
		s.host.RecordRead(dotEnv)
		fromFile, err := dotenv.GetEnvFromFile(env, []string{dotEnv})
		if err != nil {
			return nil, fmt.Errorf("%s: env_file %s: %v", b.Name(), s.rel(dotEnv), err)
		}
		for k, v := range fromFile {
			if _, set := env[k]; !set {
				env[k] = v
			}
		}
	}
	if projectName == "" {
		projectName = loader.NormalizeProjectName(filepath.Base(workingDir))
	}
	project, err := loader.LoadWithContext(host.Context(t), types.ConfigDetails{WorkingDir: workingDir, ConfigFiles: files, Environment: env},
		func(o *loader.Options) {
			o.SetProjectName(projectName, true)
			o.Profiles = profiles
			o.ResolvePaths = true
			o.ResourceLoaders = nil // include: of remote resources never reaches the network
		})
	if err != nil {
		return nil, fmt.Errorf("%s: %v", b.Name(), err)
	}
	if wait {
		s.ignoredParam(t, b, "wait", "kiln waits for every service to run, and for its healthcheck when it has one")
	}
	names := make([]string, 0, len(project.Services))
	for n := range project.Services {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		cs, err := s.composeServiceOf(t, b, project, project.Services[n])
		if err != nil {
			return nil, fmt.Errorf("%s: service %s: %v", b.Name(), n, err)
		}
		for _, prev := range s.compose {
			if prev.Name == cs.Name {
				return nil, fmt.Errorf("%s: service %s is already declared at %s", b.Name(), n, prev.Pos)
			}
		}
		s.compose = append(s.compose, cs)
	}
	return starlark.None, nil
}

// composeServiceOf converts one compose-go service. A service with build: gets an image kiln
// builds, unless the project declares one of that ref with docker_build.
func (s *State) composeServiceOf(t *starlark.Thread, b *starlark.Builtin, project *types.Project, svc types.ServiceConfig) (*composeService, error) {
	cs := &composeService{plan.ComposeService{
		Name: svc.Name, Project: project.Name, Pos: pos(t), Image: svc.Image,
		Command: svc.Command, Entrypoint: svc.Entrypoint, WorkingDir: svc.WorkingDir, User: svc.User,
		TriggerMode: s.settings.TriggerMode, AutoInit: true,
	}}
	if cs.Image == "" {
		cs.Image = project.Name + "-" + svc.Name
	}
	for k, v := range svc.Environment {
		if v != nil {
			if cs.Env == nil {
				cs.Env = map[string]string{}
			}
			cs.Env[k] = *v
		}
	}
	for _, p := range svc.Ports {
		cs.Ports = append(cs.Ports, plan.ComposePort{HostIP: p.HostIP, Host: p.Published, Container: p.Target, Protocol: p.Protocol})
	}
	for _, v := range svc.Volumes {
		switch v.Type {
		case types.VolumeTypeBind:
			src := v.Source
			if rel, err := filepath.Rel(s.host.Dir, src); err == nil && !strings.HasPrefix(rel, "..") {
				src = filepath.ToSlash(rel)
			}
			cs.Volumes = append(cs.Volumes, plan.ComposeVolume{Type: "bind", Source: src, Target: v.Target, ReadOnly: v.ReadOnly})
		case types.VolumeTypeVolume:
			cs.Volumes = append(cs.Volumes, plan.ComposeVolume{Type: "volume", Source: v.Source, Target: v.Target, ReadOnly: v.ReadOnly})
		default:
			s.warn("%s: %s: service %s: a %s volume at %s is ignored; kiln mounts bind and named volumes", pos(t), b.Name(), svc.Name, v.Type, v.Target)
		}
	}
	if hc := svc.HealthCheck; hc != nil && !hc.Disable && len(hc.Test) > 0 && hc.Test[0] != "NONE" {
		h := &plan.ComposeHealth{Test: hc.Test}
		ms := func(d *types.Duration) int64 {
			if d == nil {
				return 0
			}
			return time.Duration(*d).Milliseconds()
		}
		h.IntervalMS, h.TimeoutMS, h.StartPeriodMS = ms(hc.Interval), ms(hc.Timeout), ms(hc.StartPeriod)
		if hc.Retries != nil {
			h.Retries = int(*hc.Retries)
		}
		cs.Healthcheck = h
	}
	for dep := range svc.DependsOn {
		cs.DependsOn = append(cs.DependsOn, dep)
	}
	sort.Strings(cs.DependsOn)
	if svc.Build != nil && s.matchImage(cs.Image) == nil {
		kw := []starlark.Tuple{{starlark.String("ref"), starlark.String(cs.Image)}, {starlark.String("context"), starlark.String(svc.Build.Context)}}
		if svc.Build.Dockerfile != "" {
			df := svc.Build.Dockerfile
			if !filepath.IsAbs(df) {
				df = filepath.Join(svc.Build.Context, df)
			}
			kw = append(kw, starlark.Tuple{starlark.String("dockerfile"), starlark.String(df)})
		}
		if svc.Build.DockerfileInline != "" {
			kw = append(kw, starlark.Tuple{starlark.String("dockerfile_contents"), starlark.String(svc.Build.DockerfileInline)})
		}
		if svc.Build.Target != "" {
			kw = append(kw, starlark.Tuple{starlark.String("target"), starlark.String(svc.Build.Target)})
		}
		if len(svc.Build.Args) > 0 {
			d := starlark.NewDict(len(svc.Build.Args))
			for k, v := range svc.Build.Args {
				if v != nil {
					_ = d.SetKey(starlark.String(k), starlark.String(*v))
				}
			}
			kw = append(kw, starlark.Tuple{starlark.String("build_args"), d})
		}
		if _, err := s.dockerBuild(t, starlark.NewBuiltin("docker_compose", nil), nil, kw); err != nil {
			return nil, fmt.Errorf("build: %v", err)
		}
		s.images[len(s.images)-1].fromCompose = true
	}
	return cs, nil
}

// dcResource is dc_resource(name, trigger_mode, resource_deps, links, labels, auto_init,
// new_name, infer_links, project_name): options for a compose service's resource.
func (s *State) dcResource(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var name, newName, projectName string
	var trigger, links, autoInit starlark.Value
	var deps, labels stringList
	var inferLinks bool
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name", &name, "trigger_mode?", &trigger,
		"resource_deps?", &deps, "links?", &links, "labels?", &labels, "auto_init?", &autoInit,
		"new_name?", &newName, "infer_links?", &inferLinks, "project_name?", &projectName); err != nil {
		return nil, err
	}
	o := &dcOpts{name: name, newName: newName, resourceDeps: deps, labels: labels, pos: pos(t)}
	if trigger != nil && trigger != starlark.None {
		var tm triggerMode
		if err := tm.Unpack(trigger); err != nil {
			return nil, fmt.Errorf("%s: trigger_mode: %v", b.Name(), err)
		}
		o.triggerMode = string(tm)
	}
	if autoInit != nil && autoInit != starlark.None {
		v := bool(autoInit.Truth())
		o.autoInit = &v
	}
	var err error
	if o.links, err = parseLinks(links, 0); err != nil {
		return nil, fmt.Errorf("%s(%q): links: %v", b.Name(), name, err)
	}
	s.dcOpts = append(s.dcOpts, o)
	return starlark.None, nil
}

// planCompose applies dc_resource() options and links each service to the image kiln builds
// for it. It returns the services and the refs of the images they use.
func (s *State) planCompose() ([]plan.ComposeService, []string, error) {
	byName := map[string]*composeService{}
	for _, cs := range s.compose {
		byName[cs.Name] = cs
	}
	for _, o := range s.dcOpts {
		cs := byName[o.name]
		if cs == nil {
			known := make([]string, 0, len(s.compose))
			for _, c := range s.compose {
				known = append(known, c.Name)
			}
			return nil, nil, fmt.Errorf("%s: dc_resource(%q): no docker_compose() service has that name (services: %s)", o.pos, o.name, strings.Join(known, ", "))
		}
		if o.newName != "" {
			cs.Name = o.newName
		}
		if o.triggerMode != "" {
			cs.TriggerMode = o.triggerMode
		}
		if o.autoInit != nil {
			cs.AutoInit = *o.autoInit
		}
		for _, d := range o.resourceDeps {
			s.noteDep(cs.Name, d, o.pos)
		}
		cs.ResourceDeps = appendNew(cs.ResourceDeps, o.resourceDeps...)
		cs.Labels = appendNew(cs.Labels, o.labels...)
		cs.Links = append(cs.Links, o.links...)
	}
	// depends_on names services as the compose file does; follow renames.
	renamed := map[string]string{}
	for old, cs := range byName {
		renamed[old] = cs.Name
	}
	for _, cs := range s.compose {
		for i, d := range cs.DependsOn {
			if n, ok := renamed[d]; ok {
				cs.DependsOn[i] = n
			}
		}
	}
	var out []plan.ComposeService
	var used []string
	for _, cs := range s.compose {
		if img := s.matchImage(cs.Image); img != nil {
			cs.ImageRef = img.Ref
			used = append(used, img.Ref)
		}
		out = append(out, cs.ComposeService)
	}
	return out, used, nil
}
