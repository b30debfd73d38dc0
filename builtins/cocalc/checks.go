package cocalc

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io/fs"
	"net"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/cocalcctl/cocalcctl/builtins/runtime"
)

// dbConfig is the database connection of the CoCalc hub, as given to
// cocalc.run.
type dbConfig struct {
	Host         string
	Port         int
	User         string
	Database     string
	PasswordFile string
	Auth         string // "password" or "cert"
	CAFile       string
	ClientCert   string
	ClientKey    string
	ServerCert   string

	// skipClientCN and skipClientKey leave out the checks that read the
	// client files, under --dry-run when they do not exist yet.
	skipClientCN, skipClientKey bool
}

// withoutMissing returns c with the files that do not exist yet left out of
// the checks that read them.
func (c dbConfig) withoutMissing(fsys runtime.FS) dbConfig {
	exists := func(p string) bool {
		_, err := fsys.Stat(p)
		return err == nil
	}
	if c.ServerCert != "" && !exists(c.ServerCert) {
		c.ServerCert = ""
	}
	if c.PasswordFile != "" && !exists(c.PasswordFile) {
		c.PasswordFile = ""
	}
	if c.ClientCert != "" && !exists(c.ClientCert) {
		c.skipClientCN = true
	}
	if c.ClientKey != "" && !exists(c.ClientKey) {
		c.skipClientKey = true
	}
	return c
}

func (c dbConfig) tls() bool { return c.CAFile != "" || c.ClientCert != "" || c.ClientKey != "" }

var dnsLabel = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)

// isDNSName reports whether s is a host name made of DNS labels, not an IP
// address.
func isDNSName(s string) bool {
	if s == "" || len(s) > 253 || net.ParseIP(s) != nil {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(s, "."), ".") {
		if !dnsLabel.MatchString(label) {
			return false
		}
	}
	return true
}

