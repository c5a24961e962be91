package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/kiln-dev/kiln/runtime/local"
	"github.com/kiln-dev/kiln/runtime/plan"
)

// buildCustom runs a custom_build command. The command gets the process
// environment, the Command's env, and EXPECTED_REF (repo:tag),
// EXPECTED_REGISTRY (the registry host of the repo, "" for none),
// EXPECTED_IMAGE (the repo without the registry) and EXPECTED_TAG. Unless
// the image skips the local engine, the image must be in the engine
// afterwards; if outputs_image_ref_to names a file, the ref the command
// wrote there is tagged as EXPECTED_REF when it differs.
//
// It is skipped when EXPECTED_REF is already in the engine, except when the
// tag is fixed by the user (custom_build(tag=...)): a fixed tag says nothing
// about the content, so the command always runs.
func (b *Builder) buildCustom(ctx context.Context, p *plan.Plan, img *plan.Image, out io.Writer, prefix string) (bool, error) {
	c := img.Custom
	if c.Command.Empty() {
		return false, errors.New("custom_build has no command")
	}
	if c.Tag == "" && !c.SkipsLocal {
		if skip, err := b.upToDate(ctx, img, out, prefix); err != nil || skip {
			return skip, err
		}
	}
	ref := img.FullRef()
	registry, name := splitRegistry(img.Repo)

	outputFile := ""
	if c.OutputsImage != "" {
		outputFile = projectPath(p, c.OutputsImage)
		_ = os.Remove(outputFile) // a stale ref from an earlier run must not count
	}

	w := &lineWriter{out: out, prefix: prefix}
	cmd := local.Command(ctx, p.Dir, &c.Command, w, b.Env, map[string]string{
		"EXPECTED_REF":      ref,
		"EXPECTED_REGISTRY": registry,
		"EXPECTED_IMAGE":    name,
		"EXPECTED_TAG":      img.Tag,
	})

	if out != nil {
		_, _ = fmt.Fprintf(out, "%s$ %s\n", prefix, strings.Join(c.Command.Argv, " "))
	}
	err := cmd.Run()
	w.Flush()
	if err != nil {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		msg := fmt.Sprintf("custom_build command %s: %v", quoteArgv(c.Command.Argv), err)
		if tail := w.Tail(); len(tail) > 0 {
			msg += fmt.Sprintf("\nlast %d output lines:", len(tail))
			for _, l := range tail {
				msg += "\n  " + l
			}
		}
		return false, errors.New(msg)
	}

	if outputFile != "" {
		data, err := os.ReadFile(outputFile)
		if err != nil {
			return false, fmt.Errorf("custom_build command did not write the built ref to %s (outputs_image_ref_to): %w", c.OutputsImage, err)
		}
		if built := strings.TrimSpace(string(data)); built != "" && built != ref && b.d != nil && !c.SkipsLocal {
			if err := b.d.Tag(ctx, built, ref); err != nil {
				return false, err
			}
		}
	}
	if c.SkipsLocal || b.d == nil {
		return false, nil
	}
	ok, err := b.d.ImageExists(ctx, ref)
	if err != nil {
		return false, err
	}
	if !ok {
		return false, fmt.Errorf("custom_build command %s succeeded but the engine has no image %s; the command must build and tag $EXPECTED_REF (or set skips_local_docker=True)", quoteArgv(c.Command.Argv), ref)
	}
	for _, t := range img.ExtraTags {
		if err := b.d.Tag(ctx, ref, t); err != nil {
			return false, err
		}
	}
	if c.Tag != "" {
		return false, nil // the user's fixed tag names no content: nothing to check
	}
	// The command read its deps some time after they were hashed.
	return false, b.verifyInputs(ctx, p, img)
}

// splitRegistry splits a repository into its registry host ("" when the
// first component is not one: no '.', ':' and not "localhost", Docker's
// rule) and the rest.
func splitRegistry(repo string) (registry, name string) {
	first, rest, ok := strings.Cut(repo, "/")
	if ok && (strings.ContainsAny(first, ".:") || first == "localhost") {
		return first, rest
	}
	return "", repo
}

func quoteArgv(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$`") {
			q[i] = fmt.Sprintf("%q", a)
		} else {
			q[i] = a
		}
	}
	s := strings.Join(q, " ")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return "[" + s + "]"
}
