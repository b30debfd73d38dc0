package docker

import (
	"errors"
	"fmt"
	"time"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/cocalcctl/cocalcctl/builtins/runtime"
)

// beginStep opens the engine and begins a step for the call of b. When the
// engine cannot be opened, it begins no step and returns the error.
func beginStep(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (Engine, *runtime.Step, error) {
	engine, err := engineOf(thread, b)
	if err != nil {
		return nil, nil, err
	}
	return engine, runtime.Begin(thread, b, args, kwargs), nil
}

func start(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var name nameArg
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name", &name); err != nil {
		return nil, err
	}
	engine, step, err := beginStep(thread, b, args, kwargs)
	if err != nil {
		return nil, err
	}

	env := step.Env()
	c, err := engine.ContainerInspect(env.Ctx, name.name)
	switch {
	case errors.Is(err, ErrNotFound) && env.DryRun:
		step.Report(runtime.Changed, "the container does not exist yet")
		return starlark.None, nil
	case errors.Is(err, ErrNotFound):
		return nil, step.Fail(fmt.Errorf("%s: container %q does not exist: create it with docker.container", b.Name(), name.name))
	case err != nil:
		return nil, step.Fail(fmt.Errorf("%s: %w", b.Name(), err))
	case c.Running:
		step.Report(runtime.Unchanged, "")
		return starlark.None, nil
	}
	return starlark.None, step.Apply(runtime.Changed, "started", func() error {
		if err := engine.ContainerStart(env.Ctx, name.name); err != nil {
			return fmt.Errorf("%s: starting container %q: %w", b.Name(), name.name, startHint(err))
		}
		return nil
	})
}

func stop(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		name    nameArg
		timeout = durationArg{d: 10 * time.Second}
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name", &name, "timeout?", &timeout); err != nil {
		return nil, err
	}
	engine, step, err := beginStep(thread, b, args, kwargs)
	if err != nil {
		return nil, err
	}

	env := step.Env()
	c, err := engine.ContainerInspect(env.Ctx, name.name)
	switch {
	case errors.Is(err, ErrNotFound):
		step.Report(runtime.Unchanged, "no such container")
		return starlark.None, nil
	case err != nil:
		return nil, step.Fail(fmt.Errorf("%s: %w", b.Name(), err))
	case !c.Running:
		step.Report(runtime.Unchanged, "")
		return starlark.None, nil
	}
	return starlark.None, step.Apply(runtime.Changed, "stopped", func() error {
		if err := engine.ContainerStop(env.Ctx, name.name, timeout.d); err != nil {
			return fmt.Errorf("%s: stopping container %q: %w", b.Name(), name.name, err)
		}
		return nil
	})
}

func remove(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		name    nameArg
		volumes bool
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name", &name, "volumes?", &volumes); err != nil {
		return nil, err
	}
	engine, step, err := beginStep(thread, b, args, kwargs)
	if err != nil {
		return nil, err
	}

	env := step.Env()
	c, err := engine.ContainerInspect(env.Ctx, name.name)
	if errors.Is(err, ErrNotFound) && env.DryRun && env.Planned("container:"+name.name) {
		step.Report(runtime.Removed, "created by an earlier step of this run")
		return starlark.None, nil
	}
	if errors.Is(err, ErrNotFound) {
		step.Report(runtime.Unchanged, "no such container")
		return starlark.None, nil
	}
	if err != nil {
		return nil, step.Fail(fmt.Errorf("%s: %w", b.Name(), err))
	}
	if volumes && len(c.AnonymousVolumes) > 0 {
		what := fmt.Sprintf("remove container %s and delete its %d anonymous volume(s) with their data", name.name, len(c.AnonymousVolumes))
		if err := step.Confirm(what); err != nil {
			return nil, err
		}
	}
	return starlark.None, step.Apply(runtime.Removed, "", func() error {
		if err := engine.ContainerRemove(env.Ctx, name.name, volumes); err != nil {
			return fmt.Errorf("%s: removing container %q: %w", b.Name(), name.name, err)
		}
		return nil
	})
}

func logs(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		name nameArg
		tail = 100
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name", &name, "tail?", &tail); err != nil {
		return nil, err
	}
	if tail < 0 {
		return nil, fmt.Errorf("%s: tail %d, want 0 (everything) or a positive number of lines", b.Name(), tail)
	}
	engine, err := engineOf(thread, b)
	if err != nil {
		return nil, err
	}

	env := runtime.EnvOf(thread)
	text, err := engine.ContainerLogs(env.Ctx, name.name, LogOptions{Tail: tail})
	if errors.Is(err, ErrNotFound) && env.DryRun {
		return runtime.NewUnknown(thread, fmt.Sprintf("docker.logs(%q)", name.name)), nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return starlark.String(text), nil
}

func inspect(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		name    nameArg
		network string
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name", &name, "network??", &network); err != nil {
		return nil, err
	}
	engine, err := engineOf(thread, b)
	if err != nil {
		return nil, err
	}

	env := runtime.EnvOf(thread)
	c, err := engine.ContainerInspect(env.Ctx, name.name)
	if errors.Is(err, ErrNotFound) {
		return starlarkstruct.FromStringDict(starlarkstruct.Default, starlark.StringDict{
			"exists": starlark.False, "name": starlark.String(name.name), "running": starlark.False,
			"state": starlark.String("missing"), "ip": starlark.None,
		}), nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return inspectStruct(c, orDefault(network, c.Network)), nil
}

// inspectStruct is the value docker.inspect returns for an existing
// container.
func inspectStruct(c Container, network string) *starlarkstruct.Struct {
	ip := starlark.Value(starlark.None)
	if a := c.IPs[network]; a != "" {
		ip = starlark.String(a)
	}
	started := starlark.Value(starlark.None)
	if !c.StartedAt.IsZero() {
		started = starlark.String(c.StartedAt.UTC().Format(time.RFC3339Nano))
	}
	ips := starlark.NewDict(len(c.IPs))
	for _, k := range sortedKeys(c.IPs) {
		ips.SetKey(starlark.String(k), starlark.String(c.IPs[k]))
	}
	return starlarkstruct.FromStringDict(starlarkstruct.Default, starlark.StringDict{
		"exists":     starlark.True,
		"name":       starlark.String(c.Name),
		"id":         starlark.String(c.ID),
		"image":      starlark.String(c.Image),
		"image_id":   starlark.String(c.ImageID),
		"state":      starlark.String(c.State),
		"running":    starlark.Bool(c.Running),
		"exit_code":  starlark.MakeInt(c.ExitCode),
		"started_at": started,
		"ip":         ip,
		"ips":        ips,
		"network":    starlark.String(c.Network),
		"labels":     stringMapDict(c.Labels),
		"env":        stringMapDict(envMapOf(c.Env)),
		"command":    stringsList(c.Cmd),
		"entrypoint": stringsList(c.Entrypoint),
		"user":       starlark.String(c.User),
		"mounts":     stringsList(mapStrings(c.Mounts, mountString)),
		"ports":      stringsList(mapStrings(c.Ports, portString)),
		"restart":    starlark.String(c.Restart),
	})
}

func stringMapDict(m map[string]string) *starlark.Dict {
	d := starlark.NewDict(len(m))
	for _, k := range sortedKeys(m) {
		d.SetKey(starlark.String(k), starlark.String(m[k]))
	}
	return d
}

func stringsList(items []string) *starlark.List {
	out := make([]starlark.Value, len(items))
	for i, s := range items {
		out[i] = starlark.String(s)
	}
	return starlark.NewList(out)
}
