package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/cocalcctl/cocalcctl/builtins/docker"
	"github.com/cocalcctl/cocalcctl/builtins/postgres"
	"github.com/cocalcctl/cocalcctl/builtins/postgres/postgrestest"
	"github.com/cocalcctl/cocalcctl/tests/images"
)

const dataDir = "/var/lib/postgresql/data"

// initdbHBA is pg_hba.conf as initdb --auth-local=peer
// --auth-host=scram-sha-256 of PostgreSQL 17 writes it, without comments.
const initdbHBA = `local   all             all                                     peer
host    all             all             127.0.0.1/32            scram-sha-256
host    all             all             ::1/128                 scram-sha-256
local   replication     all                                     peer
`

// initdbConf holds lines of initdb's postgresql.conf (PostgreSQL 17).
const initdbConf = `max_connections = 100			# (change requires restart)
#ssl = off
#ssl_cert_file = 'server.crt'
#ssl_key_file = 'server.key'
shared_buffers = 128MB			# min 128kB
#work_mem = 4MB				# min 64kB
`

// linkedFake returns a Docker fake with a running container name whose
// image holds a PostgreSQL data folder, and a PostgreSQL fake linked to it.
func linkedFake(t *testing.T, name string) (*docker.Fake, *postgres.Fake) {
	t.Helper()
	engine := docker.NewFake()
	owner := func(f docker.File) docker.File { f.UID, f.GID = 100, 102; return f }
	engine.AddImage("pg:test", docker.Image{Cmd: []string{"postgres"}},
		docker.File{Path: "/etc/passwd", Mode: 0o644, Data: []byte("root:x:0:0::/root:/bin/sh\npostgres:x:100:102::/var/lib/postgresql:/bin/sh\n")},
		owner(docker.File{Path: dataDir, Mode: fs.ModeDir | 0o700}),
		owner(docker.File{Path: dataDir + "/pg_hba.conf", Mode: 0o600, Data: []byte(initdbHBA)}),
		owner(docker.File{Path: dataDir + "/postgresql.conf", Mode: 0o600, Data: []byte(initdbConf)}),
	)
	ctx := context.Background()
	if _, err := engine.ContainerCreate(ctx, docker.ContainerSpec{Name: name, Image: "pg:test",
		Mounts: []docker.Mount{{Type: "volume", Source: name + "-data", Target: dataDir}}}); err != nil {
		t.Fatal(err)
	}
	if err := engine.ContainerStart(ctx, name); err != nil {
		t.Fatal(err)
	}
	db := postgres.NewFake()
	db.Engine = engine
	return engine, db
}

