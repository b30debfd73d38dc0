package runtime

import (
	"fmt"
	"io/fs"
	"slices"
	"sort"
	"strconv"
	"strings"

	"go.starlark.net/lib/json"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

// CoreModule documents the predeclared names that are not in a module.
// Core registers them as globals.
var CoreModule = Module{
	Name: "core",
	Doc: "Names every script has without a module prefix, besides Starlark's own (`len`, `fail`, ...): " +
		"`json` (encode and decode, from go.starlark.net), `struct`, `dry_run` and `confirm`.",
	Builtins: []Builtin{
		{Name: "dry_run", Doc: "dry_run()\n\nReports whether the run is a dry run (`--dry-run`), in which no step changes anything."},
		{Name: "confirm", Doc: `confirm(action)

Asks for consent to a destructive action before a script starts it, so that nothing is
changed unless everything may be: with --yes, or after "yes" typed at a terminal, it returns
True; otherwise it reports the step as refused with action in the message and the run stops
(exit code 1). Under --dry-run it returns True and asks nothing. Use it at the top of a
function such as down, whose first steps would otherwise run before the first step that asks.`},
		{Name: "struct", Doc: "struct(**kwargs)\n\nReturns an immutable value whose attributes are the keyword arguments."},
	},
}

// Core returns the predeclared names that every script has besides the
// modules: json, struct, dry_run() and confirm().
func Core() starlark.StringDict {
	return starlark.StringDict{
		"json":    json.Module,
		"struct":  starlark.NewBuiltin("struct", starlarkstruct.Make),
		"dry_run": starlark.NewBuiltin("dry_run", dryRun),
		"confirm": starlark.NewBuiltin("confirm", Guard(confirm)),
	}
}

func confirm(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var action string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "action", &action); err != nil {
		return nil, err
	}

	if strings.TrimSpace(action) == "" {
		return nil, fmt.Errorf("%s: action is empty; say what will be destroyed, such as \"delete the database volume\"", b.Name())
	}
	env := EnvOf(thread)
	if env.DryRun || env.Yes {
		return starlark.True, nil
	}
	step := Begin(thread, b, args, kwargs)
	if err := step.Confirm(action); err != nil {
		return nil, err
	}
	step.ended = true
	return starlark.True, nil
}

func dryRun(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackArgs(b.Name(), args, kwargs); err != nil {
		return nil, err
	}
	return starlark.Bool(EnvOf(thread).DryRun), nil
}

// Script is a script whose top level has run.
type Script struct {
	Path    string
	Globals starlark.StringDict
	Thread  *starlark.Thread
}

// ExecScript reads and runs the top level of the script at path. Its folder
// becomes env.Root unless Root is already set.
func ExecScript(env *Env, path string, predeclared starlark.StringDict, stdlib fs.FS, read func(string) ([]byte, error)) (*Script, error) {
	loader := NewLoader(env, predeclared, stdlib, read)
	if env.Root == "" {
		env.Root = dirOf(path)
	}
	src, err := loader.read(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read script: %w", err)
	}

	thread := loader.NewThread(path)
	globals, err := ExecProtected(thread, path, src, predeclared)
	if err != nil {
		return nil, err
	}
	return &Script{Path: path, Globals: globals, Thread: thread}, nil
}

func dirOf(path string) string {
	if i := strings.LastIndexAny(path, "/"); i >= 0 {
		if i == 0 {
			return "/"
		}
		return path[:i]
	}
	return "."
}

// Function returns the script's function called name, or a usage error that
// lists the functions it has.
func (s *Script) Function(name string) (*starlark.Function, error) {
	v, ok := s.Globals[name]
	fn, isFn := v.(*starlark.Function)
	if !ok || !isFn {
		return nil, &UsageError{Msg: fmt.Sprintf("%s has no function %q; it defines: %s", s.Path, name, strings.Join(s.FunctionNames(), ", "))}
	}
	return fn, nil
}

