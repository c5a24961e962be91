// Package build builds the images of a plan.
//
// Dockerfile images are solved by BuildKit with its built-in Dockerfile
// frontend (dockerfile.v0). By default that is the BuildKit embedded in the
// Docker engine, reached through the engine API the way buildx's "docker"
// driver does, and the result is stored in the engine by its "moby"
// exporter under repo:tag (plus any extra tags).
//
// If KILN_BUILDKIT_HOST is set (unix:///run/buildkit/buildkitd.sock,
// tcp://host:1234, ...), a standalone buildkitd is used instead. Its result
// is exported as a docker image tar streamed into the engine with ImageLoad,
// or, when there is no engine, kept in buildkitd's own image store (exporter
// "image", nothing pushed). Note that a standalone buildkitd resolves FROM
// images from registries, not from the engine: an image that builds FROM
// another image of the plan only works there if that image is reachable by
// buildkitd.
//
// Images are tagged with a content hash of every build input computed
// before the build, so an image whose repo:tag is already in the engine is
// up to date and is not built again.
//
// custom_build images run the user's command with $EXPECTED_REF and
// friends, then check that the image appeared in the engine.
package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/distribution/reference"
	bkclient "github.com/moby/buildkit/client"
	dfparser "github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/session"
	"github.com/moby/buildkit/session/secrets/secretsprovider"
	"github.com/moby/buildkit/session/sshforward/sshprovider"
	"github.com/moby/buildkit/util/grpcerrors"
	"github.com/tonistiigi/fsutil"
	"google.golang.org/grpc/codes"

	"github.com/kiln-dev/kiln/runtime/contexthash"
	"github.com/kiln-dev/kiln/runtime/docker"
	"github.com/kiln-dev/kiln/runtime/dockerfile"
	"github.com/kiln-dev/kiln/runtime/plan"
)

// EnvBuildKitHost names the environment variable that selects a standalone
// buildkitd instead of the Docker engine's embedded BuildKit.
const EnvBuildKitHost = "KILN_BUILDKIT_HOST"

// Builder builds plan images. It is safe for concurrent use; the BuildKit
// connection is made on the first build that needs it and shared.
type Builder struct {
	d *docker.Client
	// Env is added to the environment of custom_build commands: the engine's scoped
	// KUBECONFIG (see runtime/local.Command).
	Env map[string]string
	// CacheDir holds the content-hash cache evaluation wrote ("" = none); the check after a
	// build that its inputs did not change uses it.
	CacheDir string
	// buildkitHost is KILN_BUILDKIT_HOST at New, "" for the engine's BuildKit.
	buildkitHost string

	hashOnce  sync.Once
	hashCache *contexthash.Cache
	// testHookAfterSolve runs between a solve and the check of its inputs.
	testHookAfterSolve func(*plan.Image)

	mu sync.Mutex
	bk *bkclient.Client
}

// New returns a Builder using the Docker engine d. d may be nil only when
// KILN_BUILDKIT_HOST is set: results then stay in buildkitd and nothing is
// skipped as up to date.
func New(d *docker.Client) *Builder {
	return &Builder{d: d, buildkitHost: os.Getenv(EnvBuildKitHost)}
}

// Close closes the BuildKit connection, if one was made. The Docker client
// is the caller's.
func (b *Builder) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.bk == nil {
		return nil
	}
	err := b.bk.Close()
	b.bk = nil
	return err
}

// Result is the outcome of building one image.
type Result struct {
	// Ref is the image built: repo:tag.
	Ref string
	// Skipped is set when an image with this tag was already in the engine.
	Skipped  bool
	Duration time.Duration
}

func (b *Builder) buildkit(ctx context.Context) (*bkclient.Client, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.bk != nil {
		return b.bk, nil
	}
	var (
		bk  *bkclient.Client
		err error
	)
	switch {
	case b.buildkitHost != "":
		bk, err = bkclient.New(ctx, b.buildkitHost)
		if err != nil {
			return nil, fmt.Errorf("connect to buildkitd at %s (%s): %w", b.buildkitHost, EnvBuildKitHost, err)
		}
	case b.d != nil:
		bk, err = b.d.BuildKit(ctx)
		if err != nil {
			return nil, err
		}
	default:
		return nil, errors.New("no Docker engine to build with: start dockerd, set DOCKER_HOST, or set " + EnvBuildKitHost)
	}
	b.bk = bk
	return bk, nil
}

