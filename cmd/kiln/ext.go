package main

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/kiln-dev/kiln/builtins"
	"github.com/kiln-dev/kiln/starlark/ext"
	"github.com/kiln-dev/kiln/starlark/host"
	"github.com/spf13/pflag"
)

const extUsage = `Usage:
  kiln ext list   [-f FILE]                 the extensions kiln.lock pins
  kiln ext update [NAME...] [-f FILE] [-- ARGS]
                                            re-resolve NAME (default: every extension), show
                                            the diff of its code, then write kiln.lock
  kiln ext vendor [-f FILE]                 copy the locked extensions into kiln_modules/
`

// extCmd is kiln ext: list, update and vendor the ext:// extensions of kiln.lock.
func extCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stderr, extUsage)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	sub := args[0]
	fs := pflag.NewFlagSet("kiln ext "+sub, pflag.ContinueOnError)
	var common commonFlags
	common.register(fs)
	fs.SetOutput(stderr)
	if err := fs.Parse(args[1:]); err != nil {
		if err == pflag.ErrHelp {
			return exitOK
		}
		return exitUsage
	}
	names, scriptArgs := fs.Args(), []string(nil)
	if n := fs.ArgsLenAtDash(); n >= 0 {
		names, scriptArgs = fs.Args()[:n], fs.Args()[n:]
	}
	main, err := host.FindMain(common.file)
	if err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return exitFail
	}
	dir := filepath.Dir(main)
	switch sub {
	case "list":
		return extList(dir, stdout, stderr)
	case "vendor":
		return extVendor(dir, stdout, stderr)
	case "update":
		if !common.readLimits(stderr) {
			return exitUsage
		}
		return extUpdate(common, names, scriptArgs, stdout, stderr)
	}
	fmt.Fprintf(stderr, "kiln ext: unknown command %q\n\n%s", sub, extUsage)
	return exitUsage
}

func extList(dir string, stdout, stderr io.Writer) int {
	lock, err := ext.ReadLock(ext.LockPath(dir))
	if err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return exitFail
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tREPO\tREF\tCOMMIT\tPATH\tHASH\tLOADS\tVENDORED")
	names := make([]string, 0, len(lock.Extensions))
	for n := range lock.Extensions {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		e := lock.Extensions[n]
		commit := "-"
		for _, r := range lock.Repos {
			if r.URL == e.Repo && r.Ref == e.Ref && r.Commit != "" {
				commit = r.Commit[:min(12, len(r.Commit))]
			}
		}
		loads := strings.Join(e.Loads, ",")
		if loads == "" {
			loads = "-"
		}
		ref := e.Ref
		if ref == "" {
			ref = "HEAD"
		}
		vendored := "no"
		if _, err := os.Stat(filepath.Join(dir, "kiln_modules", filepath.FromSlash(n))); err == nil {
			vendored = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", n, e.Repo, ref, commit, e.Path, e.Hash, loads, vendored)
	}
	tw.Flush()
	return exitOK
}

// extUpdate evaluates the project with NAME's lock entries (every entry when none is named)
// ignored, prints the diff of each changed extension, then writes kiln.lock.
func extUpdate(common commonFlags, names, scriptArgs []string, stdout, stderr io.Writer) int {
	if common.frozen || ciMode() {
		fmt.Fprintln(stderr, "Error: kiln ext update changes kiln.lock, which CI=true or --frozen refuses")
		return exitFail
	}
	ctx, stop := commandContext("", 0)
	defer stop()
	opts := evalOptions(common, scriptArgs, "ext", stderr)
	opts.Ext.Frozen = false
	if len(names) == 0 {
		opts.Ext.UpdateAll = true
	} else {
		opts.Ext.Update = map[string]bool{}
		for _, n := range names {
			opts.Ext.Update[strings.TrimPrefix(n, "ext://")] = true
		}
	}
	changed := 0
	opts.Ext.BeforeWrite = func(changes []ext.Change) error {
		for _, c := range changes {
			changed++
			if c.OldHash == "" {
				fmt.Fprintf(stdout, "ext://%s: new, %s\n", c.Name, c.NewHash)
			} else {
				fmt.Fprintf(stdout, "ext://%s: %s -> %s\n", c.Name, c.OldHash, c.NewHash)
			}
			if err := diffDirs(stdout, c.Name, c.OldDir, c.NewDir); err != nil {
				return err
			}
		}
		return nil
	}
	if _, err := builtins.EvaluateContext(ctx, common.file, opts); err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return exitFail
	}
	if changed == 0 {
		fmt.Fprintln(stdout, "kiln.lock: every extension is up to date")
	} else {
		fmt.Fprintf(stdout, "kiln.lock: %d extension(s) updated\n", changed)
	}
	return exitOK
}

// extVendor copies every locked extension into kiln_modules/NAME, checked against its hash,
// for fully offline use: kiln_modules/ is read before the lock, the cache and the network.
func extVendor(dir string, stdout, stderr io.Writer) int {
	ctx, stop := commandContext("", 0)
	defer stop()
	r, err := ext.New(ext.Options{ProjectDir: dir, CacheDir: cacheDir()})
	if err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return exitFail
	}
	lock := r.Lock()
	if len(lock.Extensions) == 0 {
		fmt.Fprintln(stderr, "Error: kiln.lock pins no extension; run kiln run (or kiln ext update) first")
		return exitFail
	}
	names := make([]string, 0, len(lock.Extensions))
	for n := range lock.Extensions {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		src, err := r.ExtensionDir(ctx, n)
		if err != nil {
			fmt.Fprintf(stderr, "Error: ext://%s: %v\n", n, err)
			return exitFail
		}
		dst := filepath.Join(dir, "kiln_modules", filepath.FromSlash(n))
		if err := os.RemoveAll(dst); err != nil {
			fmt.Fprintf(stderr, "Error: %v\n", err)
			return exitFail
		}
		if err := copyTree(src, dst); err != nil {
			fmt.Fprintf(stderr, "Error: vendoring ext://%s: %v\n", n, err)
			return exitFail
		}
		fmt.Fprintf(stdout, "vendored ext://%s into %s\n", n, filepath.ToSlash(filepath.Join("kiln_modules", n)))
	}
	return exitOK
}

func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
}
