//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// remoteServer is an address no test cluster has: TEST-NET-3.
const remoteServer = "https://203.0.113.10:6443"

// guardKubeconfig writes a copy of the user's kubeconfig with two remote clusters added: the
// current context "staging", and "kind-staging", a remote cluster named like a kind one.
func guardKubeconfig(t *testing.T) string {
	t.Helper()
	cfg, err := clientcmd.NewDefaultClientConfigLoadingRules().Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"staging", "kind-staging"} {
		cfg.Clusters[name] = &clientcmdapi.Cluster{Server: remoteServer}
		cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: "remote-token-" + name}
		cfg.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}
	}
	cfg.CurrentContext = "staging"
	path := filepath.Join(t.TempDir(), "config")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestRunCommandsSeeOnlyTheTarget: with the current context set to a remote cluster, kiln run
// --context kind-<e2e> gives every command it starts — local() at evaluation, a local_resource,
// a custom_build and a k8s_custom_deploy's apply_cmd — a kubeconfig holding the target
// context only, and the context's name in KILN_K8S_CONTEXT and TILT_K8S_CONTEXT. A remote
// cluster whose context is named kind-staging is refused.
func TestRunCommandsSeeOnlyTheTarget(t *testing.T) {
	c := connect(t)
	kubeconfig := guardKubeconfig(t)
	save := func(name string) string {
		return `cat "$KUBECONFIG" > ` + name + `.kubeconfig && echo "$KILN_K8S_CONTEXT $TILT_K8S_CONTEXT" > ` + name + `.ctx`
	}
	dir := writeProject(t, map[string]string{
		"Kilnfile": `
local('` + save("eval") + `', quiet=True)
local_resource('seen', cmd='` + save("local_resource") + `')
custom_build('example.local/guard', '` + save("custom_build") + ` && docker tag ` + BusyboxImage + ` $EXPECTED_REF', deps=['dep.txt'], disable_push=True)
k8s_custom_deploy('deploy', apply_cmd='` + save("apply_cmd") + `', delete_cmd='true', deps=[], image_deps=['example.local/guard'])
`,
		// New content each run: an image built by an earlier run would be up to date, and
		// its custom_build command would not run.
		"dep.txt": fmt.Sprintf("%s %d\n", t.Name(), time.Now().UnixNano()),
	})
	env := []string{"KUBECONFIG=" + kubeconfig}
	t.Cleanup(func() { kiln(t, env, "down", "-f", dir, contextFlag(c)) })

	r := kiln(t, env, "run", "-f", dir, contextFlag(c))
	if r.code != 0 {
		t.Fatalf("kiln run:\n%s", r)
	}
	for _, name := range []string{"eval", "local_resource", "custom_build", "apply_cmd"} {
		data, err := os.ReadFile(filepath.Join(dir, name+".kubeconfig"))
		if err != nil {
			t.Fatalf("%s did not run: %v\n%s", name, err, r)
		}
		got, err := clientcmd.Load(data)
		if err != nil {
			t.Fatalf("%s saw an unreadable kubeconfig: %v", name, err)
		}
		if got.CurrentContext != c.Context || len(got.Contexts) != 1 || got.Contexts[c.Context] == nil {
			t.Errorf("%s saw contexts %v (current %q), want only %s", name, keysOf(got.Contexts), got.CurrentContext, c.Context)
		}
		if strings.Contains(string(data), "203.0.113.10") || strings.Contains(string(data), "remote-token") {
			t.Errorf("%s saw the remote cluster:\n%s", name, data)
		}
		ctxs, _ := os.ReadFile(filepath.Join(dir, name+".ctx"))
		if strings.TrimSpace(string(ctxs)) != c.Context+" "+c.Context {
			t.Errorf("%s saw KILN_K8S_CONTEXT TILT_K8S_CONTEXT = %q, want %s twice", name, ctxs, c.Context)
		}
	}

	// A remote cluster named like a kind cluster: refused before anything is written, and
	// local() at evaluation gets no cluster at all.
	os.Remove(filepath.Join(dir, "local_resource.kubeconfig"))
	r = kiln(t, env, "run", "-f", dir, "--context=kind-staging")
	if r.code != 1 || !strings.Contains(r.stderr, `refusing to touch context "kind-staging"`) || !strings.Contains(r.stderr, `allow_k8s_contexts("kind-staging")`) {
		t.Fatalf("want kind-staging refused with the way out:\n%s", r)
	}
	if _, err := os.Stat(filepath.Join(dir, "local_resource.kubeconfig")); err == nil {
		t.Errorf("a local_resource ran against a refused context")
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "eval.kubeconfig")); strings.Contains(string(data), "203.0.113.10") {
		t.Errorf("local() at evaluation saw the refused remote cluster:\n%s", data)
	}
}

func keysOf[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
