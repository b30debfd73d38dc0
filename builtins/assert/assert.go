// Package assert is the Starlark module `assert` that script tests use.
// Every failure names the assertion's file and line and shows both values.
package assert

import (
	"fmt"
	"regexp"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"github.com/cocalcctl/cocalcctl/builtins/runtime"
)

// Module declares the assert module.
var Module = runtime.Module{
	Name: "assert",
	Doc: "Assertions for script tests run by `cocalcctl test`. A failed assertion stops the test and " +
		"reports the file and line of the assertion with the values it compared.",
	Builtins: []runtime.Builtin{
		{Name: "assert.eq", Fn: equality(true, "want"), Doc: "assert.eq(got, want, msg=None)\n\nFails unless got == want, showing both values."},
		{Name: "assert.ne", Fn: equality(false, "unwanted"), Doc: "assert.ne(got, unwanted, msg=None)\n\nFails when got == unwanted."},
		{Name: "assert.true", Fn: truth(true), Doc: "assert.true(value, msg=None)\n\nFails unless value is true in Starlark's sense."},
		{Name: "assert.false", Fn: truth(false), Doc: "assert.false(value, msg=None)\n\nFails unless value is false in Starlark's sense."},
		{Name: "assert.contains", Fn: membership(true), Doc: "assert.contains(container, item, msg=None)\n\n" +
			"Fails unless item is in container (a list, tuple, dict or string, as with `in`)."},
		{Name: "assert.not_contains", Fn: membership(false), Doc: "assert.not_contains(container, item, msg=None)\n\nFails when item is in container."},
		{Name: "assert.fails", Fn: fails, Doc: "assert.fails(fn, pattern)\n\n" +
			"Calls fn with no arguments and fails unless the call fails with an error whose message matches " +
			"the regular expression pattern. Returns the error message, for further checks."},
	},
}

func failure(b *starlark.Builtin, msg starlark.Value, format string, args ...any) error {
	text := fmt.Sprintf(format, args...)
	if s, ok := msg.(starlark.String); ok && s != "" {
		text = string(s) + ": " + text
	}
	return fmt.Errorf("%s: %s", b.Name(), text)
}

func show(v starlark.Value) string { return runtime.RenderValue(v) }

// equality returns assert.eq (same=true) or assert.ne (same=false), whose
// second parameter is named second.
func equality(same bool, second string) runtime.Func {
	return func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var got, other, msg starlark.Value = nil, nil, starlark.None
		if err := starlark.UnpackArgs(b.Name(), args, kwargs, "got", &got, second, &other, "msg?", &msg); err != nil {
			return nil, err
		}

		equal, err := starlark.Equal(got, other)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", b.Name(), err)
		}
		switch {
		case same && !equal:
			return nil, failure(b, msg, "got %s, want %s", show(got), show(other))
		case !same && equal:
			return nil, failure(b, msg, "got %s, want any other value", show(got))
		}
		return starlark.None, nil
	}
}

// truth returns assert.true (want=true) or assert.false (want=false).
func truth(want bool) runtime.Func {
	return func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var v, msg starlark.Value = nil, starlark.None
		if err := starlark.UnpackArgs(b.Name(), args, kwargs, "value", &v, "msg?", &msg); err != nil {
			return nil, err
		}

		if bool(v.Truth()) != want {
			return nil, failure(b, msg, "got %s, want a %v value", show(v), want)
		}
		return starlark.None, nil
	}
}

// membership returns assert.contains (want=true) or assert.not_contains
// (want=false).
func membership(want bool) runtime.Func {
	return func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var container, item, msg starlark.Value = nil, nil, starlark.None
		if err := starlark.UnpackArgs(b.Name(), args, kwargs, "container", &container, "item", &item, "msg?", &msg); err != nil {
			return nil, err
		}

		found, err := starlark.Binary(syntax.IN, item, container)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", b.Name(), err)
		}
		switch {
		case want && !bool(found.Truth()):
			return nil, failure(b, msg, "%s is not in %s", show(item), show(container))
		case !want && bool(found.Truth()):
			return nil, failure(b, msg, "%s is in %s, want it absent", show(item), show(container))
		}
		return starlark.None, nil
	}
}

func fails(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		fn      starlark.Callable
		pattern string
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "fn", &fn, "pattern", &pattern); err != nil {
		return nil, err
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("%s: invalid pattern %q: %w", b.Name(), pattern, err)
	}

	var callErr error
	perr := runtime.Protect(thread, func() error {
		_, callErr = starlark.Call(thread, fn, nil, nil)
		return nil
	})
	if perr != nil {
		callErr = perr
	}
	if callErr == nil {
		return nil, fmt.Errorf("%s: the call succeeded, want an error matching %q", b.Name(), pattern)
	}
	text := runtime.FormatError(runtime.EnvOf(thread), callErr)
	if !re.MatchString(text) {
		return nil, fmt.Errorf("%s: the error does not match %q; it is:\n%s", b.Name(), pattern, text)
	}
	return starlark.String(text), nil
}
