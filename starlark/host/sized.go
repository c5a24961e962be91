package host

import (
	"fmt"

	"github.com/kiln-dev/kiln/internal/safefile"
	"go.starlark.net/starlark"
)

// elementBytes is what one element of a Starlark list costs at the least: an interface value.
const elementBytes = 16

// sizedBuiltins are the Starlark builtins that make a sequence as long as the one they are
// given in a single step, so that neither the step budget nor the memory watch can stop
// them: list(range(1 << 34)) asks for 256 GiB at once, and Go cannot recover from running
// out of memory. Their replacements refuse a length whose elements alone would outgrow the
// memory limit.
var sizedBuiltins = []string{"list", "tuple", "sorted", "reversed", "enumerate", "set", "zip"}

// sized returns the replacements of sizedBuiltins for a memory limit of max bytes.
func sized(max int64) starlark.StringDict {
	out := make(starlark.StringDict, len(sizedBuiltins))
	for _, name := range sizedBuiltins {
		inner := starlark.Universe[name].(*starlark.Builtin)
		out[name] = starlark.NewBuiltin(name, func(t *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			for _, a := range args {
				seq, ok := a.(starlark.Sequence)
				if !ok {
					continue
				}
				if n := int64(seq.Len()); n > max/elementBytes {
					return nil, fmt.Errorf("%s: %s has %d elements, which would take more than %s, the evaluation's memory limit (KILN_MAX_MEMORY)",
						name, a.Type(), n, safefile.FormatSize(max))
				}
			}
			return inner.CallInternal(t, args, kwargs)
		})
	}
	return out
}