// check runs the checks that must hold before the hub starts. Each failure
// names the cause and the fix, because the hub itself would only retry
// forever or exit with a terse message. Under --dry-run (dryRun) files that
// do not exist yet are skipped, because earlier steps only would have made
// them.
func check(fsys runtime.FS, c dbConfig, dryRun bool) []string {
	var problems []string
	if dryRun {
		c = c.withoutMissing(fsys)
	}

	switch {
	case strings.Contains(c.Host, ":"):
		problems = append(problems, fmt.Sprintf("pghost %q contains a colon: the hub splits PGHOST at ':' on one path and not on another, "+
			"so a port or an IPv6 address in it breaks the connection; give a DNS name such as \"postgres\" and serve the database on port 5432", c.Host))
	case !isDNSName(c.Host):
		problems = append(problems, fmt.Sprintf("pghost %q is not a DNS name: the hub verifies the server certificate by name and psql 14 matches no IP addresses; "+
			"give the database container's network alias, such as \"postgres\"", c.Host))
	}
	if c.Port != 5432 {
		problems = append(problems, fmt.Sprintf("db_port is %d, but the hub connects to port 5432 on every path (it ignores PGPORT); "+
			"serve the database on 5432 inside the Docker network", c.Port))
	}
	if c.Auth != "password" && c.Auth != "cert" {
		problems = append(problems, fmt.Sprintf("auth is %q; want \"password\" or \"cert\"", c.Auth))
	}

	if (c.ClientCert != "" || c.ClientKey != "") && c.CAFile == "" {
		problems = append(problems, "client certificate files are set without ca_file: the hub then tells psql to use PGSSLROOTCERT=system, "+
			"which psql 14 reads as a file name and fails; pass ca_file, the CA certificate that signed the server certificate")
	}
	if (c.ClientCert == "") != (c.ClientKey == "") {
		problems = append(problems, "client_cert and client_key must be given together")
	}
	if c.Auth == "cert" && c.ClientCert == "" {
		problems = append(problems, "auth=\"cert\" needs client_cert and client_key: PostgreSQL's cert method logs in with the client certificate")
	}

	if c.tls() && c.ServerCert != "" {
		if names, err := certNames(fsys, c.ServerCert); err != nil {
			problems = append(problems, fmt.Sprintf("cannot read server_cert: %v", err))
		} else {
			for _, want := range []string{c.Host, "localhost"} {
				if !contains(names, want) {
					why := "psql and the hub's pool check the name in PGHOST"
					if want == "localhost" {
						why = "the hub's main connection dials the resolved IP address, so Node checks the name localhost"
					}
					problems = append(problems, fmt.Sprintf("the server certificate %s does not name %q (it names %s): %s; "+
						"issue it with dns=[%q, \"localhost\"]", c.ServerCert, want, strings.Join(names, ", "), why, c.Host))
				}
			}
		}
	}

	if c.Auth == "cert" && c.ClientCert != "" && !c.skipClientCN {
		if cn, err := certCN(fsys, c.ClientCert); err != nil {
			problems = append(problems, fmt.Sprintf("cannot read client_cert: %v", err))
		} else if cn != c.User {
			problems = append(problems, fmt.Sprintf("the client certificate's CN is %q but pguser is %q: under cert authentication PostgreSQL "+
				"requires them to be equal; issue the client certificate with common_name=%q", cn, c.User, c.User))
		}
	}
	if c.ClientKey != "" && !c.skipClientKey {
		if problem := checkClientKey(fsys, c.ClientKey); problem != "" {
			problems = append(problems, problem)
		}
	}

	if c.PasswordFile != "" {
		problems = append(problems, checkPasswordFile(fsys, c.PasswordFile)...)
	}
	return problems
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

func readCert(fsys runtime.FS, path string) (*x509.Certificate, error) {
	data, err := fsys.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return x509.ParseCertificate(block.Bytes)
}

func certNames(fsys runtime.FS, path string) ([]string, error) {
	cert, err := readCert(fsys, path)
	if err != nil {
		return nil, err
	}
	names := append([]string{}, cert.DNSNames...)
	for _, ip := range cert.IPAddresses {
		names = append(names, ip.String())
	}
	return names, nil
}

func certCN(fsys runtime.FS, path string) (string, error) {
	cert, err := readCert(fsys, path)
	if err != nil {
		return "", err
	}
	return cert.Subject.CommonName, nil
}

// checkClientKey returns a problem when the key is encrypted (the hub never
// gives psql the passphrase) or readable by others (psql refuses it).
func checkClientKey(fsys runtime.FS, path string) string {
	data, err := fsys.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("cannot read client_key: %v", err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return fmt.Sprintf("client_key %s holds no PEM key", path)
	}
	if block.Type == "ENCRYPTED PRIVATE KEY" || block.Headers["Proc-Type"] != "" {
		return fmt.Sprintf("client_key %s is protected by a passphrase, but the hub's psql start-up check is never given the passphrase "+
			"and the hub logs SMC_DB_SSL_CLIENT_KEY_PASSPHRASE; issue the client key without passphrase", path)
	}
	info, err := fsys.Stat(path)
	if err == nil && info.Mode().Perm()&0o077 != 0 {
		return fmt.Sprintf("client_key %s has mode %04o; psql refuses a key that others can read: run chmod 600 %s", path, info.Mode().Perm(), path)
	}
	return ""
}

func checkPasswordFile(fsys runtime.FS, path string) []string {
	var problems []string
	info, err := fsys.Stat(path)
	if err != nil {
		return []string{fmt.Sprintf("cannot read password_file: %v; create it with secret.file", err)}
	}
	if info.Mode().Perm() != 0o600 && info.Mode().Perm() != 0o400 {
		problems = append(problems, fmt.Sprintf("password_file %s has mode %04o; /projects is readable by every CoCalc user, so it must be 0600: run chmod 600 %s",
			path, info.Mode().Perm(), path))
	}
	if dir, err := fsys.Stat(filepath.Dir(path)); err == nil && dir.Mode().Perm()&0o077 != 0 {
		problems = append(problems, fmt.Sprintf("the folder of password_file %s has mode %04o; it must be 0700: run chmod 700 %s",
			filepath.Dir(path), dir.Mode().Perm()&fs.ModePerm, filepath.Dir(path)))
	}
	return problems
}
