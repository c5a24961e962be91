//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunCustomResourceReadiness: a custom resource is ready when its status conditions say
// so (kstatus): Ready=True passes, Stalled=True fails at once naming the object and the
// message, and Ready=False is waited for until the readiness timeout, which names it too.
// The CRD has no status subresource, so the test writes the status with the object, as a
// controller would.
func TestRunCustomResourceReadiness(t *testing.T) {
	c := connect(t)
	ns := newNamespace(t, c)
	group := "kstatus-" + ns + ".kiln.example"
	crd := fmt.Sprintf(`apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gadgets.%[1]s}
spec:
  group: %[1]s
  scope: Namespaced
  names: {plural: gadgets, singular: gadget, kind: Gadget}
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
`, group)
	gadget := func(cond, status, message string) string {
		return fmt.Sprintf(`apiVersion: %s/v1
kind: Gadget
metadata: {name: g, namespace: %s}
spec: {size: 1}
status:
  conditions: [{type: %s, status: "%s", message: "%s"}]
`, group, ns, cond, status, message)
	}
	files := map[string]string{
		"crd.yaml": crd,
		"Kilnfile": "k8s_yaml(['crd.yaml', 'gadget.yaml'])\nk8s_kind('Gadget')\nci_settings(readiness_timeout='8s')\n",
	}
	dir := writeProject(t, files)
	t.Cleanup(func() {
		kiln(t, nil, "down", "-f", dir, contextFlag(c))
	})
	run := func(g string) kilnResult {
		if err := os.WriteFile(filepath.Join(dir, "gadget.yaml"), []byte(g), 0o644); err != nil {
			t.Fatal(err)
		}
		return kiln(t, nil, "run", "-f", dir, contextFlag(c))
	}
	if r := run(gadget("Ready", "True", "all good")); r.code != 0 {
		t.Fatalf("a Gadget with Ready=True must be ready:\n%s", r)
	}
	if r := run(gadget("Stalled", "True", "the spec asks for a size we cannot make")); r.code != 1 ||
		!strings.Contains(r.stderr, "gadget/g failed") || !strings.Contains(r.stderr, "the spec asks for a size we cannot make") {
		t.Errorf("a stalled Gadget must fail, naming it and why:\n%s", r)
	}
	if r := run(gadget("Ready", "False", "waiting for a dependency")); r.code != 1 ||
		!strings.Contains(r.stderr, "gadget/g") || !strings.Contains(r.stderr, "waiting for a dependency") {
		t.Errorf("a Gadget with Ready=False must time out, naming it and why:\n%s", r)
	}
}
