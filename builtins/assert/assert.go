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
		{Name: "assert.eq", Fn: eq, Doc: "assert.eq(got, want, msg=None)\n\nFails unless got == want, showing both values."},
		{Name: "assert.ne", Fn: ne, Doc: "assert.ne(got, unwanted, msg=None)\n\nFails when got == unwanted."},
		{Name: "assert.true", Fn: isTrue, Doc: "assert.true(value, msg=None)\n\nFails unless value is true in Starlark's sense."},
		{Name: "assert.false", Fn: isFalse, Doc: "assert.false(value, msg=None)\n\nFails unless value is false in Starlark's sense."},
		{Name: "assert.contains", Fn: contains, Doc: "assert.contains(container, item, msg=None)\n\n" +
			"Fails unless item is in container (a list, tuple, dict or string, as with `in`)."},
		{Name: "assert.not_contains", Fn: notContains, Doc: "assert.not_contains(container, item, msg=None)\n\nFails when item is in container."},
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

func eq(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var got, want, msg starlark.Value = nil, nil, starlark.None
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "got", &got, "want", &want, "msg?", &msg); err != nil {
		return nil, err
	}
	same, err := starlark.Equal(got, want)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	if !same {
		return nil, failure(b, msg, "got %s, want %s", show(got), show(want))
	}
	return starlark.None, nil
}

func ne(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var got, unwanted, msg starlark.Value = nil, nil, starlark.None
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "got", &got, "unwanted", &unwanted, "msg?", &msg); err != nil {
		return nil, err
	}
	same, err := starlark.Equal(got, unwanted)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	if same {
		return nil, failure(b, msg, "got %s, want any other value", show(got))
	}
	return starlark.None, nil
}

func isTrue(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var v, msg starlark.Value = nil, starlark.None
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "value", &v, "msg?", &msg); err != nil {
		return nil, err
	}
	if !v.Truth() {
		return nil, failure(b, msg, "got %s, want a true value", show(v))
	}
	return starlark.None, nil
}

func isFalse(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var v, msg starlark.Value = nil, starlark.None
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "value", &v, "msg?", &msg); err != nil {
		return nil, err
	}
	if v.Truth() {
		return nil, failure(b, msg, "got %s, want a false value", show(v))
	}
	return starlark.None, nil
}

func in(container, item starlark.Value) (bool, error) {
	v, err := starlark.Binary(syntax.IN, item, container)
	if err != nil {
		return false, err
	}
	return bool(v.Truth()), nil
}

func contains(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var container, item, msg starlark.Value = nil, nil, starlark.None
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "container", &container, "item", &item, "msg?", &msg); err != nil {
		return nil, err
	}
	ok, err := in(container, item)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	if !ok {
		return nil, failure(b, msg, "%s is not in %s", show(item), show(container))
	}
	return starlark.None, nil
}

func notContains(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var container, item, msg starlark.Value = nil, nil, starlark.None
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "container", &container, "item", &item, "msg?", &msg); err != nil {
		return nil, err
	}
	ok, err := in(container, item)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	if ok {
		return nil, failure(b, msg, "%s is in %s, want it absent", show(item), show(container))
	}
	return starlark.None, nil
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
