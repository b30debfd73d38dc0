package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cocalcctl/cocalcctl/builtins/docker"
	"github.com/cocalcctl/cocalcctl/builtins/postgres"
	"github.com/cocalcctl/cocalcctl/builtins/postgres/postgrestest"
	"github.com/cocalcctl/cocalcctl/builtins/runtime/runtimetest"
	"github.com/cocalcctl/cocalcctl/builtins/secret"
	"github.com/cocalcctl/cocalcctl/tests/images"
)

// pgData is where the test container keeps its cluster.
const pgData = "/var/lib/postgresql/data"

// startPGContainer runs a container of the PostgreSQL 17 test image with a
// fresh cluster and the server as its main process, and removes it when
// the test ends.
func startPGContainer(t *testing.T) (docker.Engine, string) {
	t.Helper()
	images.Require(t, images.Postgres17)
	ctx := context.Background()
	engine, err := docker.OpenReal(ctx)
	if err != nil {
		t.Fatal(err)
	}
	suffix := make([]byte, 4)
	rand.Read(suffix)
	name := "cocalcctl-test-pglocal-" + hex.EncodeToString(suffix)
	script := fmt.Sprintf("mkdir -p /var/run/postgresql %[1]s && chown postgres /var/run/postgresql %[1]s && "+
		"exec su postgres -c '/usr/lib/postgresql/17/bin/initdb -D %[1]s -A trust -U postgres >/dev/null && "+
		"exec /usr/lib/postgresql/17/bin/postgres -D %[1]s -c listen_addresses=127.0.0.1'", pgData)
	if _, err := engine.ContainerCreate(ctx, docker.ContainerSpec{
		Name: name, Image: images.Postgres17, Cmd: []string{"bash", "-c", script},
		Labels: map[string]string{"cocalcctl.test": "1"},
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { engine.ContainerRemove(context.Background(), name, true) })
	if err := engine.ContainerStart(ctx, name); err != nil {
		t.Fatal(err)
	}

	deadline := time.Now().Add(60 * time.Second)
	for {
		res, err := engine.Exec(ctx, name, docker.ExecSpec{Cmd: []string{"pg_isready", "-q"}, User: "postgres"})
		if err == nil && res.ExitCode == 0 {
			return engine, name
		}
		if time.Now().After(deadline) {
			logs, _ := engine.ContainerLogs(ctx, name, docker.LogOptions{Tail: 20})
			t.Fatalf("the server in %s did not start within 60s: %v %+v\n%s", name, err, res, logs)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestLocalContract runs the session contract against a psql session in a
// container.
func TestLocalContract(t *testing.T) {
	engine, name := startPGContainer(t)
	postgrestest.Run(t, postgrestest.Target{
		Open: func(t *testing.T) postgres.Session {
			s, err := postgres.OpenLocal(t.Context(), engine, name, "postgres", "postgres")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
	})
}

// localFixture is a fixture whose scripts see the container's name as
// CONTAINER and use the real Docker engine.
func localFixture(t *testing.T, engine docker.Engine) *runtimetest.Fixture {
	f := runtimetest.New(t, postgres.Module, secret.Module, docker.Module)
	f.Env.SetBackend(docker.BackendKey, engine)
	return f
}

// TestLocalHelpersAndValues runs the helpers through postgres.local twice,
// and checks that values come back as over pgx.
func TestLocalHelpersAndValues(t *testing.T) {
	engine, name := startPGContainer(t)
	src := fmt.Sprintf(`
db = postgres.local(%q)
postgres.role(db, "smc", password = "pw with 'quotes' and \\ and\nnewline", createdb = True)
postgres.database(db, "smc", owner = "smc")
postgres.role(db, "reader", login = False)
postgres.grant(db, ["CREATE", "USAGE"], on_schema = "public", to = "reader", database = "smc")
postgres.setting(db, "work_mem", "16MB")
`, name)
	f := localFixture(t, engine)
	if err := f.Run(src); err != nil {
		t.Fatalf("%s\n%s", f.ErrorText(err), f.Stderr.String())
	}
	if got, want := strings.Join(f.Statuses(), ","), "created,created,created,changed,changed"; got != want {
		t.Errorf("first run: statuses %s, want %s\n%s", got, want, f.Stderr.String())
	}
	f = localFixture(t, engine)
	if err := f.Run(src); err != nil {
		t.Fatalf("%s\n%s", f.ErrorText(err), f.Stderr.String())
	}
	if got, want := strings.Join(f.Statuses(), ","), "unchanged,unchanged,unchanged,unchanged,unchanged"; got != want {
		t.Errorf("rerun: statuses %s, want %s\n%s", got, want, f.Stderr.String())
	}

	f = localFixture(t, engine)
	src = fmt.Sprintf(`
db = postgres.local(%q, database = "smc")
rows = db.query("select $1::text as t, $2::int as i, $3::bool as b, $4::bytea as by, $5::int[] as a, $6::text as n, "+
    "'a,b (c)'::text as odd, '6f1e0f3c-5a7e-4b2a-9d7e-0c4f1b2a3c4d'::uuid as u, 1.5::numeric as num",
    "it's\n\"x\" \\ :'y'", 7, True, b"\x00\xff", [1, None, 3], None)
want = [{"t": "it's\n\"x\" \\ :'y'", "i": 7, "b": True, "by": b"\x00\xff", "a": [1, None, 3], "n": None,
    "odd": "a,b (c)", "u": "6f1e0f3c-5a7e-4b2a-9d7e-0c4f1b2a3c4d", "num": "1.5"}]
if rows != want:
    fail("rows: %%r" %% rows)
if db.exec("create table t (id int); insert into t values (1), (2), (3)") != 3:
    fail("row count")
if db.query("select count(*) as n from t where id > $1", 1) != [{"n": 2}]:
    fail("count")
`, name)
	if err := f.Run(src); err != nil {
		t.Fatalf("%s\n%s", f.ErrorText(err), f.Stderr.String())
	}

	// The role's password works over TCP inside the container, which
	// proves the verifier was stored as sent.
	res, err := engine.Exec(t.Context(), name, docker.ExecSpec{
		Cmd: []string{"bash", "-c", `echo "host all all 127.0.0.1/32 scram-sha-256" > /tmp/hba && ` +
			`cat /tmp/hba ` + pgData + `/pg_hba.conf > /tmp/hba2 && cp /tmp/hba2 ` + pgData + `/pg_hba.conf && ` +
			`psql -X -q -c 'select pg_reload_conf()' >/dev/null && ` +
			`PGPASSWORD="$(printf 'pw with %s and \\ and\nnewline' "'quotes'")" psql -X -A -t -h 127.0.0.1 -U smc -d smc -c 'select current_user'`},
		User: "postgres",
	})
	if err != nil || res.ExitCode != 0 || strings.TrimSpace(res.Stdout) != "smc" {
		t.Errorf("login as smc over TCP: %v %+v", err, res)
	}
}

// TestHBAAndConf edits pg_hba.conf and postgresql.conf in a container and
// reruns the edits.
func TestHBAAndConf(t *testing.T) {
	engine, name := startPGContainer(t)
	src := fmt.Sprintf(`
postgres.hba(%[1]q, "hostssl", "smc", "smc", "0.0.0.0/0", "scram-sha-256")
postgres.hba(%[1]q, "hostnossl", "all", "all", "0.0.0.0/0", "reject")
postgres.hba(%[1]q, "hostssl", "smc", "smc", "10.0.0.0/8", "cert")
postgres.conf(%[1]q, "log_connections", True)
postgres.conf(%[1]q, "shared_buffers", "256MB")
`, name)
	f := localFixture(t, engine)
	if err := f.Run(src); err != nil {
		t.Fatalf("%s\n%s", f.ErrorText(err), f.Stderr.String())
	}
	if got, want := strings.Join(f.Statuses(), ","), "changed,changed,changed,changed,changed"; got != want {
		t.Errorf("first run: statuses %s, want %s\n%s", got, want, f.Stderr.String())
	}
	if out := f.Stderr.String(); !strings.Contains(out, "takes effect after the server restarts") {
		t.Errorf("shared_buffers does not say it needs a restart:\n%s", out)
	}

	f = localFixture(t, engine)
	if err := f.Run(src); err != nil {
		t.Fatalf("%s\n%s", f.ErrorText(err), f.Stderr.String())
	}
	if got, want := strings.Join(f.Statuses(), ","), "unchanged,unchanged,unchanged,unchanged,unchanged"; got != want {
		t.Errorf("rerun: statuses %s, want %s\n%s", got, want, f.Stderr.String())
	}

	files, err := engine.CopyFrom(t.Context(), name, pgData+"/pg_hba.conf")
	if err != nil {
		t.Fatal(err)
	}
	var rules []string
	for _, l := range strings.Split(string(files[0].Data), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			rules = append(rules, strings.Join(strings.Fields(l), " "))
		}
	}
	// initdb's file ends with catch-all lines; ours go above them.
	smc := indexOf(rules, "hostssl smc smc 0.0.0.0/0 scram-sha-256")
	firstCatchAll := -1
	for i, r := range rules {
		if f := strings.Fields(r); f[1] == "all" && f[2] == "all" && r != "hostnossl all all 0.0.0.0/0 reject" && firstCatchAll < 0 {
			firstCatchAll = i
		}
	}
	if smc < 0 || firstCatchAll < 0 || smc > firstCatchAll {
		t.Errorf("the smc line is not above the first catch-all line:\n%s", strings.Join(rules, "\n"))
	}

	f = localFixture(t, engine)
	if err := f.Run(fmt.Sprintf(`
rows = postgres.local(%q).query("select setting from pg_settings where name = 'log_connections'")
if rows != [{"setting": "on"}]:
    fail(rows)
`, name)); err != nil {
		t.Fatalf("%s", f.ErrorText(err))
	}
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}
