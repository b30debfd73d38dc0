package pki

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/cocalcctl/cocalcctl/builtins/runtime"
)

// The roles a certificate is made for. A role decides the key usage, the
// extended key usage and the basic constraints.
const (
	roleCA     = "ca"
	roleServer = "server"
	roleClient = "client"
)

// backdate moves NotBefore into the past, so that a peer whose clock is a
// little behind still accepts a certificate issued a moment ago.
const backdate = 5 * time.Minute

// maxDays bounds days, so that NotAfter stays a sensible date.
const maxDays = 36500

// request is the certificate and key that one pki.ca or ca.issue call
// requests.
type request struct {
	certPath, keyPath string
	commonName        string
	names             subjectNames // leaf certificates only
	role              string
	keyType           string
	days              int
	renewBefore       int // days before NotAfter that a rerun warns

	// passphrase encrypts the key when not empty. passphraseUnknown is set
	// under --dry-run when the passphrase is itself made by this run, so
	// no existing key can be encrypted with it.
	passphrase        []byte
	passphraseUnknown bool

	// issuer signs the certificate; nil for the self-signed CA.
	issuer *CA
}

func (r *request) certName() string { return filepath.Base(r.certPath) }
func (r *request) keyName() string  { return filepath.Base(r.keyPath) }

// existing describes the files of a request as they are on disk.
type existing struct {
	// found is set when the certificate or the key file exists.
	found bool
	cert  *x509.Certificate
	key   crypto.Signer

	// diffs lists how the files differ from the request; force=True
	// replaces them.
	diffs []string

	// keyMismatch is set when the key does not belong to the certificate.
	keyMismatch bool

	// renewal is the warning, with the expiry date, for a valid certificate
	// inside its renewal window. It is empty otherwise.
	renewal string

	// warnings are problems that leave the files usable.
	warnings []string
}

// usable reports whether the files can be reused as they are.
func (e *existing) usable() bool { return e.found && len(e.diffs) == 0 }

// examine reads the certificate and key of req and compares them with the
// request at time now. Only I/O errors other than a missing file are returned
// as errors; everything else is a difference.
func examine(fsys runtime.FS, req *request, now time.Time) (*existing, error) {
	ex := &existing{}
	certPEM, certErr := readOptional(fsys, req.certPath)
	keyPEM, keyErr := readOptional(fsys, req.keyPath)
	if certErr != nil {
		return nil, certErr
	}
	if keyErr != nil {
		return nil, keyErr
	}
	if certPEM == nil && keyPEM == nil {
		return ex, nil
	}
	ex.found = true

	if certPEM == nil {
		ex.diffs = append(ex.diffs, req.certName()+" is missing")
	} else if cert, err := parseCertPEM(certPEM); err != nil {
		ex.diffs = append(ex.diffs, fmt.Sprintf("%s is not a valid certificate: %v", req.certName(), err))
	} else {
		ex.cert = cert
	}

	if keyPEM == nil {
		ex.diffs = append(ex.diffs, req.keyName()+" is missing")
	} else {
		ex.key = examineKey(ex, req, keyPEM)
		if info, err := fsys.Stat(req.keyPath); err == nil && info.Mode().Perm()&0o077 != 0 {
			ex.warnings = append(ex.warnings, fmt.Sprintf(
				"%s has mode %04o, so other users can read the private key; run `chmod 600 %s`, "+
					"and if others may have read it, delete %s and %s so that the next run issues new ones",
				req.keyPath, info.Mode().Perm(), req.keyPath, req.certName(), req.keyName()))
		}
	}

	if ex.cert != nil {
		if ex.key != nil && !sameKey(ex.cert.PublicKey, ex.key.Public()) {
			ex.keyMismatch = true
			ex.diffs = append(ex.diffs, fmt.Sprintf("%s does not belong to %s", req.keyName(), req.certName()))
		}
		ex.diffs = append(ex.diffs, compareCert(ex.cert, req, now)...)
		if len(ex.diffs) == 0 {
			ex.renewal = renewalNotice(ex.cert, req, now)
		}
	}
	return ex, nil
}