// Build builds one image of the plan. deps maps the refs of plan images it
// builds FROM to their full refs (repo:tag): a Dockerfile FROM naming one of
// them is rewritten to that ref before the build. Progress lines go to out,
// each prefixed with prefix.
//
// The build is skipped, with Result.Skipped set, when img.FullRef() is
// already in the engine (one inspect call).
func (b *Builder) Build(ctx context.Context, p *plan.Plan, img *plan.Image, deps map[string]string, out io.Writer, prefix string) (Result, error) {
	start := time.Now()
	res := Result{Ref: img.FullRef()}
	var err error
	if img.Custom != nil {
		res.Skipped, err = b.buildCustom(ctx, p, img, out, prefix)
	} else {
		res.Skipped, err = b.buildDockerfile(ctx, p, img, deps, out, prefix)
	}
	res.Duration = time.Since(start)
	if err != nil {
		return res, fmt.Errorf("build %s: %w", img.Ref, err)
	}
	return res, nil
}

// upToDate reports whether ref is already in the engine, and if so makes
// sure the extra tags point at it too.
func (b *Builder) upToDate(ctx context.Context, img *plan.Image, out io.Writer, prefix string) (bool, error) {
	if b.d == nil {
		return false, nil
	}
	ref := img.FullRef()
	ok, err := b.d.ImageExists(ctx, ref)
	if err != nil || !ok {
		return false, err
	}
	for _, t := range img.ExtraTags {
		if err := b.d.Tag(ctx, ref, t); err != nil {
			return false, err
		}
	}
	if out != nil {
		_, _ = fmt.Fprintf(out, "%s%s is up to date\n", prefix, ref)
	}
	return true, nil
}

func (b *Builder) buildDockerfile(ctx context.Context, p *plan.Plan, img *plan.Image, deps map[string]string, out io.Writer, prefix string) (bool, error) {
	if skip, err := b.upToDate(ctx, img, out, prefix); err != nil || skip {
		return skip, err
	}
	bk, err := b.buildkit(ctx)
	if err != nil {
		return false, err
	}
	pr := newPrinter(out, prefix)
	opt, cleanup, err := b.solveOpt(p, img, deps, pr)
	if err != nil {
		return false, err
	}
	defer cleanup()

	var load *engineLoad
	if b.buildkitHost != "" && b.d != nil {
		load = newEngineLoad(ctx, b.d)
		opt.Exports[0].Output = load.output
	}

	ch := make(chan *bkclient.SolveStatus)
	printed := make(chan struct{})
	go func() {
		pr.run(ch)
		close(printed)
	}()
	_, err = bk.Solve(ctx, nil, opt, ch) // closes ch
	<-printed
	if load != nil {
		if lerr := load.wait(err); err == nil {
			err = lerr
		}
	}
	if err == nil {
		// The build read the context some time after it was hashed: check that the tag
		// still names what it read.
		return false, b.verifyInputs(ctx, p, img)
	}
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if grpcerrors.Code(err) == codes.Unavailable {
		if b.buildkitHost != "" {
			return false, fmt.Errorf("buildkitd at %s (%s) not reachable: %w", b.buildkitHost, EnvBuildKitHost, err)
		}
		return false, fmt.Errorf("the BuildKit of the Docker engine at %s not reachable: %w", b.d.Host(), err)
	}
	msg := cleanBuildKitError(err)
	if f := pr.failure(); f != "" {
		msg += "\n" + f
	}
	return false, errors.New(msg)
}

