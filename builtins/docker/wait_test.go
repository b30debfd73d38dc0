package docker_test

import (
	"strings"
	"testing"

	"github.com/cocalcctl/cocalcctl/builtins/docker"
)

func TestWaitReady(t *testing.T) {
	f, fake := newFixture(t)
	f.MustRun(runningDB)
	fake.AppendLog("db", "starting\ndatabase system is ready to accept connections\n")
	fake.Listen("db", 5432, true)
	fake.OnExec("db", "pg_isready", docker.ExecResult{})
	f.ResetOutput()
	f.MustRun(`docker.wait("db", log="ready to accept", port=5432, cmd=["pg_isready"])`)
	wantStatuses(t, f, "unchanged")
}

func TestWaitTimeoutShowsLog(t *testing.T) {
	f, fake := newFixture(t)
	f.MustRun(runningDB)
	fake.AppendLog("db", "FATAL: could not open server.key: permission denied\n")
	f.ResetOutput()
	err := f.Run(`docker.wait("db", port=5432, timeout=30, interval="2s")`)
	wantError(t, f, err, `test.star:1:12: docker.wait: container "db" was not ready after 30s: port 5432 does not accept connections`,
		"the last lines of its log:\n  FATAL: could not open server.key: permission denied", "raise timeout=")
	if !strings.Contains(f.Stderr.String(), "waiting 6s of 30s") {
		t.Errorf("no progress while waiting:\n%s", f.Stderr.String())
	}
}

func TestWaitDryRun(t *testing.T) {
	f, _ := newFixture(t)
	f.Env.DryRun = true
	f.MustRun(`docker.wait("later", log="ready")`)
	wantStatuses(t, f, "would run")
}

func TestWaitErrors(t *testing.T) {
	f, _ := newFixture(t)
	err := f.Run(`docker.wait("db")`)
	wantError(t, f, err, "docker.wait: nothing to wait for: pass log=, port= or cmd=")
	err = f.Run(`docker.wait("db", log="(")`)
	wantError(t, f, err, `docker.wait: log "(" is not a valid regular expression`)
	err = f.Run(`docker.wait("db", port=1)`)
	wantError(t, f, err, `docker.wait: container "db" does not exist`)
}
