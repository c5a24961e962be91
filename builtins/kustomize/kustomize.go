// Package kustomize builds a kustomization in-process with krusty, producing
// the same YAML stream as `kustomize build`, and reports every local file the
// build read so that the caller can watch them.
//
// No kustomize, kubectl, helm or git binary is run: remote bases and
// resources are rejected before kustomize would fetch them, and plugins that
// execute programs cannot be enabled.
package kustomize

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/kiln-dev/kiln/internal/safefile"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// Options says which kustomization to build and how.
type Options struct {
	Dir         string   // absolute path of the kustomization directory
	Flags       []string // Tilt-compatible `kustomize build` flags; see Build
	MaxFileSize int64    // the largest file the build reads (0 = safefile.DefaultMaxSize)
}

// buildMu serializes krusty runs: kustomize keeps process-wide state (the
// OpenAPI schema in kyaml) that a build sets and reads, so concurrent builds
// with different settings could see each other's.
var buildMu sync.Mutex

// Build runs `kustomize build` on opts.Dir and returns the YAML stream and
// every local file read (kustomization files, resources, patches, bases in
// other directories, generators' files), absolute and sorted. On error the
// manifests are nil but the files read so far are still returned, so that a
// caller can watch them for a fix.
//
// Supported flags: "--load-restrictor" with LoadRestrictionsRootOnly (the
// default) or LoadRestrictionsNone, as "--flag value" or "--flag=value", and
// "--reorder" legacy (the default) or none. Flags that would run programs
// (--enable-alpha-plugins, --enable-exec, --enable-helm, ...) are an error,
// and so is any unknown flag.
func Build(opts Options) (manifests []byte, filesRead []string, err error) {
	out, files, err := build(opts)
	if err != nil {
		return nil, files, fmt.Errorf("kustomize build %s: %w", opts.Dir, err)
	}
	return out, files, nil
}

func build(opts Options) ([]byte, []string, error) {
	kopts, err := parseFlags(opts.Flags)
	if err != nil {
		return nil, nil, err
	}
	if opts.Dir == "" {
		return nil, nil, errors.New("no directory given")
	}
	if looksRemote(opts.Dir) {
		return nil, nil, fmt.Errorf("remote kustomization %q is not supported: kiln builds kustomizations from local directories only", opts.Dir)
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, nil, err
	}
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil, fmt.Errorf("directory %s does not exist", dir)
	case err != nil:
		return nil, nil, err
	case !fi.IsDir():
		return nil, nil, fmt.Errorf("%s is not a directory", dir)
	}

	rfs := &recordingFS{FileSystem: filesys.MakeFsOnDisk(), read: map[string]struct{}{}, maxSize: opts.MaxFileSize}
	buildMu.Lock()
	defer buildMu.Unlock()
	resMap, err := func() (resmap.ResMap, error) {
		defer silenceStderr()() // restored even if krusty panics
		return krusty.MakeKustomizer(kopts).Run(rfs, dir)
	}()
	if remoteErr := rfs.remoteError(); remoteErr != nil {
		// The recorder refused to hand kustomize a kustomization file that
		// refers to a remote base; whatever kustomize made of that, this is
		// the real cause.
		return nil, rfs.files(), remoteErr
	}
	if err != nil {
		return nil, rfs.files(), err
	}
	out, err := resMap.AsYaml()
	if err != nil {
		return nil, rfs.files(), err
	}
	return out, rfs.files(), nil
}