// solveOpt prepares the BuildKit solve of a Dockerfile image. cleanup
// removes any temporary Dockerfile directory.
func (b *Builder) solveOpt(p *plan.Plan, img *plan.Image, deps map[string]string, pr *printer) (bkclient.SolveOpt, func(), error) {
	cleanup := func() {}
	contextDir := projectPath(p, img.Context)

	// The Dockerfile: its bytes (to rewrite FROM lines and look for a
	// syntax directive) and where it lives.
	var (
		contents []byte
		dfPath   string // "" for dockerfile_contents
		err      error
	)
	if img.DockerfileContents != "" {
		contents = []byte(img.DockerfileContents)
	} else {
		dfPath = dockerfilePath(p, img)
		if contents, err = os.ReadFile(dfPath); err != nil {
			return bkclient.SolveOpt{}, cleanup, fmt.Errorf("read Dockerfile: %w", err)
		}
	}
	rewrites, err := fromRewrites(contents, p, img, deps)
	if err != nil {
		return bkclient.SolveOpt{}, cleanup, err
	}
	rewritten, err := dockerfile.RewriteFrom(contents, img.BuildArgs, rewrites)
	if err != nil {
		return bkclient.SolveOpt{}, cleanup, fmt.Errorf("rewrite FROM: %w", err)
	}

	attrs := map[string]string{}
	var dfDir string
	if dfPath != "" && len(rewrites) == 0 {
		dfDir, attrs["filename"] = filepath.Dir(dfPath), filepath.Base(dfPath)
	} else {
		tmp, err := os.MkdirTemp("", "kiln-dockerfile-")
		if err != nil {
			return bkclient.SolveOpt{}, cleanup, err
		}
		cleanup = func() { _ = os.RemoveAll(tmp) }
		if err := os.WriteFile(filepath.Join(tmp, "Dockerfile"), rewritten, 0o644); err != nil {
			cleanup()
			return bkclient.SolveOpt{}, func() {}, err
		}
		// BuildKit reads <Dockerfile>.dockerignore next to the Dockerfile in
		// preference to the context's .dockerignore: keep it next to the copy.
		if dfPath != "" {
			if ig, err := os.ReadFile(dfPath + ".dockerignore"); err == nil {
				if err := os.WriteFile(filepath.Join(tmp, "Dockerfile.dockerignore"), ig, 0o644); err != nil {
					cleanup()
					return bkclient.SolveOpt{}, func() {}, err
				}
			}
		}
		dfDir, attrs["filename"] = tmp, "Dockerfile"
	}

	// Never run a `# syntax=` frontend image: it would have to be pulled. The
	// built-in frontend forwards to the syntax image only when "cmdline" is
	// unset (that is how a forwarded frontend avoids forwarding again), so
	// setting it keeps the build on the built-in dockerfile.v0.
	if _, cmdline, _, ok := dfparser.DetectSyntax(contents); ok {
		attrs["cmdline"] = cmdline
		pr.line("ignoring the Dockerfile's syntax directive %q: using the builder's built-in Dockerfile frontend", cmdline)
	} else if v, ok := img.BuildArgs["BUILDKIT_SYNTAX"]; ok {
		attrs["cmdline"] = v
	}

	if img.Target != "" {
		attrs["target"] = img.Target
	}
	for k, v := range img.BuildArgs {
		attrs["build-arg:"+k] = v
	}
	if img.Platform != "" {
		attrs["platform"] = img.Platform
	}
	var entitlements []string
	switch img.Network {
	case "", "default":
	case "host":
		attrs["force-network-mode"] = "host"
		entitlements = append(entitlements, "network.host")
	default:
		attrs["force-network-mode"] = img.Network
	}

	ctxFS, err := fsutil.NewFS(contextDir)
	if err != nil {
		cleanup()
		return bkclient.SolveOpt{}, func() {}, fmt.Errorf("build context: %w", err)
	}
	if len(img.Excludes) > 0 {
		if ctxFS, err = fsutil.NewFilterFS(ctxFS, &fsutil.FilterOpt{ExcludePatterns: img.Excludes}); err != nil {
			cleanup()
			return bkclient.SolveOpt{}, func() {}, fmt.Errorf("build context filter: %w", err)
		}
	}
	dfFS, err := fsutil.NewFS(dfDir)
	if err != nil {
		cleanup()
		return bkclient.SolveOpt{}, func() {}, fmt.Errorf("Dockerfile directory: %w", err)
	}

	attachables, err := sessionAttachables(p, img)
	if err != nil {
		cleanup()
		return bkclient.SolveOpt{}, func() {}, err
	}

	names := append([]string{img.FullRef()}, img.ExtraTags...)
	export := bkclient.ExportEntry{Attrs: map[string]string{"name": strings.Join(names, ",")}}
	switch {
	case b.buildkitHost == "":
		export.Type = "moby" // the engine's own exporter: the image lands in its store
	case b.d != nil:
		export.Type = bkclient.ExporterDocker // Output set by the caller
	default:
		export.Type = bkclient.ExporterImage
	}

	return bkclient.SolveOpt{
		Frontend:            "dockerfile.v0",
		FrontendAttrs:       attrs,
		LocalMounts:         map[string]fsutil.FS{"context": ctxFS, "dockerfile": dfFS},
		Exports:             []bkclient.ExportEntry{export},
		Session:             attachables,
		AllowedEntitlements: entitlements,
	}, cleanup, nil
}

