// Package secret is the Starlark module `secret`: random secrets and secret
// files. A secret value prints as <secret> and only builtins can read it.
package secret

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"go.starlark.net/starlark"

	"github.com/cocalcctl/cocalcctl/builtins/runtime"
)

// Module declares the secret module.
var Module = runtime.Module{
	Name: "secret",
	Doc: "Secrets: random values and files that hold them. A secret shows as `<secret>` in every " +
		"output: `str()`, `%` formatting, `print()`, `fail()`, errors and the step lines. `+` and " +
		"`json.encode` reject it. Only builtins that take a secret read its value.",
	Builtins: []runtime.Builtin{
		{Name: "secret.random", Fn: random, Doc: `secret.random(length=32)

Returns a new random secret of length characters from the letters A-Z, a-z and the digits,
drawn from the operating system's random source. length must be between 12 and 1024.
A new value is made on every call; use secret.file to keep one across runs.`},
		{Name: "secret.format", Fn: format, Doc: `secret.format(template, *args, **kwargs)

Returns a secret whose value is template formatted as with str.format, where secret arguments
contribute their values: secret.format("*:5432:*:cocalc:{}", password) makes a .pgpass line.
The result prints as <secret>; pass it to files.write or docker.copy to store it.`},
		{Name: "secret.file", Fn: file, Doc: `secret.file(path, create=True, length=32)

Returns the secret stored in the file at path, with surrounding whitespace removed.

With create=True (a step) a missing file is created once with a random secret of length
characters, mode 0600, in a folder created with mode 0700; later runs read it back and
report unchanged. Under --dry-run a missing file is not created and the value is
(known after apply).

With create=False the file is a secret the user supplies, such as a managed database's
administrator password. It must exist, be non-empty and be readable by its owner only
(mode 0600 or 0400); anything else is an error that says how to fix it.`},
	},
}

// Secret is a Starlark value that holds a secret. It renders as <secret>.
type Secret struct {
	plain string
	// Origin is the source of the secret (a file or a builtin), for error messages.
	Origin string
}

var _ starlark.Value = (*Secret)(nil)

// New returns a secret holding plain, registered with the run's Env so that
// its text is redacted from all output.
func New(thread *starlark.Thread, plain, origin string) *Secret {
	runtime.EnvOf(thread).AddSecret(plain)
	return &Secret{plain: plain, Origin: origin}
}

func (s *Secret) String() string        { return "<secret>" }
func (s *Secret) Type() string          { return "secret" }
func (s *Secret) Freeze()               {}
func (s *Secret) Truth() starlark.Bool  { return starlark.True }
func (s *Secret) Hash() (uint32, error) { return 0, errors.New("unhashable type: secret") }

// Reveal returns the plain text. Only builtins call it, to hand the secret to
// the system that needs it.
func (s *Secret) Reveal() string { return s.plain }

// Value is an argument that takes a secret, a plain string (for tests and
// throwaway set-ups) or, under --dry-run, an unknown. Use it as a
// starlark.UnpackArgs destination.
type Value struct {
	Secret  *Secret
	Unknown *runtime.Unknown
	IsSet   bool
}

// Unpack implements starlark.Unpacker.
func (v *Value) Unpack(x starlark.Value) error {
	switch x := x.(type) {
	case *Secret:
		v.Secret, v.IsSet = x, true
	case *runtime.Unknown:
		v.Unknown, v.IsSet = x, true
	case starlark.String:
		v.Secret, v.IsSet = &Secret{plain: string(x), Origin: "a string in the script"}, true
	case starlark.NoneType:
	default:
		return fmt.Errorf("got %s, want a secret from secret.file or secret.random", x.Type())
	}
	return nil
}

const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func randomString(length int) (string, error) {
	// Rejection sampling keeps every letter equally likely.
	out := make([]byte, 0, length)
	buf := make([]byte, length*2)
	for len(out) < length {
		if _, err := rand.Read(buf); err != nil {
			return "", err
		}
		for _, b := range buf {
			if int(b) < 256-256%len(alphabet) && len(out) < length {
				out = append(out, alphabet[int(b)%len(alphabet)])
			}
		}
	}
	return string(out), nil
}

func checkLength(name string, length int) error {
	if length < 12 || length > 1024 {
		return fmt.Errorf("%s: length must be between 12 and 1024, got %d", name, length)
	}
	return nil
}

func random(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	length := 32
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "length?", &length); err != nil {
		return nil, err
	}

	if err := checkLength(b.Name(), length); err != nil {
		return nil, err
	}

	plain, err := randomString(length)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return New(thread, plain, "secret.random"), nil
}

