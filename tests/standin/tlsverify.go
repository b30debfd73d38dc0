package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"

	"github.com/youmark/pkcs8"
)

// nodeRoots returns the CA pool Node would use: only the ca option when the
// hub passes one, otherwise the default roots plus NODE_EXTRA_CA_CERTS.
// The stand-in image has no public CA bundle, so the default roots are
// usually empty there.
func nodeRoots(cfg config) (*x509.CertPool, error) {
	if cfg.SSL.CA != nil {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(cfg.SSL.CA) {
			return nil, fmt.Errorf("SMC_DB_SSL_CA_FILE %s contains no PEM certificate", cfg.SSL.CAFile)
		}
		return pool, nil
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if cfg.ExtraCAFile != "" {
		// Node only warns when this file is unreadable.
		if content, err := os.ReadFile(cfg.ExtraCAFile); err == nil {
			pool.AppendCertsFromPEM(content)
		}
	}
	return pool, nil
}

// nodeTLSConfig returns the TLS settings node-postgres would use with the
// hub's ssl setting, checking the server certificate against checkName.
func nodeTLSConfig(cfg config, checkName string) (*tls.Config, error) {
	roots, err := nodeRoots(cfg)
	if err != nil {
		return nil, err
	}
	tlsConfig := &tls.Config{
		MinVersion: tls.VersionTLS12,
		// Verification happens in VerifyConnection, so that failures read
		// like Node's and the checked name can differ from the SNI name.
		InsecureSkipVerify: true,
		ServerName:         checkName,
	}
	if net.ParseIP(checkName) != nil {
		tlsConfig.ServerName = ""
	}
	if cfg.RejectUnauthorized {
		tlsConfig.VerifyConnection = func(state tls.ConnectionState) error {
			return verifyLikeNode(state.PeerCertificates, roots, checkName)
		}
	}

	if cfg.SSL.ClientCert != nil || cfg.SSL.ClientKey != nil {
		if cfg.SSL.ClientCert == nil || cfg.SSL.ClientKey == nil {
			return nil, errors.New("SMC_DB_SSL_CLIENT_CERT_FILE and SMC_DB_SSL_CLIENT_KEY_FILE must be set together")
		}
		pair, err := clientKeyPair(cfg.SSL.ClientCert, cfg.SSL.ClientKey, cfg.SSL.Passphrase)
		if err != nil {
			return nil, err
		}
		tlsConfig.Certificates = []tls.Certificate{pair}
	}
	return tlsConfig, nil
}

// clientKeyPair parses a PEM certificate and key, decrypting a PKCS #8 or
// legacy OpenSSL encrypted key with passphrase as Node does.
func clientKeyPair(certPEM, keyPEM []byte, passphrase string) (tls.Certificate, error) {
	block, _ := pem.Decode(keyPEM)
	if block == nil {
		return tls.Certificate{}, errors.New("client key file contains no PEM block")
	}
	var der []byte
	switch {
	case block.Type == "ENCRYPTED PRIVATE KEY":
		key, err := pkcs8.ParsePKCS8PrivateKey(block.Bytes, []byte(passphrase))
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("decrypt client key: %w", err)
		}
		der, err = x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("decrypt client key: %w", err)
		}
	// The legacy encryption is deprecated in Go but Node still reads it.
	case x509.IsEncryptedPEMBlock(block): //nolint:staticcheck
		var err error
		der, err = x509.DecryptPEMBlock(block, []byte(passphrase)) //nolint:staticcheck
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("decrypt client key: %w", err)
		}
		return keyPairFromDER(certPEM, der, block.Type)
	default:
		return tls.X509KeyPair(certPEM, keyPEM)
	}
	return keyPairFromDER(certPEM, der, "PRIVATE KEY")
}

func keyPairFromDER(certPEM, der []byte, blockType string) (tls.Certificate, error) {
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: der})
	return tls.X509KeyPair(certPEM, keyPEM)
}

// verifyLikeNode checks the chain and the name as Node's TLS client does
// and words failures as Node does, with Node's error code at the end.
func verifyLikeNode(chain []*x509.Certificate, roots *x509.CertPool, checkName string) error {
	if len(chain) == 0 {
		return errors.New("server sent no certificate")
	}
	if err := verifyChain(chain, roots); err != nil {
		return nodeChainError(chain, err)
	}

	leaf := chain[0]
	if ip := net.ParseIP(checkName); ip != nil {
		for _, certIP := range leaf.IPAddresses {
			if certIP.Equal(ip) {
				return nil
			}
		}
		return fmt.Errorf("Hostname/IP does not match certificate's altnames: IP: %s is not in the cert's list: %s (ERR_TLS_CERT_ALTNAME_INVALID)",
			checkName, joinIPs(leaf.IPAddresses))
	}
	if len(leaf.DNSNames) > 0 || len(leaf.IPAddresses) > 0 {
		for _, pattern := range leaf.DNSNames {
			if matchHostname(pattern, checkName) {
				return nil
			}
		}
		return fmt.Errorf("Hostname/IP does not match certificate's altnames: Host: %s. is not in the cert's altnames: %s (ERR_TLS_CERT_ALTNAME_INVALID)",
			checkName, altNames(leaf))
	}
	if matchHostname(leaf.Subject.CommonName, checkName) {
		return nil
	}
	return fmt.Errorf("Hostname/IP does not match certificate's altnames: Host: %s. is not cert's CN: %s (ERR_TLS_CERT_ALTNAME_INVALID)",
		checkName, leaf.Subject.CommonName)
}

