package builtins

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/kiln-dev/kiln/starlark/host"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

// ConfigFiles are read by config.parse(), next to the main file; the first that exists wins.
var ConfigFiles = []string{"kiln_config.json", "tilt_config.json"}

// configSetting is one config.define_*() setting.
type configSetting struct {
	kind  string // "string", "string_list", "bool", "object"
	args  bool   // takes the positional arguments
	usage string
}

type configState struct {
	s        *State
	settings map[string]*configSetting
	order    []string
	parsed   bool
	enabled  []string
	// extArgs, when set, are the args of an extension run on its own (v1alpha1.extension(
	// args=)): its config.parse() reads them, and no config file.
	extArgs *[]string
}

func newConfigState(s *State) *configState {
	return &configState{s: s, settings: map[string]*configSetting{}}
}

// module returns the config module.
func (c *configState) module(mainPath string) *starlarkstruct.Module {
	define := func(kind string) *starlark.Builtin {
		return starlark.NewBuiltin("config.define_"+kind, func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			var name, usage string
			var takesArgs bool
			if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name", &name, "args?", &takesArgs, "usage?", &usage); err != nil {
				return nil, err
			}
			if c.parsed {
				return nil, fmt.Errorf("%s(%q): settings must be defined before config.parse()", b.Name(), name)
			}
			if _, dup := c.settings[name]; dup {
				return nil, fmt.Errorf("%s: setting %q is already defined", b.Name(), name)
			}
			if takesArgs {
				for _, other := range c.order {
					if c.settings[other].args {
						return nil, fmt.Errorf("%s(%q): only one setting can take the positional args, and %q already does", b.Name(), name, other)
					}
				}
			}
			c.settings[name] = &configSetting{kind: kind, args: takesArgs, usage: usage}
			c.order = append(c.order, name)
			return starlark.None, nil
		})
	}
	return &starlarkstruct.Module{Name: "config", Members: starlark.StringDict{
		"define_string":           define("string"),
		"define_string_list":      define("string_list"),
		"define_bool":             define("bool"),
		"define_object":           define("object"),
		"parse":                   starlark.NewBuiltin("config.parse", c.parse),
		"set_enabled_resources":   starlark.NewBuiltin("config.set_enabled_resources", c.setEnabled),
		"clear_enabled_resources": starlark.NewBuiltin("config.clear_enabled_resources", c.clearEnabled),
		"tilt_subcommand":         starlark.String(tiltSubcommand(c.s.opts.Subcommand)),
		"main_path":               starlark.String(mainPath),
		"main_dir":                starlark.String(filepath.Dir(mainPath)),
	}}
}

// tiltSubcommand is config.tilt_subcommand: Tilt's name for the kiln command, which is what
// extensions test for: kiln watch is `tilt up`, kiln run is `tilt ci`; render and down keep
// their names (down is `tilt down`).
func tiltSubcommand(kiln string) string {
	switch kiln {
	case "watch":
		return "up"
	case "run":
		return "ci"
	}
	return kiln
}

// parse is config.parse(): the settings' values from the args after "--", then from
// kiln_config.json (or tilt_config.json) for settings the args don't give.
func (c *configState) parse(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackArgs(b.Name(), args, kwargs); err != nil {
		return nil, err
	}
	c.parsed = true
	values := map[string]any{}
	scriptArgs := c.s.opts.Args
	if c.extArgs != nil {
		scriptArgs = *c.extArgs
	} else if err := c.readConfigFile(host.MainFile(t), values); err != nil {
		return nil, err
	}
	fromArgs, err := c.parseArgs(scriptArgs)
	if err != nil {
		return nil, err
	}
	for k, v := range fromArgs {
		values[k] = v
	}
	out := starlark.NewDict(len(values))
	for _, k := range sortedStrings(values) {
		v := values[k]
		if c.settings[k].kind == "object" {
			_ = out.SetKey(starlark.String(k), fromGo(numbersToGo(v)))
			continue
		}
		_ = out.SetKey(starlark.String(k), fromGo(v))
	}
	return out, nil
}

