package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.starlark.net/starlark"

	"github.com/cocalcctl/cocalcctl/builtins/runtime"
)

// waitBackoff is the first pause between attempts of postgres.wait; it
// doubles up to waitMaxBackoff.
const (
	waitBackoff    = 100 * time.Millisecond
	waitMaxBackoff = 2 * time.Second
)

func wait(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	ca := newConnectArgs()
	timeout := "60s"
	pairs := append(ca.pairs(), "timeout?", &timeout)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, pairs...); err != nil {
		return nil, err
	}

	limit, err := time.ParseDuration(timeout)
	if err != nil || limit <= 0 {
		return nil, fmt.Errorf("%s: timeout %q is not a duration: write it like \"60s\" or \"2m\"", b.Name(), timeout)
	}
	env := runtime.EnvOf(thread)
	spec, err := ca.resolve(env)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	backend, err := backendOf(thread)
	if err != nil {
		return nil, err
	}

	step := runtime.Begin(thread, b, args, kwargs)
	start := env.Clock.Now()
	deadline := start.Add(limit)
	ctx, cancel := context.WithTimeout(env.Ctx, limit)
	defer cancel()
	pause := waitBackoff
	var last error
	for attempt := 1; ; attempt++ {
		err := ping(ctx, backend, spec)
		if err == nil {
			step.Report(runtime.Unchanged, fmt.Sprintf("ready after %s", env.Clock.Now().Sub(start).Round(10*time.Millisecond)))
			return starlark.None, nil
		}
		// An attempt cut short by the overall timeout says less than the
		// one before it.
		if last == nil || ctx.Err() == nil {
			last = err
		}
		if errors.Is(env.Ctx.Err(), context.Canceled) {
			return nil, step.Fail(fmt.Errorf("%s: interrupted", b.Name()))
		}
		if attempt%10 == 0 {
			step.Progress("not ready after %s: %s", env.Clock.Now().Sub(start).Round(time.Second), connectCause(last))
		}
		// The clock decides the deadline, so a test clock makes the wait
		// instant; ctx still ends an attempt that hangs.
		if !env.Clock.Now().Add(pause).Before(deadline) || runtime.Sleep(ctx, env.Clock, pause) != nil {
			return nil, step.Fail(fmt.Errorf("%s: the server at %s did not accept a connection and answer `select 1` "+
				"within %s (%d attempts); the last attempt failed: %w", b.Name(), spec.Where(), timeout, attempt, explainConnect(last, spec)))
		}
		pause = min(pause*2, waitMaxBackoff)
	}
}

// ping connects and runs select 1; an open port alone is not enough.
func ping(ctx context.Context, backend Backend, spec *ConnSpec) error {
	s, err := backend.Connect(ctx, spec)
	if err != nil {
		return err
	}
	defer s.Close()
	res, err := s.Query(ctx, sqlPing)
	if err != nil {
		return err
	}
	if len(res.Rows) != 1 {
		return errors.New("select 1 returned no row")
	}
	return nil
}
