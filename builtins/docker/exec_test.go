package docker_test

import (
	"strings"
	"testing"

	"github.com/cocalcctl/cocalcctl/builtins/docker"
)

const runningDB = `docker.container("db", "cocalcctl-test/debian:trixie", command=["sleep", "infinity"])
`

func TestExecRan(t *testing.T) {
	f, fake := newFixture(t)
	fake.OnExec("db", "psql -c", docker.ExecResult{Stdout: "1\n"})
	f.MustRun(runningDB + `
r = docker.exec("db", ["psql", "-c", "select 1"], user="postgres", env={"PGDATABASE": "smc"}, workdir="/tmp")
print("out", r.stdout.strip(), r.exit_code, r.ran)
`)
	wantStatuses(t, f, "created", "ran")
	if !strings.Contains(f.Stderr.String(), "out 1 0 True") {
		t.Errorf("result not printed:\n%s", f.Stderr.String())
	}
	calls := fake.Execs()
	if len(calls) != 1 {
		t.Fatalf("execs = %+v, want one", calls)
	}
	spec := calls[0].Spec
	if spec.User != "postgres" || spec.WorkDir != "/tmp" || len(spec.Env) != 1 || spec.Env[0] != "PGDATABASE=smc" || spec.Stdin != nil {
		t.Errorf("exec spec = %+v, want user postgres, workdir /tmp, env PGDATABASE=smc, no stdin", spec)
	}
}

func TestExecShellString(t *testing.T) {
	f, fake := newFixture(t)
	fake.OnExec("db", "/bin/sh -c", docker.ExecResult{})
	f.MustRun(runningDB + `docker.exec("db", "echo a | wc -l")`)
	if got := fake.Execs()[0].Spec.Cmd; strings.Join(got, "|") != "/bin/sh|-c|echo a | wc -l" {
		t.Errorf("cmd = %q, want /bin/sh -c with the string", got)
	}
}

func TestExecCheckFailsWithOutputTail(t *testing.T) {
	f, fake := newFixture(t)
	var out strings.Builder
	for i := 1; i <= 30; i++ {
		out.WriteString("line " + string(rune('a'+i%26)) + "\n")
	}
	fake.OnExec("db", "initdb", docker.ExecResult{ExitCode: 2, Stdout: out.String(), Stderr: "initdb: error: directory exists\n"})
	err := f.Run(runningDB + `docker.exec("db", ["initdb", "-D", "/data dir"])`)
	wantError(t, f, err, `test.star:2:12: docker.exec: initdb -D '/data dir' in container "db" exited with code 2`,
		"the last lines of its output:", "  initdb: error: directory exists", "pass check=False")
	if strings.Contains(f.ErrorText(err), "line b\n") && strings.Count(f.ErrorText(err), "line ") > 15 {
		t.Errorf("the error shows more than the tail of the output:\n%s", f.ErrorText(err))
	}
	wantStatuses(t, f, "created", "failed")
}

func TestExecCheckFalse(t *testing.T) {
	f, fake := newFixture(t)
	fake.OnExec("db", "false", docker.ExecResult{ExitCode: 1})
	f.MustRun(runningDB + `
r = docker.exec("db", ["false"], check=False)
print("code", r.exit_code)
`)
	if !strings.Contains(f.Stderr.String(), "code 1") {
		t.Errorf("exit code not returned:\n%s", f.Stderr.String())
	}
}

func TestExecUnless(t *testing.T) {
	f, fake := newFixture(t)
	fake.OnExec("db", "test -f /done", docker.ExecResult{ExitCode: 1})
	fake.OnExec("db", "touch /done", docker.ExecResult{})
	script := runningDB + `docker.exec("db", ["touch", "/done"], unless=["test", "-f", "/done"])`
	f.MustRun(script)
	wantStatuses(t, f, "created", "changed")

	fake.OnExec("db", "test -f /done", docker.ExecResult{ExitCode: 0})
	f.ResetOutput()
	f.MustRun(script)
	wantStatuses(t, f, "unchanged", "unchanged")
	touches := 0
	for _, c := range fake.Execs() {
		if c.Spec.Cmd[0] == "touch" {
			touches++
		}
	}
	if touches != 1 {
		t.Errorf("touch ran %d times, want once: unless= must skip it on the rerun", touches)
	}
}

func TestExecDryRun(t *testing.T) {
	f, fake := newFixture(t)
	f.MustRun(runningDB)
	fake.OnExec("db", "test", docker.ExecResult{ExitCode: 1})
	f.ResetOutput()
	f.Env.DryRun = true
	f.MustRun(`
r = docker.exec("db", ["touch", "/done"], unless=["test", "-f", "/done"])
print("out", r.stdout)
docker.exec("missing", ["true"])
`)
	wantStatuses(t, f, "would change", "would run")
	for _, c := range fake.Execs() {
		if c.Spec.Cmd[0] == "touch" {
			t.Error("dry run ran the command")
		}
	}
	if len(fake.Execs()) != 1 {
		t.Errorf("execs = %+v, want only the unless= guard", fake.Execs())
	}
	if !strings.Contains(f.Stderr.String(), "out (known after apply)") {
		t.Errorf("dry-run output is not unknown:\n%s", f.Stderr.String())
	}
}

func TestExecStdinSecret(t *testing.T) {
	f, fake := newFixture(t)
	fake.OnExec("db", "psql", docker.ExecResult{})
	f.MustRun(runningDB + `
pw = secret.random(20)
docker.exec("db", ["psql", "-f", "-"], stdin=pw)
docker.exec("db", ["psql"], stdin="select 1")
`)
	calls := fake.Execs()
	if len(calls) != 2 || len(calls[0].Spec.Stdin) != 20 || string(calls[1].Spec.Stdin) != "select 1" {
		t.Fatalf("execs = %+v, want the secret's 20 characters and the string on stdin", calls)
	}
	if strings.Contains(f.Stderr.String(), string(calls[0].Spec.Stdin)) {
		t.Errorf("the secret reached the output:\n%s", f.Stderr.String())
	}
	if !strings.Contains(f.Stderr.String(), "stdin=<secret>") {
		t.Errorf("the step line does not show stdin as <secret>:\n%s", f.Stderr.String())
	}
}

func TestExecContainerProblems(t *testing.T) {
	f, fake := newFixture(t)
	err := f.Run(`docker.exec("nope", ["true"])`)
	wantError(t, f, err, `docker.exec: container "nope" does not exist: create it with docker.container first`)

	f.MustRun(runningDB)
	fake.ContainerStop(t.Context(), "db", 0)
	err = f.Run(`docker.exec("db", ["true"])`)
	wantError(t, f, err, `docker.exec: container "db" is not running (state exited): start it with docker.start("db")`)

	err = f.Run(`docker.exec("db", [])`)
	wantError(t, f, err, "docker.exec: cmd is empty")
}