// examineKey parses the key file and records its differences from the
// request in ex. It returns the key when it could be read.
func examineKey(ex *existing, req *request, keyPEM []byte) crypto.Signer {
	if req.passphraseUnknown {
		ex.diffs = append(ex.diffs, fmt.Sprintf("%s was not encrypted with the passphrase, which this run would create", req.keyName()))
		return nil
	}
	key, encrypted, err := parseKeyPEM(keyPEM, req.passphrase)
	switch {
	case errors.Is(err, ErrKeyEncrypted):
		ex.diffs = append(ex.diffs, fmt.Sprintf("%s is encrypted, but no passphrase was given", req.keyName()))
		return nil
	case errors.Is(err, ErrWrongPassphrase):
		ex.diffs = append(ex.diffs, fmt.Sprintf("%s cannot be decrypted with the passphrase given", req.keyName()))
		return nil
	case err != nil:
		ex.diffs = append(ex.diffs, fmt.Sprintf("%s is not a valid private key: %v", req.keyName(), err))
		return nil
	}
	if !encrypted && len(req.passphrase) > 0 {
		ex.diffs = append(ex.diffs, fmt.Sprintf("%s is not encrypted, but a passphrase was given", req.keyName()))
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		ex.diffs = append(ex.diffs, fmt.Sprintf("%s holds a key that cannot sign", req.keyName()))
		return nil
	}
	return signer
}

// compareCert lists how cert differs from req at time now.
func compareCert(cert *x509.Certificate, req *request, now time.Time) []string {
	var diffs []string
	name := req.certName()

	if now.After(cert.NotAfter) {
		diffs = append(diffs, fmt.Sprintf("%s expired on %s", name, formatTime(cert.NotAfter)))
	}
	if now.Before(cert.NotBefore) {
		diffs = append(diffs, fmt.Sprintf("%s is not valid before %s", name, formatTime(cert.NotBefore)))
	}
	if cert.Subject.CommonName != req.commonName {
		diffs = append(diffs, fmt.Sprintf("common name is %q, want %q", cert.Subject.CommonName, req.commonName))
	}
	if got := keyTypeOf(cert.PublicKey); got != req.keyType {
		diffs = append(diffs, fmt.Sprintf("key type is %s, want %s", got, req.keyType))
	}

	if req.role == roleCA {
		if !cert.BasicConstraintsValid || !cert.IsCA || cert.KeyUsage&x509.KeyUsageCertSign == 0 {
			diffs = append(diffs, fmt.Sprintf("%s is not a CA certificate (it lacks CA:TRUE or the keyCertSign usage)", name))
		}
		return diffs
	}

	if !sameDNSNames(cert.DNSNames, req.names.DNS) {
		diffs = append(diffs, fmt.Sprintf("DNS names are %s, want %s", listText(cert.DNSNames), listText(req.names.DNS)))
	}
	if !sameIPs(cert.IPAddresses, req.names.IPs) {
		diffs = append(diffs, fmt.Sprintf("IP addresses are %s, want %s", listText(ipStrings(cert.IPAddresses)), listText(ipStrings(req.names.IPs))))
	}
	if got := roleOf(cert); got != req.role {
		diffs = append(diffs, fmt.Sprintf("usage is %s, want %s", got, req.role))
	} else if want := keyUsageFor(req.role, cert.PublicKey); cert.KeyUsage&want != want {
		diffs = append(diffs, fmt.Sprintf("key usage is %s, want at least %s",
			listText(keyUsageNames(cert.KeyUsage)), listText(keyUsageNames(want))))
	}
	diffs = append(diffs, compareIssuer(cert, req.issuer)...)
	return diffs
}

// compareIssuer checks that cert was signed by ca.
func compareIssuer(cert *x509.Certificate, ca *CA) []string {
	if ca.pending {
		return []string{fmt.Sprintf("it was not signed by the new CA that this run would make in %s", ca.dir)}
	}
	if !bytes.Equal(cert.RawIssuer, ca.cert.RawSubject) || cert.CheckSignatureFrom(ca.cert) != nil {
		return []string{fmt.Sprintf("it was not signed by the CA in %s (issuer %q)", ca.dir, cert.Issuer.String())}
	}
	return nil
}

// renewalNotice returns a warning when cert is inside its renewal window at
// time now, and "" otherwise.
func renewalNotice(cert *x509.Certificate, req *request, now time.Time) string {
	window := time.Duration(req.renewBefore) * 24 * time.Hour
	if now.Before(cert.NotAfter.Add(-window)) {
		return ""
	}
	left := int(cert.NotAfter.Sub(now).Hours() / 24)
	return fmt.Sprintf("%s expires on %s, in %d days (renew_before_days=%d); it is valid until then; "+
		"pass force=True to replace it", req.certPath, formatTime(cert.NotAfter), left, req.renewBefore)
}

