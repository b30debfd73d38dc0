package pki_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cocalcctl/cocalcctl/builtins/pki"
	"github.com/cocalcctl/cocalcctl/builtins/runtime"
	"github.com/cocalcctl/cocalcctl/builtins/runtime/runtimetest"
)

// osFixture returns a fixture whose scripts write to a temporary folder on
// the real file system, dated by the real clock, so that OpenSSL and
// crypto/tls can check the files. It returns the folder too.
func osFixture(t *testing.T) (*runtimetest.Fixture, string) {
	t.Helper()
	f := newFixture(t)
	dir := t.TempDir()
	f.Env.FS = runtime.OSFS{}
	f.Env.Root = dir
	f.Env.Clock = runtime.SystemClock{}
	return f, dir
}

// needOpenSSL returns the path of the openssl command. Without it the test
// is skipped, unless the CI environment variable is set, and then it fails.
func needOpenSSL(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("openssl")
	if err == nil {
		return path
	}
	if ci := os.Getenv("CI"); ci != "" {
		t.Fatalf("openssl is not installed, and CI=%s requires the interoperability tests: %v", ci, err)
	}
	t.Skipf("SKIPPED: openssl is not installed (%v); install it to run the interoperability tests", err)
	return ""
}

func openssl(t *testing.T, bin string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func mustOpenSSL(t *testing.T, bin string, args ...string) string {
	t.Helper()
	out, err := openssl(t, bin, args...)
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func TestOSFileModes(t *testing.T) {
	f, dir := osFixture(t)
	f.MustRun(tutorialSet)
	certs := filepath.Join(dir, "certs")
	want := map[string]os.FileMode{
		certs: 0o700, "ca.crt": 0o644, "ca.key": 0o600,
		"server.crt": 0o644, "server.key": 0o600, "client.crt": 0o644, "client.key": 0o600,
	}
	for name, mode := range want {
		path := name
		if name != certs {
			path = filepath.Join(certs, name)
		}
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := info.Mode().Perm(); got != mode {
			t.Errorf("%s has mode %04o, want %04o", path, got, mode)
		}
	}
}

func TestOSRerunKeepsKeys(t *testing.T) {
	f, dir := osFixture(t)
	f.MustRun(tutorialSet)
	key, err := os.ReadFile(filepath.Join(dir, "certs", "server.key"))
	if err != nil {
		t.Fatal(err)
	}
	first := printed(f, "server ")

	f.ResetOutput()
	f.MustRun(tutorialSet)
	if got := f.Statuses(); !slices.Equal(got, []string{"unchanged", "unchanged", "unchanged"}) {
		t.Errorf("rerun statuses %v, want unchanged three times", got)
	}
	if got := printed(f, "server "); !slices.Equal(got, first) {
		t.Errorf("server fingerprint %v, want %v", got, first)
	}
	if now, _ := os.ReadFile(filepath.Join(dir, "certs", "server.key")); !bytes.Equal(now, key) {
		t.Error("server.key was rewritten")
	}
}

func TestOpenSSLVerifiesChain(t *testing.T) {
	bin := needOpenSSL(t)
	f, dir := osFixture(t)
	f.MustRun(tutorialSet + `
    pki.ca("other").issue("stranger", "postgres")
`)
	certs := filepath.Join(dir, "certs")

	out := mustOpenSSL(t, bin, "verify", "-CAfile", filepath.Join(certs, "ca.crt"),
		filepath.Join(certs, "server.crt"), filepath.Join(certs, "client.crt"))
	for _, name := range []string{"server.crt: OK", "client.crt: OK"} {
		if !strings.Contains(out, name) {
			t.Errorf("openssl verify output lacks %q:\n%s", name, out)
		}
	}

	// The check can fail: a certificate from another CA does not verify.
	if out, err := openssl(t, bin, "verify", "-CAfile", filepath.Join(certs, "ca.crt"),
		filepath.Join(dir, "other", "stranger.crt")); err == nil {
		t.Errorf("openssl verified a certificate from another CA:\n%s", out)
	}
}

func TestOpenSSLShowsExtensions(t *testing.T) {
	bin := needOpenSSL(t)
	f, dir := osFixture(t)
	f.MustRun(tutorialSet)
	certs := filepath.Join(dir, "certs")
	text := func(name string) string {
		return mustOpenSSL(t, bin, "x509", "-in", filepath.Join(certs, name), "-noout", "-text")
	}

	wantContains(t, text("ca.crt"),
		"Subject: CN = cocalcctl CA",
		"CA:TRUE, pathlen:0",
		"Certificate Sign, CRL Sign",
		"X509v3 Subject Key Identifier",
		"X509v3 Authority Key Identifier",
		"ecdsa-with-SHA256")
	server := text("server.crt")
	wantContains(t, server,
		"Subject: CN = postgres",
		"Issuer: CN = cocalcctl CA",
		"DNS:postgres, DNS:localhost",
		"TLS Web Server Authentication",
		"Digital Signature",
		"CA:FALSE")
	if strings.Contains(server, "TLS Web Client Authentication") {
		t.Errorf("server certificate allows client authentication:\n%s", server)
	}
	wantContains(t, text("client.crt"),
		"Subject: CN = cocalc",
		"DNS:cocalc",
		"TLS Web Client Authentication")
}

func TestOpenSSLKeyTypes(t *testing.T) {
	bin := needOpenSSL(t)
	for _, keyType := range pki.KeyTypes {
		t.Run(keyType, func(t *testing.T) {
			f, dir := osFixture(t)
			f.MustRun(`pki.ca("certs", key_type="` + keyType + `").issue("server", "postgres")`)
			certs := filepath.Join(dir, "certs")
			mustOpenSSL(t, bin, "verify", "-CAfile", filepath.Join(certs, "ca.crt"), filepath.Join(certs, "server.crt"))
			mustOpenSSL(t, bin, "pkey", "-in", filepath.Join(certs, "server.key"), "-noout")
		})
	}
}

func TestOpenSSLReadsEncryptedKey(t *testing.T) {
	bin := needOpenSSL(t)
	f, dir := osFixture(t)
	const pass = "a passphrase for the test"
	f.MustRun(`pki.ca("certs").issue("client", "cocalc", usage="client", passphrase="` + pass + `")`)
	certs := filepath.Join(dir, "certs")
	keyFile := filepath.Join(certs, "client.key")

	// The passphrase reaches openssl through a file, never in argv.
	passFile := filepath.Join(t.TempDir(), "pass")
	if err := os.WriteFile(passFile, []byte(pass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fromKey := mustOpenSSL(t, bin, "pkey", "-in", keyFile, "-passin", "file:"+passFile, "-pubout")
	fromCert := mustOpenSSL(t, bin, "x509", "-in", filepath.Join(certs, "client.crt"), "-noout", "-pubkey")
	if fromKey != fromCert {
		t.Errorf("the decrypted key's public key differs from the certificate's:\n%s\n%s", fromKey, fromCert)
	}

	wantContains(t, mustOpenSSL(t, bin, "asn1parse", "-in", keyFile),
		"PBES2", "PBKDF2", "hmacWithSHA256", "aes-256-cbc")

	wrongFile := filepath.Join(t.TempDir(), "wrong")
	if err := os.WriteFile(wrongFile, []byte("not the passphrase\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := openssl(t, bin, "pkey", "-in", keyFile, "-passin", "file:"+wrongFile, "-noout"); err == nil {
		t.Errorf("openssl read the key with a wrong passphrase:\n%s", out)
	}
}

// tlsPair loads a certificate and its key, encrypted or not, the way the
// postgres module does: through pki.ParsePrivateKeyPEM.
func tlsPair(t *testing.T, certFile, keyFile string, passphrase []byte) tls.Certificate {
	t.Helper()
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := pki.ParseCertificatePEM(certPEM)
	if err != nil {
		t.Fatal(err)
	}
	key, err := pki.ParsePrivateKeyPEM(keyPEM, passphrase)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}
}

func certPool(t *testing.T, caFile string) *x509.CertPool {
	t.Helper()
	data, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		t.Fatalf("no certificate in %s", caFile)
	}
	return pool
}

// handshake runs one TLS handshake over loopback between a server that
// requires and verifies client certificates and a client with clientCert
// that expects serverName. It returns the client's error, the server's
// error and the common name of the client certificate the server saw.
func handshake(t *testing.T, caFile string, serverCert, clientCert tls.Certificate, serverName string) (clientErr, serverErr error, peerCN string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	roots := certPool(t, caFile)
	type result struct {
		err error
		cn  string
	}
	done := make(chan result, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			done <- result{err: err}
			return
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		srv := tls.Server(conn, &tls.Config{
			Certificates: []tls.Certificate{serverCert},
			ClientCAs:    roots,
			ClientAuth:   tls.RequireAndVerifyClientCert,
			MinVersion:   tls.VersionTLS12,
		})
		if err := srv.Handshake(); err != nil {
			done <- result{err: err}
			return
		}
		// Echo one byte so the client knows the server accepted it.
		buf := make([]byte, 1)
		if _, err := io.ReadFull(srv, buf); err != nil {
			done <- result{err: err}
			return
		}
		srv.Write(buf)
		done <- result{cn: srv.ConnectionState().PeerCertificates[0].Subject.CommonName}
	}()

	conn, err := net.DialTimeout("tcp", ln.Addr().String(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	cli := tls.Client(conn, &tls.Config{
		RootCAs:      roots,
		ServerName:   serverName,
		Certificates: []tls.Certificate{clientCert},
		MinVersion:   tls.VersionTLS12,
	})
	clientErr = cli.Handshake()
	if clientErr == nil {
		// With TLS 1.3 the server checks the client certificate after the
		// client's handshake returns, so a rejection shows up here.
		buf := []byte{'x'}
		if _, err := cli.Write(buf); err != nil {
			clientErr = err
		} else if _, err := io.ReadFull(cli, buf); err != nil {
			clientErr = err
		}
	}
	cli.Close()
	r := <-done
	return clientErr, r.err, r.cn
}

func TestTLSHandshakeWithIssuedCertificates(t *testing.T) {
	f, dir := osFixture(t)
	const pass = "client key passphrase"
	f.MustRun(tutorialSet + `
    ca = pki.ca("certs")
    ca.issue("client-enc", "cocalc", usage="client", passphrase="` + pass + `")
    pki.ca("other").issue("client", "cocalc", usage="client")
`)
	certs := filepath.Join(dir, "certs")
	caFile := filepath.Join(certs, "ca.crt")
	server := tlsPair(t, filepath.Join(certs, "server.crt"), filepath.Join(certs, "server.key"), nil)
	client := tlsPair(t, filepath.Join(certs, "client.crt"), filepath.Join(certs, "client.key"), nil)

	for _, name := range []string{"localhost", "postgres"} {
		clientErr, serverErr, cn := handshake(t, caFile, server, client, name)
		if clientErr != nil || serverErr != nil {
			t.Fatalf("handshake for %s: client error %v, server error %v", name, clientErr, serverErr)
		}
		if cn != "cocalc" {
			t.Errorf("server saw client CN %q, want cocalc", cn)
		}
	}

	encrypted := tlsPair(t, filepath.Join(certs, "client-enc.crt"), filepath.Join(certs, "client-enc.key"), []byte(pass))
	if clientErr, serverErr, _ := handshake(t, caFile, server, encrypted, "localhost"); clientErr != nil || serverErr != nil {
		t.Errorf("handshake with the encrypted client key: client error %v, server error %v", clientErr, serverErr)
	}

	// A name that is not in the server's SANs fails on the client.
	clientErr, _, _ := handshake(t, caFile, server, client, "db.example")
	var hostErr x509.HostnameError
	if !errors.As(clientErr, &hostErr) {
		t.Errorf("handshake for a name outside the SANs: client error %v, want a host name error", clientErr)
	}

	// A client certificate from another CA is rejected by the server.
	stranger := tlsPair(t, filepath.Join(dir, "other", "client.crt"), filepath.Join(dir, "other", "client.key"), nil)
	clientErr, serverErr, _ := handshake(t, caFile, server, stranger, "localhost")
	if serverErr == nil {
		t.Error("the server accepted a client certificate from another CA")
	}
	if clientErr == nil {
		t.Error("the client saw no error although the server rejected its certificate")
	}
	var unknown x509.UnknownAuthorityError
	if !errors.As(serverErr, &unknown) && !strings.Contains(serverErr.Error(), "unknown authority") {
		t.Errorf("server error %v, want an unknown authority error", serverErr)
	}

	// A server certificate used as a client certificate is rejected, because
	// its extended key usage is serverAuth only.
	_, serverErr, _ = handshake(t, caFile, server, server, "localhost")
	if serverErr == nil {
		t.Error("the server accepted a server certificate as a client certificate")
	}
}

func TestUnderscoreNameVerifies(t *testing.T) {
	bin := needOpenSSL(t)
	f, dir := osFixture(t)
	f.MustRun(`
ca = pki.ca("certs")
ca.issue("server", "cocalc_postgres")
ca.issue("client", "cocalc", usage="client")
`)
	certs := filepath.Join(dir, "certs")
	caFile := filepath.Join(certs, "ca.crt")

	mustOpenSSL(t, bin, "verify", "-CAfile", caFile, "-verify_hostname", "cocalc_postgres", filepath.Join(certs, "server.crt"))
	server := tlsPair(t, filepath.Join(certs, "server.crt"), filepath.Join(certs, "server.key"), nil)
	client := tlsPair(t, filepath.Join(certs, "client.crt"), filepath.Join(certs, "client.key"), nil)
	if clientErr, serverErr, _ := handshake(t, caFile, server, client, "cocalc_postgres"); clientErr != nil || serverErr != nil {
		t.Errorf("handshake for cocalc_postgres: client error %v, server error %v", clientErr, serverErr)
	}
}
