// Package dockerfile extracts what kiln needs from a Dockerfile: its stages,
// their base images and the files copied into them, and rewrites FROM lines to
// point at images built in the same project.
//
// Parsing is done with BuildKit's own parser and instruction decoder, and ARG
// expansion with BuildKit's shell lexer, so kiln sees the Dockerfile the way
// `docker build` does.
package dockerfile

import (
	"bytes"
	"errors"
	"fmt"
	"path"
	"runtime"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// Scratch is the name of the empty base image.
const Scratch = "scratch"

// Info is the structure of a Dockerfile.
type Info struct {
	Stages []Stage // in order
}

// Stage is one FROM section.
type Stage struct {
	Name string // the AS name, lower-cased as BuildKit does; "" if unnamed
	// BaseName is the FROM image reference as written, after ARG expansion
	// with the given build args and the ARG defaults declared before the
	// first FROM. It may be the name of an earlier stage (see BaseStage).
	BaseName string
	// BaseStage is the index of the earlier stage BaseName refers to, or -1
	// when BaseName is an image (including "scratch").
	BaseStage int
	// Platform is the --platform value after ARG expansion, "" if absent.
	Platform string
	// Uses lists the other sources of the stage's content as written in
	// COPY --from and RUN --mount=from=: an earlier stage name, a stage
	// index or an image reference.
	Uses []string
	Line int // 1-based line of the FROM instruction
}

// Copy is a COPY or ADD instruction.
type Copy struct {
	Stage   int      // index into Info.Stages
	Add     bool     // ADD rather than COPY
	Sources []string // source paths after ARG/ENV expansion (heredoc sources are omitted)
	Dest    string   // destination after ARG/ENV expansion, as written (may be relative to Workdir)
	// Workdir is the WORKDIR in effect, after expansion, as far as the
	// Dockerfile tells: "" when only the base image could say.
	Workdir string
	From    string // --from as written ("" for the build context)
	Line    int    // 1-based line of the instruction
}

// Error is a Dockerfile error located at a line.
type Error struct {
	Line int // 1-based, 0 if unknown
	Err  error
}

func (e *Error) Error() string {
	if e.Line <= 0 {
		return "Dockerfile: " + e.Err.Error()
	}
	return fmt.Sprintf("Dockerfile line %d: %v", e.Line, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

func lineErr(line int, err error) error {
	if err == nil {
		return nil
	}
	var le *Error
	if errors.As(err, &le) {
		return err
	}
	if line <= 0 {
		var ple *parser.LocationError
		if errors.As(err, &ple) && len(ple.Locations) > 0 && len(ple.Locations[0]) > 0 {
			line = ple.Locations[0][0].Start.Line
		}
	}
	return &Error{Line: line, Err: errors.New(stripLocationNoise(err))}
}

// stripLocationNoise removes BuildKit's own line prefix from a message so
// errors do not name the line twice.
func stripLocationNoise(err error) string {
	msg := err.Error()
	if strings.HasPrefix(msg, "dockerfile parse error on line ") {
		if _, rest, ok := strings.Cut(msg, ": "); ok {
			return rest
		}
	}
	return msg
}

// parsed is the common result of parsing used by Parse and RewriteFrom.
type parsed struct {
	res    *parser.Result
	nodes  []*parser.Node // FROM node of each stage
	info   *Info
	copies []Copy
}

// Parse parses a Dockerfile. buildArgs are the --build-arg values; the
// automatic platform args (BUILDPLATFORM, TARGETARCH, ...) default to
// linux on the host's architecture unless given in buildArgs.
func Parse(contents []byte, buildArgs map[string]string) (*Info, []Copy, error) {
	p, err := parse(contents, buildArgs)
	if err != nil {
		return nil, nil, err
	}
	return p.info, p.copies, nil
}

func parse(contents []byte, buildArgs map[string]string) (*parsed, error) {
	res, err := parser.Parse(bytes.NewReader(contents))
	if err != nil {
		return nil, lineErr(0, err)
	}
	lint := linter.New(&linter.Config{}) // no warnings reported; nil would panic on `# check=` comments

	type rawStage struct {
		st   *instructions.Stage
		node *parser.Node
		cmds []instructions.Command
	}
	var (
		metaArgs []*instructions.ArgCommand
		stages   []*rawStage
	)
	for _, n := range res.AST.Children {
		v, err := instructions.ParseInstructionWithLinter(n, lint)
		if err != nil {
			return nil, lineErr(n.StartLine, err)
		}
		switch c := v.(type) {
		case *instructions.Stage:
			stages = append(stages, &rawStage{st: c, node: n})
		case *instructions.ArgCommand:
			if len(stages) == 0 {
				metaArgs = append(metaArgs, c)
				continue
			}
			stages[len(stages)-1].cmds = append(stages[len(stages)-1].cmds, c)
		case instructions.Command:
			if len(stages) == 0 {
				return nil, lineErr(n.StartLine, fmt.Errorf("%s before the first FROM", strings.ToUpper(n.Value)))
			}
			stages[len(stages)-1].cmds = append(stages[len(stages)-1].cmds, c)
		default:
			return nil, lineErr(n.StartLine, fmt.Errorf("unexpected instruction %s", n.Value))
		}
	}
	if len(stages) == 0 {
		return nil, &Error{Err: errors.New("no FROM instruction")}
	}

	lex := shell.NewLex(res.EscapeToken)
	target := stages[len(stages)-1].st.Name
	global := defaultArgs(buildArgs, target)
	for _, a := range metaArgs {
		for _, kv := range a.Args {
			if v, ok := buildArgs[kv.Key]; ok {
				global.set(kv.Key, v)
				continue
			}
			if kv.Value == nil {
				continue
			}
			v, _, err := lex.ProcessWord(*kv.Value, global)
			if err != nil {
				return nil, lineErr(startLine(a.Location()), err)
			}
			global.set(kv.Key, v)
		}
	}

	p := &parsed{res: res, info: &Info{}}
	byName := map[string]int{}
	stageEnv := make([]*env, 0, len(stages))
	stageWorkdir := make([]string, 0, len(stages))
	for i, rs := range stages {
		line := rs.node.StartLine
		base, _, err := lex.ProcessWord(rs.st.BaseName, global)
		if err != nil {
			return nil, lineErr(line, err)
		}
		if base == "" {
			return nil, lineErr(line, fmt.Errorf("base name (%s) should not be blank", rs.st.BaseName))
		}
		st := Stage{Name: rs.st.Name, BaseName: base, BaseStage: -1, Line: line}
		if rs.st.Platform != "" {
			if st.Platform, _, err = lex.ProcessWord(rs.st.Platform, global); err != nil {
				return nil, lineErr(line, err)
			}
		}
		// BuildKit matches the expanded base name against the (lower-cased)
		// names of earlier stages, case-sensitively.
		e, wd := &env{}, ""
		if idx, ok := byName[base]; ok {
			st.BaseStage = idx
			e, wd = stageEnv[idx].clone(), stageWorkdir[idx]
		}
		for _, cmd := range rs.cmds {
			cl := startLine(cmd.Location())
			expand := func(w string) (string, error) {
				v, _, err := lex.ProcessWord(w, e)
				return v, err
			}
			switch c := cmd.(type) {
			case *instructions.ArgCommand:
				for _, kv := range c.Args {
					if v, ok := buildArgs[kv.Key]; ok {
						e.set(kv.Key, v)
					} else if kv.Value != nil {
						v, err := expand(*kv.Value)
						if err != nil {
							return nil, lineErr(cl, err)
						}
						e.set(kv.Key, v)
					} else if v, ok := global.Get(kv.Key); ok {
						e.set(kv.Key, v)
					}
				}
			case *instructions.EnvCommand:
				// All values are expanded against the env before the
				// instruction, then set (BuildKit expands the whole command first).
				vals := make([]string, len(c.Env))
				for j, kv := range c.Env {
					v, err := expand(kv.Value)
					if err != nil {
						return nil, lineErr(cl, err)
					}
					vals[j] = v
				}
				for j, kv := range c.Env {
					e.set(kv.Key, vals[j])
				}
			case *instructions.WorkdirCommand:
				w, err := expand(c.Path)
				if err != nil {
					return nil, lineErr(cl, err)
				}
				if !path.IsAbs(w) && wd != "" {
					w = path.Join(wd, w)
				} else if !path.IsAbs(w) {
					w = path.Join("/", w)
				}
				wd = path.Clean(w)
			case *instructions.CopyCommand:
				cp, err := copyOf(i, false, c.SourcesAndDest, c.From, wd, cl, expand)
				if err != nil {
					return nil, err
				}
				p.copies = append(p.copies, cp)
				if c.From != "" {
					st.Uses = append(st.Uses, c.From)
				}
			case *instructions.AddCommand:
				cp, err := copyOf(i, true, c.SourcesAndDest, "", wd, cl, expand)
				if err != nil {
					return nil, err
				}
				p.copies = append(p.copies, cp)
			case *instructions.RunCommand:
				for _, m := range instructions.GetMounts(c) {
					if m.From != "" {
						st.Uses = append(st.Uses, m.From)
					}
				}
			}
		}
		p.info.Stages = append(p.info.Stages, st)
		p.nodes = append(p.nodes, rs.node)
		stageEnv = append(stageEnv, e)
		stageWorkdir = append(stageWorkdir, wd)
		if st.Name != "" {
			byName[st.Name] = i
		}
	}
	return p, nil
}

func copyOf(stage int, add bool, sd instructions.SourcesAndDest, from, wd string, line int, expand func(string) (string, error)) (Copy, error) {
	cp := Copy{Stage: stage, Add: add, From: from, Workdir: wd, Line: line}
	for _, s := range sd.SourcePaths {
		v, err := expand(s)
		if err != nil {
			return Copy{}, lineErr(line, err)
		}
		cp.Sources = append(cp.Sources, v)
	}
	d, err := expand(sd.DestPath)
	if err != nil {
		return Copy{}, lineErr(line, err)
	}
	cp.Dest = d
	return cp, nil
}

func startLine(r []parser.Range) int {
	if len(r) == 0 {
		return 0
	}
	return r[0].Start.Line
}

// defaultArgs are the automatic platform ARGs BuildKit defines in the global
// scope. kiln builds Linux images for the host's architecture.
func defaultArgs(buildArgs map[string]string, target string) *env {
	if target == "" {
		target = "default"
	}
	plat := "linux/" + runtime.GOARCH
	variant := ""
	if runtime.GOARCH == "arm64" {
		variant = "v8"
	}
	e := &env{}
	for _, kv := range [...][2]string{
		{"BUILDPLATFORM", plat},
		{"BUILDOS", "linux"},
		{"BUILDOSVERSION", ""},
		{"BUILDARCH", runtime.GOARCH},
		{"BUILDVARIANT", variant},
		{"TARGETPLATFORM", plat},
		{"TARGETOS", "linux"},
		{"TARGETOSVERSION", ""},
		{"TARGETARCH", runtime.GOARCH},
		{"TARGETVARIANT", variant},
		{"TARGETSTAGE", target},
	} {
		v := kv[1]
		if ov, ok := buildArgs[kv[0]]; ok {
			v = ov
		}
		e.set(kv[0], v)
	}
	return e
}

// env is an ordered variable set usable by BuildKit's shell lexer.
type env struct {
	keys []string
	vals map[string]string
}

func (e *env) set(k, v string) {
	if e.vals == nil {
		e.vals = map[string]string{}
	}
	k = shell.NormalizeEnvKey(k)
	if _, ok := e.vals[k]; !ok {
		e.keys = append(e.keys, k)
	}
	e.vals[k] = v
}

func (e *env) Get(k string) (string, bool) {
	v, ok := e.vals[shell.NormalizeEnvKey(k)]
	return v, ok
}

func (e *env) Keys() []string { return e.keys }

func (e *env) clone() *env {
	c := &env{keys: append([]string(nil), e.keys...), vals: make(map[string]string, len(e.vals))}
	for k, v := range e.vals {
		c.vals[k] = v
	}
	return c
}

// BaseImages returns the external images (FROM references that are neither
// earlier stages nor "scratch") used by the target stage and the stages it
// depends on through FROM, COPY --from and RUN --mount=from; all stages if
// target is "". The result is in stage order, without duplicates. An
// unknown target yields nil.
func BaseImages(info *Info, target string) []string {
	if info == nil || len(info.Stages) == 0 {
		return nil
	}
	need := make([]bool, len(info.Stages))
	if target == "" {
		for i := range need {
			need[i] = true
		}
	} else {
		t := stageIndex(info, len(info.Stages), target, false)
		if t < 0 {
			return nil
		}
		var visit func(i int)
		visit = func(i int) {
			if need[i] {
				return
			}
			need[i] = true
			st := info.Stages[i]
			if st.BaseStage >= 0 {
				visit(st.BaseStage)
			}
			for _, u := range st.Uses {
				// COPY --from refers to stages defined anywhere before the
				// instruction: BuildKit resolves names over all stages.
				if j := stageIndex(info, len(info.Stages), u, true); j >= 0 {
					visit(j)
				}
			}
		}
		visit(t)
	}
	var out []string
	seen := map[string]bool{}
	for i, st := range info.Stages {
		if !need[i] || st.BaseStage >= 0 || st.BaseName == Scratch || seen[st.BaseName] {
			continue
		}
		seen[st.BaseName] = true
		out = append(out, st.BaseName)
	}
	return out
}

// stageIndex finds a stage by name (case-insensitive, as BuildKit) or, when
// byIndex, by number.
func stageIndex(info *Info, n int, ref string, byIndex bool) int {
	if byIndex {
		if i, err := strconv.Atoi(ref); err == nil {
			if i >= 0 && i < n {
				return i
			}
			return -1
		}
	}
	ref = strings.ToLower(ref)
	for i := 0; i < n; i++ {
		if info.Stages[i].Name != "" && info.Stages[i].Name == ref {
			return i
		}
	}
	return -1
}
