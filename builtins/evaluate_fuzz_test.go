package builtins

import (
	"context"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kiln-dev/kiln/starlark/host"
	"go.starlark.net/syntax"
)

// fuzzLimits are small, so that every input ends fast.
var fuzzLimits = host.Limits{MaxSteps: 100_000, MaxCallDepth: 500, MaxFileSize: 1 << 20, MaxMemory: 64 << 20}

// fuzzSeeds are Kilnfiles that exercise loops, recursion, data conversion and the builtins.
var fuzzSeeds = []string{
	"n = 0\nwhile True:\n    n += 1\n",
	"def f(n):\n    return f(n + 1)\nf(0)\n",
	"def f(n):\n    return g(n)\ndef g(n):\n    return f(n)\nf(0)\n",
	"l = [1]\nl.append(l)\nencode_json(l)\n",
	"d = {'a': [1, 2, {'b': None}]}\nprint(encode_yaml(d))\nprint(decode_json(encode_json(d)))\n",
	"s = 'x'\nfor i in range(40):\n    s += s\n",
	"k8s_yaml(blob('apiVersion: v1\\nkind: ConfigMap\\nmetadata: {name: c}\\ndata: {a: b}\\n'))\n",
	"k8s_yaml(blob('apiVersion: apps/v1\\nkind: Deployment\\nmetadata: {name: web}\\nspec:\\n  template:\\n    spec:\\n      containers: [{name: web, image: web}]\\n'))\nk8s_resource('web', port_forwards = 8080, labels = ['x'])\n",
	"x = decode_yaml_stream('a: 1\\n---\\nb: [1, 2]\\n')\nfor d in x:\n    print(encode_json(d))\n",
	"config.define_string('env')\ncfg = config.parse()\nprint(cfg.get('env', 'dev'))\n",
	"print(os.path.basename('a/b'), os.getcwd(), shlex.quote('a b'))\nfail('done')\n",
	"read_file('missing', default = 'x')\nread_json('missing', default = {})\nwatch_file('x')\n",
	"load('Kilnfile', 'x')\n",
	"update_settings(max_parallel_updates = 2)\nallow_k8s_contexts('kind-x')\nprint(k8s_context())\n",
}

// excludedFromFuzzing are names a random program must not use: those that run commands or
// walk the whole file system, and the string methods that can make a value billions of
// bytes or elements long in one step, which no limit between steps can stop (list() and the
// like check the length they are given: see host's sized builtins).
var excludedFromFuzzing = map[string]bool{
	"local": true, "listdir": true, "docker_build": true, "custom_build": true,
	"join": true, "replace": true, "elems": true, "codepoints": true, "elem_ords": true,
	"codepoint_ords": true, "split": true, "rsplit": true, "splitlines": true, "format": true,
}

// fuzzable reports whether src is safe to evaluate here: see excludedFromFuzzing; repetition
// and shifts (x * n, x << n) and large literals would allocate without bound in one step.
func fuzzable(src string) bool {
	f, err := host.FileOptions.Parse("Kilnfile", src, 0)
	if err != nil {
		return !strings.ContainsAny(src, "*<") // a syntax error: it never runs
	}
	ok := true
	syntax.Walk(f, func(n syntax.Node) bool {
		switch n := n.(type) {
		case *syntax.Ident:
			ok = ok && !excludedFromFuzzing[n.Name]
		case *syntax.DotExpr:
			ok = ok && !excludedFromFuzzing[n.Name.Name]
		case *syntax.BinaryExpr:
			ok = ok && n.Op != syntax.STAR && n.Op != syntax.LTLT
		case *syntax.AssignStmt:
			ok = ok && n.Op != syntax.STAR_EQ && n.Op != syntax.LTLT_EQ
		case *syntax.Literal:
			switch v := n.Value.(type) {
			case int64:
				ok = ok && v <= 1_000_000
			case *big.Int:
				ok = false
			}
		}
		return ok
	})
	return ok
}

// FuzzEvaluate evaluates random Kilnfiles under small limits: none may panic (a panic
// becomes an "internal error"), and each must end well within its budget.
func FuzzEvaluate(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		if !fuzzable(src) {
			t.Skip()
		}
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "Kilnfile"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		start := time.Now()
		_, err := EvaluateContext(ctx, dir, Options{
			Subcommand: "render", Stdout: io.Discard, Stderr: io.Discard,
			Env: map[string]string{"KUBECONFIG": filepath.Join(dir, "none")}, Limits: fuzzLimits,
		})
		if d := time.Since(start); d > 20*time.Second {
			t.Fatalf("evaluation took %s under a budget of %d steps", d, fuzzLimits.MaxSteps)
		}
		if err != nil && strings.Contains(err.Error(), "internal error") {
			t.Fatalf("a panic:\n%s", err)
		}
	})
}

func TestFuzzableExcludesUnboundedOperations(t *testing.T) {
	for src, want := range map[string]bool{
		"x = 1 + 2\n":                true,
		"local('rm -rf /')\n":        false,
		"x = 'a' * 100\n":            false,
		"x = 1 << 40\n":              false,
		"x = 10000000000\n":          false,
		"x = ''.join(['a'])\n":       false,
		"x = list(range(10))\n":      true,
		"x = 'ab'.elems()\n":         false,
		"x = [1]\nx *= 3\n":          false,
		"while True:\n    pass\n":    true,
		"syntax error (\n":           true,
		"syntax error * (\n":         false,
		"x = 99999999999999999999\n": false,
	} {
		if got := fuzzable(src); got != want {
			t.Errorf("fuzzable(%q) = %v, want %v", src, got, want)
		}
	}
}