// projectPath makes a plan path (relative to p.Dir, '/'-separated)
// absolute.
func projectPath(p *plan.Plan, rel string) string {
	rel = filepath.FromSlash(rel)
	if filepath.IsAbs(rel) {
		return rel
	}
	return filepath.Join(p.Dir, rel)
}

// fromRewrites maps each FROM image of the Dockerfile (as written, after
// ARG expansion) that names one of deps to that dep's full ref. A FROM
// matches a dep when it names the same repository (after normalisation,
// so "example/base", "docker.io/example/base" and "example/base:latest"
// all name "example/base"), with the tag the dep's image matches when the
// user's ref carried one. Digest-pinned FROMs are left alone.
func fromRewrites(contents []byte, p *plan.Plan, img *plan.Image, deps map[string]string) (map[string]string, error) {
	if len(deps) == 0 {
		return nil, nil
	}
	info, _, err := dockerfile.Parse(contents, img.BuildArgs)
	if err != nil {
		return nil, err
	}
	type dep struct{ name, matchTag, full string }
	var ds []dep
	refs := make([]string, 0, len(deps))
	for r := range deps {
		refs = append(refs, r)
	}
	sort.Strings(refs) // deterministic when two deps could match
	for _, r := range refs {
		n, err := reference.ParseNormalizedNamed(r)
		if err != nil {
			continue
		}
		d := dep{name: n.Name(), full: deps[r]}
		if t, ok := n.(reference.Tagged); ok {
			d.matchTag = t.Tag()
		} else {
			for i := range p.Images {
				if p.Images[i].Ref == r {
					d.matchTag = p.Images[i].MatchTag
					break
				}
			}
		}
		ds = append(ds, d)
	}
	m := map[string]string{}
	for _, st := range info.Stages {
		if st.BaseStage >= 0 || st.BaseName == dockerfile.Scratch {
			continue
		}
		if full, ok := deps[st.BaseName]; ok {
			m[st.BaseName] = full
			continue
		}
		bn, err := reference.ParseNormalizedNamed(st.BaseName)
		if err != nil {
			continue
		}
		if _, ok := bn.(reference.Digested); ok {
			continue
		}
		tag := ""
		if t, ok := bn.(reference.Tagged); ok {
			tag = t.Tag()
		}
		for _, d := range ds {
			if d.name == bn.Name() && (d.matchTag == "" || d.matchTag == tag) {
				m[st.BaseName] = d.full
				break
			}
		}
	}
	if len(m) == 0 {
		return nil, nil
	}
	return m, nil
}

