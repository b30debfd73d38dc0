// Package runtime is the Starlark host of cocalcctl: it carries the per-run
// state on the thread, loads scripts, calls their entry functions, records
// steps and renders errors with script positions.
package runtime

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"go.starlark.net/starlark"
)

const envKey = "cocalcctl.env"

// Env is the per-run state that travels on the starlark.Thread: the context,
// the file system, the clock, the output, the flags of the run and the
// backends of the modules. Builtins reach it with EnvOf.
type Env struct {
	// Ctx is cancelled when the run is interrupted.
	Ctx context.Context

	// FS is the file system that builtins read and write.
	FS FS

	// Clock is the source of the current time.
	Clock Clock

	// Reporter receives the step events.
	Reporter *Reporter

	// DryRun makes every step read state and change nothing.
	DryRun bool

	// Yes is the consent to destructive steps given on the command line.
	Yes bool

	// Confirm prompts the user at a terminal for consent to a destructive
	// step. It is nil when there is no terminal, and then consent is denied.
	Confirm func(question string) bool

	// Stdout receives print() output; Stderr does when Stdout is nil, as
	// under --json, where standard output carries only events.
	Stdout io.Writer

	// Stderr receives print() output when Stdout is nil; os.Stderr when
	// nil too.
	Stderr io.Writer

	// Verbose requests more detail from builtins on stderr.
	Verbose bool

	// Home is the folder that "~" stands for in paths; the user's home
	// folder when empty.
	// Script tests set it, so plans read the same on every machine.
	Home string

	// Root is the folder of the main script; load() and relative paths may
	// not leave it.
	Root string

	mu       sync.Mutex
	backends map[string]any
	secrets  []string
	planned  map[string]bool
}

// Plan records, under --dry-run, that an earlier step would have created
// the object key (such as "container:db"), so that a later step on the same
// object reports what it would do instead of "no such object".
func (e *Env) Plan(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.planned == nil {
		e.planned = map[string]bool{}
	}
	e.planned[key] = true
}

// Planned reports whether an earlier step of this dry run would have created
// the object key.
func (e *Env) Planned(key string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.planned[key]
}

// NewEnv returns an Env on the real file system and clock that reports to
// rep.
func NewEnv(ctx context.Context, rep *Reporter) *Env {
	env := &Env{Ctx: ctx, FS: OSFS{}, Clock: SystemClock{}, Reporter: rep}
	if rep != nil {
		rep.redact = env.Redact
	}
	return env
}

// Attach stores env on thread.
func Attach(thread *starlark.Thread, env *Env) { thread.SetLocal(envKey, env) }

// EnvOf returns the Env of thread. It panics when the thread was not set up by
// this package, which is a programming error, not a script error.
func EnvOf(thread *starlark.Thread) *Env {
	env, ok := thread.Local(envKey).(*Env)
	if !ok {
		panic("internal error: the starlark thread carries no cocalcctl environment")
	}
	return env
}

// SetBackend installs the backend of a module under key, for example a fake
// Docker engine in a test.
func (e *Env) SetBackend(key string, backend any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.backends == nil {
		e.backends = map[string]any{}
	}
	e.backends[key] = backend
}

// Backend returns the backend stored under key, opening it with open on the
// first call. A backend that fails to open is not cached, so a later call
// tries again.
func (e *Env) Backend(key string, open func() (any, error)) (any, error) {
	e.mu.Lock()
	defer e.mu.Unlock()

	if b, ok := e.backends[key]; ok {
		return b, nil
	}
	if open == nil {
		return nil, fmt.Errorf("internal error: no backend %q", key)
	}
	b, err := open()
	if err != nil {
		return nil, err
	}
	if e.backends == nil {
		e.backends = map[string]any{}
	}
	e.backends[key] = b
	return b, nil
}

// Backends returns every backend opened so far, so the host can close them.
func (e *Env) Backends() []any {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []any
	for _, b := range e.backends {
		out = append(out, b)
	}
	return out
}

// Close closes every backend that has a Close method.
func (e *Env) Close() {
	for _, b := range e.Backends() {
		if c, ok := b.(io.Closer); ok {
			c.Close()
		}
	}
}

// AddSecret registers the plain text of a secret, so that Redact removes it
// from anything cocalcctl prints. Values shorter than four bytes are not
// registered, because scrubbing them would mangle ordinary output.
func (e *Env) AddSecret(plain string) {
	if len(plain) < 4 {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, s := range e.secrets {
		if s == plain {
			return
		}
	}
	e.secrets = append(e.secrets, plain)
}

// IsSecret reports whether s is the plain text of a registered secret.
func (e *Env) IsSecret(s string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, secret := range e.secrets {
		if s == secret {
			return true
		}
	}
	return false
}

// Redact replaces every registered secret in s with "<secret>".
func (e *Env) Redact(s string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, secret := range e.secrets {
		s = strings.ReplaceAll(s, secret, "<secret>")
	}
	return s
}

// ResolvePath makes a relative path in a script relative to the main script's
// folder, so a script does the same thing from any working folder.
// A leading "~/" means the user's home folder.
func ResolvePath(env *Env, p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		home := env.Home
		if home == "" {
			home, _ = os.UserHomeDir()
		}
		if home != "" {
			return filepath.Join(home, p[1:])
		}
	}
	if p == "" || filepath.IsAbs(p) || env.Root == "" {
		return p
	}
	// An absolute result makes resolving twice harmless, as when one
	// builtin returns a path that another one resolves again.
	joined := filepath.Join(env.Root, p)
	if abs, err := filepath.Abs(joined); err == nil {
		return abs
	}
	return joined
}

// Swap replaces the reporter, the dry-run and consent flags and the print
// output, for a script run inside a test, and returns a function that puts
// the old ones back.
func (e *Env) Swap(rep *Reporter, dryRun, yes bool, stderr io.Writer) (restore func()) {
	oldRep, oldDry, oldYes, oldErr, oldOut, oldConfirm := e.Reporter, e.DryRun, e.Yes, e.Stderr, e.Stdout, e.Confirm
	rep.redact = e.Redact
	e.Reporter, e.DryRun, e.Yes, e.Stderr, e.Stdout, e.Confirm = rep, dryRun, yes, stderr, nil, nil
	return func() {
		e.Reporter, e.DryRun, e.Yes, e.Stderr, e.Stdout, e.Confirm = oldRep, oldDry, oldYes, oldErr, oldOut, oldConfirm
	}
}
