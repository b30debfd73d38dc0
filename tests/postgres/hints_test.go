package postgres_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cocalcctl/cocalcctl/builtins/postgres"
)

// wantHint runs src and checks that it fails at the given line:col with
// every part of want in the message.
func wantHint(t *testing.T, s *server, src, position string, want ...string) {
	t.Helper()
	f := fixture(t)
	err := run(t, f, s, src)
	msg := f.ErrorText(err)
	t.Log(msg)
	if err == nil {
		t.Fatalf("the script succeeded; want an error with %q", want)
	}
	if !strings.Contains(msg, "/work/test.star:"+position+":") {
		t.Errorf("error is not reported at %s:\n%s", position, msg)
	}
	if !strings.Contains(msg, "\nhint: ") {
		t.Errorf("error has no hint line:\n%s", msg)
	}
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("error lacks %q:\n%s", w, msg)
		}
	}
}

// The script prelude of run takes 4 lines, so the first line of src is
// line 5.

func TestHintServerKeyMode(t *testing.T) {
	s, err := ownServer(t, "badkey", serverOptions{keyMode: "0644"})
	if err == nil {
		t.Fatal("the server started with a server key of mode 0644")
	}
	log := readFile(t, s.Log)
	hint := postgres.LogHint(log)
	for _, w := range []string{"can be read by group or others", "mode 0600", "server.key"} {
		if !strings.Contains(hint, w) {
			t.Errorf("hint lacks %q: %q\nlog:\n%s", w, hint, log)
		}
	}

	f := fixture(t)
	mustRun(t, f, s, fmt.Sprintf(`
hint = postgres.log_hint(%q)
if "mode 0600" not in hint:
    fail(hint)
if postgres.log_hint("LOG:  database system is ready to accept connections") != None:
    fail("hint for a healthy log")
`, log))
}

func TestHintCertificateName(t *testing.T) {
	wantHint(t, mainServer(t), `
postgres.connect(host = "127.0.0.1", port = PORT, user = "postgres", sslmode = "verify-full", sslrootcert = CA)
`, "6:17", `certificate names "localhost", "db.test", not "127.0.0.1"`, `server_name="localhost"`)
}

func TestHintClientCertCN(t *testing.T) {
	s := mainServer(t)
	certFile, keyFile, err := s.TLS.client("wrong-cn", "someone-else", "")
	if err != nil {
		t.Fatal(err)
	}
	wantHint(t, s, fmt.Sprintf(`
postgres.connect(**ADMIN).exec("do $$ begin create role certuser login; exception when duplicate_object then null; end $$")
postgres.connect(host = "localhost", port = PORT, user = "certuser", database = "postgres",
    sslmode = "verify-full", sslrootcert = CA, sslcert = %q, sslkey = %q)
`, certFile, keyFile), "7:17", `common name is "someone-else" but the role is "certuser"`, `common_name="certuser"`)
}

func TestHintNoHBAEntry(t *testing.T) {
	wantHint(t, certServer(t), `
postgres.connect(**ADMIN).exec("do $$ begin create role alice login; exception when duplicate_object then null; end $$")
postgres.connect(host = "localhost", port = PORT, user = "alice", database = "postgres", sslmode = "require")
`, "7:17", `pg_hba.conf has no line that admits host 127.0.0.1, role "alice", database "postgres" over TLS`, "postgres.hba(")
}

// TestHintNoHBAEntrySSLOff reproduces "no pg_hba.conf entry ... no
// encryption" (older servers say "SSL off"): the server has only hostssl
// lines and the client asked for no TLS.
func TestHintNoHBAEntrySSLOff(t *testing.T) {
	wantHint(t, certServer(t), `
postgres.connect(host = "localhost", port = PORT, user = "alice", database = "postgres", sslmode = "disable")
`, "6:17", `no encryption`, `accepts role "alice" only over TLS`, `sslmode="verify-full"`)
}

func TestHintWrongPassword(t *testing.T) {
	wantHint(t, mainServer(t), `
postgres.connect(**ADMIN).exec("do $$ begin create role pw_user login password 'right one'; exception when duplicate_object then null; end $$")
postgres.connect(host = "localhost", port = PORT, user = "pw_user", database = "postgres", password = "wrong one",
    sslmode = "verify-full", sslrootcert = CA)
`, "7:17", "password authentication failed", `the password is wrong for role "pw_user"`)
}

// TestHintTLSRequired connects without TLS to a server whose pg_hba.conf
// rejects plain TCP with a hostnossl reject line.
func TestHintTLSRequired(t *testing.T) {
	wantHint(t, mainServer(t), `
postgres.connect(host = "localhost", port = PORT, user = "postgres", sslmode = "disable")
`, "6:17", "pg_hba.conf rejects connection", `only over TLS, and sslmode disable connected without it`)
}

// TestHintStartingUp reproduces SQLSTATE 57P03 with a standby that has
// hot_standby off, and checks that postgres.wait gives up naming it.
func TestHintStartingUp(t *testing.T) {
	s, err := ownServer(t, "standby", serverOptions{standby: true})
	if err != nil {
		t.Fatal(err)
	}
	wantHint(t, s, `
postgres.connect(host = "localhost", port = PORT, user = "postgres", sslmode = "require")
`, "6:17", "57P03", "starting up or in recovery", "postgres.wait(")

	wantHint(t, s, `
postgres.wait(host = "localhost", port = PORT, user = "postgres", sslmode = "require", timeout = "1s")
`, "6:14", "did not accept a connection and answer `select 1` within 1s", "57P03")
}

// TestWaitReady waits for a running server and reports unchanged.
func TestWaitReady(t *testing.T) {
	s := mainServer(t)
	f := fixture(t)
	mustRun(t, f, s, `postgres.wait(**ADMIN)`)
	if got := f.Statuses(); len(got) != 1 || got[0] != "unchanged" {
		t.Errorf("statuses %v, want [unchanged]", got)
	}
}