// sessionAttachables provides the build's secrets and SSH agents.
//
// A secret is "id=ID[,src=PATH|,env=VAR]" (type=file|env is accepted); a
// relative src is relative to the project directory. An SSH entry is
// "default", "ID" or "ID=PATH[,PATH...]" (agent sockets or key files); an
// empty path list means $SSH_AUTH_SOCK.
func sessionAttachables(p *plan.Plan, img *plan.Image) ([]session.Attachable, error) {
	var out []session.Attachable
	if len(img.Secrets) > 0 {
		var srcs []secretsprovider.Source
		for _, s := range img.Secrets {
			src, err := parseSecret(p, s)
			if err != nil {
				return nil, err
			}
			srcs = append(srcs, src)
		}
		store, err := secretsprovider.NewStore(srcs)
		if err != nil {
			return nil, fmt.Errorf("secrets: %w", err)
		}
		out = append(out, secretsprovider.NewSecretProvider(store))
	}
	if len(img.SSH) > 0 {
		var confs []sshprovider.AgentConfig
		for _, s := range img.SSH {
			id, paths, _ := strings.Cut(strings.TrimSpace(s), "=")
			c := sshprovider.AgentConfig{ID: id}
			if paths != "" {
				for _, pth := range strings.Split(paths, ",") {
					c.Paths = append(c.Paths, projectPath(p, pth))
				}
			}
			confs = append(confs, c)
		}
		a, err := sshprovider.NewSSHAgentProvider(confs)
		if err != nil {
			return nil, fmt.Errorf("ssh: %w", err)
		}
		out = append(out, a)
	}
	return out, nil
}

func parseSecret(p *plan.Plan, s string) (secretsprovider.Source, error) {
	var src secretsprovider.Source
	typ := ""
	for _, field := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(field), "=")
		if !ok {
			return src, fmt.Errorf("secret %q: %q is not key=value", s, field)
		}
		switch strings.ToLower(k) {
		case "id":
			src.ID = v
		case "type":
			if v != "file" && v != "env" {
				return src, fmt.Errorf("secret %q: type must be file or env", s)
			}
			typ = v
		case "src", "source":
			src.FilePath = v
		case "env":
			src.Env = v
		default:
			return src, fmt.Errorf("secret %q: unknown key %q", s, k)
		}
	}
	if typ == "env" && src.Env == "" {
		src.Env, src.FilePath = src.FilePath, ""
	}
	if src.ID == "" {
		return src, fmt.Errorf("secret %q: no id", s)
	}
	if src.FilePath != "" {
		src.FilePath = projectPath(p, src.FilePath)
	}
	return src, nil
}

// cleanBuildKitError strips the wrapping that adds nothing for the user.
func cleanBuildKitError(err error) string {
	msg := err.Error()
	for _, pre := range []string{"failed to solve: ", "rpc error: code = Unknown desc = "} {
		msg = strings.TrimPrefix(msg, pre)
	}
	return msg
}

// engineLoad streams a docker-format image tar from a standalone buildkitd
// into the engine.
type engineLoad struct {
	ctx  context.Context
	d    *docker.Client
	once sync.Once
	pw   *io.PipeWriter
	done chan error
}

func newEngineLoad(ctx context.Context, d *docker.Client) *engineLoad {
	return &engineLoad{ctx: ctx, d: d}
}

// output is the exporter's Output: it starts the load and returns the pipe
// BuildKit writes the tar to.
func (l *engineLoad) output(map[string]string) (io.WriteCloser, error) {
	var pr *io.PipeReader
	l.once.Do(func() {
		pr, l.pw = io.Pipe()
		l.done = make(chan error, 1)
		go func() {
			err := l.d.LoadImages(l.ctx, pr)
			_ = pr.CloseWithError(err)
			l.done <- err
		}()
	})
	if pr == nil {
		return nil, errors.New("docker exporter opened its output twice")
	}
	return l.pw, nil
}

// wait waits for the load to finish; solveErr is the solve's error, which
// aborts the load.
func (l *engineLoad) wait(solveErr error) error {
	if l.done == nil {
		return nil
	}
	if solveErr != nil {
		_ = l.pw.CloseWithError(solveErr)
	}
	return <-l.done
}
