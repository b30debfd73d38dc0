package cocalc

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/cocalcctl/cocalcctl/builtins/runtime"
)

// writeCert writes a self-signed certificate with cn and dns names to path.
func writeCert(t *testing.T, fsys runtime.FS, path, cn string, dns ...string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn}, DNSNames: dns,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := fsys.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := fsys.WriteFile(strings.TrimSuffix(path, ".crt")+".key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func setup(t *testing.T) (*runtime.MemFS, dbConfig) {
	fsys := runtime.NewMemFS(nil)
	for _, dir := range []string{"/ssl", "/projects/secrets"} {
		if err := fsys.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	writeCert(t, fsys, "/ssl/ca.crt", "CA")
	writeCert(t, fsys, "/ssl/server.crt", "postgres", "postgres", "localhost")
	writeCert(t, fsys, "/ssl/client.crt", "cocalc", "cocalc")
	if err := fsys.WriteFile("/projects/secrets/postgres", []byte("pw"), 0o600); err != nil {
		t.Fatal(err)
	}
	return fsys, dbConfig{
		Host: "postgres", Port: 5432, User: "cocalc", Database: "cocalc", Auth: "cert",
		PasswordFile: "/projects/secrets/postgres", CAFile: "/ssl/ca.crt",
		ClientCert: "/ssl/client.crt", ClientKey: "/ssl/client.key", ServerCert: "/ssl/server.crt",
	}
}

func TestChecksPassForTutorialSet(t *testing.T) {
	fsys, cfg := setup(t)
	if problems := check(fsys, cfg, false); len(problems) != 0 {
		t.Errorf("a correct set-up has problems:\n%s", strings.Join(problems, "\n"))
	}
}

func TestChecksNameEachProblem(t *testing.T) {
	cases := []struct {
		name  string
		edit  func(t *testing.T, fsys *runtime.MemFS, c *dbConfig)
		wants string
	}{
		{"ip address host", func(t *testing.T, fsys *runtime.MemFS, c *dbConfig) { c.Host = "172.18.0.2" }, "is not a DNS name"},
		{"host with port", func(t *testing.T, fsys *runtime.MemFS, c *dbConfig) { c.Host = "postgres:5433" }, "contains a colon"},
		{"other port", func(t *testing.T, fsys *runtime.MemFS, c *dbConfig) { c.Port = 5433 }, "connects to port 5432"},
		{"no localhost san", func(t *testing.T, fsys *runtime.MemFS, c *dbConfig) {
			writeCert(t, fsys, "/ssl/server.crt", "postgres", "postgres")
		}, `does not name "localhost"`},
		{"no pghost san", func(t *testing.T, fsys *runtime.MemFS, c *dbConfig) {
			writeCert(t, fsys, "/ssl/server.crt", "db", "db", "localhost")
		}, `does not name "postgres"`},
		{"client cn differs", func(t *testing.T, fsys *runtime.MemFS, c *dbConfig) { c.User = "smc" }, `CN is "cocalc" but pguser is "smc"`},
		{"client files without ca", func(t *testing.T, fsys *runtime.MemFS, c *dbConfig) { c.CAFile = "" }, "without ca_file"},
		{"encrypted client key", func(t *testing.T, fsys *runtime.MemFS, c *dbConfig) {
			if err := fsys.WriteFile("/ssl/client.key", pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1}}), 0o600); err != nil {
				t.Fatal(err)
			}
		}, "protected by a passphrase"},
		{"client key readable", func(t *testing.T, fsys *runtime.MemFS, c *dbConfig) {
			if err := fsys.Chmod("/ssl/client.key", 0o644); err != nil {
				t.Fatal(err)
			}
		}, "has mode 0644"},
		{"password file readable", func(t *testing.T, fsys *runtime.MemFS, c *dbConfig) {
			if err := fsys.Chmod("/projects/secrets/postgres", 0o644); err != nil {
				t.Fatal(err)
			}
		}, "must be 0600"},
		{"password folder open", func(t *testing.T, fsys *runtime.MemFS, c *dbConfig) {
			if err := fsys.Chmod("/projects/secrets", 0o755); err != nil {
				t.Fatal(err)
			}
		}, "it must be 0700"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fsys, cfg := setup(t)
			c.edit(t, fsys, &cfg)
			problems := strings.Join(check(fsys, cfg, false), "\n")
			if !strings.Contains(problems, c.wants) {
				t.Errorf("problems do not mention %q:\n%s", c.wants, problems)
			}
		})
	}
}

func TestChecksSkipMissingFilesInDryRun(t *testing.T) {
	fsys, cfg := setup(t)
	for _, p := range []string{"/ssl/server.crt", "/ssl/client.crt", "/ssl/client.key", "/projects/secrets/postgres"} {
		if err := fsys.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
	if problems := check(fsys, cfg, true); len(problems) != 0 {
		t.Errorf("a dry run reports files that earlier steps would make:\n%s", strings.Join(problems, "\n"))
	}
	if problems := check(fsys, cfg, false); len(problems) == 0 {
		t.Errorf("a real run does not report missing files")
	}
}

func TestFromNetworkSkipsLoopback(t *testing.T) {
	cases := []struct {
		address, netmask string
		want             bool
	}{
		{"127.0.0.1", "255.255.255.255", false},
		{"::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false},
		{"samehost", "", false},
		{"samenet", "", true},
		{"all", "", true},
		{"0.0.0.0", "0.0.0.0", true},
		{"172.18.0.0", "255.255.0.0", true},
		{"db.example.org", "", true},
	}
	for _, c := range cases {
		if got := fromNetwork(c.address, c.netmask); got != c.want {
			t.Errorf("fromNetwork(%q, %q) = %v, want %v", c.address, c.netmask, got, c.want)
		}
	}
}
