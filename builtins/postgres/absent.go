package postgres

import (
	"context"

	"github.com/cocalcctl/cocalcctl/builtins/docker"
)

// absentSession replaces, under --dry-run, for the server in a container
// that does not run yet because an earlier step only would have created it.
// It has no roles, databases, settings or files, so every helper reports
// what it would create, and it changes nothing.
type absentSession struct{ info Info }

func (a *absentSession) Exec(ctx context.Context, sql string, args ...any) (int64, error) {
	return 0, nil
}

func (a *absentSession) Query(ctx context.Context, sql string, args ...any) (*Result, error) {
	return &Result{}, nil
}

func (a *absentSession) Login(ctx context.Context, user, password string) error {
	return ErrNotAvailable
}

func (a *absentSession) OpenDatabase(ctx context.Context, name string) (Session, error) {
	info := a.info
	info.Database = name
	return &absentSession{info: info}, nil
}

func (a *absentSession) Info() Info   { return a.info }
func (a *absentSession) Close() error { return nil }

// containerRuns reports whether container exists and runs on engine.
func containerRuns(ctx context.Context, engine docker.Engine, container string) bool {
	c, err := engine.ContainerInspect(ctx, container)
	return err == nil && c.Running
}
