// Package postgres_test runs the postgres module against real PostgreSQL
// servers that hostserver.sh starts on this machine.
package postgres_test

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/cocalcctl/cocalcctl/builtins/pki"
	"github.com/cocalcctl/cocalcctl/builtins/postgres"
	"github.com/cocalcctl/cocalcctl/builtins/runtime"
	"github.com/cocalcctl/cocalcctl/builtins/runtime/runtimetest"
	"github.com/cocalcctl/cocalcctl/builtins/secret"
)

// server is a running throwaway cluster.
type server struct {
	Dir    string
	Port   string
	Socket string
	Log    string
	TLS    *testTLS
}

type serverOptions struct {
	hba     string // pg_hba.conf text; empty for hostserver.sh's default
	keyMode string
	standby bool
	mayFail bool
	pki     bool // make the TLS material with the pki module
}

var (
	sharedMu      sync.Mutex
	sharedServers = map[string]*server{}
	stopList      []string
)

func TestMain(m *testing.M) {
	code := m.Run()
	for _, dir := range stopList {
		exec.Command("bash", "hostserver.sh", "stop", filepath.Join(dir, "pg")).Run()
		os.RemoveAll(dir)
	}
	os.Exit(code)
}

// requireServerBinaries skips the test when PostgreSQL is not installed,
// and fails it in CI, where it must be.
func requireServerBinaries(t *testing.T) {
	t.Helper()
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(matches) > 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("PostgreSQL server binaries are missing: install the Debian package postgresql-15")
	}
	t.Skip("SKIPPED: PostgreSQL server binaries are missing (/usr/lib/postgresql/*/bin); install postgresql-15 to run these tests")
}

// sharedServer returns the server called name, starting it on first use;
// TestMain stops it.
func sharedServer(t *testing.T, name string, opts serverOptions) *server {
	t.Helper()
	requireServerBinaries(t)
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if s, ok := sharedServers[name]; ok {
		return s
	}
	dir, err := os.MkdirTemp("", "cocalcctl-pg-"+name+"-")
	if err != nil {
		t.Fatal(err)
	}
	stopList = append(stopList, dir)
	s, err := startServer(t, dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	sharedServers[name] = s
	return s
}

// ownServer starts a server for one test and stops it when the test ends.
func ownServer(t *testing.T, name string, opts serverOptions) (*server, error) {
	t.Helper()
	requireServerBinaries(t)
	dir, err := os.MkdirTemp("", "cocalcctl-pg-"+name+"-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		exec.Command("bash", "hostserver.sh", "stop", filepath.Join(dir, "pg")).Run()
		os.RemoveAll(dir)
	})
	return startServer(t, dir, opts)
}

func startServer(t testing.TB, dir string, opts serverOptions) (*server, error) {
	// The postgres OS user must be able to reach the cluster's folder.
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	newTLS := newTestTLS
	if opts.pki {
		newTLS = func(dir string) (*testTLS, error) { return newPKITLS(t, dir) }
	}
	tlsMaterial, err := newTLS(filepath.Join(dir, "certs"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("bash", "hostserver.sh", "start", filepath.Join(dir, "pg"))
	cmd.Env = append(os.Environ(), "TLS_DIR="+tlsMaterial.Dir)
	if opts.hba != "" {
		hba := filepath.Join(dir, "pg_hba.conf")
		if err := os.WriteFile(hba, []byte(opts.hba), 0o644); err != nil {
			return nil, err
		}
		cmd.Env = append(cmd.Env, "HBA_FILE="+hba)
	}
	if opts.keyMode != "" {
		cmd.Env = append(cmd.Env, "KEY_MODE="+opts.keyMode)
	}
	if opts.standby {
		cmd.Env = append(cmd.Env, "STANDBY=1")
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()

	s := &server{Dir: dir, TLS: tlsMaterial}
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), "=")
		switch k {
		case "port":
			s.Port = v
		case "socket":
			s.Socket = v
		case "log":
			s.Log = v
		}
	}
	if runErr != nil {
		return s, fmt.Errorf("hostserver.sh start failed: %v\n%s%s", runErr, stdout.String(), stderr.String())
	}
	return s, nil
}

// mainServer has hostserver.sh's default pg_hba.conf: cert for certuser,
// scram-sha-256 for everyone else over TLS, and plain TCP rejected.
func mainServer(t *testing.T) *server { return sharedServer(t, "main", serverOptions{}) }

// certServer admits TCP connections only with `hostssl ... cert` for
// certuser, so any other role has no pg_hba.conf line.
func certServer(t *testing.T) *server {
	return sharedServer(t, "cert", serverOptions{pki: true, hba: "local all all trust\n" +
		"hostssl all certuser 127.0.0.1/32 cert\n"})
}

// fixture returns a runtimetest fixture on the real file system with the
// postgres and secret modules, whose scripts see the server's settings as
// the globals PORT, SOCKET, CA, and the client certificate files.
func fixture(t *testing.T) *runtimetest.Fixture {
	f := runtimetest.New(t, postgres.Module, secret.Module)
	f.Env.FS = runtime.OSFS{}
	f.Env.Root = t.TempDir()
	return f
}

// run runs src with the server's settings defined before it.
func run(t *testing.T, f *runtimetest.Fixture, s *server, src string) error {
	t.Helper()
	prelude := fmt.Sprintf("PORT = %s\nSOCKET = %q\nCA = %q\nADMIN = dict(host = SOCKET, port = PORT, user = \"postgres\")\n",
		s.Port, s.Socket, s.TLS.CA)
	return f.Run(prelude + src)
}

func mustRun(t *testing.T, f *runtimetest.Fixture, s *server, src string) {
	t.Helper()
	if err := run(t, f, s, src); err != nil {
		t.Fatalf("script failed:\n%s\nstderr:\n%s", f.ErrorText(err), f.Stderr.String())
	}
}

func readFile(t *testing.T, path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func writeFile(path, text string, mode os.FileMode) error {
	return os.WriteFile(path, []byte(text), mode)
}

func copyFile(from, to string) error {
	data, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, data, 0o644)
}

// newPKITLS makes the CA, the server certificate and the client
// certificates certuser (CN certuser) and certuser-enc (the same, with the
// key encrypted with the passphrase "pass phrase é") with the pki module.
func newPKITLS(t testing.TB, dir string) (*testTLS, error) {
	f := runtimetest.New(t, pki.Module)
	f.Env.FS = runtime.OSFS{}
	err := f.Run(fmt.Sprintf(`
ca = pki.ca(%q)
ca.issue("server", "localhost", dns = ["localhost", "db.test"])
ca.issue("certuser", "certuser", usage = "client")
ca.issue("certuser-enc", "certuser", usage = "client", passphrase = "pass phrase é")
`, dir))
	if err != nil {
		return nil, fmt.Errorf("pki: %s", f.ErrorText(err))
	}
	return &testTLS{Dir: dir, CA: filepath.Join(dir, "ca.crt")}, nil
}
