package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/youmark/pkcs8"
)

func parseCertPEM(t *testing.T, certPEM []byte) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(certPEM)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func TestVerifyLikeNodeChecksLocalhost(t *testing.T) {
	ca := newTestCA(t)
	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	withoutLocalhost, _ := ca.issue(t, "db", []string{"db"}, x509.ExtKeyUsageServerAuth)
	withLocalhost, _ := ca.issue(t, "db", []string{"db", "localhost"}, x509.ExtKeyUsageServerAuth)

	err := verifyLikeNode([]*x509.Certificate{parseCertPEM(t, withoutLocalhost)}, roots, "localhost")
	if err == nil {
		t.Fatal("a certificate for db only passed the check of localhost")
	}
	want := "Host: localhost. is not in the cert's altnames: DNS:db (ERR_TLS_CERT_ALTNAME_INVALID)"
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q lacks %q", err, want)
	}

	if err := verifyLikeNode([]*x509.Certificate{parseCertPEM(t, withLocalhost)}, roots, "localhost"); err != nil {
		t.Errorf("a certificate for db and localhost failed the check of localhost: %v", err)
	}
}

func TestVerifyLikeNodeUnknownCA(t *testing.T) {
	ca := newTestCA(t)
	other := newTestCA(t)
	roots := x509.NewCertPool()
	roots.AddCert(other.cert)
	leaf, _ := ca.issue(t, "db", []string{"db"}, x509.ExtKeyUsageServerAuth)

	err := verifyLikeNode([]*x509.Certificate{parseCertPEM(t, leaf)}, roots, "db")
	if err == nil || !strings.Contains(err.Error(), "UNABLE_TO_VERIFY_LEAF_SIGNATURE") {
		t.Errorf("leaf alone from an unknown CA: got %v, want UNABLE_TO_VERIFY_LEAF_SIGNATURE", err)
	}
	err = verifyLikeNode([]*x509.Certificate{parseCertPEM(t, leaf), ca.cert}, roots, "db")
	if err == nil || !strings.Contains(err.Error(), "SELF_SIGNED_CERT_IN_CHAIN") {
		t.Errorf("chain with an unknown root: got %v, want SELF_SIGNED_CERT_IN_CHAIN", err)
	}
}

func TestVerifyLikeLibpq14NameMismatch(t *testing.T) {
	ca := newTestCA(t)
	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	leaf, _ := ca.issue(t, "postgres", []string{"postgres", "localhost"}, x509.ExtKeyUsageServerAuth)
	chain := []*x509.Certificate{parseCertPEM(t, leaf)}

	err := verifyLikeLibpq14(chain, roots, "db", true)
	want := `server certificate for "postgres" (and 1 other name) does not match host name "db"`
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %q", err, want)
	}
	if err := verifyLikeLibpq14(chain, roots, "db", false); err != nil {
		t.Errorf("verify-ca rejected a valid chain: %v", err)
	}
	if err := verifyLikeLibpq14(chain, roots, "postgres", true); err != nil {
		t.Errorf("verify-full rejected the certificate's own name: %v", err)
	}
}

func TestClientKeyPairEncryptedKey(t *testing.T) {
	ca := newTestCA(t)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	template := &x509.Certificate{SerialNumber: ca.cert.SerialNumber, Subject: ca.cert.Subject,
		NotBefore: ca.cert.NotBefore, NotAfter: ca.cert.NotAfter}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	encrypted, err := pkcs8.MarshalPrivateKey(key, []byte("open sesame"), nil)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: encrypted})

	if _, err := clientKeyPair(certPEM, keyPEM, "open sesame"); err != nil {
		t.Errorf("right passphrase: %v", err)
	}
	if _, err := clientKeyPair(certPEM, keyPEM, "wrong"); err == nil {
		t.Error("wrong passphrase accepted")
	}

	// psql gets no passphrase, so the same key fails on the libpq path.
	dir := t.TempDir()
	certFile := filepath.Join(dir, "client.crt")
	keyFile := filepath.Join(dir, "client.key")
	if err := os.WriteFile(certFile, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	err = addLibpqClientCert(&tls.Config{}, certFile, keyFile)
	if err == nil || !strings.Contains(err.Error(), "could not load private key file") {
		t.Errorf("encrypted key on the libpq path: got %v, want a load failure", err)
	}
}
