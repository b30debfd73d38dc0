package tutorial

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/cocalcctl/cocalcctl/tests/images"
)

// TestDryRunListsRealSteps runs --dry-run on an engine that has nothing of
// the deployment (not even its prepared image, so the install path is
// planned too), checks that it changed nothing, then runs for real and
// compares the two step lists.
func TestDryRunListsRealSteps(t *testing.T) {
	t.Parallel()
	d := newDeployment(t, "scripts/tutorial.star", true, images.Postgres17)

	dry := d.main("--dry-run")
	mustSucceed(t, dry)
	for _, step := range dry.steps() {
		if _, ok := realStatusOf[step.Status]; !ok && step.Status != "warning" {
			t.Errorf("dry run reported %q, want a would-status or unchanged: %s", step.Status, step.Call)
		}
	}

	d.requireNothingExists("after --dry-run")
	if _, err := os.Stat(d.workdir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after --dry-run the workdir %s exists (stat error %v), want nothing written", d.workdir, err)
	}
	if dockerOK("image", "inspect", d.preparedImage()) {
		t.Errorf("after --dry-run the image %s exists, want it made by the real run only", d.preparedImage())
	}

	realRun := d.main()
	mustSucceed(t, realRun)
	compareDryAndRealSteps(t, dry.steps(), realRun.steps())
}

// requireNothingExists fails the test when a container, network or volume
// with the deployment's prefix exists.
func (d *deployment) requireNothingExists(when string) {
	d.t.Helper()
	for _, kind := range []string{"container", "network", "volume"} {
		if names := d.leftovers(kind); len(names) > 0 {
			d.t.Errorf("%s: %s %v exist, want none with prefix %s", when, kind, names, d.prefix)
		}
	}
}

// realStatusOf maps each status of a dry run to the status the real run
// reports for the same step.
var realStatusOf = map[string]string{
	"would create": "created",
	"would change": "changed",
	"would remove": "removed",
	"would run":    "ran",
	"unchanged":    "unchanged",
}

// statusException is a builtin with a pair of statuses, from the dry run
// and from the real run, that differ after mapping.
type statusException struct {
	builtin, dryStatus, realStatus string
}

// dryRunExceptions lists the differences a dry run cannot avoid, with the
// reason. Each step reads a container or database that an earlier step of
// the same run creates. So the dry run finds nothing to read and reports
// the change it cannot rule out, and the real run may find the work done.
// None of them is a dry "unchanged" against a real change, because a dry
// run that hides a change is a bug.
var dryRunExceptions = map[statusException]string{
	{"docker.wait", "would run", "unchanged"}: "a wait changes nothing; the dry run cannot wait for a container it did not start, " +
		"and the real run reports a wait that succeeded as unchanged",
	{"docker.exec", "would change", "unchanged"}: "the unless= guard of the install step cannot run in a container that does not exist yet; " +
		"in the real run it finds the server that the test image already has",
	{"docker.copy", "would change", "created"}: "the dry run cannot look into a container that does not exist yet, " +
		"so it cannot tell a new file from a changed one",
	{"postgres.grant", "would change", "unchanged"}: "the database does not exist yet; in the real run its owner, " +
		"the role, already has every privilege",
}

// builtinOf returns the builtin name of a rendered call, such as
// "docker.container" for `docker.container("x", ...)`.
func builtinOf(call string) string {
	name, _, _ := strings.Cut(call, "(")
	return name
}

// callPattern matches a rendered real call against a dry-run call, in which
// "(known after apply)" stands for any value.
func callPattern(dryCall string) *regexp.Regexp {
	parts := strings.Split(dryCall, "(known after apply)")
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return regexp.MustCompile("^" + strings.Join(parts, ".*?") + "$")
}

// compareDryAndRealSteps checks that the dry run listed exactly the real
// run's calls in the same order, each with the status the real run
// reported (after mapping, and apart from dryRunExceptions).
//
// No step is reached by the real run only, because the tutorial has no
// branch on dry_run() or on a value that only a real run has. Should one be
// added, skip its steps here and give the reason.
func compareDryAndRealSteps(t *testing.T, dry, realSteps []event) {
	t.Helper()
	var table strings.Builder
	for i := 0; i < max(len(dry), len(realSteps)); i++ {
		var d, r event
		if i < len(dry) {
			d = dry[i]
		}
		if i < len(realSteps) {
			r = realSteps[i]
		}
		fmt.Fprintf(&table, "%3d dry:  %-13s %s\n    real: %-13s %s\n", i, d.Status, d.Call, r.Status, r.Call)
	}
	if len(dry) != len(realSteps) {
		t.Fatalf("dry run has %d steps, real run %d; want the same calls:\n%s", len(dry), len(realSteps), table.String())
	}

	for i := range dry {
		d, r := dry[i], realSteps[i]
		if !callPattern(d.Call).MatchString(r.Call) {
			t.Errorf("step %d: dry run calls\n  %s\nreal run calls\n  %s", i, d.Call, r.Call)
			continue
		}
		want := realStatusOf[d.Status]
		if want == r.Status {
			continue
		}
		if why, ok := dryRunExceptions[statusException{builtinOf(d.Call), d.Status, r.Status}]; ok {
			t.Logf("step %d: dry %q, real %q, accepted: %s", i, d.Status, r.Status, why)
			continue
		}
		t.Errorf("step %d %s: dry run reported %q, so the real run should report %q, but it reported %q",
			i, d.Call, d.Status, want, r.Status)
	}
	if t.Failed() {
		t.Logf("all steps:\n%s", table.String())
	}
}
