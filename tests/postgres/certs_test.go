package postgres_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/youmark/pkcs8"
)

// testTLS is a test CA with a server certificate for localhost and db.test
// (no IP address), written to Dir as ca.crt, server.crt and server.key, the
// names hostserver.sh reads.
//
// These certificates come from Go's crypto packages, so a test can issue a
// certificate that the pki module would reject; newPKITLS makes the same
// files with the pki module.
type testTLS struct {
	Dir    string
	CA     string
	caCert *x509.Certificate
	caKey  crypto.Signer
}

func newTestTLS(dir string) (*testTLS, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "cocalcctl test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	caCert, _ := x509.ParseCertificate(der)
	t := &testTLS{Dir: dir, CA: filepath.Join(dir, "ca.crt"), caCert: caCert, caKey: key}
	if err := writePEM(t.CA, "CERTIFICATE", der, 0o644); err != nil {
		return nil, err
	}
	if _, _, err := t.issue("server", "localhost", []string{"localhost", "db.test"}, x509.ExtKeyUsageServerAuth, ""); err != nil {
		return nil, err
	}
	return t, nil
}

// client issues a client certificate with common name cn and returns the
// certificate and key files. A non-empty passphrase encrypts the key as
// PKCS#8 (PBES2 with AES-256-CBC).
func (t *testTLS) client(name, cn, passphrase string) (certFile, keyFile string, err error) {
	if t.caKey == nil {
		// The pki module issued this CA's client certificates already.
		return filepath.Join(t.Dir, name+".crt"), filepath.Join(t.Dir, name+".key"), nil
	}
	return t.issue(name, cn, nil, x509.ExtKeyUsageClientAuth, passphrase)
}

func (t *testTLS) issue(name, cn string, dns []string, usage x509.ExtKeyUsage, passphrase string) (string, string, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: cn}, DNSNames: dns,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, t.caCert, key.Public(), t.caKey)
	if err != nil {
		return "", "", err
	}
	certFile := filepath.Join(t.Dir, name+".crt")
	keyFile := filepath.Join(t.Dir, name+".key")
	if err := writePEM(certFile, "CERTIFICATE", der, 0o644); err != nil {
		return "", "", err
	}
	var keyDER []byte
	keyType := "PRIVATE KEY"
	if passphrase != "" {
		keyDER, err = pkcs8.MarshalPrivateKey(key, []byte(passphrase), &pkcs8.Opts{
			Cipher: pkcs8.AES256CBC, KDFOpts: pkcs8.PBKDF2Opts{SaltSize: 16, IterationCount: 10000, HMACHash: crypto.SHA256},
		})
		keyType = "ENCRYPTED PRIVATE KEY"
	} else {
		keyDER, err = x509.MarshalPKCS8PrivateKey(key)
	}
	if err != nil {
		return "", "", err
	}
	return certFile, keyFile, writePEM(keyFile, keyType, keyDER, 0o600)
}

func writePEM(path, typ string, der []byte, mode os.FileMode) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), mode)
}
