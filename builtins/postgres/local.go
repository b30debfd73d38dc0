package postgres

import (
	"context"
	"errors"

	"go.starlark.net/starlark"
)

// LocalSpec is a resolved postgres.local request.
type LocalSpec struct {
	Container, User, Database string
	// ReadOnly makes every transaction read-only; a dry run sets it.
	ReadOnly bool
}

func (r *realBackend) Local(ctx context.Context, spec *LocalSpec) (Session, error) {
	return nil, errors.New("postgres.local is not available yet")
}

func local(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	return nil, errors.New("postgres.local is not available yet")
}
