package dockerfile

import (
	"path"
	"strings"
)

// Sync maps a path of the build context (slash-separated, "." for the whole context) to where
// the image holds it.
type Sync struct{ Local, Remote string }

// InferSyncs reads the sync rules a Dockerfile implies (Ptah's `deploy --sync`): every COPY
// from the build context into the stage the image is (target, or the last stage), with
// Docker's mapping: a directory's contents go into the destination, a file goes to the
// destination, or into it when it ends in "/" or the COPY has several sources. COPY --from,
// ADD of anything but a directory, wildcards, and a relative destination under an unknown
// WORKDIR are left out: there the image's file is not the context's file. isDir reports
// whether a context path is a directory.
func InferSyncs(info *Info, copies []Copy, target string, isDir func(string) bool) []Sync {
	stage := len(info.Stages) - 1
	for i, st := range info.Stages {
		if target != "" && st.Name == strings.ToLower(target) {
			stage = i
		}
	}
	var out []Sync
	seen := map[string]bool{}
	for _, c := range copies {
		if c.Stage != stage || c.From != "" {
			continue
		}
		dest := c.Dest
		if !path.IsAbs(dest) {
			if c.Workdir == "" || !path.IsAbs(c.Workdir) {
				continue
			}
			dest = path.Join(c.Workdir, dest)
		}
		intoDir := strings.HasSuffix(c.Dest, "/") || len(c.Sources) > 1
		for _, src := range c.Sources {
			if strings.ContainsAny(src, "*?[") {
				continue
			}
			local := path.Clean(strings.TrimPrefix(path.Clean("/"+src), "/"))
			if local == "" || local == "/" {
				local = "."
			}
			dir := isDir(local)
			if c.Add && !dir {
				continue // ADD unpacks archives: the image's files are not this file
			}
			remote := path.Clean(dest)
			if !dir && intoDir {
				remote = path.Join(remote, path.Base(local))
			}
			if seen[local] {
				continue
			}
			seen[local] = true
			out = append(out, Sync{Local: local, Remote: remote})
		}
	}
	return out
}
