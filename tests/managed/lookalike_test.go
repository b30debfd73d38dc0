package managed

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/cocalcctl/cocalcctl/tests/images"
)

// testCA is a CA that is not in any system store, like a provider's.
type testCA struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	certPEM []byte
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	template := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{Organization: []string{"cocalcctl tests"}, CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// serverPair issues a server certificate that names only dnsName, as a
// managed service's certificate names only its endpoint (no localhost).
func (ca *testCA) serverPair(t *testing.T, dnsName string) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	template := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: dnsName},
		DNSNames:     []string{dnsName},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, template, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
}

// lookalike is a running look-alike of a managed service.
type lookalike struct {
	container string
	host      string // its DNS name on the test network
	ip        string // its address, which this machine dials
	caFile    string // the CA bundle that verifies it
	adminPW   string // a file (0600) with the administrator's password
}

// startLookalike starts lookalike.sh KIND in a container on the test's
// network under the DNS name host, with the files of /fixture, and waits
// until its ports accept connections. For kind "supabase", databases lists
// "DATABASE ROLE" lines for the poolers and ref is the project reference.
func (e *testEnv) startLookalike(kind, host string, fixture map[string]string) *lookalike {
	e.t.Helper()
	ca := newTestCA(e.t, "Test "+kind+" root CA")
	certPEM, keyPEM := ca.serverPair(e.t, host)
	// A bundle of several CAs, as RDS ships one: the first is unrelated.
	other := newTestCA(e.t, "Test unrelated CA")
	bundle := append(append([]byte{}, other.certPEM...), ca.certPEM...)

	l := &lookalike{
		container: e.prefix + kind + "-lookalike",
		host:      host,
		caFile:    e.writeFile(kind+"-ca-bundle.pem", bundle, 0o644),
		adminPW:   e.writeFile(kind+"-admin-password", []byte("admin pass "+kind+" 'x\n"), 0o600),
	}
	files := map[string][]byte{
		"server.crt":     certPEM,
		"server.key":     keyPEM,
		"admin_password": []byte("admin pass " + kind + " 'x\n"),
	}
	for name, content := range fixture {
		files[name] = []byte(content)
	}
	fixtureDir := filepath.Join(e.dir, kind+"-fixture")
	if err := os.MkdirAll(fixtureDir, 0o755); err != nil {
		e.t.Fatal(err)
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(fixtureDir, name), content, 0o644); err != nil {
			e.t.Fatal(err)
		}
	}

	docker(e.t, "create", "--name", l.container, "--label", testLabel, "--network", e.network, "--network-alias", host,
		"--entrypoint", "sh", images.Postgres17, "/fixture/lookalike.sh", kind)
	script, err := os.ReadFile(filepath.Join(repoRoot, "tests", "managed", "lookalike.sh"))
	if err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(fixtureDir, "lookalike.sh"), script, 0o755); err != nil {
		e.t.Fatal(err)
	}
	docker(e.t, "cp", fixtureDir+"/.", l.container+":/fixture")
	docker(e.t, "start", l.container)
	l.ip = e.containerIP(l.container)

	ports := []string{"5432"}
	if kind == "supabase" {
		ports = []string{"5433", "5432", "6543"}
	}
	deadline := time.Now().Add(60 * time.Second)
	for _, port := range ports {
		for {
			// pg_isready exits 0 (accepting) or 1 (rejecting) once a
			// server answers, and 2 while nothing answers.
			_, err := dockerOutput("exec", l.container, "sh", "-c", "pg_isready -q -h 127.0.0.1 -p "+port+"; [ $? -ne 2 ]")
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				logs, _ := dockerOutput("logs", l.container)
				e.t.Fatalf("the %s look-alike did not answer on port %s within 60s:\n%s", kind, port, logs)
			}
			time.Sleep(300 * time.Millisecond)
		}
	}
	return l
}

// remove deletes the look-alike, so the scripts' down can remove the network.
func (l *lookalike) remove(t *testing.T) {
	t.Helper()
	docker(t, "rm", "--force", "--volumes", l.container)
}

// sql runs a query in the look-alike as its bootstrap superuser over the
// Unix socket, in database, and returns psql's unaligned output with
// fields separated by |.
func (l *lookalike) sql(t *testing.T, superuser string, port int, database, query string) string {
	t.Helper()
	return docker(t, "exec", l.container, "psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "/var/run/postgresql",
		"-p", strconv.Itoa(port), "-U", superuser, "-d", database, "-c", query)
}
