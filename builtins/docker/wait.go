package docker

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.starlark.net/starlark"

	"github.com/cocalcctl/cocalcctl/builtins/runtime"
)

// waitProgressEvery is how often docker.wait reports that it still waits.
const waitProgressEvery = 5 * time.Second

// waitCondition is the readiness condition of docker.wait. Every part that
// is set must hold.
type waitCondition struct {
	log  *regexp.Regexp
	port int
	cmd  []string
}

// check returns "" when the condition holds, or what is still missing.
func (w waitCondition) check(ctx context.Context, engine Engine, container string) (string, error) {
	c, err := engine.ContainerInspect(ctx, container)
	if err != nil {
		return "", err
	}
	if !c.Running {
		return fmt.Sprintf("container %q is %s (exit code %d)", container, c.State, c.ExitCode), nil
	}
	if w.log != nil {
		// Only output of the current start counts, so a line from before a
		// restart does not pass.
		logs, err := engine.ContainerLogs(ctx, container, LogOptions{Since: c.StartedAt})
		if err != nil {
			return "", err
		}
		if !slices.ContainsFunc(strings.Split(logs, "\n"), w.log.MatchString) {
			return fmt.Sprintf("no log line matches %q", w.log), nil
		}
	}
	if w.port != 0 {
		if err := engine.DialPort(ctx, container, w.port); err != nil {
			return fmt.Sprintf("port %d does not accept connections (%v)", w.port, err), nil
		}
	}
	if len(w.cmd) > 0 {
		res, err := engine.Exec(ctx, container, ExecSpec{Cmd: w.cmd})
		if err != nil {
			return "", err
		}
		if res.ExitCode != 0 {
			return fmt.Sprintf("%s exits with code %d", shellJoin(w.cmd), res.ExitCode), nil
		}
	}
	return "", nil
}


func wait(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		container nameArg
		logText   string
		port      int
		cmd       commandArg
		timeout   = durationArg{d: 60 * time.Second}
		interval  = durationArg{d: time.Second}
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "container", &container, "log??", &logText, "port??", &port,
		"cmd??", &cmd, "timeout?", &timeout, "interval?", &interval); err != nil {
		return nil, err
	}

	cond := waitCondition{port: port, cmd: cmd.argv}
	if logText != "" {
		re, err := regexp.Compile(logText)
		if err != nil {
			return nil, fmt.Errorf("%s: log %q is not a valid regular expression: %w", b.Name(), logText, err)
		}
		cond.log = re
	}
	if port < 0 || port > 65535 {
		return nil, fmt.Errorf("%s: port %d, want a port number between 1 and 65535", b.Name(), port)
	}
	if cond.log == nil && port == 0 && !cmd.isSet {
		return nil, fmt.Errorf("%s: nothing to wait for: pass log=, port= or cmd=", b.Name())
	}
	engine, err := engineOf(thread, b)
	if err != nil {
		return nil, err
	}

	env := runtime.EnvOf(thread)
	step := runtime.Begin(thread, b, args, kwargs)
	start := env.Clock.Now()
	if env.DryRun {
		// One look only: a dry run must not block, and the container may
		// only come up when the skipped steps run.
		missing, err := cond.check(env.Ctx, engine, container.name)
		if err == nil && missing == "" {
			step.Report(runtime.Unchanged, "ready")
		} else {
			step.Report(runtime.Ran, "")
		}
		return starlark.None, nil
	}

	deadline := start.Add(timeout.d)
	lastReport := start
	for {
		missing, err := cond.check(env.Ctx, engine, container.name)
		if errors.Is(err, ErrNotFound) {
			return nil, step.Fail(fmt.Errorf("%s: container %q does not exist: create it with docker.container first", b.Name(), container.name))
		}
		if err != nil {
			return nil, step.Fail(fmt.Errorf("%s: %w", b.Name(), err))
		}
		now := env.Clock.Now()
		if missing == "" {
			step.Report(runtime.Unchanged, fmt.Sprintf("ready after %s", now.Sub(start).Round(100*time.Millisecond)))
			return starlark.None, nil
		}
		if !now.Before(deadline) {
			return nil, step.Fail(waitTimeout(env.Ctx, b, engine, container.name, timeout.d, missing))
		}
		if now.Sub(lastReport) >= waitProgressEvery {
			lastReport = now
			step.Progress("waiting %s of %s: %s", now.Sub(start).Round(time.Second), timeout.d, missing)
		}
		if err := runtime.Sleep(env.Ctx, env.Clock, min(interval.d, deadline.Sub(now))); err != nil {
			return nil, step.Fail(fmt.Errorf("%s: %w", b.Name(), err))
		}
	}
}

// waitTimeout describes a wait that timed out, with the container's last log
// lines, which usually contain the reason.
func waitTimeout(ctx context.Context, b *starlark.Builtin, engine Engine, container string, timeout time.Duration, missing string) error {
	msg := fmt.Sprintf("%s: container %q was not ready after %s: %s", b.Name(), container, timeout, missing)
	logs, err := engine.ContainerLogs(ctx, container, LogOptions{Tail: 20})
	switch {
	case err != nil:
		msg += fmt.Sprintf("; its logs cannot be read: %v", err)
	case strings.TrimSpace(logs) == "":
		msg += "; its log is empty"
	default:
		msg += ";\nthe last lines of its log:\n" + lastLines(logs, 20)
	}
	return errors.New(msg + "\nraise timeout= if it is only slow, or look at the full log with `docker logs " + container + "`")
}
