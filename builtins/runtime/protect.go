package runtime

import (
	"errors"
	"fmt"
	"strings"

	"go.starlark.net/starlark"
)

// ScriptError is an error with the script stack at the point it happened,
// made from a recovered panic such as the use of an unknown value.
type ScriptError struct {
	Msg   string
	Stack starlark.CallStack
}

func (e *ScriptError) Error() string { return e.Msg }

// Protect calls f and converts a panic inside it into a *ScriptError that
// carries the thread's stack, so no Go stack trace reaches the user.
func Protect(thread *starlark.Thread, f func() error) (err error) {
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		if u, ok := r.(*UnknownUseError); ok {
			err = &ScriptError{Msg: u.Error(), Stack: u.Stack}
			return
		}
		err = &ScriptError{
			Msg:   fmt.Sprintf("internal error in cocalcctl: %v; this is a bug, please report it with the script that caused it", r),
			Stack: thread.CallStack(),
		}
	}()
	return f()
}

// UsageError is a mistake on the command line. The command exits with
// code 2.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// FormatError renders err for the user: one line that names the script file,
// line and column with the message, then the Starlark backtrace. Registered
// secrets are redacted.
func FormatError(env *Env, err error) string {
	var (
		msg   = err.Error()
		stack starlark.CallStack
	)

	var se *ScriptError
	var ee *starlark.EvalError
	switch {
	case errors.As(err, &se):
		stack = se.Stack
	case errors.As(err, &ee):
		// Errors from Starlark code called back from a builtin nest; the
		// deepest one has the most precise stack.
		for {
			var inner *starlark.EvalError
			if !errors.As(ee.Unwrap(), &inner) {
				break
			}
			ee = inner
		}
		stack = ee.CallStack
		msg = ee.Msg
		if last := len(stack) - 1; last >= 0 && stack[last].Pos.Filename() == "<builtin>" {
			name := stack[last].Name
			if !strings.HasPrefix(msg, name+":") {
				msg = name + ": " + msg
			}
			stack = stack[:last]
		}
	}

	var b strings.Builder
	if pos := innermost(stack); pos != "" {
		fmt.Fprintf(&b, "%s: %s\n", pos, msg)
	} else {
		fmt.Fprintf(&b, "%s\n", msg)
	}
	if len(stack) > 0 {
		b.WriteString(stack.String())
	}
	out := strings.TrimRight(b.String(), "\n")
	if env != nil {
		out = env.Redact(out)
	}
	return out
}

func innermost(stack starlark.CallStack) string {
	for i := len(stack) - 1; i >= 0; i-- {
		if stack[i].Pos.IsValid() && stack[i].Pos.Filename() != "<builtin>" {
			return stack[i].Pos.String()
		}
	}
	return ""
}
