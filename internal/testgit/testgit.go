// Package testgit makes git repositories for tests with go-git: no git binary.
package testgit

import (
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/kiln-dev/kiln/internal/testenv"
)

// Commit writes files (slash-separated path → content) into the repository at dir, making it
// when there is none, commits them and returns the commit hash.
func Commit(tb testing.TB, dir string, files map[string]string) string {
	tb.Helper()
	repo, err := git.PlainOpen(dir)
	if err != nil {
		if repo, err = git.PlainInit(dir, false); err != nil {
			tb.Fatal(err)
		}
	}
	wt, err := repo.Worktree()
	if err != nil {
		tb.Fatal(err)
	}
	testenv.WriteFiles(tb, dir, files)
	for name := range files {
		if _, err := wt.Add(name); err != nil {
			tb.Fatal(err)
		}
	}
	h, err := wt.Commit("test", &git.CommitOptions{Author: &object.Signature{Name: "kiln", Email: "kiln@example.com", When: time.Unix(1700000000, 0)}})
	if err != nil {
		tb.Fatal(err)
	}
	return h.String()
}