func verifyChain(chain []*x509.Certificate, roots *x509.CertPool) error {
	intermediates := x509.NewCertPool()
	for _, cert := range chain[1:] {
		intermediates.AddCert(cert)
	}
	_, err := chain[0].Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: intermediates,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	return err
}

// nodeChainError words a chain failure as OpenSSL does inside Node.
func nodeChainError(chain []*x509.Certificate, err error) error {
	var invalid x509.CertificateInvalidError
	if errors.As(err, &invalid) && invalid.Reason == x509.Expired {
		if strings.Contains(invalid.Detail, "is before") {
			return errors.New("certificate is not yet valid (CERT_NOT_YET_VALID)")
		}
		return errors.New("certificate has expired (CERT_HAS_EXPIRED)")
	}
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		return fmt.Errorf("certificate verification failed: %w", err)
	}
	switch {
	case isSelfSigned(chain[0]):
		return errors.New("self-signed certificate (DEPTH_ZERO_SELF_SIGNED_CERT)")
	case len(chain) > 1 && isSelfSigned(chain[len(chain)-1]):
		return errors.New("self-signed certificate in certificate chain (SELF_SIGNED_CERT_IN_CHAIN)")
	case len(chain) == 1:
		return errors.New("unable to verify the first certificate (UNABLE_TO_VERIFY_LEAF_SIGNATURE)")
	default:
		return errors.New("unable to get local issuer certificate (UNABLE_TO_GET_ISSUER_CERT_LOCALLY)")
	}
}

func isSelfSigned(cert *x509.Certificate) bool {
	return bytes.Equal(cert.RawIssuer, cert.RawSubject) && cert.CheckSignatureFrom(cert) == nil
}

// matchHostname compares a certificate name with a host name, case
// insensitively, with a wildcard allowed only as the whole first label.
func matchHostname(pattern, host string) bool {
	pattern = strings.ToLower(strings.TrimSuffix(pattern, "."))
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if pattern == "" || host == "" {
		return false
	}
	if suffix, ok := strings.CutPrefix(pattern, "*."); ok {
		label, rest, found := strings.Cut(host, ".")
		return found && label != "" && rest == suffix
	}
	return pattern == host
}

func altNames(cert *x509.Certificate) string {
	var names []string
	for _, name := range cert.DNSNames {
		names = append(names, "DNS:"+name)
	}
	for _, ip := range cert.IPAddresses {
		names = append(names, "IP Address:"+ip.String())
	}
	return strings.Join(names, ", ")
}

func joinIPs(ips []net.IP) string {
	var parts []string
	for _, ip := range ips {
		parts = append(parts, ip.String())
	}
	return strings.Join(parts, ", ")
}

// verifyLikeLibpq14 checks the chain and then the name as libpq 14 does
// under sslmode=verify-full: DNS names from the subject alternative names,
// or the CN when there are none. IP address SANs count only from libpq 15,
// so a host given as an IP address matches only a DNS name spelled the same.
func verifyLikeLibpq14(chain []*x509.Certificate, roots *x509.CertPool, host string, checkName bool) error {
	if len(chain) == 0 {
		return errors.New("server sent no certificate")
	}
	if err := verifyChain(chain, roots); err != nil {
		return fmt.Errorf("SSL error: certificate verify failed (%v)", err)
	}
	if !checkName {
		return nil
	}

	leaf := chain[0]
	names := leaf.DNSNames
	if len(names) == 0 {
		names = []string{leaf.Subject.CommonName}
	}
	for _, name := range names {
		if matchHostname(name, host) {
			return nil
		}
	}
	switch others := len(names) - 1; others {
	case 0:
		return fmt.Errorf("server certificate for %q does not match host name %q", names[0], host)
	case 1:
		return fmt.Errorf("server certificate for %q (and 1 other name) does not match host name %q", names[0], host)
	default:
		return fmt.Errorf("server certificate for %q (and %d other names) does not match host name %q", names[0], others, host)
	}
}

// checkKeyFileMode applies libpq's rule for client key files: a key owned by
// root may be u=rw,g=r (0640) or less, any other key u=rw (0600) or less.
// The message is libpq's.
func checkKeyFileMode(path string) error {
	info, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("certificate present, but not private key file %q", path)
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("private key file %q is not a regular file", path)
	}
	mode := uint32(info.Mode().Perm())
	ownerIsRoot := false
	if stat, ok := info.Sys().(*syscall.Stat_t); ok {
		ownerIsRoot = stat.Uid == 0
	}
	var forbidden uint32 = 0o077
	if ownerIsRoot {
		forbidden = 0o037
	}
	if mode&forbidden != 0 {
		return fmt.Errorf("private key file %q has group or world access; file must have permissions u=rw (0600) or less "+
			"if owned by the current user, or permissions u=rw,g=r (0640) or less if owned by root", path)
	}
	return nil
}