// parseFlags turns Tilt-style kustomize flags into krusty options.
func parseFlags(flags []string) (*krusty.Options, error) {
	o := krusty.MakeDefaultOptions()
	// `kustomize build` sorts the output in legacy order unless the
	// kustomization's sortOptions (or --reorder none) say otherwise.
	o.Reorder = krusty.ReorderOptionUnspecified
	for i := 0; i < len(flags); i++ {
		name, value, hasValue := strings.Cut(flags[i], "=")
		takeValue := func() (string, error) {
			if hasValue {
				return value, nil
			}
			if i+1 >= len(flags) || strings.HasPrefix(flags[i+1], "-") {
				return "", fmt.Errorf("flag %s needs a value", name)
			}
			i++
			return flags[i], nil
		}
		switch name {
		case "--load-restrictor":
			v, err := takeValue()
			if err != nil {
				return nil, err
			}
			switch v {
			case types.LoadRestrictionsNone.String():
				o.LoadRestrictions = types.LoadRestrictionsNone
			case types.LoadRestrictionsRootOnly.String():
				o.LoadRestrictions = types.LoadRestrictionsRootOnly
			default:
				return nil, fmt.Errorf("invalid value %q for flag --load-restrictor: want %s or %s",
					v, types.LoadRestrictionsRootOnly, types.LoadRestrictionsNone)
			}
		case "--reorder":
			v, err := takeValue()
			if err != nil {
				return nil, err
			}
			switch v {
			case "legacy":
				o.Reorder = krusty.ReorderOptionUnspecified
			case "none":
				o.Reorder = krusty.ReorderOptionNone
			default:
				return nil, fmt.Errorf("invalid value %q for flag --reorder: want legacy or none", v)
			}
		case "--enable-alpha-plugins", "--enable-exec", "--enable-star", "--network", "--as-current-user":
			if hasValue && value == "false" {
				continue
			}
			return nil, fmt.Errorf("flag %s is not supported: kiln runs kustomize in-process without plugins or functions", name)
		case "--enable-helm":
			if hasValue && value == "false" {
				continue
			}
			return nil, fmt.Errorf("flag %s is not supported: kiln runs kustomize in-process without a helm binary; render the chart with helm() instead", name)
		case "--helm-command", "--helm-api-versions", "--helm-kube-version", "--mount", "--env", "-e", "--network-name":
			return nil, fmt.Errorf("flag %s is not supported: kiln runs kustomize in-process without plugins, functions or a helm binary", name)
		default:
			return nil, fmt.Errorf("unknown kustomize flag %q", flags[i])
		}
	}
	return o, nil
}

// recordingFS is the on-disk file system, recording every file read through
// it. It also refuses kustomization files that refer to remote bases, since
// kustomize would otherwise run git or fetch URLs to build them.
type recordingFS struct {
	filesys.FileSystem

	maxSize int64 // see Options.MaxFileSize

	mu        sync.Mutex
	read      map[string]struct{}
	remoteErr error
}

func (r *recordingFS) record(path string) {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	r.mu.Lock()
	r.read[abs] = struct{}{}
	r.mu.Unlock()
}

// ReadFile reads only regular files, up to the size limit: krusty would read a FIFO or a
// device named as a resource forever.
func (r *recordingFS) ReadFile(path string) ([]byte, error) {
	data, err := safefile.ReadFile(path, r.maxSize)
	if err != nil {
		return data, err
	}
	r.record(path)
	if isKustomizationFile(path) {
		if err := checkRemoteRefs(path, data); err != nil {
			r.mu.Lock()
			if r.remoteErr == nil {
				r.remoteErr = err
			}
			r.mu.Unlock()
			return nil, err
		}
	}
	return data, nil
}

func (r *recordingFS) Open(path string) (filesys.File, error) {
	f, err := r.FileSystem.Open(path)
	if err == nil {
		if fi, serr := f.Stat(); serr == nil && !fi.IsDir() {
			r.record(path)
		}
	}
	return f, err
}

func (r *recordingFS) remoteError() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.remoteErr
}