func localOpener(open func(ctx context.Context) (postgres.Session, error)) func(t *testing.T) postgres.Session {
	return func(t *testing.T) postgres.Session {
		t.Helper()
		s, err := open(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
}

// TestLinkedContractFake runs the linked contract on the fakes.
func TestLinkedContractFake(t *testing.T) {
	engine, db := linkedFake(t, "db")
	postgrestest.RunLinked(t, postgrestest.LinkedTarget{
		Engine: engine, Container: "db",
		Open: localOpener(func(ctx context.Context) (postgres.Session, error) {
			return db.Local(ctx, &postgres.LocalSpec{Container: "db", User: "postgres", Database: "postgres"})
		}),
	})
}

// TestLinkedContractReal runs the linked contract on PostgreSQL 17 in a
// container of the test image, started as the tutorial starts it.
func TestLinkedContractReal(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIPPED under -short: starts a PostgreSQL container, about 10 s")
	}
	images.Require(t, images.Postgres17)
	ctx := context.Background()
	engine, err := docker.OpenReal(ctx)
	if err != nil {
		t.Fatal(err)
	}
	suffix := make([]byte, 4)
	rand.Read(suffix)
	name := "cocalcctl-test-pglinked-" + hex.EncodeToString(suffix)
	script := "mkdir -p " + dataDir + " /var/run/postgresql && chown postgres:postgres " + dataDir + " /var/run/postgresql && " +
		"setpriv --reuid=postgres --regid=postgres --init-groups /usr/lib/postgresql/17/bin/initdb -D " + dataDir +
		" --username=postgres --auth-local=peer --auth-host=scram-sha-256 >/dev/null && " +
		"exec setpriv --reuid=postgres --regid=postgres --init-groups /usr/lib/postgresql/17/bin/postgres -D " + dataDir
	if _, err := engine.ContainerCreate(ctx, docker.ContainerSpec{
		Name: name, Image: images.Postgres17, Cmd: []string{"sh", "-c", script},
		Labels: map[string]string{"cocalcctl.test": "1"},
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { engine.ContainerRemove(context.Background(), name, true) })
	if err := engine.ContainerStart(ctx, name); err != nil {
		t.Fatal(err)
	}
	waitReady(t, engine, name)

	postgrestest.RunLinked(t, postgrestest.LinkedTarget{
		Engine: engine, Container: name,
		Open: localOpener(func(ctx context.Context) (postgres.Session, error) {
			return postgres.OpenLocal(ctx, engine, name, "postgres", "postgres")
		}),
	})
}

func waitReady(t *testing.T, engine docker.Engine, name string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		res, err := engine.Exec(context.Background(), name, docker.ExecSpec{Cmd: []string{"pg_isready", "-q", "-h", "/var/run/postgresql"}, User: "postgres"})
		if err == nil && res.ExitCode == 0 {
			return
		}
		if time.Now().After(deadline) {
			logs, _ := engine.ContainerLogs(context.Background(), name, docker.LogOptions{Tail: 20})
			t.Fatalf("the server in %s did not start within 60s: %v %+v\n%s", name, err, res, logs)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestLinkedFakePeerAndSSL checks what the fake does beyond the linked
// contract: peer admits only the operating system user postgres, and TLS
// files that PostgreSQL rejects are not loaded.
func TestLinkedFakePeerAndSSL(t *testing.T) {
	ctx := context.Background()
	engine, db := linkedFake(t, "db")
	admin, err := db.Local(ctx, &postgres.LocalSpec{Container: "db", User: "postgres", Database: "postgres"})
	if err != nil {
		t.Fatal(err)
	}

	_, err = db.Local(ctx, &postgres.LocalSpec{Container: "db", User: "cocalc", Database: "postgres"})
	if err == nil || !strings.Contains(err.Error(), "Peer authentication failed") {
		t.Errorf("local session as cocalc: error %v; want Peer authentication failed", err)
	}

	write := func(p string, mode fs.FileMode, text string) {
		t.Helper()
		if err := engine.CopyTo(ctx, "db", []docker.File{{Path: p, Mode: mode, UID: 100, GID: 102, Data: []byte(text)}}); err != nil {
			t.Fatal(err)
		}
	}
	reload := func() {
		t.Helper()
		if _, err := admin.Query(ctx, "select pg_catalog.pg_reload_conf() as reloaded"); err != nil {
			t.Fatal(err)
		}
	}
	server := db.Server("db")
	write(dataDir+"/server.crt", 0o600, "certificate")
	write(dataDir+"/server.key", 0o640, "key")
	write(dataDir+"/postgresql.conf", 0o600, initdbConf+"ssl = on\n")
	reload()
	if server.SSLLoaded() {
		t.Error("the TLS files are loaded although server.key has mode 0640 and belongs to postgres")
	}
	logs, _ := engine.ContainerLogs(ctx, "db", docker.LogOptions{})
	if !strings.Contains(logs, `private key file "server.key" has group or world access`) {
		t.Errorf("the log does not say why the TLS files are not loaded:\n%s", logs)
	}

	write(dataDir+"/server.key", 0o600, "key")
	reload()
	if !server.SSLLoaded() {
		t.Error("the TLS files are not loaded with server.key of mode 0600 owned by postgres")
	}
}