// roleOf names the role a certificate was made for, from its basic
// constraints and extended key usage.
func roleOf(cert *x509.Certificate) string {
	if cert.IsCA {
		return roleCA
	}
	server := slices.Contains(cert.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
	client := slices.Contains(cert.ExtKeyUsage, x509.ExtKeyUsageClientAuth)
	switch {
	case len(cert.ExtKeyUsage) != 1 || len(cert.UnknownExtKeyUsage) > 0:
		names := extKeyUsageNames(cert)
		if len(names) == 0 {
			return "unrestricted (no extended key usage)"
		}
		return strings.Join(names, " and ")
	case server:
		return roleServer
	case client:
		return roleClient
	}
	return strings.Join(extKeyUsageNames(cert), " and ")
}

// keyUsageFor returns the key usage bits of a role. RSA server keys also get
// keyEncipherment for TLS 1.2 key exchange by RSA encryption.
func keyUsageFor(role string, pub crypto.PublicKey) x509.KeyUsage {
	switch role {
	case roleCA:
		return x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	case roleServer:
		if _, isRSA := pub.(*rsa.PublicKey); isRSA {
			return x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
		}
	}
	return x509.KeyUsageDigitalSignature
}

// extKeyUsageFor returns the extended key usage of a role; a CA has none.
func extKeyUsageFor(role string) []x509.ExtKeyUsage {
	switch role {
	case roleServer:
		return []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	case roleClient:
		return []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	return nil
}

// newSerial returns a random positive 128-bit serial number.
func newSerial() (*big.Int, error) {
	buf := make([]byte, 16)
	for {
		if _, err := rand.Read(buf); err != nil {
			return nil, err
		}
		if n := new(big.Int).SetBytes(buf); n.Sign() > 0 {
			return n, nil
		}
	}
}

// issued is a new certificate and key, encoded as they are written.
type issued struct {
	cert    *x509.Certificate
	key     crypto.Signer
	certPEM []byte
	keyPEM  []byte
	clamped bool // NotAfter was cut to the issuer's NotAfter
}

// makeCert generates a key and a certificate for req at time now, signed by
// req.issuer or, for the CA, by the new key itself.
func makeCert(req *request, now time.Time) (*issued, error) {
	key, err := generateKey(req.keyType)
	if err != nil {
		return nil, err
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	keyID, err := subjectKeyID(key.Public())
	if err != nil {
		return nil, err
	}

	now = now.UTC().Truncate(time.Second)
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: req.commonName},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(time.Duration(req.days) * 24 * time.Hour),
		KeyUsage:              keyUsageFor(req.role, key.Public()),
		ExtKeyUsage:           extKeyUsageFor(req.role),
		BasicConstraintsValid: true,
		SubjectKeyId:          keyID,
		DNSNames:              req.names.DNS,
		IPAddresses:           req.names.IPs,
	}
	out := &issued{key: key}

	parent, signer := tmpl, key
	if req.role == roleCA {
		tmpl.IsCA = true
		tmpl.MaxPathLen = 0
		tmpl.MaxPathLenZero = true
		// Go leaves the authority key identifier out of self-signed
		// certificates unless the template sets it.
		tmpl.AuthorityKeyId = keyID
	} else {
		parent, signer = req.issuer.cert, req.issuer.key
		if tmpl.NotAfter.After(parent.NotAfter) {
			tmpl.NotAfter = parent.NotAfter
			out.clamped = true
		}
	}

	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), signer)
	if err != nil {
		return nil, fmt.Errorf("cannot sign the certificate: %w", err)
	}
	if out.cert, err = x509.ParseCertificate(der); err != nil {
		return nil, err
	}
	out.certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if out.keyPEM, err = marshalKeyPEM(key, req.passphrase); err != nil {
		return nil, fmt.Errorf("cannot encode the private key: %w", err)
	}
	return out, nil
}

// write stores the key (0600) and then the certificate (0644), creating
// their folder with mode 0700 when it is missing. The key goes first so that
// a new certificate never sits next to an old key.
func (m *issued) write(fsys runtime.FS, req *request) error {
	dir := filepath.Dir(req.keyPath)
	if err := fsys.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("cannot create the folder %s: %w", dir, err)
	}
	if err := fsys.WriteFile(req.keyPath, m.keyPEM, 0o600); err != nil {
		return fmt.Errorf("cannot write %s: %w", req.keyPath, err)
	}
	if err := fsys.WriteFile(req.certPath, m.certPEM, 0o644); err != nil {
		return fmt.Errorf("cannot write %s: %w", req.certPath, err)
	}
	return nil
}

// readOptional reads a file, returning nil data and no error when it does
// not exist.
func readOptional(fsys runtime.FS, path string) ([]byte, error) {
	data, err := fsys.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", path, err)
	}
	return data, nil
}

// formatTime renders a certificate time for messages.
func formatTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }

// listText renders names for messages, such as [postgres, localhost].
func listText(names []string) string { return "[" + strings.Join(names, ", ") + "]" }
