// Package helmchart renders a local Helm chart in-process with the Helm v3 SDK,
// producing the same manifests as `helm template --include-crds --skip-tests`.
//
// No helm binary and no cluster are involved: the chart is loaded with the
// chart loader, values are merged like helm's -f/--set flags, dependencies
// are resolved with chartutil (conditions, tags, import-values), templates are
// executed by helm's engine and the result is ordered by helm's install order.
package helmchart

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/kiln-dev/kiln/internal/safefile"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/releaseutil"
	"helm.sh/helm/v3/pkg/strvals"
	"sigs.k8s.io/yaml"
)

// Options says which chart to render and how.
type Options struct {
	Chart       string   // local chart directory or .tgz file (absolute path)
	ReleaseName string   // default: chart name
	Namespace   string   // default "default"
	ValuesFiles []string // local values files (absolute); each patches the chart's default values, later wins
	Set         []string // "a.b=c" like helm --set (helm's strvals parser)
	KubeVersion string   // e.g. "1.34.0"; empty = helm's default capabilities
	APIVersions []string // extra capabilities APIVersions (optional)
	SkipCRDs    bool     // omit the chart's crds/ directory
	MaxFileSize int64    // the largest values file read (0 = safefile.DefaultMaxSize)
}

const (
	defaultNamespace = "default"
	notesSuffix      = "NOTES.txt"
	helmIgnoreFile   = ".helmignore"
)

// Render returns the rendered manifests as one YAML stream ("---" separated
// documents, each preceded by helm's "# Source:" comment; NOTES.txt, empty
// documents and chart tests dropped), plus every local file the render read
// (the chart directory's files or the .tgz, the values files, subchart files)
// as absolute, sorted paths. On error the manifests are nil but the files
// read so far are still returned, so that a caller can watch them for a fix.
//
// Documents come in the order `helm template` prints them: CRDs from crds/
// directories first (unless SkipCRDs), then the templates sorted by install
// order (kind) and template path, then the (non-test) hooks.
func Render(opts Options) (manifests []byte, filesRead []string, err error) {
	r := renderer{opts: opts, read: map[string]struct{}{}}
	out, err := r.render()
	if err != nil {
		return nil, r.files(), fmt.Errorf("helm chart %s: %w", opts.Chart, err)
	}
	return out, r.files(), nil
}

type renderer struct {
	opts Options
	read map[string]struct{}
}