func format(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if len(args) < 1 {
		return nil, fmt.Errorf("%s: missing argument for template", b.Name())
	}
	template, ok := args[0].(starlark.String)
	if !ok {
		return nil, fmt.Errorf("%s: template must be a string, got %s", b.Name(), args[0].Type())
	}

	reveal := func(v starlark.Value) (starlark.Value, error) {
		switch v := v.(type) {
		case *Secret:
			return starlark.String(v.plain), nil
		case *runtime.Unknown:
			return nil, errUnknown
		}
		return v, nil
	}
	plainArgs := make(starlark.Tuple, 0, len(args)-1)
	for _, a := range args[1:] {
		v, err := reveal(a)
		if err != nil {
			return runtime.NewUnknown(thread, "secret.format(...)"), nil
		}
		plainArgs = append(plainArgs, v)
	}
	plainKwargs := make([]starlark.Tuple, 0, len(kwargs))
	for _, kv := range kwargs {
		v, err := reveal(kv[1])
		if err != nil {
			return runtime.NewUnknown(thread, "secret.format(...)"), nil
		}
		plainKwargs = append(plainKwargs, starlark.Tuple{kv[0], v})
	}

	method, err := template.Attr("format")
	if err != nil {
		return nil, err
	}
	out, err := starlark.Call(thread, method, plainArgs, plainKwargs)
	if err != nil {
		// The formatting error may quote an argument, so it is not shown.
		return nil, fmt.Errorf("%s: the template does not fit the arguments (check the {} fields and their names)", b.Name())
	}
	return New(thread, string(out.(starlark.String)), "secret.format"), nil
}

var errUnknown = errors.New("unknown")

func file(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		path   string
		create = true
		length = 32
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "path", &path, "create?", &create, "length?", &length); err != nil {
		return nil, err
	}

	if path == "" {
		return nil, fmt.Errorf("%s: path is empty; name the file that holds or will hold the secret", b.Name())
	}
	if err := checkLength(b.Name(), length); err != nil {
		return nil, err
	}
	env := runtime.EnvOf(thread)
	path = runtime.ResolvePath(env, path)

	if !create {
		plain, err := readUserSecret(env.FS, path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", b.Name(), err)
		}
		return New(thread, plain, path), nil
	}

	step := runtime.Begin(thread, b, args, kwargs)
	if _, err := env.FS.Stat(path); err == nil {
		plain, err := readUserSecret(env.FS, path)
		if err != nil {
			return nil, step.Fail(fmt.Errorf("%s: %w", b.Name(), err))
		}
		if dir, err := env.FS.Stat(filepath.Dir(path)); err == nil && dir.Mode().Perm()&0o077 != 0 {
			step.Report(runtime.Warning, fmt.Sprintf("the folder %s has mode %04o, so other users can list it; run chmod 700 %s",
				filepath.Dir(path), dir.Mode().Perm(), filepath.Dir(path)))
		} else {
			step.Report(runtime.Unchanged, "")
		}
		return New(thread, plain, path), nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, step.Fail(fmt.Errorf("%s: %w", b.Name(), err))
	}

	if env.DryRun {
		step.Report(runtime.Created, "")
		return runtime.NewUnknown(thread, fmt.Sprintf("secret.file(%q)", path)), nil
	}
	plain, err := randomString(length)
	if err != nil {
		return nil, step.Fail(fmt.Errorf("%s: %w", b.Name(), err))
	}
	if err := env.FS.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, step.Fail(fmt.Errorf("%s: cannot create the folder of %s: %w", b.Name(), path, err))
	}
	if err := env.FS.WriteFile(path, []byte(plain), 0o600); err != nil {
		return nil, step.Fail(fmt.Errorf("%s: cannot write %s: %w", b.Name(), path, err))
	}
	step.Report(runtime.Created, "")
	return New(thread, plain, path), nil
}

// readUserSecret reads a secret file. A file whose mode lets others read it
// is an error rather than something to repair, because the secret may have
// leaked.
func readUserSecret(fsys runtime.FS, path string) (string, error) {
	info, err := fsys.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("secret file %s does not exist; write the secret into it and run `chmod 600 %s`", path, path)
	}
	if err != nil {
		return "", err
	}
	if info.IsDir() {
		return "", fmt.Errorf("secret file %s is a folder; name the file inside it", path)
	}
	if info.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("secret file %s has mode %04o, so other users can read it; run `chmod 600 %s`, and change the secret if others may have read it",
			path, info.Mode().Perm(), path)
	}
	data, err := fsys.ReadFile(path)
	if err != nil {
		return "", err
	}
	plain := strings.TrimSpace(string(data))
	if plain == "" {
		return "", fmt.Errorf("secret file %s is empty; write the secret into it", path)
	}
	return plain, nil
}
