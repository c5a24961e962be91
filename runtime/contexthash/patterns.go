package contexthash

import (
	"bytes"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/kiln-dev/kiln/internal/safefile"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// Excludes returns the final exclude pattern list for s, in .dockerignore
// syntax and order, exactly what the build must send as its context filter
// (BuildKit's ExcludePatterns) so that the build and Hash agree. Without
// Only, it is:
//
//  1. the ignore file: <Dockerfile>.dockerignore next to the Dockerfile if
//     it exists (as BuildKit does), else <Dir>/.dockerignore;
//  2. s.Ignore;
//  3. "**/.git" and "**/.git/**", last so nothing re-includes them.
//
// With Only, the list starts with "*" and "!<path>" for each Only path, and
// the patterns of 1 and 2 are rewritten so that they select, inside the
// Only paths, exactly what they select without Only (ignore rules take
// precedence over Only, as in Tilt) and never match outside them (so a
// "!pattern" cannot bring back something Only left out): for instance
// "!*.md" with Only ["docs"] becomes "!docs/*.md". See restrictToOnly.
func Excludes(s Spec) ([]string, error) {
	dir, err := contextDir(s)
	if err != nil {
		return nil, err
	}
	only, err := normalizeOnly(dir, s.Only)
	if err != nil {
		return nil, err
	}
	ignoreFile, err := readIgnoreFile(dir, s.Dockerfile)
	if err != nil {
		return nil, err
	}
	rules := append(ignoreFile, normalizePatterns(s.Ignore)...)
	if _, err := patternmatcher.New(rules); err != nil {
		return nil, err
	}
	var out []string
	if len(only) > 0 {
		out = append(out, "*")
		for _, o := range only {
			out = append(out, "!"+o)
		}
		if rules, err = restrictToOnly(rules, only); err != nil {
			return nil, err
		}
	}
	out = append(out, rules...)
	out = append(out, "**/.git", "**/.git/**")
	if _, err := patternmatcher.New(out); err != nil {
		return nil, err
	}
	return out, nil
}

func contextDir(s Spec) (string, error) {
	if s.Dir == "" {
		return "", errorf("no context directory")
	}
	dir, err := filepath.Abs(s.Dir)
	if err != nil {
		return "", err
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return "", err
	}
	if !fi.IsDir() {
		return "", errorf("context %s is not a directory", dir)
	}
	return dir, nil
}

// readIgnoreFile reads the ignore file BuildKit would use.
// IgnoreFiles returns the files the exclude list of s may come from, in the order they are
// tried: <Dockerfile>.dockerignore, then .dockerignore in the context. The first that exists is
// used. A change to any of them can change what the context holds.
func IgnoreFiles(s Spec) ([]string, error) {
	dir, err := contextDir(s)
	if err != nil {
		return nil, err
	}
	return ignoreCandidates(dir, s.Dockerfile), nil
}

func ignoreCandidates(dir, dockerfile string) []string {
	var candidates []string
	if dockerfile != "" {
		df := dockerfile
		if !filepath.IsAbs(df) {
			df = filepath.Join(dir, df)
		}
		candidates = append(candidates, df+".dockerignore")
	}
	return append(candidates, filepath.Join(dir, ".dockerignore"))
}

func readIgnoreFile(dir, dockerfile string) ([]string, error) {
	for _, c := range ignoreCandidates(dir, dockerfile) {
		data, err := safefile.ReadFile(c, 0) // a FIFO here must not hang the hash
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		pats, err := ignorefile.ReadAll(bytes.NewReader(data))
		if err != nil {
			return nil, errorf("reading %s: %v", c, err)
		}
		return pats, nil
	}
	return nil, nil
}

// normalizePatterns applies to extra patterns the normalization
// ignorefile.ReadAll applies to the lines of a .dockerignore.
func normalizePatterns(ps []string) []string {
	var out []string
	for _, p := range ps {
		p = strings.TrimSpace(p)
		if p == "" || strings.HasPrefix(p, "#") {
			continue
		}
		neg := p[0] == '!'
		if neg {
			p = strings.TrimSpace(p[1:])
		}
		if p != "" {
			p = filepath.ToSlash(filepath.Clean(p))
			if len(p) > 1 && p[0] == '/' {
				p = p[1:]
			}
		}
		if neg {
			p = "!" + p
		}
		out = append(out, p)
	}
	return out
}

// normalizeOnly cleans the Only entries into slash-separated paths relative
// to dir, dropping entries inside another one. It returns nil if an entry
// is the whole context.
func normalizeOnly(dir string, only []string) ([]string, error) {
	var out []string
	for _, o := range only {
		o = strings.TrimSpace(o)
		if o == "" {
			continue
		}
		if filepath.IsAbs(o) {
			rel, err := filepath.Rel(dir, o)
			if err != nil {
				return nil, err
			}
			o = rel
		}
		o = filepath.ToSlash(filepath.Clean(o))
		if o == "." {
			return nil, nil
		}
		if o == ".." || strings.HasPrefix(o, "../") {
			return nil, errorf("only path %q is outside the context %s", o, dir)
		}
		if strings.HasPrefix(o, "!") {
			return nil, errorf("only path %q cannot be a negation", o)
		}
		out = append(out, o)
	}
	var kept []string
	for i, o := range out {
		covered := false
		for j, p := range out {
			if j != i && (strings.HasPrefix(o, p+"/") || (p == o && j < i)) {
				covered = true
				break
			}
		}
		if !covered {
			kept = append(kept, o)
		}
	}
	return kept, nil
}

const globChars = `*?[]\`

// restrictToOnly rewrites the ignore rules for use after the "*", "!<only>"
// prefix. BuildKit's matcher (MatchesUsingParentResults) decides a path
// from the patterns matching the path itself and those recorded as
// matching its parent directory; a pattern is only tested, and so only
// recorded, when it could change the outcome at that point. Each rule is
// replaced, for each Only path o, by patterns of the same sign that match
// (a) the paths at or under o that the rule matches itself, and (b) o and
// everything under it if the rule is recorded for o when the rules are used
// without Only (found by running the matcher's algorithm down o's parents).
// Under o every path then gets the outcome it gets without Only, and nothing
// outside the Only paths is matched. A rule this cannot model (a "**" inside
// a segment, an Only entry with wildcards) is kept as it is.
func restrictToOnly(rules, only []string) ([]string, error) {
	pm, err := patternmatcher.New(rules)
	if err != nil {
		return nil, err
	}
	pats := pm.Patterns()
	single := make([]*patternmatcher.PatternMatcher, len(pats))
	for i, p := range pats {
		if strings.HasPrefix(p.String(), "!") {
			continue // "!!x": leave alone
		}
		if single[i], err = patternmatcher.New([]string{p.String()}); err != nil {
			return nil, err
		}
	}
	// A one-pattern MatchInfo recording "no match": passed as the parent's,
	// it makes MatchesUsingParentResults test only the path itself.
	never, _ := patternmatcher.New([]string{"x"})
	_, noParent, err := never.MatchesUsingParentResults("y", patternmatcher.MatchInfo{})
	if err != nil {
		return nil, err
	}
	direct := func(i int, p string) bool {
		m, _, err := single[i].MatchesUsingParentResults(p, noParent)
		return err == nil && m
	}

	recorded := make(map[string][]bool, len(only)) // per Only path
	for _, o := range only {
		if strings.ContainsAny(o, globChars) {
			continue
		}
		segs := strings.Split(o, "/")
		var parent []bool
		for k := 1; k <= len(segs); k++ {
			p := strings.Join(segs[:k], "/")
			cur := make([]bool, len(pats))
			matched := false
			for i, pat := range pats {
				m := parent != nil && parent[i]
				if !m {
					if pat.Exclusion() != matched || single[i] == nil {
						continue
					}
					m = direct(i, p)
				}
				cur[i] = m
				if m {
					matched = !pat.Exclusion()
				}
			}
			parent = cur
		}
		recorded[o] = parent
	}

	var out []string
	for i, pat := range pats {
		sign := ""
		if pat.Exclusion() {
			sign = "!"
		}
		var repl []string
		ok := single[i] != nil
		for _, o := range only {
			if !ok {
				break
			}
			if strings.ContainsAny(o, globChars) {
				ok = false
				break
			}
			var r []string
			r, ok = directUnder(strings.Split(filepath.ToSlash(pat.String()), "/"), strings.Split(o, "/"))
			if recorded[o][i] {
				r = append(r, o, o+"/**")
			}
			repl = append(repl, r...)
		}
		if !ok {
			out = append(out, sign+pat.String())
			continue
		}
		seen := map[string]bool{}
		for _, r := range repl {
			if !seen[r] {
				seen[r] = true
				out = append(out, sign+r)
			}
		}
	}
	return out, nil
}

// directUnder returns patterns matching exactly the paths at or under the
// literal path o that pattern p matches itself (not through a parent). It
// reports false for a pattern it does not model.
func directUnder(p, o []string) ([]string, bool) {
	lit := strings.Join(o, "/")
	var rec func(pi, oi int) ([]string, bool)
	rec = func(pi, oi int) ([]string, bool) {
		if oi == len(o) {
			if pi == len(p) {
				return []string{lit}, true
			}
			return []string{lit + "/" + strings.Join(p[pi:], "/")}, true
		}
		if pi == len(p) {
			return nil, true // p ends above o
		}
		seg := p[pi]
		if seg == "**" {
			if pi == len(p)-1 {
				return []string{lit, lit + "/**"}, true
			}
			a, ok := rec(pi+1, oi) // ** matches no segment
			if !ok {
				return nil, false
			}
			b, ok := rec(pi, oi+1) // ** eats o[oi]
			if !ok {
				return nil, false
			}
			return append(a, b...), true
		}
		if strings.Contains(seg, "**") {
			return nil, false
		}
		if !segmentMatch(seg, o[oi]) {
			return nil, true
		}
		return rec(pi+1, oi+1)
	}
	return rec(0, 0)
}

// segmentMatch reports whether one pattern segment matches one path segment
// the way patternmatcher does (using it, on a neutral parent to keep a
// leading '!' literal).
func segmentMatch(seg, name string) bool {
	if !strings.ContainsAny(seg, globChars) {
		return seg == name
	}
	pm, err := patternmatcher.New([]string{"x/" + seg})
	if err != nil {
		return false
	}
	m, err := pm.MatchesOrParentMatches("x/" + name)
	return err == nil && m
}

// mayMatchInside reports whether a pattern (cleaned, split on the path
// separator) could match some path strictly inside dir (split on '/'). It
// may answer true when unsure, never false when a match is possible.
func mayMatchInside(p, dir []string) bool {
	var rec func(pi, di int) bool
	rec = func(pi, di int) bool {
		if di == len(dir) {
			// Anything left in the pattern can match a path below.
			return pi < len(p)
		}
		if pi == len(p) {
			return false // the pattern ends above the paths inside dir
		}
		seg := p[pi]
		switch {
		case seg == "**":
			return pi == len(p)-1 || rec(pi+1, di) || rec(pi, di+1)
		case strings.Contains(seg, "**"):
			return true // a ** inside a segment may span several: give up
		case strings.ContainsAny(seg, `[]\`):
			return rec(pi+1, di+1) // character classes and escapes: assume a match
		default:
			ok, err := path.Match(seg, dir[di])
			if err != nil {
				return true
			}
			return ok && rec(pi+1, di+1)
		}
	}
	return rec(0, 0)
}
