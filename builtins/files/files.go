// Package files is the Starlark module `files`: folders and small files on
// the machine that runs cocalcctl, with their modes.
package files

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"go.starlark.net/starlark"

	"github.com/cocalcctl/cocalcctl/builtins/runtime"
	"github.com/cocalcctl/cocalcctl/builtins/secret"
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

Ensures the file path holds content with mode. The folder must exist (see files.dir). Reports
created, changed or unchanged. Returns the absolute path.

content is a string or a secret. To put a secret into a file with other text, such as a
password into a config line, build it with secret.format; the file then holds the secret's
value while the step line shows <secret>. A string that contains the text "<secret>" is an
error, because it means a secret was turned into text by str() or % on the way.`},
		{Name: "files.read", Fn: read, Doc: `files.read(path)

Returns the content of the file path as a string, or as a secret when the file holds a
secret known to this run (such as one from secret.file). Not a step.`},
		{Name: "files.exists", Fn: exists, Doc: `files.exists(path)

Reports whether path exists. Not a step.`},
		{Name: "files.remove", Fn: remove, Doc: `files.remove(path)

Deletes the file or folder path with everything in it. Deleting data is destructive: the step
runs only with --yes or after a "yes" typed at the terminal, and is refused otherwise. Reports
removed, or unchanged when path does not exist. The root folder, the home folder and the
script's folder (or a folder that contains it) are never deleted.`},
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
	if err := checkPath(b.Name(), path); err != nil {
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
		path  string
		value starlark.Value
		mode  = 0o644
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "path", &path, "content", &value, "mode?", &mode); err != nil {
		return nil, err
	}

	if err := checkMode(b.Name(), mode); err != nil {
		return nil, err
	}
	if err := checkPath(b.Name(), path); err != nil {
		return nil, err
	}
	var content string
	switch v := value.(type) {
	case starlark.String:
		content = string(v)
		if strings.Contains(content, "<secret>") {
			return nil, fmt.Errorf("%s: content contains the text <secret>, so a secret was turned into text on the way; "+
				"build the content with secret.format(template, ...) to write the secret's value", b.Name())
		}
	case *secret.Secret:
		content = v.Reveal()
	case *runtime.Unknown:
		// Only a dry run has unknowns, and it writes nothing.
		content = ""
	default:
		return nil, fmt.Errorf("%s: content must be a string or a secret, got %s", b.Name(), value.Type())
	}
	env := runtime.EnvOf(thread)
	abs := runtime.ResolvePath(env, path)
	step := runtime.Begin(thread, b, args, kwargs)

	if info, err := env.FS.Stat(filepath.Dir(abs)); (err != nil && !env.DryRun) || (err == nil && !info.IsDir()) {
		return nil, step.Fail(fmt.Errorf("%s: the folder %s does not exist; create it first with files.dir(%q)", b.Name(), filepath.Dir(abs), filepath.Dir(abs)))
	}
	if info, err := env.FS.Stat(abs); err == nil && info.IsDir() {
		return nil, step.Fail(fmt.Errorf("%s: %s is a folder; give the path of a file inside it", b.Name(), abs))
	}

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
	abs := runtime.ResolvePath(env, path)
	data, err := env.FS.ReadFile(abs)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	if plain := strings.TrimSpace(string(data)); env.IsSecret(plain) {
		return secret.New(thread, plain, abs), nil
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

	if err := checkPath(b.Name(), path); err != nil {
		return nil, err
	}
	env := runtime.EnvOf(thread)
	abs := runtime.ResolvePath(env, path)
	if err := checkRemovable(env, abs); err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
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
		return fmt.Errorf("%s: mode must be a permission such as 0o755, got 0o%o", name, mode)
	}
	return nil
}

func checkPath(name, path string) error {
	if strings.TrimSpace(path) == "" {
		return fmt.Errorf("%s: path is empty; give a file or folder path", name)
	}
	return nil
}

// checkRemovable rejects deleting the root folder, the home folder, the
// script's folder or any folder that contains one of them, which a
// mistyped argument such as workdir="." or "~" would otherwise do.
func checkRemovable(env *runtime.Env, abs string) error {
	guarded := []string{"/"}
	if home, err := os.UserHomeDir(); err == nil {
		guarded = append(guarded, home)
	}
	if env.Root != "" {
		if root, err := filepath.Abs(env.Root); err == nil {
			guarded = append(guarded, root)
		}
	}
	clean := filepath.Clean(abs)
	for _, g := range guarded {
		if clean == g || strings.HasPrefix(g+"/", clean+"/") {
			return fmt.Errorf("refusing to delete %s, because it is or contains %s; name the folder the script created", clean, g)
		}
	}
	return nil
}
