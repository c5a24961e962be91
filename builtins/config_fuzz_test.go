package builtins

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// configKinds are the settings the config fuzz Kilnfile defines, by name.
var configKinds = map[string]string{"env": "string", "to_run": "string_list", "debug": "bool", "tags": "string_list"}

// configKilnfile defines configKinds, with the positional args going to the setting that
// target picks (or to none), parses the config and prints it as JSON.
func configKilnfile(target uint8) string {
	args := [4]string{}
	if target%5 < 4 {
		args[target%5] = ", args = True"
	}
	return "config.define_string('env'" + args[0] + ", usage = 'where')\n" +
		"config.define_string_list('to_run'" + args[1] + ")\n" +
		"config.define_bool('debug'" + args[2] + ")\n" +
		"config.define_string_list('tags'" + args[3] + ")\n" +
		"cfg = config.parse()\n" +
		"print(encode_json(cfg))\n"
}

// evalConfig evaluates configKilnfile(target) with args after "--" and, unless it is
// empty, configJSON as kiln_config.json. It returns what config.parse() returned, as JSON.
func evalConfig(t *testing.T, args []string, configJSON string, target uint8) (string, error) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Kilnfile"), []byte(configKilnfile(target)), 0o644); err != nil {
		t.Fatal(err)
	}
	if configJSON != "" {
		if err := os.WriteFile(filepath.Join(dir, "kiln_config.json"), []byte(configJSON), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := EvaluateContext(ctx, dir, Options{
		Args: args, Subcommand: "render", Stdout: &out, Stderr: &out,
		Env: map[string]string{"KUBECONFIG": filepath.Join(dir, "none")}, Limits: fuzzLimits,
	})
	return strings.TrimSpace(out.String()), err
}

// canonicalArgs writes values as flags only: --name=value for strings, one --name=item per
// list item, --name=true|false for bools, in name order.
func canonicalArgs(values map[string]any) []string {
	names := make([]string, 0, len(values))
	for k := range values {
		names = append(names, k)
	}
	sort.Strings(names)
	var args []string
	for _, k := range names {
		switch v := values[k].(type) {
		case string:
			args = append(args, "--"+k+"="+v)
		case bool:
			args = append(args, "--"+k+"="+strconv.FormatBool(v))
		case []any:
			for _, x := range v {
				args = append(args, "--"+k+"="+x.(string))
			}
		}
	}
	return args
}

// FuzzConfigParse evaluates config.define_string / define_string_list / define_bool and
// config.parse() over random args after "--" and a random kiln_config.json, through the real
// builtins. None may panic; an error names the Kilnfile's line; an accepted result holds only
// defined settings with values of their kinds, each given by the args or the file; and the
// result written back as flags alone parses to the same result.
func FuzzConfigParse(f *testing.F) {
	seeds := []struct {
		argv   []string
		config string
		target uint8
	}{
		{nil, "", 4},
		{[]string{"--env=prod"}, "", 4},
		{[]string{"--env", "staging", "--debug"}, "", 4},
		{[]string{"--debug=false", "--tags", "a", "--tags=b"}, "", 4},
		{[]string{"frontend", "backend"}, "", 1},
		{[]string{"--env=dev", "api", "--", "worker"}, "", 1},
		{[]string{"only"}, "", 0},
		{[]string{"one", "two"}, "", 0},
		{[]string{"x"}, "", 2},
		{[]string{"x"}, "", 4},
		{[]string{"--nope"}, "", 4},
		{[]string{"--env"}, "", 4},
		{[]string{"--debug=maybe"}, "", 4},
		{[]string{"--env=a=b", "--env", "--debug"}, "", 4},
		{[]string{"-env=x", "--=x", "---env"}, "", 3},
		{nil, `{"env": "ci", "to_run": ["a", "b"], "debug": true}`, 4},
		{[]string{"--env=local"}, `{"env": "ci", "tags": ["t"]}`, 1},
		{nil, `{"env": 1}`, 4},
		{nil, `{"unknown": "x"}`, 4},
		{nil, `{"to_run": ["a", 2]}`, 4},
		{nil, `[1, 2]`, 4},
		{nil, `null`, 4},
		{nil, `{"env": "a"} trailing`, 4},
		{nil, `{"env": "a", "env": "b"}`, 4},
		{nil, `{"tags": []}`, 4},
	}
	for _, s := range seeds {
		f.Add(strings.Join(s.argv, "\x00"), s.config, s.target)
	}
	f.Fuzz(func(t *testing.T, argv, configJSON string, target uint8) {
		var args []string
		if argv != "" {
			args = strings.Split(argv, "\x00")
		}
		out, err := evalConfig(t, args, configJSON, target)
		if err != nil {
			msg := err.Error()
			if strings.Contains(msg, "internal error") {
				t.Fatalf("a panic:\n%s", msg)
			}
			if !strings.Contains(msg, "Kilnfile:") || !strings.Contains(msg, "config.parse") {
				t.Fatalf("an error that names neither the Kilnfile's line nor config.parse:\n%s", msg)
			}
			return
		}
		var values map[string]any
		if err := json.Unmarshal([]byte(out), &values); err != nil {
			t.Fatalf("config.parse() printed %q: %v", out, err)
		}
		var fromFile map[string]any
		_ = json.Unmarshal([]byte(configJSON), &fromFile)
		for k, v := range values {
			kind, ok := configKinds[k]
			if !ok {
				t.Fatalf("config.parse() returned %q, which no config.define_*() defines: %s", k, out)
			}
			if !ofKind(kind, v) {
				t.Fatalf("setting %q of kind %s holds %#v", k, kind, v)
			}
			if _, inFile := fromFile[k]; !inFile && !givenByArgs(k, args, target) {
				t.Fatalf("setting %q = %#v was given neither by the args %q nor by the file %q", k, v, args, configJSON)
			}
		}
		canon := canonicalArgs(values)
		again, err := evalConfig(t, canon, "", target)
		if err != nil {
			t.Fatalf("args %q, file %q parse to %s, but its flags %q fail: %v", args, configJSON, out, canon, err)
		}
		for k, v := range values {
			if list, ok := v.([]any); ok && len(list) == 0 {
				delete(values, k) // an empty list from the file: no flags can say it
			}
		}
		var values2 map[string]any
		if err := json.Unmarshal([]byte(again), &values2); err != nil || !reflect.DeepEqual(values, values2) {
			t.Fatalf("args %q, file %q parse to %s, but its flags %q parse to %s", args, configJSON, out, canon, again)
		}
	})
}

func ofKind(kind string, v any) bool {
	switch kind {
	case "string":
		_, ok := v.(string)
		return ok
	case "bool":
		_, ok := v.(bool)
		return ok
	case "string_list":
		list, ok := v.([]any)
		for _, x := range list {
			if _, isString := x.(string); !isString {
				return false
			}
		}
		return ok
	}
	return false
}

// givenByArgs reports whether args could set name: a --name flag, or positional args when
// name takes them (a loose check: whether an arg is a flag's value is not decided here).
func givenByArgs(name string, args []string, target uint8) bool {
	takesArgs := target%5 < 4 && []string{"env", "to_run", "debug", "tags"}[target%5] == name
	for _, a := range args {
		if a == "--"+name || strings.HasPrefix(a, "--"+name+"=") {
			return true
		}
		if takesArgs && (!strings.HasPrefix(a, "--") || a == "--") {
			return true
		}
	}
	return false
}
