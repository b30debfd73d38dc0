package docker

import (
	"errors"
	"fmt"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/cocalcctl/cocalcctl/builtins/runtime"
	"github.com/cocalcctl/cocalcctl/builtins/secret"
)

// outputTail is how many lines of a failed command's output an error shows.
const outputTail = 15

func execFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		container nameArg
		cmd       commandArg
		user      string
		envDict   *starlark.Dict
		stdin     secret.Value
		check     = true
		unless    commandArg
		workdir   string
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "container", &container, "cmd", &cmd,
		"user??", &user, "env?", &envDict, "stdin??", &stdin, "check?", &check, "unless??", &unless,
		"workdir??", &workdir); err != nil {
		return nil, err
	}

	if len(cmd.argv) == 0 {
		return nil, fmt.Errorf("%s: cmd is empty: give a list such as [\"psql\", \"-c\", \"select 1\"] or a shell command string", b.Name())
	}
	envMap, err := stringDict(envDict)
	if err != nil {
		return nil, fmt.Errorf("%s: env: %w", b.Name(), err)
	}
	if err := checkEnv(envMap); err != nil {
		return nil, fmt.Errorf("%s: env: %w", b.Name(), err)
	}
	engine, err := engineOf(thread, b)
	if err != nil {
		return nil, err
	}

	env := runtime.EnvOf(thread)
	spec := ExecSpec{Cmd: cmd.argv, Env: envList(envMap), User: user, WorkDir: workdir}
	if stdin.Secret != nil {
		spec.Stdin = []byte(stdin.Secret.Reveal())
	}
	step := runtime.Begin(thread, b, args, kwargs)

	c, err := engine.ContainerInspect(env.Ctx, container.name)
	switch {
	case err == nil && c.Running:
	case env.DryRun && (errors.Is(err, ErrNotFound) || err == nil):
		// The container may be created or started by an earlier step
		// that the dry run skipped.
		step.Report(guardedStatus(unless.isSet), "")
		return unknownResult(thread, container.name), nil
	case errors.Is(err, ErrNotFound):
		return nil, step.Fail(fmt.Errorf("%s: container %q does not exist: create it with docker.container first", b.Name(), container.name))
	case err == nil:
		return nil, step.Fail(fmt.Errorf("%s: container %q is not running (state %s): start it with docker.start(%q)",
			b.Name(), container.name, c.State, container.name))
	default:
		return nil, step.Fail(fmt.Errorf("%s: %w", b.Name(), err))
	}

	if unless.isSet {
		guard := spec
		guard.Cmd, guard.Stdin = unless.argv, nil
		res, err := engine.Exec(env.Ctx, container.name, guard)
		if err != nil {
			return nil, step.Fail(fmt.Errorf("%s: running the unless= command %s: %w", b.Name(), shellJoin(unless.argv), err))
		}
		if res.ExitCode == 0 {
			step.Report(runtime.Unchanged, "")
			return resultStruct(ExecResult{}, false), nil
		}
	}
	if env.DryRun {
		step.Report(guardedStatus(unless.isSet), "")
		return unknownResult(thread, container.name), nil
	}

	res, err := engine.Exec(env.Ctx, container.name, spec)
	if err != nil {
		return nil, step.Fail(fmt.Errorf("%s: running %s in container %q: %w", b.Name(), shellJoin(cmd.argv), container.name, err))
	}
	if check && res.ExitCode != 0 {
		return nil, step.Fail(commandError(b, container.name, cmd.argv, res))
	}
	detail := ""
	if res.ExitCode != 0 {
		detail = fmt.Sprintf("exit code %d", res.ExitCode)
	}
	step.Report(guardedStatus(unless.isSet), detail)
	return resultStruct(res, true), nil
}

// guardedStatus is the status of a command that ran: "changed" when an
// unless= guard reported the work missing, "ran" without a guard.
func guardedStatus(guarded bool) runtime.Status {
	if guarded {
		return runtime.Changed
	}
	return runtime.Ran
}

// commandError describes a command that exited with a non-zero code, with
// the end of its output.
func commandError(b *starlark.Builtin, container string, argv []string, res ExecResult) error {
	msg := fmt.Sprintf("%s: %s in container %q exited with code %d", b.Name(), shellJoin(argv), container, res.ExitCode)
	output := res.Stdout
	if res.Stderr != "" {
		if output != "" && output[len(output)-1] != '\n' {
			output += "\n"
		}
		output += res.Stderr
	}
	if output == "" {
		return fmt.Errorf("%s and printed nothing: pass check=False to handle the exit code in the script", msg)
	}
	return fmt.Errorf("%s; the last lines of its output:\n%s\npass check=False to handle the exit code in the script",
		msg, lastLines(output, outputTail))
}

func resultStruct(res ExecResult, ran bool) *starlarkstruct.Struct {
	return starlarkstruct.FromStringDict(starlarkstruct.Default, starlark.StringDict{
		"exit_code": starlark.MakeInt(res.ExitCode),
		"stdout":    starlark.String(res.Stdout),
		"stderr":    starlark.String(res.Stderr),
		"ran":       starlark.Bool(ran),
	})
}

func unknownResult(thread *starlark.Thread, container string) *starlarkstruct.Struct {
	name := fmt.Sprintf("docker.exec(%q, ...)", container)
	return starlarkstruct.FromStringDict(starlarkstruct.Default, starlark.StringDict{
		"exit_code": runtime.NewUnknown(thread, name+".exit_code"),
		"stdout":    runtime.NewUnknown(thread, name+".stdout"),
		"stderr":    runtime.NewUnknown(thread, name+".stderr"),
		"ran":       runtime.NewUnknown(thread, name+".ran"),
	})
}