func (c *configState) readConfigFile(mainPath string, values map[string]any) error {
	dir := filepath.Dir(mainPath)
	for _, name := range ConfigFiles {
		path := filepath.Join(dir, name)
		data, err := c.s.host.ReadFile(path) // recorded even if missing: creating it re-evaluates
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("config.parse: %v", err)
		}
		var raw map[string]any
		if err := unmarshalJSON(string(data), &raw); err != nil {
			return fmt.Errorf("config.parse: %s is not a JSON object: %v", name, err)
		}
		for _, k := range sortedStrings(raw) {
			setting, ok := c.settings[k]
			if !ok {
				return fmt.Errorf("config.parse: %s sets %q, which no config.define_*() defines (defined: %s)", name, k, strings.Join(c.order, ", "))
			}
			v, err := checkConfigValue(setting.kind, raw[k])
			if err != nil {
				return fmt.Errorf("config.parse: %s: setting %q: %v", name, k, err)
			}
			values[k] = v
		}
		return nil
	}
	return nil
}

// unmarshalJSON decodes the one JSON value that text holds into v, numbers as json.Number.
// Anything but blanks after that value is an error, as in json.Unmarshal, not ignored.
func unmarshalJSON(text string, v any) error {
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("unexpected data after the JSON value at offset %d", dec.InputOffset())
	}
	return nil
}

func checkConfigValue(kind string, v any) (any, error) {
	switch kind {
	case "string":
		if s, ok := v.(string); ok {
			return s, nil
		}
		return nil, fmt.Errorf("want a string")
	case "bool":
		if b, ok := v.(bool); ok {
			return b, nil
		}
		return nil, fmt.Errorf("want true or false")
	case "string_list":
		list, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("want a list of strings")
		}
		out := make([]any, len(list))
		for i, x := range list {
			s, ok := x.(string)
			if !ok {
				return nil, fmt.Errorf("want a list of strings")
			}
			out[i] = s
		}
		return out, nil
	}
	return v, nil
}

// parseArgs reads "--name value", "--name=value", a bare "--flag" for bools, and positional
// args for the setting defined with args=True.
func (c *configState) parseArgs(args []string) (map[string]any, error) {
	values := map[string]any{}
	var positional []any
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "--") || a == "--" {
			positional = append(positional, a)
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		setting, ok := c.settings[name]
		if !ok {
			return nil, fmt.Errorf("config.parse: unknown flag --%s; the Kilnfile defines: %s", name, c.describe())
		}
		if setting.kind == "bool" {
			if !hasVal {
				values[name] = true
				continue
			}
			b, err := strconv.ParseBool(val)
			if err != nil {
				return nil, fmt.Errorf("config.parse: --%s=%s: want true or false", name, val)
			}
			values[name] = b
			continue
		}
		if !hasVal {
			if i+1 >= len(args) {
				return nil, fmt.Errorf("config.parse: --%s needs a value", name)
			}
			i++
			val = args[i]
		}
		switch setting.kind {
		case "string":
			values[name] = val
		case "string_list":
			prev, _ := values[name].([]any)
			values[name] = append(prev, val)
		case "object":
			var obj any
			if err := unmarshalJSON(val, &obj); err != nil {
				return nil, fmt.Errorf("config.parse: --%s: want JSON: %v", name, err)
			}
			values[name] = obj
		}
	}
	if len(positional) > 0 {
		var target string
		for _, name := range c.order {
			if c.settings[name].args {
				target = name
			}
		}
		if target == "" {
			return nil, fmt.Errorf("config.parse: positional args %v given, but no setting takes them (define one with args=True)", positional)
		}
		switch c.settings[target].kind {
		case "string_list":
			values[target] = positional
		case "string":
			if len(positional) > 1 {
				return nil, fmt.Errorf("config.parse: setting %q takes one positional arg, got %d", target, len(positional))
			}
			values[target] = positional[0]
		default:
			return nil, fmt.Errorf("config.parse: setting %q of kind %s cannot take positional args", target, c.settings[target].kind)
		}
	}
	return values, nil
}

func (c *configState) describe() string {
	if len(c.order) == 0 {
		return "(no settings)"
	}
	names := append([]string{}, c.order...)
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = "--" + n
	}
	return strings.Join(parts, ", ")
}

func (c *configState) setEnabled(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var names stringList
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "resources", &names); err != nil {
		return nil, err
	}
	c.enabled = names
	if c.enabled == nil {
		c.enabled = []string{}
	}
	return starlark.None, nil
}

func (c *configState) clearEnabled(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackArgs(b.Name(), args, kwargs); err != nil {
		return nil, err
	}
	c.enabled = []string{}
	return starlark.None, nil
}