func (r *recordingFS) files() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.read))
	for f := range r.read {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

func isKustomizationFile(path string) bool {
	switch filepath.Base(path) {
	case "kustomization.yaml", "kustomization.yml", "Kustomization":
		return true
	}
	return false
}

// checkRemoteRefs returns an error naming the first remote reference in the
// kustomization file at path. A file that does not parse is left for
// kustomize to report.
func checkRemoteRefs(path string, data []byte) error {
	var k types.Kustomization
	if err := yaml.Unmarshal(data, &k); err != nil {
		return nil
	}
	k.FixKustomization()
	dir := filepath.Dir(path)
	fail := func(field, ref string) error {
		return fmt.Errorf("%s: remote %s entry %q is not supported: kiln builds kustomizations offline from local files only; vendor it into the repository",
			path, field, ref)
	}
	// Entries that kustomize may load as a directory, a git repository or a URL.
	dirLike := []struct {
		field string
		refs  []string
	}{
		{"resources", k.Resources},
		{"bases", k.Bases},
		{"components", k.Components},
		{"generators", k.Generators},
		{"transformers", k.Transformers},
		{"validators", k.Validators},
	}
	for _, l := range dirLike {
		for _, ref := range l.refs {
			if strings.Contains(ref, "\n") {
				continue // an inline plugin configuration
			}
			if looksRemote(ref) && !existsLocally(dir, ref) {
				return fail(l.field, ref)
			}
		}
	}
	// Entries that kustomize loads as files, fetching http(s) URLs.
	fileRef := func(field, ref string) error {
		if isHTTP(ref) {
			return fail(field, ref)
		}
		return nil
	}
	check := []struct {
		field string
		refs  []string
	}{
		{"crds", k.Crds},
		{"configurations", k.Configurations},
		{"openapi", []string{k.OpenAPI["path"]}},
	}
	var patches []string
	for _, p := range k.Patches {
		patches = append(patches, p.Path)
	}
	for _, p := range k.PatchesJson6902 {
		patches = append(patches, p.Path)
	}
	for _, p := range k.PatchesStrategicMerge {
		patches = append(patches, string(p))
	}
	check = append(check, struct {
		field string
		refs  []string
	}{"patches", patches})
	var repl []string
	for _, r := range k.Replacements {
		repl = append(repl, r.Path)
	}
	check = append(check, struct {
		field string
		refs  []string
	}{"replacements", repl})
	var genFiles []string
	for _, g := range k.ConfigMapGenerator {
		genFiles = append(genFiles, generatorFiles(g.GeneratorArgs)...)
	}
	for _, g := range k.SecretGenerator {
		genFiles = append(genFiles, generatorFiles(g.GeneratorArgs)...)
	}
	check = append(check, struct {
		field string
		refs  []string
	}{"generator files", genFiles})
	for _, c := range check {
		for _, ref := range c.refs {
			if err := fileRef(c.field, strings.TrimSpace(ref)); err != nil {
				return err
			}
		}
	}
	return nil
}

func generatorFiles(g types.GeneratorArgs) []string {
	var out []string
	for _, f := range g.FileSources {
		if _, p, ok := strings.Cut(f, "="); ok {
			f = p
		}
		out = append(out, f)
	}
	return append(out, g.EnvSources...)
}

// isHTTP reports whether ref is an http(s) URL, which kustomize downloads.
func isHTTP(ref string) bool {
	u, err := url.Parse(ref)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// looksRemote reports whether ref is in one of the forms kustomize fetches
// with git or over http: URLs, scp-like git addresses, the git:: prefix, the
// well-known hosts without a scheme, and refs carrying git query parameters.
func looksRemote(ref string) bool {
	ref = strings.TrimSpace(ref)
	if strings.Contains(ref, "://") || strings.HasPrefix(ref, "git@") || strings.HasPrefix(ref, "git::") {
		return true
	}
	for _, host := range []string{"github.com/", "gitlab.com/", "bitbucket.org/", "dev.azure.com/"} {
		if strings.HasPrefix(ref, host) {
			return true
		}
	}
	if _, query, ok := strings.Cut(ref, "?"); ok {
		for _, p := range []string{"ref=", "version=", "timeout=", "submodules="} {
			if strings.HasPrefix(query, p) || strings.Contains(query, "&"+p) {
				return true
			}
		}
	}
	return strings.Contains(ref, ".git/") || strings.HasSuffix(ref, ".git") || strings.Contains(ref, "/_git/")
}

func existsLocally(dir, ref string) bool {
	if filepath.IsAbs(ref) {
		return false
	}
	_, err := os.Stat(filepath.Join(dir, ref))
	return err == nil
}

// silenceStderr points os.Stderr at /dev/null until the returned function is called. krusty
// prints its deprecation warnings straight to os.Stderr, with no file named; kiln reports
// them itself (DeprecationWarnings) with the file and the Kilnfile line. Only code that reads
// os.Stderr during a build is affected: kiln's own output holds the real stderr from the start.
func silenceStderr() (restore func()) {
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return func() {}
	}
	saved := os.Stderr
	os.Stderr = devNull
	return func() {
		os.Stderr = saved
		devNull.Close()
	}
}

// DeprecationWarnings returns kustomize's deprecation warnings for the kustomization files
// among files (as a build reports them in filesRead), each prefixed with its file's path.
func DeprecationWarnings(files []string) []string {
	var out []string
	for _, f := range files {
		if !isKustomizationFile(f) {
			continue
		}
		text, err := safefile.ReadFile(f, 0)
		if err != nil {
			continue
		}
		var k types.Kustomization
		if err := k.Unmarshal(text); err != nil {
			continue
		}
		if msgs := k.CheckDeprecatedFields(); msgs != nil {
			for _, m := range *msgs {
				out = append(out, f+": "+strings.TrimPrefix(m, "# Warning: "))
			}
		}
	}
	return out
}
