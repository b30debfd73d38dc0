package pki

import (
	"crypto"
	"crypto/x509"
	"fmt"
	"strings"

	"go.starlark.net/starlark"

	"github.com/cocalcctl/cocalcctl/builtins/runtime"
)

// outcome is the certificate and key a step ends with. Under --dry-run, when
// the files would be created or replaced, pending is set and cert and key
// are nil.
type outcome struct {
	cert    *x509.Certificate
	key     crypto.Signer
	pending bool
}

// replacement describes, for one kind of step, what force=True replaces.
type replacement struct {
	// what is the name of the files in a drift error, such as
	// `certificate "server" in /work/certs`.
	what string
	// fix is the advice in a drift error on how to replace the files.
	fix string
	// confirm is the destructive action that step.Confirm requests consent
	// for.
	confirm string
}

// ensure ends step for req: it reuses files that match the request, creates
// missing ones, stops at files that differ unless force is set, and with
// force replaces them after confirmation. folderWarnings are added to the
// step's warnings. Errors carry the builtin name fn.
func ensure(thread *starlark.Thread, step *runtime.Step, fn string, req *request, force bool, folderWarnings []string, repl replacement) (outcome, error) {
	env := runtime.EnvOf(thread)
	now := env.Clock.Now()

	ex, err := examine(env.FS, req, now)
	if err != nil {
		return outcome{}, step.Fail(fmt.Errorf("%s: %w", fn, err))
	}

	if ex.usable() && (ex.renewal == "" || !force) {
		warnings := append(append([]string{}, folderWarnings...), ex.warnings...)
		if ex.renewal != "" {
			warnings = append(warnings, ex.renewal)
		}
		if len(warnings) > 0 {
			step.Report(runtime.Warning, strings.Join(warnings, "\n"))
		} else {
			step.Report(runtime.Unchanged, "")
		}
		return outcome{cert: ex.cert, key: ex.key}, nil
	}

	status, detail := runtime.Created, ""
	if ex.found {
		if !force {
			if req.role == roleCA && ex.keyMismatch {
				return outcome{}, step.Fail(fmt.Errorf("%s: %s does not belong to %s, so the CA cannot sign: put the matching key back, "+
					"or pass force=True to replace both (certificates the old CA signed will no longer verify)",
					fn, req.keyPath, req.certPath))
			}
			return outcome{}, step.Drift(repl.what, ex.diffs, repl.fix)
		}
		if err := step.Confirm(repl.confirm); err != nil {
			return outcome{}, err
		}
		status, detail = runtime.Changed, "replaced: "+strings.Join(ex.diffs, "; ")
		if len(ex.diffs) == 0 {
			detail = "renewed: " + ex.renewal
		}
	}

	var out outcome
	err = step.Apply(status, detail, func() error {
		m, err := makeCert(req, now)
		if err != nil {
			return fmt.Errorf("%s: %w", fn, err)
		}
		if err := m.write(env.FS, req); err != nil {
			return fmt.Errorf("%s: %w", fn, err)
		}
		out = outcome{cert: m.cert, key: m.key}
		if m.clamped {
			folderWarnings = append(folderWarnings, fmt.Sprintf("%s expires on %s, with its CA, not after the %d days asked for",
				req.certPath, formatTime(m.cert.NotAfter), req.days))
		}
		return nil
	})
	if err != nil {
		return outcome{}, err
	}
	if env.DryRun {
		out.pending = true
	}

	// A created or replaced pair has a fresh key and certificate, so only the
	// warnings about the folder (and a shortened lifetime) still apply. They
	// get a line of their own, so the summary counts them.
	if len(folderWarnings) > 0 {
		runtime.BeginCall(thread, step.Call()).Report(runtime.Warning, strings.Join(folderWarnings, "\n"))
	}
	return out, nil
}
