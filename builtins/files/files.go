// Package files is the Starlark module `files`: folders and small files on
// the machine that runs cocalcctl, with their modes.
package files

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"go.starlark.net/starlark"

	"github.com/cocalcctl/cocalcctl/builtins/runtime"
)

// Module declares the files module.
var Module = runtime.Module{
	Name: "files",
	Doc: "Folders and small files on the machine that runs cocalcctl. Relative paths are relative to the " +
		"script's folder, and `~/` is the home folder.",
	Builtins: []runtime.Builtin{
		{Name: "files.dir", Fn: dir, Doc: `files.dir(path, mode=0o755)

Ensures the folder path exists with mode (an integer such as 0o700), creating its parents as needed.
Reports created, changed (when only the mode differs) or unchanged. Returns the absolute path.`},
		{Name: "files.write", Fn: write, Doc: `files.write(path, content, mode=0o644)

Ensures the file path holds content (a string) with mode. The folder must exist. Reports created,
changed or unchanged. Returns the absolute path. Use secret.file for secrets.`},
		{Name: "files.read", Fn: read, Doc: `files.read(path)

Returns the content of the file path as a string. Not a step.`},
		{Name: "files.exists", Fn: exists, Doc: `files.exists(path)

Reports whether path exists. Not a step.`},
		{Name: "files.remove", Fn: remove, Doc: `files.remove(path)

Deletes the file or folder path with everything in it. Deleting data is destructive: the step
runs only with --yes or after a "yes" typed at the terminal, and is refused otherwise. Reports
removed, or unchanged when path does not exist.`},
	},
}

func dir(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		path string
		mode = 0o755
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "path", &path, "mode?", &mode); err != nil {
		return nil, err
	}

	if err := checkMode(b.Name(), mode); err != nil {
		return nil, err
	}
	env := runtime.EnvOf(thread)
	abs := runtime.ResolvePath(env, path)
	step := runtime.Begin(thread, b, args, kwargs)

	info, err := env.FS.Stat(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return starlark.String(abs), step.Apply(runtime.Created, "", func() error {
			return env.FS.MkdirAll(abs, fs.FileMode(mode))
		})
	case err != nil:
		return nil, step.Fail(fmt.Errorf("%s: %w", b.Name(), err))
	case !info.IsDir():
		return nil, step.Fail(fmt.Errorf("%s: %s is a file, not a folder; move it away or choose another path", b.Name(), abs))
	case info.Mode().Perm() != fs.FileMode(mode):
		detail := fmt.Sprintf("mode %04o -> %04o", info.Mode().Perm(), mode)
		return starlark.String(abs), step.Apply(runtime.Changed, detail, func() error {
			return env.FS.Chmod(abs, fs.FileMode(mode))
		})
	}
	step.Report(runtime.Unchanged, "")
	return starlark.String(abs), nil
}

func write(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		path, content string
		mode          = 0o644
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "path", &path, "content", &content, "mode?", &mode); err != nil {
		return nil, err
	}

	if err := checkMode(b.Name(), mode); err != nil {
		return nil, err
	}
	env := runtime.EnvOf(thread)
	abs := runtime.ResolvePath(env, path)
	step := runtime.Begin(thread, b, args, kwargs)

	old, err := env.FS.ReadFile(abs)
	if errors.Is(err, fs.ErrNotExist) {
		return starlark.String(abs), step.Apply(runtime.Created, "", func() error {
			return env.FS.WriteFile(abs, []byte(content), fs.FileMode(mode))
		})
	}
	if err != nil {
		return nil, step.Fail(fmt.Errorf("%s: %w", b.Name(), err))
	}
	info, err := env.FS.Stat(abs)
	if err != nil {
		return nil, step.Fail(fmt.Errorf("%s: %w", b.Name(), err))
	}
	if bytes.Equal(old, []byte(content)) && info.Mode().Perm() == fs.FileMode(mode) {
		step.Report(runtime.Unchanged, "")
		return starlark.String(abs), nil
	}
	return starlark.String(abs), step.Apply(runtime.Changed, "", func() error {
		return env.FS.WriteFile(abs, []byte(content), fs.FileMode(mode))
	})
}

func read(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var path string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "path", &path); err != nil {
		return nil, err
	}

	env := runtime.EnvOf(thread)
	data, err := env.FS.ReadFile(runtime.ResolvePath(env, path))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return starlark.String(data), nil
}

func exists(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var path string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "path", &path); err != nil {
		return nil, err
	}

	env := runtime.EnvOf(thread)
	_, err := env.FS.Stat(runtime.ResolvePath(env, path))
	return starlark.Bool(err == nil), nil
}

func remove(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var path string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "path", &path); err != nil {
		return nil, err
	}

	env := runtime.EnvOf(thread)
	abs := runtime.ResolvePath(env, path)
	if abs == "/" || abs == filepath.Dir(abs) {
		return nil, fmt.Errorf("%s: refusing to delete the root folder %s", b.Name(), abs)
	}
	step := runtime.Begin(thread, b, args, kwargs)

	if _, err := env.FS.Stat(abs); errors.Is(err, fs.ErrNotExist) {
		step.Report(runtime.Unchanged, "")
		return starlark.None, nil
	}
	if err := step.Confirm("delete " + abs + " and everything in it"); err != nil {
		return nil, err
	}
	return starlark.None, step.Apply(runtime.Removed, "", func() error {
		return env.FS.RemoveAll(abs)
	})
}

func checkMode(name string, mode int) error {
	if mode < 0 || mode > 0o777 {
		return fmt.Errorf("%s: mode must be a permission such as 0o755, got %#o", name, mode)
	}
	return nil
}
