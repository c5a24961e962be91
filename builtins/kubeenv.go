package builtins

import (
	"context"
	"strings"
	"time"

	"github.com/kiln-dev/kiln/runtime/cluster"
	"github.com/kiln-dev/kiln/runtime/kube"
	"go.starlark.net/starlark"
)

// guardTimeout bounds the guard's look-ups (the Docker engine, DNS) for one local() call.
const guardTimeout = 5 * time.Second

// scopedKube is the kubeconfig that local() commands get, for one target context.
type scopedKube struct {
	key    string // target context and allow_k8s_contexts when it was made
	scoped *kube.Scoped
}

// targetContext is the context kiln will use, as far as evaluation knows it so far: --context,
// then kind_cluster()'s, then the kubeconfig's current one.
func (s *State) targetContext() string {
	if s.opts.Context != "" {
		return s.opts.Context
	}
	if s.cluster != nil {
		return s.cluster.Context
	}
	raw, err := kubeconfig("").RawConfig()
	if err != nil {
		return ""
	}
	return raw.CurrentContext
}

// commandEnv is the environment of a command that local() starts: the evaluation's
// environment, plus a KUBECONFIG holding only the context kiln will use, so that the command
// cannot act on any other cluster of the user's kubeconfig. When that context fails kiln's
// guard (kube.Guard) — a remote cluster not in allow_k8s_contexts (so far) — the command gets
// a kubeconfig with no context at all, and a warning says why.
func (s *State) commandEnv(t *starlark.Thread) []string {
	env := s.environ()
	for k, v := range s.kubeEnv(t) {
		env = append(env, k+"="+v)
	}
	return env
}

func (s *State) kubeEnv(t *starlark.Thread) map[string]string {
	target := s.targetContext()
	key := target + "\x00" + strings.Join(s.settings.AllowK8sContexts, "\x00")
	if s.kube.scoped != nil && s.kube.key == key {
		return s.kube.scoped.Env()
	}
	s.kube.scoped.Remove()
	s.kube = scopedKube{key: key}
	cfg, err := kube.LoadConfig()
	if err != nil {
		s.warn("%s: local() commands get no cluster access: %v", pos(t), err)
		cfg, target = nil, ""
	}
	if target != "" {
		ctx, cancel := context.WithTimeout(context.Background(), guardTimeout)
		err := kube.Guard{Kind: cluster.LookupKind}.Check(ctx, cfg, target, s.settings.AllowK8sContexts)
		cancel()
		if err != nil {
			s.warn("%s: local() commands get no cluster access: %v", pos(t), err)
			target = ""
		}
	}
	scoped, err := kube.WriteScoped(cfg, target)
	if err != nil {
		// No file to point KUBECONFIG at: point it at nothing rather than the user's config.
		return map[string]string{"KUBECONFIG": "/dev/null", kube.EnvContext: "", kube.EnvTiltContext: ""}
	}
	s.kube.scoped = scoped
	return scoped.Env()
}

// closeKube removes the scoped kubeconfig at the end of an evaluation.
func (s *State) closeKube() {
	s.kube.scoped.Remove()
	s.kube = scopedKube{}
}
