package builtins

import (
	"context"
	"strings"
	"testing"
)

const webDeployment = "k8s_yaml(blob('apiVersion: apps/v1\\nkind: Deployment\\nmetadata: {name: web}\\nspec:\\n  template:\\n    spec:\\n      containers: [{name: web, image: web}]\\n'))\n"

// The arguments that take "an X or a list of them" walk nested lists. A list that contains
// itself made that walk recurse until the Go stack overflowed: a fatal error, not a panic,
// that killed kiln. Now it is an error at the call, and so is absurd nesting.
func TestSelfContainingListsAreErrors(t *testing.T) {
	for name, call := range map[string]string{
		"k8s_yaml":            "k8s_yaml(l)\n",
		"port_forwards":       "k8s_resource('web', port_forwards = l)\n",
		"links":               "k8s_resource('web', links = l)\n",
		"extra_pod_selectors": "k8s_resource('web', extra_pod_selectors = l)\n",
		"local_resource":      "local_resource('gen', cmd = 'true', links = l)\n",
	} {
		for shape, build := range map[string]string{
			"cycle":     "l = []\nl.append(l)\n",
			"deep":      "l = []\nfor i in range(10000):\n    l = [l]\n",
			"cycle 2":   "a = []\nl = [a]\na.append(l)\n",
			"via tuple": "a = []\nl = (a,)\na.append(l)\n",
		} {
			t.Run(name+"/"+shape, func(t *testing.T) {
				msg := evalFiles(t, context.Background(), map[string]string{"Kilnfile": webDeployment + build + call}, Options{})
				mustContain(t, msg, "Kilnfile:", "nested more than 100 deep")
			})
		}
	}
}

func TestNestedListsStillWork(t *testing.T) {
	// Nesting a few levels deep keeps working as before.
	src := webDeployment + "k8s_resource('web', port_forwards = [8000, ['8001:80', [port_forward(8002)]]], links = [['http://a'], 'http://b'], extra_pod_selectors = [[{'app': 'web'}]])\n"
	if msg := evalFiles(t, context.Background(), map[string]string{"Kilnfile": src}, Options{}); msg != "" {
		t.Fatal(msg)
	}
	if msg := evalFiles(t, context.Background(), map[string]string{"Kilnfile": "k8s_resource('web', port_forwards = [['x']])\n" + webDeployment}, Options{}); !strings.Contains(msg, "not a port number") {
		t.Fatalf("a bad nested port forward: %q", msg)
	}
}
