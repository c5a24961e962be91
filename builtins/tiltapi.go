package builtins

import (
	"fmt"
	"sort"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

// tiltAPI is every name of Tilt's Tiltfile API (tilt-dev/tilt internal/tiltfile): the
// top-level builtins, then each module's members as "module.member". The Starlark resolver
// rejects an unknown global anywhere in a file, even in a branch that never runs, so each of
// these names must exist for a real Tiltfile to evaluate at all. Names kiln implements come
// from their own files; withTiltAPI adds the rest as builtins that fail only when called
// (see unsupported). docs/reference/tilt-compatibility.md describes each one.
var tiltAPI = []string{
	// Kubernetes objects and resources.
	"k8s_yaml", "k8s_resource", "k8s_kind", "k8s_image_json_path", "k8s_custom_deploy",
	"k8s_context", "k8s_namespace", "allow_k8s_contexts", "filter_yaml", "helm", "kustomize",
	"workload_to_resource_function", "port_forward", "link",
	// Images and live update.
	"docker_build", "custom_build", "default_registry", "sync", "run", "fall_back_on",
	"initial_sync", "restart_container",
	// Docker Compose.
	"docker_compose", "dc_resource",
	// Local resources and readiness probes.
	"local", "local_resource", "probe", "exec_action", "http_get_action", "tcp_socket_action",
	// Files and data.
	"read_file", "watch_file", "listdir", "blob", "read_json", "read_yaml", "read_yaml_stream",
	"decode_json", "decode_yaml", "decode_yaml_stream", "encode_json", "encode_yaml",
	"encode_yaml_stream",
	// Files that run other files.
	"include", "load_dynamic",
	// Settings.
	"update_settings", "ci_settings", "watch_settings", "secret_settings", "version_settings",
	"analytics_settings", "docker_prune_settings", "trigger_mode", "TRIGGER_MODE_AUTO",
	"TRIGGER_MODE_MANUAL", "enable_feature", "disable_feature", "disable_snapshots", "set_team",
	"experimental_analytics_report", "experimental_metrics_settings", "experimental_telemetry_cmd",
	// Language helpers.
	"struct", "warn", "fail", "exit",
	// Modules.
	"os", "os.getcwd", "os.getenv", "os.putenv", "os.unsetenv", "os.environ", "os.name", "os.path",
	"os.path.abspath", "os.path.basename", "os.path.dirname", "os.path.exists", "os.path.join",
	"os.path.realpath", "os.path.relpath",
	"sys", "sys.argv", "sys.executable",
	"shlex", "shlex.quote",
	"config", "config.define_string", "config.define_string_list", "config.define_bool",
	"config.define_object", "config.parse", "config.set_enabled_resources",
	"config.clear_enabled_resources", "config.tilt_subcommand", "config.main_path",
	"config.main_dir",
	"v1alpha1",
	// v1alpha1: constructors of Tilt's API-server objects...
	"v1alpha1.cmd", "v1alpha1.config_map", "v1alpha1.extension", "v1alpha1.extension_repo",
	"v1alpha1.file_watch", "v1alpha1.kubernetes_apply", "v1alpha1.kubernetes_discovery",
	"v1alpha1.ui_button",
	// ...and of the values their fields hold.
	"v1alpha1.config_map_disable_source", "v1alpha1.disable_source", "v1alpha1.exec_action",
	"v1alpha1.forward", "v1alpha1.http_get_action", "v1alpha1.http_header", "v1alpha1.handler",
	"v1alpha1.ignore_def", "v1alpha1.kubernetes_apply_cmd",
	"v1alpha1.kubernetes_discovery_template_spec", "v1alpha1.kubernetes_image_locator",
	"v1alpha1.kubernetes_image_object_descriptor", "v1alpha1.kubernetes_watch_ref",
	"v1alpha1.label_selector", "v1alpha1.label_selector_requirement", "v1alpha1.object_selector",
	"v1alpha1.pod_log_stream_template_spec", "v1alpha1.port_forward_template_spec",
	"v1alpha1.probe", "v1alpha1.restart_on_spec", "v1alpha1.start_on_spec",
	"v1alpha1.tcp_socket_action", "v1alpha1.ui_bool_input_spec", "v1alpha1.ui_component_location",
	"v1alpha1.ui_hidden_input_spec", "v1alpha1.ui_input_spec", "v1alpha1.ui_text_input_spec",
}

// unsupportedHint says what to do instead of a Tilt builtin kiln does not implement yet,
// keyed by name (a module's members by "module."). The default is guardHint.
var unsupportedHint = map[string]string{
	"v1alpha1.": "kiln has no API server to hold Tilt's v1alpha1 objects; use the builtin that records the same thing (local_resource, k8s_resource, port_forward, probe), or " + guardHint,
}

// guardHint is the default advice for an unsupported builtin.
const guardHint = "keep the call for Tilt alone by guarding it with `if sys.executable != 'kiln':`"

// withTiltAPI adds to all every name of tiltAPI it lacks: a builtin that fails when called,
// or, for a module, a module with such members. Module members kiln lacks are added to its
// modules the same way.
func withTiltAPI(all starlark.StringDict) {
	members := map[string][]string{}
	for _, name := range tiltAPI {
		mod, member, ok := strings.Cut(name, ".")
		if !ok {
			if _, have := all[name]; !have && !isModule(name) {
				all[name] = unsupported(name)
			}
			continue
		}
		members[mod] = append(members[mod], member)
	}
	mods := make([]string, 0, len(members))
	for m := range members {
		mods = append(mods, m)
	}
	sort.Strings(mods)
	for _, mod := range mods {
		m, _ := all[mod].(*starlarkstruct.Module)
		if m == nil {
			m = &starlarkstruct.Module{Name: mod, Members: starlark.StringDict{}}
			all[mod] = m
		}
		for _, member := range members[mod] {
			addMember(m, member)
		}
	}
}

// addMember adds member (possibly dotted: "path.exists") to m when it lacks it.
func addMember(m *starlarkstruct.Module, member string) {
	head, rest, nested := strings.Cut(member, ".")
	if !nested {
		if _, have := m.Members[head]; !have && !isModule(m.Name+"."+head) {
			m.Members[head] = unsupported(m.Name + "." + head)
		}
		return
	}
	sub, _ := m.Members[head].(*starlarkstruct.Module)
	if sub == nil {
		sub = &starlarkstruct.Module{Name: m.Name + "." + head, Members: starlark.StringDict{}}
		m.Members[head] = sub
	}
	addMember(sub, rest)
}

// isModule reports whether a name of tiltAPI is a module (it has members in the list).
func isModule(name string) bool {
	for _, n := range tiltAPI {
		if strings.HasPrefix(n, name+".") {
			return true
		}
	}
	return false
}

// unsupported returns the builtin for a Tilt name kiln does not implement yet: calling it
// is an error naming the builtin, the call's file:line and what to do; naming it is not.
func unsupported(name string) *starlark.Builtin {
	hint, ok := unsupportedHint[name]
	if !ok {
		if mod, _, dotted := strings.Cut(name, "."); dotted {
			hint, ok = unsupportedHint[mod+"."]
		}
	}
	if !ok {
		hint = guardHint
	}
	return starlark.NewBuiltin(name, func(t *starlark.Thread, b *starlark.Builtin, _ starlark.Tuple, _ []starlark.Tuple) (starlark.Value, error) {
		at := pos(t)
		if at != "" {
			at = " (called at " + at + ")"
		}
		return nil, fmt.Errorf("%s is a Tilt builtin that kiln does not support yet%s; %s; see docs/reference/tilt-compatibility.md", b.Name(), at, hint)
	})
}
