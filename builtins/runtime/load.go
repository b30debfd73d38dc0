package runtime

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// StdlibPrefix starts the name of a module shipped inside the binary, as in
// load("@stdlib//postgres_server.star", "configure").
const StdlibPrefix = "@stdlib//"

// Loader resolves load() statements: paths relative to the loading script,
// which may not leave the main script's folder tree, and @stdlib// modules
// from the embedded stdlib folder. Each module runs once per run.
type Loader struct {
	env         *Env
	predeclared starlark.StringDict
	stdlib      fs.FS
	read        func(string) ([]byte, error)
	cache       map[string]*loadEntry
}

type loadEntry struct {
	globals starlark.StringDict
	err     error
	done    bool
}

// NewLoader returns a Loader. Scripts are read with read (os.ReadFile when
// nil); stdlib may be nil when no module is shipped.
func NewLoader(env *Env, predeclared starlark.StringDict, stdlib fs.FS, read func(string) ([]byte, error)) *Loader {
	if read == nil {
		read = os.ReadFile
	}
	return &Loader{env: env, predeclared: predeclared, stdlib: stdlib, read: read, cache: map[string]*loadEntry{}}
}

// NewThread returns a thread that carries the loader's Env and resolves
// load() through the loader.
func (l *Loader) NewThread(name string) *starlark.Thread {
	thread := &starlark.Thread{Name: name, Load: l.load, Print: l.print}
	Attach(thread, l.env)
	return thread
}

func (l *Loader) print(thread *starlark.Thread, msg string) {
	out := l.env.Stdout
	if out == nil {
		out = l.env.Stderr
	}
	if out == nil {
		out = os.Stderr
	}
	fmt.Fprintln(out, l.env.Redact(msg))
}

func (l *Loader) load(thread *starlark.Thread, module string) (starlark.StringDict, error) {
	from := thread.CallFrame(0).Pos.Filename()
	key, err := l.resolve(from, module)
	if err != nil {
		return nil, err
	}

	if e, ok := l.cache[key]; ok {
		if !e.done {
			return nil, errors.New("it is part of a load cycle")
		}
		return e.globals, e.err
	}
	entry := &loadEntry{}
	l.cache[key] = entry

	src, err := l.readModule(key)
	if err != nil {
		entry.err, entry.done = err, true
		return nil, err
	}
	child := l.NewThread("load " + key)
	entry.globals, entry.err = ExecProtected(child, key, src, l.predeclared)
	entry.done = true
	return entry.globals, entry.err
}

// resolve turns the module name of a load() in file from into a cache key:
// a stdlib name or a path on disk.
func (l *Loader) resolve(from, module string) (string, error) {
	if name, ok := strings.CutPrefix(module, StdlibPrefix); ok {
		return stdlibKey(name, module)
	}
	if strings.HasPrefix(module, "@") {
		return "", errors.New("unknown repository; the only one is @stdlib, as in load(\"@stdlib//NAME.star\", ...)")
	}
	if !strings.HasSuffix(module, ".star") {
		return "", errors.New("not a Starlark module; a module name ends in .star")
	}

	// A relative load inside a stdlib module stays in the stdlib.
	if name, ok := strings.CutPrefix(from, StdlibPrefix); ok {
		return stdlibKey(path.Join(path.Dir(name), module), module)
	}
	if filepath.IsAbs(module) {
		return "", errors.New("an absolute path; use a path relative to the loading script")
	}

	p := filepath.Join(filepath.Dir(from), module)
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	root, err := filepath.Abs(l.env.Root)
	if err != nil {
		return "", err
	}
	// Symbolic links count where they point, so a link cannot lead out of
	// the folder tree.
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	if real, err := filepath.EvalSymlinks(root); err == nil {
		root = real
	}
	if rel, err := filepath.Rel(root, abs); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("it resolves to %s, outside the script's folder %s; "+
			"copy the module into that folder or load it from @stdlib//", abs, root)
	}
	return p, nil
}

func stdlibKey(name, module string) (string, error) {
	clean := path.Clean(name)
	if clean != name || strings.HasPrefix(clean, "../") || clean == ".." || path.IsAbs(clean) {
		return "", errors.New("a stdlib module name may not leave the stdlib folder")
	}
	return StdlibPrefix + clean, nil
}

func (l *Loader) readModule(key string) ([]byte, error) {
	if name, ok := strings.CutPrefix(key, StdlibPrefix); ok {
		if l.stdlib == nil {
			return nil, errors.New("no stdlib is built in")
		}
		src, err := fs.ReadFile(l.stdlib, name)
		if err != nil {
			return nil, errors.New("no such stdlib module; `cocalcctl doc stdlib` lists them")
		}
		return src, nil
	}
	src, err := l.read(key)
	if err != nil {
		return nil, err
	}
	return src, nil
}

// ExecProtected runs a file's top level on thread and turns a Go panic in a
// builtin into an error with the script position.
func ExecProtected(thread *starlark.Thread, filename string, src []byte, predeclared starlark.StringDict) (globals starlark.StringDict, err error) {
	err = Protect(thread, func() error {
		var e error
		globals, e = starlark.ExecFileOptions(&syntax.FileOptions{Set: true, While: true, TopLevelControl: true, GlobalReassign: true}, thread, filename, src, predeclared)
		return e
	})
	return globals, err
}
