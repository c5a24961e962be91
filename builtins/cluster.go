package builtins

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/kiln-dev/kiln/builtins/k8syaml"
	"github.com/kiln-dev/kiln/runtime/plan"
	"go.starlark.net/starlark"
)

func (s *State) clusterBuiltins() starlark.StringDict {
	return starlark.StringDict{
		"kind_cluster":     starlark.NewBuiltin("kind_cluster", s.kindCluster),
		"image_convention": starlark.NewBuiltin("image_convention", s.imageConvention),
	}
}

// kindCluster is kind_cluster(name='kiln', config=None, image=”): the project's local kind
// cluster. config is a kind config file or a dict (kind.x-k8s.io/v1alpha4 Cluster): extra
// mounts, port mappings, nodes. image sets every node's image.
func (s *State) kindCluster(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	name := "kiln"
	var config starlark.Value
	var image string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name?", &name, "config?", &config, "image?", &image); err != nil {
		return nil, err
	}
	if s.cluster != nil {
		return nil, fmt.Errorf("%s: the cluster is already declared; a project has one kind_cluster()", b.Name())
	}
	if !regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`).MatchString(name) {
		return nil, fmt.Errorf("%s: name %q must be lower-case letters, digits and '-'", b.Name(), name)
	}
	c := &plan.Cluster{Name: name, Context: "kind-" + name}
	var cfg map[string]any
	switch v := config.(type) {
	case nil, starlark.NoneType:
		cfg = map[string]any{}
	case starlark.String:
		abs := s.abs(t, string(v))
		data, err := s.host.ReadFile(abs)
		if err != nil {
			return nil, fmt.Errorf("%s: config: %v", b.Name(), err)
		}
		c.ConfigFile = s.rel(abs)
		docs, err := k8syaml.DecodeStream(c.ConfigFile, data)
		if err != nil {
			return nil, err
		}
		if len(docs) != 1 {
			return nil, fmt.Errorf("%s: %s must hold one kind Cluster document", b.Name(), c.ConfigFile)
		}
		m, ok := numbersToGo(docs[0]).(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: %s is not a mapping", b.Name(), c.ConfigFile)
		}
		cfg = m
	case *starlark.Dict:
		g, err := toGo(v)
		if err != nil {
			return nil, fmt.Errorf("%s: config: %v", b.Name(), err)
		}
		cfg = g.(map[string]any)
	default:
		return nil, fmt.Errorf("%s: config must be a file path or a dict, got %s", b.Name(), v.Type())
	}
	if err := checkKindConfig(cfg); err != nil {
		return nil, fmt.Errorf("%s: config: %v", b.Name(), err)
	}
	if image != "" {
		nodes, _ := cfg["nodes"].([]any)
		if len(nodes) == 0 {
			nodes = []any{map[string]any{"role": "control-plane"}}
		}
		for _, n := range nodes {
			if m, ok := n.(map[string]any); ok {
				m["image"] = image
			}
		}
		cfg["nodes"] = nodes
	}
	c.Config = cfg
	s.cluster = c
	return starlark.None, nil
}

// checkKindConfig fills in and checks the kind config's type fields.
func checkKindConfig(cfg map[string]any) error {
	if v, ok := cfg["apiVersion"]; !ok {
		cfg["apiVersion"] = "kind.x-k8s.io/v1alpha4"
	} else if v != "kind.x-k8s.io/v1alpha4" {
		return fmt.Errorf("apiVersion %v: kiln reads kind.x-k8s.io/v1alpha4", v)
	}
	if v, ok := cfg["kind"]; !ok {
		cfg["kind"] = "Cluster"
	} else if v != "Cluster" {
		return fmt.Errorf("kind %v: want Cluster", v)
	}
	if nodes, ok := cfg["nodes"]; ok {
		if _, ok := nodes.([]any); !ok {
			return fmt.Errorf("nodes must be a list")
		}
	}
	return nil
}

// conventionRule is how convention images are found: every folder under root holding a file
// whose name matches pattern is an image named after the folder.
type conventionRule struct {
	pattern *regexp.Regexp
	root    string // absolute; "" = the project dir
	pos     string
	// found maps an image name to its folder, filled on first use.
	found map[string]string
}

func defaultConvention() conventionRule {
	return conventionRule{pattern: regexp.MustCompile(`^Dockerfile$`)}
}

// imageConvention is image_convention(pattern='^Dockerfile$', root='.'): configure convention
// images, which kiln://NAME in any manifest resolves to.
func (s *State) imageConvention(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	pattern := `^Dockerfile$`
	root := "."
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "pattern?", &pattern, "root?", &root); err != nil {
		return nil, err
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("%s: pattern %q is not a valid regexp: %v", b.Name(), pattern, err)
	}
	s.convention = conventionRule{pattern: re, root: s.abs(t, root), pos: pos(t)}
	return starlark.None, nil
}

// skipDirs are never searched for convention images.
var skipDirs = map[string]bool{".git": true, "node_modules": true, "vendor": true, ".kiln": true}

// scanConventions finds the convention image folders: name → (folder, Dockerfile), and the
// names that more than one folder has.
func (s *State) scanConventions() (map[string][2]string, map[string][]string, error) {
	root := s.convention.root
	if root == "" {
		root = s.host.Dir
	}
	found := map[string][2]string{}
	dups := map[string][]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsPermission(err) {
				return nil
			}
			return err
		}
		if d.IsDir() {
			if p != root && (skipDirs[d.Name()] || d.Name()[0] == '.') {
				return filepath.SkipDir
			}
			return nil
		}
		if !s.convention.pattern.MatchString(d.Name()) {
			return nil
		}
		dir := filepath.Dir(p)
		name := filepath.Base(dir)
		if prev, ok := found[name]; ok && prev[0] != dir {
			dups[name] = append(dups[name], s.rel(prev[0]), s.rel(dir))
			return nil
		}
		if _, ok := found[name]; !ok {
			found[name] = [2]string{dir, p}
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("finding convention images under %s: %v", s.rel(root), err)
	}
	return found, dups, nil
}

// ambiguousConvention is the error for kiln://NAME when several folders are named NAME.
func (s *State) ambiguousConvention(name string, dirs []string) error {
	uniq := map[string]bool{}
	for _, d := range dirs {
		uniq[d] = true
	}
	return fmt.Errorf("kiln://%s is ambiguous: folders %s all hold a file matching %s; rename all but one", name, strings.Join(sortedStrings(uniq), ", "), s.convention.pattern)
}