// FunctionNames lists the public functions of the script, sorted.
func (s *Script) FunctionNames() []string {
	var out []string
	for name, v := range s.Globals {
		if _, ok := v.(*starlark.Function); ok && !strings.HasPrefix(name, "_") {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// Call calls fn with kwargs on the script's thread, converting panics into
// errors.
func (s *Script) Call(fn starlark.Callable, kwargs []starlark.Tuple) (result starlark.Value, err error) {
	err = Protect(s.Thread, func() error {
		var e error
		result, e = starlark.Call(s.Thread, fn, nil, kwargs)
		return e
	})
	return result, err
}

// SharedParams returns the names of the parameters of every public function
// of the script, for ParseArgs.
func (s *Script) SharedParams() []string {
	var out []string
	for _, name := range s.FunctionNames() {
		fn := s.Globals[name].(*starlark.Function)
		for _, p := range Params(fn) {
			if !slices.Contains(out, p.Name) {
				out = append(out, p.Name)
			}
		}
	}
	return out
}

// Param describes one parameter of an entry function: a script argument.
type Param struct {
	Name     string
	Default  starlark.Value // nil when the parameter is required
	Required bool
}

// Params lists the parameters of fn.
func Params(fn *starlark.Function) []Param {
	var out []Param
	n := fn.NumParams()
	if fn.HasKwargs() {
		n--
	}
	if fn.HasVarargs() {
		n--
	}
	for i := 0; i < n; i++ {
		name, _ := fn.Param(i)
		d := fn.ParamDefault(i)
		out = append(out, Param{Name: name, Default: d, Required: d == nil})
	}
	return out
}

// ParseArgs converts NAME=VALUE strings into keyword arguments of fn, by the
// type of each parameter's default: bool, int, string, list of strings
// (comma-separated), and a string for a None default. A bad value, an unknown
// name or a missing required parameter is a *UsageError. When fn has a
// **kwargs parameter, a name it does not list is passed to it as a string if
// it is in shared, the parameters of the script's other functions (so one
// --arg list serves every function of a script, while a misspelled name is
// still an error).
func ParseArgs(fn *starlark.Function, raw []string, shared ...string) ([]starlark.Tuple, error) {
	params := map[string]Param{}
	var names []string
	for _, p := range Params(fn) {
		params[p.Name] = p
		names = append(names, p.Name)
	}

	var kwargs []starlark.Tuple
	seen := map[string]bool{}
	for _, item := range raw {
		name, value, ok := strings.Cut(item, "=")
		if !ok {
			return nil, &UsageError{Msg: fmt.Sprintf("--arg %q: want NAME=VALUE", item)}
		}
		p, ok := params[name]
		if !ok && fn.HasKwargs() && slices.Contains(shared, name) {
			p, ok = Param{Name: name, Default: starlark.String("")}, true
		}
		if !ok {
			return nil, &UsageError{Msg: fmt.Sprintf("--arg %s: %s takes no parameter %q; its parameters are: %s",
				item, fn.Name(), name, strings.Join(names, ", "))}
		}
		if seen[name] {
			return nil, &UsageError{Msg: fmt.Sprintf("--arg %s: %q is given twice", item, name)}
		}
		seen[name] = true
		v, err := convertArg(p, value)
		if err != nil {
			return nil, &UsageError{Msg: fmt.Sprintf("--arg %s: %v", item, err)}
		}
		kwargs = append(kwargs, starlark.Tuple{starlark.String(name), v})
	}

	for _, p := range Params(fn) {
		if p.Required && !seen[p.Name] {
			return nil, &UsageError{Msg: fmt.Sprintf("%s needs --arg %s=VALUE", fn.Name(), p.Name)}
		}
	}
	return kwargs, nil
}

func convertArg(p Param, value string) (starlark.Value, error) {
	switch d := p.Default.(type) {
	case starlark.Bool:
		b, err := strconv.ParseBool(value)
		if err != nil {
			return nil, fmt.Errorf("%s takes true or false, got %q", p.Name, value)
		}
		return starlark.Bool(b), nil
	case starlark.Int:
		n, err := strconv.ParseInt(value, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s takes an integer, got %q", p.Name, value)
		}
		return starlark.MakeInt64(n), nil
	case *starlark.List:
		var items []starlark.Value
		if value != "" {
			for _, s := range strings.Split(value, ",") {
				items = append(items, starlark.String(strings.TrimSpace(s)))
			}
		}
		return starlark.NewList(items), nil
	case starlark.String, starlark.NoneType, nil:
		return starlark.String(value), nil
	default:
		return nil, fmt.Errorf("%s has a default of type %s, which --arg cannot set", p.Name, d.Type())
	}
}