func (r *renderer) files() []string {
	out := make([]string, 0, len(r.read))
	for f := range r.read {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

func (r *renderer) render() ([]byte, error) {
	if r.opts.Chart == "" {
		return nil, errors.New("no chart given")
	}
	ch, err := r.loadChart()
	if err != nil {
		return nil, err
	}
	vals, err := r.userValues()
	if err != nil {
		return nil, err
	}

	switch ch.Metadata.Type {
	case "", "application":
	default:
		return nil, fmt.Errorf("%s charts are not installable", ch.Metadata.Type)
	}
	if err := checkDependencies(ch); err != nil {
		return nil, err
	}
	if err := chartutil.ProcessDependenciesWithMerge(ch, vals); err != nil {
		return nil, fmt.Errorf("processing dependencies: %w", err)
	}

	caps, err := r.capabilities()
	if err != nil {
		return nil, err
	}
	if ch.Metadata.KubeVersion != "" && !chartutil.IsCompatibleRange(ch.Metadata.KubeVersion, caps.KubeVersion.String()) {
		return nil, fmt.Errorf("chart requires kubeVersion: %s which is incompatible with Kubernetes %s",
			ch.Metadata.KubeVersion, caps.KubeVersion.String())
	}

	name := r.opts.ReleaseName
	if name == "" {
		name = ch.Name()
	}
	if err := chartutil.ValidateReleaseName(name); err != nil {
		return nil, fmt.Errorf("release name %q: %w", name, err)
	}
	ns := r.opts.Namespace
	if ns == "" {
		ns = defaultNamespace
	}
	renderVals, err := chartutil.ToRenderValuesWithSchemaValidation(ch, vals, chartutil.ReleaseOptions{
		Name:      name,
		Namespace: ns,
		Revision:  1,
		IsInstall: true,
	}, caps, false)
	if err != nil {
		return nil, err
	}

	// The zero Engine is what `helm template` uses: no cluster, so `lookup`
	// returns empty results, and no DNS lookups.
	var eng engine.Engine
	rendered, err := eng.Render(ch, renderVals)
	if err != nil {
		return nil, err
	}
	for k := range rendered {
		if strings.HasSuffix(k, notesSuffix) {
			delete(rendered, k)
		}
	}
	hooks, docs, err := releaseutil.SortManifests(rendered, caps.APIVersions, releaseutil.InstallOrder)
	if err != nil {
		return nil, err
	}

	var b bytes.Buffer
	if !r.opts.SkipCRDs {
		for _, crd := range ch.CRDObjects() {
			writeCRD(&b, crd)
		}
	}
	for _, m := range docs {
		if isEmptyDoc(m.Content) {
			continue
		}
		fmt.Fprintf(&b, "---\n# Source: %s\n%s\n", m.Name, m.Content)
	}
	// Like `helm template`: the release manifest, trimmed, then the hooks.
	main := bytes.TrimSpace(b.Bytes())
	out := make([]byte, 0, len(main)+1)
	if len(main) > 0 {
		out = append(out, main...)
		out = append(out, '\n')
	}
	hb := bytes.NewBuffer(out)
	for _, h := range hooks {
		if isTestHook(h) || isEmptyDoc(h.Manifest) {
			continue
		}
		fmt.Fprintf(hb, "---\n# Source: %s\n%s\n", h.Path, h.Manifest)
	}
	return hb.Bytes(), nil
}

// loadChart loads the chart directory or archive and records the files it read.
func (r *renderer) loadChart() (*chart.Chart, error) {
	abs, err := filepath.Abs(r.opts.Chart)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("chart not found: %s does not exist", abs)
		}
		return nil, fmt.Errorf("chart not readable: %w", err)
	}
	if !fi.IsDir() && !fi.Mode().IsRegular() {
		// Helm's loader would open it and wait on a FIFO forever.
		return nil, &safefile.NotRegularError{Path: abs, Mode: fi.Mode()}
	}
	if fi.IsDir() {
		if _, err := os.Stat(filepath.Join(abs, "Chart.yaml")); err != nil {
			return nil, fmt.Errorf("%s is not a chart directory: no Chart.yaml in it", abs)
		}
	}
	ch, err := loader.Load(abs)
	if err != nil {
		return nil, fmt.Errorf("loading chart: %w", err)
	}
	if fi.IsDir() {
		for _, f := range ch.Raw {
			r.read[filepath.Join(abs, filepath.FromSlash(f.Name))] = struct{}{}
		}
		if ign := filepath.Join(abs, helmIgnoreFile); fileExists(ign) {
			r.read[ign] = struct{}{}
		}
	} else {
		r.read[abs] = struct{}{}
	}
	sortDependencies(ch)
	return ch, nil
}

// userValues merges the values files and --set values like helm's -f and --set.
func (r *renderer) userValues() (map[string]interface{}, error) {
	base := map[string]interface{}{}
	for _, f := range r.opts.ValuesFiles {
		abs, err := filepath.Abs(f)
		if err != nil {
			return nil, err
		}
		data, err := safefile.ReadFile(abs, r.opts.MaxFileSize)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("values file %s does not exist", abs)
			}
			return nil, fmt.Errorf("values file: %w", err)
		}
		r.read[abs] = struct{}{}
		cur := map[string]interface{}{}
		if err := yaml.Unmarshal(data, &cur); err != nil {
			return nil, fmt.Errorf("values file %s: invalid YAML: %w", abs, err)
		}
		base = mergeValues(base, cur)
	}
	for _, s := range r.opts.Set {
		if err := strvals.ParseInto(s, base); err != nil {
			return nil, fmt.Errorf("parsing --set %q: %w", s, err)
		}
	}
	return base, nil
}

