package postgrestest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	crand "crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"math/rand/v2"
	"path"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cocalcctl/cocalcctl/builtins/docker"
	"github.com/cocalcctl/cocalcctl/builtins/postgres"
)

// LinkedTarget is a server in a container whose configuration files the
// suite edits through the Docker engine, as postgres.hba and postgres.conf
// do: a real server in a real container, or the PostgreSQL fake linked to
// the Docker fake.
type LinkedTarget struct {
	Engine    docker.Engine
	Container string

	// Open returns a superuser session to database postgres of the server
	// in Container, such as postgres.local's.
	Open func(t *testing.T) postgres.Session
}

// RunLinked runs the cases that tie the server to its files: pg_hba.conf
// and postgresql.conf as the engine shows them, and what a reload does with
// them. Each case puts the files back when it ends.
func RunLinked(t *testing.T, target LinkedTarget) {
	ctx := context.Background()
	suffix := fmt.Sprintf("%08x", rand.Uint32())

	t.Run("RulesShowFileBeforeReload", func(t *testing.T) {
		s := target.Open(t)
		db := "linked_db_" + suffix
		lines := appendLine(t, target, s, "hba_file", "host "+db+" all samenet scram-sha-256")

		res, err := s.Query(ctx, "select line_number, type, database, user_name, address, auth_method from pg_hba_file_rules where error is null order by line_number")
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Rows) == 0 {
			t.Fatal("pg_hba_file_rules has no rows")
		}
		got := res.Rows[len(res.Rows)-1]
		want := []any{int64(lines), "host", []any{db}, []any{"all"}, "samenet", "scram-sha-256"}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("last rule = %#v; want %#v", got, want)
		}
	})

	t.Run("ReloadAppliesConfFile", func(t *testing.T) {
		s := target.Open(t)
		appendLine(t, target, s, "config_file", "work_mem = '6MB'")
		reload(t, s)
		waitSetting(t, target, "work_mem", "6144", false)
	})

	t.Run("LooseKeyIsNotLoaded", func(t *testing.T) {
		s := target.Open(t)
		cert, key := selfSigned(t)
		uid := postgresUID(t, target)
		dir := path.Dir(configPath(t, s, "config_file"))
		name := "linked-" + suffix
		if err := target.Engine.CopyTo(ctx, target.Container, []docker.File{
			{Path: dir + "/" + name + ".crt", Mode: 0o600, UID: uid, GID: uid, Data: cert},
			{Path: dir + "/" + name + ".key", Mode: 0o644, UID: uid, GID: uid, Data: key},
		}); err != nil {
			t.Fatal(err)
		}
		since := time.Now().Add(-time.Second)
		appendLine(t, target, s, "config_file",
			"ssl_cert_file = '"+name+".crt'\nssl_key_file = '"+name+".key'\nssl = on")
		reload(t, s)

		want := `private key file "` + name + `.key" has group or world access`
		deadline := time.Now().Add(10 * time.Second)
		for {
			logs, err := target.Engine.ContainerLogs(ctx, target.Container, docker.LogOptions{Since: since})
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(logs, want) && strings.Contains(logs, "SSL configuration was not reloaded") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the log does not say %q and that SSL was not reloaded:\n%s", want, logs)
			}
			time.Sleep(100 * time.Millisecond)
		}
		// The setting changes even though the files were not loaded.
		waitSetting(t, target, "ssl", "on", false)
	})

	t.Run("RestartSettingIsPending", func(t *testing.T) {
		s := target.Open(t)
		before := setting(t, s, "max_connections")
		appendLine(t, target, s, "config_file", "max_connections = 90")
		reload(t, s)
		waitSetting(t, target, "max_connections", before, true)
	})
}

// configPath returns the path of the server's file named by setting
// (hba_file or config_file).
func configPath(t *testing.T, s postgres.Session, setting string) string {
	t.Helper()
	res, err := s.Query(context.Background(), "select pg_catalog.current_setting($1) as path", setting)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := res.Rows[0][0].(string)
	return p
}

// appendLine adds line (one or more lines) to the server's file named by
// setting (hba_file or config_file), as the engine shows it, and restores
// the file, then reloads, when the test ends. It returns the number of lines
// of the new file.
func appendLine(t *testing.T, target LinkedTarget, s postgres.Session, setting, line string) int {
	t.Helper()
	ctx := context.Background()
	path := configPath(t, s, setting)
	files, err := target.Engine.CopyFrom(ctx, target.Container, path)
	if err != nil {
		t.Fatal(err)
	}
	original := files[0]
	t.Cleanup(func() {
		if err := target.Engine.CopyTo(context.Background(), target.Container, []docker.File{original}); err != nil {
			t.Errorf("restoring %s: %v", path, err)
			return
		}
		// The test's context is over now, so the session of the test,
		// which is still open, reloads the server.
		if _, err := s.Query(context.Background(), "select pg_catalog.pg_reload_conf() as reloaded"); err != nil {
			t.Errorf("reloading after restoring %s: %v", path, err)
		}
	})

	changed := original
	text := string(original.Data)
	if text != "" && !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	text += line + "\n"
	changed.Data = []byte(text)
	if err := target.Engine.CopyTo(ctx, target.Container, []docker.File{changed}); err != nil {
		t.Fatal(err)
	}
	return strings.Count(text, "\n")
}

// postgresUID returns the uid of the user postgres in the container.
func postgresUID(t *testing.T, target LinkedTarget) int {
	t.Helper()
	files, err := target.Engine.CopyFrom(context.Background(), target.Container, "/etc/passwd")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(files[0].Data), "\n") {
		fields := strings.Split(line, ":")
		if len(fields) >= 3 && fields[0] == "postgres" {
			uid, err := strconv.Atoi(fields[2])
			if err != nil {
				t.Fatalf("/etc/passwd: uid of postgres %q: %v", fields[2], err)
			}
			return uid
		}
	}
	t.Fatal("/etc/passwd of the container has no user postgres")
	return 0
}

// selfSigned returns a PEM certificate and key for the name localhost.
func selfSigned(t *testing.T) (cert, key []byte) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), crand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"}, DNSNames: []string{"localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
	}
	der, err := x509.CreateCertificate(crand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
}

func reload(t *testing.T, s postgres.Session) {
	t.Helper()
	if _, err := s.Query(context.Background(), "select pg_catalog.pg_reload_conf() as reloaded"); err != nil {
		t.Fatal(err)
	}
}

// settingSQL is the query of pg_settings that postgres.setting makes.
const settingSQL = "select setting, unit, vartype, context, pending_restart from pg_catalog.pg_settings where name = $1"

func setting(t *testing.T, s postgres.Session, name string) string {
	t.Helper()
	res, err := s.Query(context.Background(), settingSQL, name)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != 1 {
		t.Fatalf("pg_settings has %d rows for %s", len(res.Rows), name)
	}
	v, _ := res.Rows[0][0].(string)
	return v
}

// waitSetting waits until new sessions see setting name with value and
// pending_restart pending. A server applies a reload asynchronously: the
// postmaster rereads its files after the signal, so the first sessions
// after pg_reload_conf may still see the old values.
func waitSetting(t *testing.T, target LinkedTarget, name, value string, pending bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var got []any
	for {
		s := target.Open(t)
		res, err := s.Query(context.Background(), settingSQL, name)
		if err != nil {
			t.Fatal(err)
		}
		got = []any{res.Rows[0][0], res.Rows[0][4]}
		if reflect.DeepEqual(got, []any{value, pending}) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: setting and pending_restart = %#v; want %q, %v", name, got, value, pending)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
