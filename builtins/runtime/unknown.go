package runtime

import (
	"fmt"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// Unknown is a value that only exists after a change, returned under
// --dry-run: a container's address, a generated password. It prints as
// "(known after apply)". Using it where its value decides something (a truth
// test, a comparison, a dict key) fails with a message that names it. An
// Unknown is never None.
type Unknown struct {
	// Name describes the value, for example `docker.inspect("db").ip`.
	Name   string
	thread *starlark.Thread
}

var (
	_ starlark.HasAttrs   = (*Unknown)(nil)
	_ starlark.Comparable = (*Unknown)(nil)
)

// NewUnknown returns an Unknown named name for thread.
func NewUnknown(thread *starlark.Thread, name string) *Unknown {
	return &Unknown{Name: name, thread: thread}
}

func (u *Unknown) String() string        { return "(known after apply)" }
func (u *Unknown) Type() string          { return "unknown" }
func (u *Unknown) Freeze()               {}
func (u *Unknown) Hash() (uint32, error) { return 0, u.useError("as a dict key") }

// Truth cannot return an error in Starlark, so it panics with an
// *UnknownUseError that the runtime recovers and reports with the script
// position of the test.
func (u *Unknown) Truth() starlark.Bool {
	panic(u.useError("in a truth test"))
}

// CompareSameType implements starlark.Comparable.
func (u *Unknown) CompareSameType(op syntax.Token, y starlark.Value, depth int) (bool, error) {
	return false, u.useError("in a comparison")
}

// Attr returns another Unknown, so that `c.ip` of an unknown container works
// in a dry run.
func (u *Unknown) Attr(name string) (starlark.Value, error) {
	return &Unknown{Name: u.Name + "." + name, thread: u.thread}, nil
}

// AttrNames implements starlark.HasAttrs.
func (u *Unknown) AttrNames() []string { return nil }

func (u *Unknown) useError(how string) *UnknownUseError {
	e := &UnknownUseError{Name: u.Name, How: how}
	if u.thread != nil {
		e.Stack = u.thread.CallStack()
	}
	return e
}

// UnknownUseError reports that a script used an unknown value where its value
// decides something.
type UnknownUseError struct {
	Name  string
	How   string
	Stack starlark.CallStack
}

func (e *UnknownUseError) Error() string {
	return fmt.Sprintf("%s is known only after apply and cannot be used %s under --dry-run: "+
		"guard the code with `if not dry_run()` or run without --dry-run", e.Name, e.How)
}

// IsUnknown reports whether v is an Unknown.
func IsUnknown(v starlark.Value) bool {
	_, ok := v.(*Unknown)
	return ok
}
