package runtime

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.starlark.net/starlark"
)

// Step is one call of a builtin with a side effect. A builtin begins a step,
// reads the current state, decides what is missing, and ends the step with
// exactly one of Report, Apply, Fail or a refusal.
type Step struct {
	env      *Env
	call     string
	position string
	start    time.Time
	ended    bool
}

// Begin starts a step for the call of b with args and kwargs, rendered as
// Starlark with secrets redacted.
func Begin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) *Step {
	return BeginCall(thread, RenderCall(b.Name(), args, kwargs))
}

// BeginCall starts a step whose rendered call the builtin made itself, for
// example a method call such as `ca.issue("server", ...)`.
func BeginCall(thread *starlark.Thread, call string) *Step {
	env := EnvOf(thread)
	return &Step{env: env, call: call, position: CallerPosition(thread), start: env.Clock.Now()}
}

// CallerPosition returns the script position of the innermost Starlark frame
// on thread, as file:line:col.
func CallerPosition(thread *starlark.Thread) string {
	stack := thread.CallStack()
	for i := len(stack) - 1; i >= 0; i-- {
		if stack[i].Pos.IsValid() && stack[i].Pos.Filename() != "<builtin>" {
			return stack[i].Pos.String()
		}
	}
	return ""
}

// Call returns the rendered call of the step.
func (s *Step) Call() string { return s.call }

// Env returns the run's environment.
func (s *Step) Env() *Env { return s.env }

// DryRun reports whether the step must change nothing.
func (s *Step) DryRun() bool { return s.env.DryRun }

// Report ends the step with status and an optional detail. Under --dry-run a
// changing status is reported in its "would" form.
func (s *Step) Report(status Status, detail string) {
	if s.ended {
		return
	}
	s.ended = true

	if s.env.DryRun {
		status = Would(status)
	}
	d := s.env.Clock.Now().Sub(s.start)
	s.env.Reporter.Emit(Event{
		Type: "step", Call: s.call, Status: status, Position: s.position,
		DurationMS: d.Milliseconds(), Detail: detail,
	})
}

// Apply runs act unless this is a dry run, then reports status. When act
// fails, the step is reported as failed and the error is returned.
func (s *Step) Apply(status Status, detail string, act func() error) error {
	if !s.env.DryRun && act != nil {
		if err := act(); err != nil {
			return s.Fail(err)
		}
	}
	s.Report(status, detail)
	return nil
}

// Fail ends the step as failed and returns err for the builtin to return.
func (s *Step) Fail(err error) error {
	if !s.ended {
		s.ended = true
		d := s.env.Clock.Now().Sub(s.start)
		s.env.Reporter.Emit(Event{
			Type: "step", Call: s.call, Status: Failed, Position: s.position,
			DurationMS: d.Milliseconds(), Detail: firstLine(err.Error()),
		})
	}
	return err
}

// Drift ends the step as drift with one line per difference and returns the
// error that stops the run.
func (s *Step) Drift(what string, diffs []string, fix string) error {
	s.ended = true
	d := s.env.Clock.Now().Sub(s.start)
	s.env.Reporter.Emit(Event{
		Type: "step", Call: s.call, Status: Drift, Position: s.position,
		DurationMS: d.Milliseconds(), Detail: strings.Join(diffs, "\n"),
	})
	return &DriftError{What: what, Diffs: diffs, Fix: fix}
}

// Progress reports progress of a long step, such as an image pull.
func (s *Step) Progress(format string, args ...any) {
	s.env.Reporter.Emit(Event{Type: "progress", Call: s.call, Position: s.position, Detail: fmt.Sprintf(format, args...)})
}

// Confirm asks for consent to a destructive action described by what. It
// returns nil when the action may go ahead: under --dry-run (nothing will be
// done), with --yes, or when the user typed "yes" at a terminal. Otherwise the
// step is reported as refused and a *RefusedError is returned.
func (s *Step) Confirm(what string) error {
	env := s.env
	if env.DryRun || env.Yes {
		return nil
	}
	if env.Confirm != nil && env.Confirm(fmt.Sprintf("%s will %s. Type yes to go ahead: ", s.call, what)) {
		return nil
	}

	how := "run again with --yes to allow it"
	if env.Confirm != nil {
		how = "type yes at the prompt or run again with --yes to allow it"
	}
	s.ended = true
	d := env.Clock.Now().Sub(s.start)
	env.Reporter.Emit(Event{
		Type: "step", Call: s.call, Status: Refused, Position: s.position,
		DurationMS: d.Milliseconds(), Detail: fmt.Sprintf("this would %s; %s", what, how),
	})
	return &RefusedError{Call: s.call, What: what, How: how}
}

// RefusedError is returned when a destructive step was not confirmed.
type RefusedError struct {
	Call, What, How string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("refused without confirmation; this would %s; nothing was changed: %s", e.What, e.How)
}

// DriftError stops a run at a resource that differs from the request.
type DriftError struct {
	What  string
	Diffs []string
	Fix   string
}

func (e *DriftError) Error() string {
	msg := fmt.Sprintf("%s differs from the request: %s", e.What, strings.Join(e.Diffs, "; "))
	if e.Fix != "" {
		msg += ": " + e.Fix
	}
	return msg
}

// VerifyError marks a failure found by a verification builtin: the system is
// broken, not the script. The command exits with code 3.
type VerifyError struct{ Err error }

func (e *VerifyError) Error() string { return e.Err.Error() }

// Unwrap returns the cause.
func (e *VerifyError) Unwrap() error { return e.Err }

// IsVerify reports whether err carries a VerifyError.
func IsVerify(err error) bool {
	var v *VerifyError
	return errors.As(err, &v)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
