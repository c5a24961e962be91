package filewatch

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"github.com/kiln-dev/kiln/internal/safefile"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// builtinIgnored reports whether a file or directory name is always ignored: .git, and the
// temporary files of editors (vim swap files and its 4913 write test, backups ending in ~,
// emacs lock and auto-save files, JetBrains safe-write files). Nothing re-includes them.
func builtinIgnored(name string) bool {
	switch {
	case name == ".git", name == "4913":
		return true
	case strings.HasSuffix(name, "~"):
		return true
	case strings.HasSuffix(name, ".swp"), strings.HasSuffix(name, ".swo"),
		strings.HasSuffix(name, ".swn"), strings.HasSuffix(name, ".swx"):
		return true
	case strings.HasPrefix(name, ".#"):
		return true
	case len(name) > 1 && name[0] == '#' && name[len(name)-1] == '#':
		return true
	case strings.HasSuffix(name, "___jb_tmp___"), strings.HasSuffix(name, "___jb_old___"):
		return true
	}
	return false
}

// rules is one list of .dockerignore patterns and the directory they are relative to.
type rules struct {
	base      string     // absolute, clean
	patterns  []string   // normalized
	mu        sync.Mutex // the matcher compiles its patterns lazily: not safe for concurrent use
	pm        *patternmatcher.PatternMatcher
	negations [][]string // the "!" patterns, split into segments
}

// newRules compiles patterns relative to base; it returns nil for an empty list. Patterns are
// normalized as the lines of a .dockerignore are (a leading "/" is dropped). An absolute
// pattern inside base is made relative to it.
func newRules(base string, patterns []string) (*rules, error) {
	var norm []string
	for _, p := range patterns {
		p = strings.TrimSpace(p)
		if p == "" || strings.HasPrefix(p, "#") {
			continue
		}
		neg := strings.HasPrefix(p, "!")
		if neg {
			if p = strings.TrimSpace(p[1:]); p == "" {
				return nil, fmt.Errorf("ignore patterns for %s: illegal exclusion pattern %q", base, "!")
			}
		}
		if filepath.IsAbs(p) {
			if rel, err := filepath.Rel(base, p); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
				p = rel
			}
		}
		p = filepath.ToSlash(filepath.Clean(p))
		p = strings.TrimPrefix(p, "/")
		if p == "" || p == "." {
			continue
		}
		if neg {
			p = "!" + p
		}
		norm = append(norm, p)
	}
	if len(norm) == 0 {
		return nil, nil
	}
	pm, err := patternmatcher.New(norm)
	if err != nil {
		return nil, fmt.Errorf("ignore patterns for %s: %w", base, err)
	}
	r := &rules{base: base, patterns: norm, pm: pm}
	for _, p := range pm.Patterns() {
		if p.Exclusion() {
			r.negations = append(r.negations, strings.Split(filepath.ToSlash(p.String()), "/"))
		}
	}
	// Compile every pattern now: the matcher compiles lazily, and only the patterns a path
	// needs, which would leave an invalid one unreported until some path reaches it.
	for i, p := range pm.Patterns() {
		one, err := patternmatcher.New([]string{strings.TrimPrefix(norm[i], "!")})
		if err != nil {
			return nil, fmt.Errorf("ignore pattern %q: %w", p.String(), err)
		}
		if _, err := one.MatchesOrParentMatches("x"); err != nil {
			return nil, fmt.Errorf("ignore pattern %q: %w", p.String(), err)
		}
	}
	return r, nil
}

// match matches the path rel (relative to the base) given its parent directory's results.
func (r *rules) match(rel string, parent patternmatcher.MatchInfo) (bool, patternmatcher.MatchInfo, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pm.MatchesUsingParentResults(rel, parent)
}

// rel returns p relative to the rules' base, when p is strictly inside it.
func (r *rules) rel(p string) (string, bool) { return inside(p, r.base) }

// covers reports whether the rules can apply to some path under the directory dir: dir is
// inside their base, is their base, or holds it.
func (r *rules) covers(dir string) bool {
	_, in := inside(dir, r.base)
	_, holds := inside(r.base, dir)
	return in || holds || dir == r.base
}

// inside returns p relative to dir when p is strictly inside dir (both absolute and clean).
func inside(p, dir string) (string, bool) {
	if dir == "/" {
		return p[1:], len(p) > 1
	}
	if len(p) > len(dir) && p[len(dir)] == '/' && p[:len(dir)] == dir {
		return p[len(dir)+1:], true
	}
	return "", false
}

// mayReinclude reports whether some "!" pattern could match a path strictly inside the
// directory rel (relative to the base), which the rules exclude. A path under an excluded
// directory inherits the directory's matches (MatchesUsingParentResults), so only a negation
// that matches the path itself can bring it back; when none can, the directory is skipped
// whole. It answers true when unsure.
func (r *rules) mayReinclude(rel string) bool {
	if len(r.negations) == 0 {
		return false
	}
	dir := strings.Split(rel, "/")
	for _, n := range r.negations {
		if patternBelow(n, dir) {
			return true
		}
	}
	return false
}

// patternBelow reports whether the pattern segments pat could match a path that has the
// segments dir as a strict prefix.
func patternBelow(pat, dir []string) bool {
	for i, seg := range pat {
		if seg == "**" || strings.Contains(seg, "**") {
			return true // may absorb the rest of dir, then match below it
		}
		if i == len(dir) {
			return true // dir is used up: the remaining segments name paths below it
		}
		ok, err := path.Match(seg, dir[i])
		if err != nil {
			return true
		}
		if !ok {
			return false
		}
	}
	return false // the pattern ends at or above dir
}

// ReadIgnoreFile reads the project-wide ignore files of the project directory dir:
// .kilnignore, then .tiltignore, each when present, in .dockerignore syntax. Their patterns
// are relative to dir: pass them as Options.Ignore with Options.IgnoreDir = dir.
func ReadIgnoreFile(dir string) ([]string, error) {
	var out []string
	for _, name := range []string{".kilnignore", ".tiltignore"} {
		p := filepath.Join(dir, name)
		data, err := safefile.ReadFile(p, 0)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		pats, err := ignorefile.ReadAll(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", p, err)
		}
		out = append(out, pats...)
	}
	return out, nil
}
