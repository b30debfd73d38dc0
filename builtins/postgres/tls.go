package postgres

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"

	"github.com/cocalcctl/cocalcctl/builtins/pki"
	"github.com/cocalcctl/cocalcctl/builtins/runtime"
)

// tlsSettings are the libpq TLS settings of a connection.
type tlsSettings struct {
	Mode       string // disable, allow, prefer, require, verify-ca, verify-full
	RootCert   string // file of CA certificates, or "system"
	Cert, Key  string // client certificate and key files
	KeyPass    string // passphrase of an encrypted key
	ServerName string // name to verify instead of the host dialled
}

var sslModes = []string{"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}

// tlsConfigs returns the TLS configurations to try in order, as libpq does:
// nil means a connection without TLS. allow tries without TLS first, prefer
// tries TLS first, and the other modes try one configuration.
func tlsConfigs(fsys runtime.FS, host string, s tlsSettings) ([]*tls.Config, error) {
	mode := s.Mode
	if s.RootCert == "system" {
		// libpq: sslrootcert=system always verifies the host name.
		mode = "verify-full"
	} else if mode == "require" && s.RootCert != "" {
		// libpq: with a root certificate file, require verifies the chain
		// as verify-ca does.
		mode = "verify-ca"
	}
	if mode == "disable" {
		return []*tls.Config{nil}, nil
	}

	config := &tls.Config{MinVersion: tls.VersionTLS12}
	name := host
	if s.ServerName != "" {
		name = s.ServerName
	}
	if net.ParseIP(name) == nil {
		config.ServerName = name
	}

	switch mode {
	case "allow", "prefer", "require":
		config.InsecureSkipVerify = true
	case "verify-ca", "verify-full":
		roots, err := loadRoots(fsys, s.RootCert)
		if err != nil {
			return nil, err
		}
		config.RootCAs = roots
		config.InsecureSkipVerify = true
		verifyName := ""
		if mode == "verify-full" {
			verifyName = name
		}
		config.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
			return verifyServer(raw, roots, verifyName)
		}
	}

	if s.Cert != "" || s.Key != "" {
		if s.Cert == "" || s.Key == "" {
			return nil, errors.New("sslcert and sslkey go together: give both or neither")
		}
		cert, err := loadClientCert(fsys, s.Cert, s.Key, s.KeyPass)
		if err != nil {
			return nil, err
		}
		config.Certificates = []tls.Certificate{cert}
	}

	switch mode {
	case "allow":
		return []*tls.Config{nil, config}, nil
	case "prefer":
		return []*tls.Config{config, nil}, nil
	}
	return []*tls.Config{config}, nil
}

// verifyServer checks the server's chain against roots and, when name is not
// empty, that the certificate names the host: libpq's verify-ca and
// verify-full.
func verifyServer(raw [][]byte, roots *x509.CertPool, name string) error {
	if len(raw) == 0 {
		return errors.New("the server sent no certificate")
	}
	certs := make([]*x509.Certificate, len(raw))
	for i, der := range raw {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return fmt.Errorf("the server sent an invalid certificate: %w", err)
		}
		certs[i] = c
	}
	opts := x509.VerifyOptions{Roots: roots, Intermediates: x509.NewCertPool()}
	for _, c := range certs[1:] {
		opts.Intermediates.AddCert(c)
	}
	if _, err := certs[0].Verify(opts); err != nil {
		return err
	}
	if name != "" {
		if err := certs[0].VerifyHostname(name); err != nil {
			return err
		}
	}
	return nil
}

// loadRoots reads the CA certificates of sslrootcert: a PEM file, "system"
// for the system's roots, or, when empty, libpq's default
// ~/.postgresql/root.crt.
func loadRoots(fsys runtime.FS, path string) (*x509.CertPool, error) {
	if path == "system" {
		return x509.SystemCertPool()
	}
	if path == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, errors.New("certificate verification needs sslrootcert: name the CA certificate file")
		}
		path = filepath.Join(home, ".postgresql", "root.crt")
		if _, err := fsys.Stat(path); err != nil {
			return nil, fmt.Errorf("certificate verification needs sslrootcert, and the default %s does not exist: "+
				"name the CA certificate file, or use sslmode=require to skip verification", path)
		}
	}
	data, err := fsys.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read sslrootcert %s: %w", path, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("sslrootcert %s holds no PEM certificate", path)
	}
	return pool, nil
}

// loadClientCert reads a client certificate and its key. Like libpq, it
// rejects a key file that group or others can read, unless root owns it
// with mode 0640 or less.
func loadClientCert(fsys runtime.FS, certPath, keyPath, passphrase string) (tls.Certificate, error) {
	info, err := fsys.Stat(keyPath)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("cannot read sslkey %s: %w", keyPath, err)
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 && !(ownedByRoot(info) && perm&0o037 == 0) {
		return tls.Certificate{}, fmt.Errorf("sslkey %s has mode %04o, so other users can read it: run `chmod 600 %s`", keyPath, perm, keyPath)
	}
	keyPEM, err := fsys.ReadFile(keyPath)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("cannot read sslkey %s: %w", keyPath, err)
	}
	certPEM, err := fsys.ReadFile(certPath)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("cannot read sslcert %s: %w", certPath, err)
	}

	key, err := parsePrivateKey(keyPEM, passphrase)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("sslkey %s: %w", keyPath, err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("sslkey %s: %w", keyPath, err)
	}
	cert, err := tls.X509KeyPair(certPEM, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("sslcert %s and sslkey %s do not form a pair: %w", certPath, keyPath, err)
	}
	return cert, nil
}

// parsePrivateKey reads the first private key in PEM data with the pki
// module's parser, which reads PKCS#8 (also encrypted with a passphrase),
// SEC 1 and PKCS#1 keys.
func parsePrivateKey(data []byte, passphrase string) (crypto.PrivateKey, error) {
	key, err := pki.ParsePrivateKeyPEM(data, []byte(passphrase))
	switch {
	case errors.Is(err, pki.ErrKeyEncrypted):
		return nil, errors.New("the key is encrypted: pass its passphrase as sslkey_passphrase=secret.file(...)")
	case errors.Is(err, pki.ErrWrongPassphrase):
		return nil, errors.New("the passphrase does not decrypt the key, or the key is damaged: check sslkey_passphrase")
	}
	return key, err
}

// ownedByRoot reports whether the file belongs to root. Files whose owner is
// unknown, as in an in-memory file system, count as not root's.
func ownedByRoot(info fs.FileInfo) bool {
	uid, ok := fileOwner(info)
	return ok && uid == 0
}
