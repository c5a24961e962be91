package builtins

import (
	"fmt"
	"path/filepath"
	"regexp"

	"github.com/kiln-dev/kiln/builtins/helmchart"
	"github.com/kiln-dev/kiln/builtins/k8syaml"
	"github.com/kiln-dev/kiln/builtins/kustomize"
	"go.starlark.net/starlark"
)

func (s *State) chartBuiltins() starlark.StringDict {
	return starlark.StringDict{
		"helm":      starlark.NewBuiltin("helm", s.helm),
		"kustomize": starlark.NewBuiltin("kustomize", s.kustomize),
	}
}

// clusterScoped are kinds that never carry a namespace; helm(namespace=) leaves them alone.
var clusterScoped = map[string]bool{
	"Namespace": true, "CustomResourceDefinition": true, "ClusterRole": true,
	"ClusterRoleBinding": true, "PersistentVolume": true, "StorageClass": true,
	"PriorityClass": true, "IngressClass": true, "APIService": true, "RuntimeClass": true,
	"MutatingWebhookConfiguration": true, "ValidatingWebhookConfiguration": true,
	"CSIDriver": true, "VolumeAttachment": true, "Node": true,
}

// helm is helm(paths, name=None, namespace=None, values=[], set=[], kube_version=None,
// skip_crds=False): the chart rendered in-process, as a blob of YAML. Local values files patch
// the chart's default values, later files winning, then set= on top.
func (s *State) helm(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var chart, name, namespace, kubeVersion string
	var values, set stringList
	var skipCRDs bool
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "paths", &chart, "name?", &name, "namespace?", &namespace,
		"values?", &values, "set?", &set, "kube_version?", &kubeVersion, "skip_crds?", &skipCRDs); err != nil {
		return nil, err
	}
	chartAbs := s.abs(t, chart)
	opts := helmchart.Options{
		Chart: chartAbs, ReleaseName: name, Namespace: namespace, Set: set,
		KubeVersion: kubeVersion, SkipCRDs: skipCRDs, MaxFileSize: s.host.Limits.MaxFileSize,
	}
	if opts.ReleaseName == "" {
		opts.ReleaseName = filepath.Base(chartAbs)
	}
	for _, v := range values {
		abs := s.abs(t, v)
		s.host.RecordRead(abs)
		opts.ValuesFiles = append(opts.ValuesFiles, abs)
	}
	out, err := s.renderChart(opts)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", b.Name(), err)
	}
	source := "helm chart " + s.rel(chartAbs)
	if namespace != "" {
		out, err = setNamespace(source, out, namespace)
		if err != nil {
			return nil, err
		}
	}
	return Blob{Text: string(out), Source: source}, nil
}

// renderChart renders a local chart through the render cache, recording every file it read
// so that an edit re-evaluates. Errors name files relative to the project.
func (s *State) renderChart(opts helmchart.Options) ([]byte, error) {
	s.host.RecordRead(opts.Chart)
	if opts.KubeVersion == "" {
		opts.KubeVersion = s.clusterKubeVersion()
	}
	key := fmt.Sprintf("helm\x00%s\x00%s\x00%s\x00%q\x00%q\x00%s\x00%v", opts.Chart, opts.ReleaseName, opts.Namespace, opts.ValuesFiles, opts.Set, opts.KubeVersion, opts.SkipCRDs)
	out, files, ok := s.renders.get(key)
	var err error
	if !ok {
		out, files, err = helmchart.Render(opts)
		if err == nil {
			s.renders.put(key, out, files, append([]string{opts.Chart}, opts.ValuesFiles...)...)
		}
	}
	for _, f := range files {
		s.host.RecordRead(f)
	}
	if err != nil {
		return nil, s.relErr(err)
	}
	return out, nil
}

// nodeImageVersion is the Kubernetes version in a kind node image's tag (kindest/node:v1.34.4).
var nodeImageVersion = regexp.MustCompile(`:(v\d+\.\d+\.\d+)(@|$)`)

// clusterKubeVersion is the Kubernetes version helm() renders for when it names none: the
// project's kind_cluster(image=) node version when the file declared one before, else the
// newest the Helm SDK supports (helmchart.DefaultKubeVersion). Evaluation never asks a cluster.
func (s *State) clusterKubeVersion() string {
	if s.cluster != nil {
		for _, n := range nodesOf(s.cluster.Config) {
			if img, _ := n["image"].(string); img != "" {
				if m := nodeImageVersion.FindStringSubmatch(img); m != nil {
					return m[1]
				}
			}
		}
	}
	return helmchart.DefaultKubeVersion()
}

// nodesOf returns the node entries of a kind cluster config.
func nodesOf(config map[string]any) []map[string]any {
	list, _ := config["nodes"].([]any)
	var out []map[string]any
	for _, n := range list {
		if m, ok := n.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// setNamespace puts namespaced objects without a namespace into ns, as `helm install -n` would.
func setNamespace(source string, stream []byte, ns string) ([]byte, error) {
	objs, err := k8syaml.DecodeObjects(source, stream)
	if err != nil {
		return nil, err
	}
	for _, o := range objs {
		if clusterScoped[o.Kind()] || o.Namespace() != "" {
			continue
		}
		o["metadata"].(map[string]any)["namespace"] = ns
	}
	return k8syaml.EncodeObjects(objs)
}

// kustomize is kustomize(paths, kustomize_bin=None, flags=[]): the kustomization built
// in-process with krusty, as a blob of YAML. kustomize_bin is accepted and ignored: kiln
// never runs a kustomize binary.
func (s *State) kustomize(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var dir string
	var bin starlark.Value
	var flags stringList
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "paths", &dir, "kustomize_bin?", &bin, "flags?", &flags); err != nil {
		return nil, err
	}
	if bin != nil && bin != starlark.None {
		s.ignoredParam(t, b, "kustomize_bin", "kustomizations are built in-process with krusty, never by a binary")
	}
	abs := s.abs(t, dir)
	s.host.RecordRead(abs)
	key := fmt.Sprintf("kustomize\x00%s\x00%q", abs, flags)
	out, files, ok := s.renders.get(key)
	var err error
	if !ok {
		out, files, err = kustomize.Build(kustomize.Options{Dir: abs, Flags: flags, MaxFileSize: s.host.Limits.MaxFileSize})
		if err == nil {
			s.renders.put(key, out, files, abs)
		}
	}
	for _, f := range files {
		s.host.RecordRead(f)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %v", b.Name(), s.relErr(err))
	}
	for _, w := range kustomize.DeprecationWarnings(files) {
		s.warn("%s: kustomize: %s", pos(t), replaceAll(w, s.host.Dir+string(filepath.Separator), ""))
	}
	return Blob{Text: string(out), Source: "kustomization " + s.rel(abs)}, nil
}

// relErr replaces the project's absolute directory in an error with nothing, so messages
// name project-relative paths and stay the same across machines.
func (s *State) relErr(err error) error {
	return fmt.Errorf("%s", replaceAll(err.Error(), s.host.Dir+string(filepath.Separator), ""))
}
