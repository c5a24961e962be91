package builtins

import "go.starlark.net/starlark"

// ignoredParam warns that a Tilt parameter kiln accepts (so that real Tiltfiles evaluate) has
// no effect here. It is called only when the parameter was given a non-default value, and the
// warning names the call's file:line, the parameter and why it does nothing.
func (s *State) ignoredParam(t *starlark.Thread, b *starlark.Builtin, param, why string) {
	s.warn("%s: %s: %s= is accepted and ignored: %s", pos(t), b.Name(), param, why)
}
