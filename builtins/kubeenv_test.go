package builtins

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeKubeconfig writes a kubeconfig with a remote current context "prod" and a local-looking
// "minikube" (a private address, so the guard needs no Docker engine to accept it).
func writeKubeconfig(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config")
	cfg := `apiVersion: v1
kind: Config
current-context: prod
clusters:
- name: prod
  cluster: {server: "https://203.0.113.10:6443"}
- name: minikube
  cluster: {server: "https://192.168.49.2:8443"}
users:
- name: prod
  user: {token: prod-token-secret}
- name: minikube
  user: {token: minikube-token}
contexts:
- name: prod
  context: {cluster: prod, user: prod}
- name: minikube
  context: {cluster: minikube, user: minikube}
`
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// seenByLocal evaluates a Kilnfile whose local() command saves the kubeconfig it was given,
// and returns that kubeconfig, the KILN_K8S_CONTEXT and TILT_K8S_CONTEXT it saw, and the
// evaluation's warnings.
func seenByLocal(t *testing.T, prelude string, opts Options) (kubeconfig, kilnCtx, tiltCtx string, warnings []string) {
	t.Helper()
	dir := t.TempDir()
	out := filepath.Join(dir, "seen")
	kf := prelude + "\nlocal('cat \"$KUBECONFIG\" > " + out + "; echo \"$KILN_K8S_CONTEXT,$TILT_K8S_CONTEXT\" > " + out + ".ctx', quiet=True)\n"
	if err := os.WriteFile(filepath.Join(dir, "Kilnfile"), []byte(kf), 0o644); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	opts.Stdout, opts.Stderr = &buf, &buf
	p, err := Evaluate(dir, opts)
	if err != nil {
		t.Fatalf("evaluate: %v\n%s", err, buf.String())
	}
	seen, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	ctxs, _ := os.ReadFile(out + ".ctx")
	k, tl, _ := strings.Cut(strings.TrimSpace(string(ctxs)), ",")
	return string(seen), k, tl, p.Warnings
}

func TestLocalSeesOnlyTheTargetContext(t *testing.T) {
	t.Setenv("KUBECONFIG", writeKubeconfig(t))

	// --context minikube while the current context is a remote cluster: the command sees
	// minikube and nothing of prod.
	cfg, kctx, tctx, warnings := seenByLocal(t, "", Options{Context: "minikube"})
	if !strings.Contains(cfg, "192.168.49.2") || strings.Contains(cfg, "203.0.113.10") || strings.Contains(cfg, "prod-token-secret") {
		t.Errorf("local() with --context minikube saw:\n%s", cfg)
	}
	if kctx != "minikube" || tctx != "minikube" {
		t.Errorf("KILN_K8S_CONTEXT=%q TILT_K8S_CONTEXT=%q, want minikube", kctx, tctx)
	}
	if len(warnings) != 0 {
		t.Errorf("unexpected warnings %v", warnings)
	}

	// The current context is remote and not allowed: no cluster at all, and a warning.
	cfg, kctx, _, warnings = seenByLocal(t, "", Options{})
	if strings.Contains(cfg, "203.0.113.10") || strings.Contains(cfg, "prod-token-secret") || strings.Contains(cfg, "192.168.49.2") {
		t.Errorf("local() against a refused context saw:\n%s", cfg)
	}
	if kctx != "" {
		t.Errorf("KILN_K8S_CONTEXT=%q for a refused context", kctx)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "Kilnfile:2") || !strings.Contains(warnings[0], `allow_k8s_contexts("prod")`) {
		t.Errorf("want one warning naming Kilnfile:2 and the way out, got %v", warnings)
	}

	// Allowed explicitly: the command sees prod, only prod.
	cfg, kctx, _, _ = seenByLocal(t, "allow_k8s_contexts('prod')", Options{})
	if !strings.Contains(cfg, "203.0.113.10") || strings.Contains(cfg, "192.168.49.2") || kctx != "prod" {
		t.Errorf("local() with prod allowed saw (%s):\n%s", kctx, cfg)
	}
}
