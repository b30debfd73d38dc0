// Package pki is the Starlark module `pki`: a small local certificate
// authority that issues the TLS certificates of a PostgreSQL server and its
// clients, with Go's crypto packages and no openssl process. Its files are
// read and written through the run's runtime.FS and dated by its Clock.
//
// ParsePrivateKeyPEM is exported for the modules that read the keys pki
// writes, encrypted ones included.
package pki

import "github.com/cocalcctl/cocalcctl/builtins/runtime"

// Module declares the pki module.
var Module = runtime.Module{
	Name: "pki",
	Doc: "A local certificate authority (CA) for TLS between PostgreSQL, CoCalc and cocalcctl. " +
		"`pki.ca` makes or reuses a CA in a folder, and its `issue` method makes or reuses server and client " +
		"certificates signed by it. Files that already match the request are reused, so a rerun changes " +
		"nothing and keeps every key. Key types: " + "`ecdsa-p256` (the default), `ecdsa-p384`, `rsa2048`, " +
		"`rsa3072`, `rsa4096` and `ed25519`; weaker keys are rejected. Private keys are written with mode 0600, " +
		"certificates with 0644. See docs/pki.md for a walk-through.",
	Builtins: []runtime.Builtin{
		{Name: "pki.ca", Fn: ca, Doc: `pki.ca(dir, common_name="cocalcctl CA", days=3650, key_type="ecdsa-p256", renew_before_days=30, force=False)

Ensures a certificate authority in the folder dir (relative to the script's folder): the self-signed
certificate dir/ca.crt (mode 0644) and its private key dir/ca.key (mode 0600). A missing folder is
created with mode 0700. The certificate has the subject CN=common_name, basic constraints CA:TRUE with
path length 0, the key usages keyCertSign and cRLSign, and subject and authority key identifiers.
It is valid from 5 minutes before it is made (for clocks that lag behind) for days days.

A rerun reuses existing files when they parse, the key belongs to the certificate, the certificate
is a CA certificate that has not expired, and it has the requested common_name and key_type; the
step reports unchanged. days does not count, so a rerun with other days keeps the CA.
Files that differ are reported as drift, with every difference, and left unchanged; the run stops.
A ca.key that does not belong to ca.crt is an error. force=True replaces such files with a new CA,
which is destructive (certificates the old CA signed stop verifying): the step asks for
confirmation and needs --yes without a terminal.

The step reports a warning, and still reuses the CA, when it expires within renew_before_days
days (force=True then replaces it), when the folder can be reached by other users (mode wider than
0700), or when ca.key can be read by other users.

Returns a CA value with the attributes dir, cert_file, key_file, common_name, key_type, not_after
(RFC 3339, UTC) and fingerprint ("sha256:" and the hex SHA-256 of the certificate's DER encoding),
and the method issue. Under --dry-run nothing is written, and a CA that would be created or
replaced has an unknown not_after and fingerprint.`},
		{Name: "ca.issue", Doc: `ca.issue(name, common_name, dns=[], ips=[], usage="server", days=1825, passphrase=None, key_type=None, force=False, renew_before_days=None)

Ensures a certificate signed by the CA, with its private key, in the CA's folder: name.crt
(mode 0644) and name.key (mode 0600). name may contain letters, digits, '.', '-' and '_', and may not
be "ca".

The certificate has the subject CN=common_name and always has subject alternative names (SANs): the
DNS names in dns and the IP addresses in ips. With neither, the common name becomes the only SAN
when it is a DNS name or an IP address, and otherwise the call is an error. TLS clients check the
server's name against the SANs only, so give a server every name its clients connect to (for
PostgreSQL in a container, its container name and "localhost").

usage is "server" (extended key usage serverAuth; key usage digitalSignature, plus keyEncipherment
for RSA keys) or "client" (clientAuth; digitalSignature). For PostgreSQL's cert authentication the
common_name of a client certificate is the database role.

key_type defaults to the CA's key type. days is the lifetime, cut to the CA's own expiry. The
serial number is 128 random bits.

passphrase (a secret or a string of at least 4 characters) writes the key as encrypted PKCS#8:
PBES2 with PBKDF2-HMAC-SHA256 (600,000 iterations) and AES-256-CBC, a format OpenSSL reads (and with
it libpq and Node). Without it the key is unencrypted PKCS#8.

A rerun reuses existing files when they parse, the key belongs to the certificate (and decrypts
with the passphrase, when one is given), the certificate has not expired, was signed by this CA,
and has the requested common_name, SANs, usage, key type and encryption; the step reports
unchanged. days does not count. Files that differ are reported as drift, with every difference,
and left unchanged; the run stops. force=True replaces them, which is destructive: the step asks
for confirmation and needs --yes without a terminal.

The step reports a warning, and still reuses the files, when the certificate expires within
renew_before_days days (default: the CA's; force=True then replaces it) or when name.key can be
read by other users.

Returns a certificate value with the attributes name, cert_file, key_file, ca_file, common_name,
dns, ips, usage, key_type, encrypted, not_after and fingerprint. Under --dry-run nothing is
written, and a certificate that would be created or replaced has an unknown not_after and
fingerprint.`},
		{Name: "pki.inspect", Fn: inspect, Doc: `pki.inspect(path)

Returns the facts of the first certificate in the PEM file path (or of the cert_file of a value
from pki.ca or ca.issue) as a struct: subject, common_name, dns, ips, issuer, usages (key usages
and extended key usages in RFC 5280 names, such as "digitalSignature" and "serverAuth"),
not_before and not_after (RFC 3339, UTC), serial (hex), fingerprint ("sha256:" and hex), is_ca
and key_type. Not a step. Under --dry-run a missing file gives an unknown value, because an
earlier step may create it.`},
	},
}