func (r *renderer) capabilities() (*chartutil.Capabilities, error) {
	caps := chartutil.DefaultCapabilities.Copy()
	version := r.opts.KubeVersion
	if version == "" {
		version = DefaultKubeVersion()
	}
	kv, err := chartutil.ParseKubeVersion(version)
	if err != nil {
		return nil, fmt.Errorf("invalid kube version %q: %w", version, err)
	}
	caps.KubeVersion = *kv
	if len(r.opts.APIVersions) > 0 {
		// Copy: never append into the shared default version set.
		vs := make(chartutil.VersionSet, 0, len(caps.APIVersions)+len(r.opts.APIVersions))
		vs = append(vs, caps.APIVersions...)
		vs = append(vs, r.opts.APIVersions...)
		caps.APIVersions = vs
	}
	return caps, nil
}

// mergeValues deep-merges b over a (maps merge, everything else replaces),
// the way successive -f files combine in helm.
func mergeValues(a, b map[string]interface{}) map[string]interface{} {
	out := make(map[string]interface{}, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if bm, ok := v.(map[string]interface{}); ok {
			if am, ok := out[k].(map[string]interface{}); ok {
				out[k] = mergeValues(am, bm)
				continue
			}
		}
		out[k] = v
	}
	return out
}

// checkDependencies fails when Chart.yaml declares a dependency that is not
// in charts/, as `helm template` does (without --dependency-update).
func checkDependencies(ch *chart.Chart) error {
	var missing []string
	for _, req := range ch.Metadata.Dependencies {
		if req == nil {
			continue
		}
		found := false
		for _, d := range ch.Dependencies() {
			if d.Name() == req.Name {
				found = true
				break
			}
		}
		if !found {
			missing = append(missing, req.Name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("dependencies declared in Chart.yaml but missing from charts/: %s (run `helm dependency build`)",
			strings.Join(missing, ", "))
	}
	return nil
}

// sortDependencies puts every chart's subcharts in name order. The loader
// adds them in map order, which would make the order of subchart CRDs vary
// from run to run.
func sortDependencies(ch *chart.Chart) {
	deps := append([]*chart.Chart(nil), ch.Dependencies()...)
	if len(deps) == 0 {
		return
	}
	sort.SliceStable(deps, func(i, j int) bool {
		if deps[i].Name() != deps[j].Name() {
			return deps[i].Name() < deps[j].Name()
		}
		return deps[i].Metadata.Version < deps[j].Metadata.Version
	})
	ch.SetDependencies(deps...)
	for _, d := range deps {
		sortDependencies(d)
	}
}

// writeCRD writes one crds/ file. A single-document file is written exactly
// as `helm template --include-crds` does; a multi-document file is split so
// that no empty document is written.
func writeCRD(b *bytes.Buffer, crd chart.CRD) {
	data := string(crd.File.Data)
	split := releaseutil.SplitManifests(data)
	keys := make([]string, 0, len(split))
	for k, d := range split {
		if !isEmptyDoc(d) {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return
	}
	if len(keys) == 1 && len(split) == 1 && split[keys[0]] == strings.TrimSpace(data) {
		fmt.Fprintf(b, "---\n# Source: %s\n%s\n", crd.Filename, data)
		return
	}
	sort.Sort(releaseutil.BySplitManifestsOrder(keys))
	for _, k := range keys {
		fmt.Fprintf(b, "---\n# Source: %s\n%s\n", crd.Filename, split[k])
	}
}

// isEmptyDoc reports whether a YAML document has nothing but blank lines and comments.
func isEmptyDoc(doc string) bool {
	for _, line := range strings.Split(doc, "\n") {
		l := strings.TrimSpace(line)
		if l != "" && !strings.HasPrefix(l, "#") {
			return false
		}
	}
	return true
}

func isTestHook(h *release.Hook) bool {
	for _, e := range h.Events {
		if e == release.HookTest {
			return true
		}
	}
	return false
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}
