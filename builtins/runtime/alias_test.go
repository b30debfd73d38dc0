package runtime_test

import "go.starlark.net/starlark"

type (
	starlarkThread  = starlark.Thread
	starlarkBuiltin = starlark.Builtin
	starlarkTuple   = starlark.Tuple
	starlarkValue   = starlark.Value
)
