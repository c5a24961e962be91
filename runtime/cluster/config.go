package cluster

import (
	"encoding/json"
	"fmt"
	"os"

	"sigs.k8s.io/yaml"

	"github.com/kiln-dev/kiln/runtime/plan"
)

const (
	kindAPIVersion = "kind.x-k8s.io/v1alpha4"
	kindKind       = "Cluster"
)

// createConfig returns the kind config to create c with, as YAML (kind decodes it strictly),
// and whether to pass image with CreateWithNodeImage. That option overrides every node's
// image, so it is used only when the config names none; when it names some, the nodes that
// name none get image here instead of kind's default.
func createConfig(c *plan.Cluster, image string) (raw []byte, useImage bool, err error) {
	cfg := map[string]any{}
	switch {
	case c.Config != nil:
		// A deep copy: the plan is never mutated.
		b, err := json.Marshal(c.Config)
		if err != nil {
			return nil, false, fmt.Errorf("kind config: %w", err)
		}
		if err := json.Unmarshal(b, &cfg); err != nil {
			return nil, false, fmt.Errorf("kind config: %w", err)
		}
	case c.ConfigFile != "":
		b, err := os.ReadFile(c.ConfigFile)
		if err != nil {
			return nil, false, fmt.Errorf("kind config: %w", err)
		}
		if err := yaml.Unmarshal(b, &cfg); err != nil {
			return nil, false, fmt.Errorf("kind config %s: %w", c.ConfigFile, err)
		}
		if cfg == nil {
			cfg = map[string]any{}
		}
	}
	if v, ok := cfg["apiVersion"]; !ok || v == "" {
		cfg["apiVersion"] = kindAPIVersion
	} else if v != kindAPIVersion {
		return nil, false, fmt.Errorf("kind config: apiVersion %v is not supported (want %s)", v, kindAPIVersion)
	}
	if v, ok := cfg["kind"]; !ok || v == "" {
		cfg["kind"] = kindKind
	} else if v != kindKind {
		return nil, false, fmt.Errorf("kind config: kind %v is not supported (want %s)", v, kindKind)
	}

	var nodes []map[string]any
	if v, ok := cfg["nodes"]; ok && v != nil {
		list, ok := v.([]any)
		if !ok {
			return nil, false, fmt.Errorf("kind config: nodes must be a list, not %T", v)
		}
		for i, n := range list {
			m, ok := n.(map[string]any)
			if !ok {
				return nil, false, fmt.Errorf("kind config: nodes[%d] must be a mapping, not %T", i, n)
			}
			nodes = append(nodes, m)
		}
	}
	named := false
	for _, n := range nodes {
		if s, _ := n["image"].(string); s != "" {
			named = true
		}
	}
	if named {
		for _, n := range nodes {
			if s, _ := n["image"].(string); s == "" {
				n["image"] = image
			}
		}
	}
	raw, err = yaml.Marshal(cfg)
	if err != nil {
		return nil, false, fmt.Errorf("kind config: %w", err)
	}
	return raw, !named, nil
}
