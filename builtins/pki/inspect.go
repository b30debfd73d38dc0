package pki

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/cocalcctl/cocalcctl/builtins/runtime"
)

func inspect(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var target starlark.Value
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "path", &target); err != nil {
		return nil, err
	}

	var path string
	switch t := target.(type) {
	case starlark.String:
		path = string(t)
	case *Certificate, *CA:
		v, _ := t.(starlark.HasAttrs).Attr("cert_file")
		path = string(v.(starlark.String))
	default:
		return nil, fmt.Errorf("%s: path must be a string or a value of pki.ca or ca.issue, got %s", b.Name(), target.Type())
	}
	if path == "" {
		return nil, fmt.Errorf("%s: path is empty; name a PEM certificate file", b.Name())
	}

	env := runtime.EnvOf(thread)
	path = runtime.ResolvePath(env, path)
	data, err := env.FS.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && env.DryRun {
		// An earlier step may create the file when the run is real.
		return runtime.NewUnknown(thread, fmt.Sprintf("%s(%q)", b.Name(), path)), nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: cannot read %s: %w", b.Name(), path, err)
	}
	cert, err := parseCertPEM(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", b.Name(), path, err)
	}
	return starlarkstruct.FromStringDict(starlarkstruct.Default, describe(cert)), nil
}

// describe lists the facts of cert that pki.inspect returns.
func describe(cert *x509.Certificate) starlark.StringDict {
	ips := make([]string, len(cert.IPAddresses))
	for i, ip := range cert.IPAddresses {
		ips[i] = ip.String()
	}
	usages := append(keyUsageNames(cert.KeyUsage), extKeyUsageNames(cert)...)

	return starlark.StringDict{
		"subject":     starlark.String(cert.Subject.String()),
		"common_name": starlark.String(cert.Subject.CommonName),
		"dns":         stringsValue(cert.DNSNames),
		"ips":         stringsValue(ips),
		"issuer":      starlark.String(cert.Issuer.String()),
		"usages":      stringsValue(usages),
		"not_before":  starlark.String(formatRFC3339(cert.NotBefore)),
		"not_after":   starlark.String(formatRFC3339(cert.NotAfter)),
		"serial":      starlark.String(hex.EncodeToString(cert.SerialNumber.Bytes())),
		"fingerprint": starlark.String(fingerprint(cert)),
		"is_ca":       starlark.Bool(cert.BasicConstraintsValid && cert.IsCA),
		"key_type":    starlark.String(keyTypeOf(cert.PublicKey)),
	}
}

// fingerprint returns "sha256:" and the lowercase hex SHA-256 hash of the
// certificate's DER encoding, the value `openssl x509 -fingerprint -sha256`
// prints with colons and in upper case.
func fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func formatRFC3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func stringsValue(items []string) *starlark.List {
	vals := make([]starlark.Value, len(items))
	for i, s := range items {
		vals[i] = starlark.String(s)
	}
	l := starlark.NewList(vals)
	l.Freeze()
	return l
}

// keyUsageBits names the key usage bits as RFC 5280 does.
var keyUsageBits = []struct {
	bit  x509.KeyUsage
	name string
}{
	{x509.KeyUsageDigitalSignature, "digitalSignature"},
	{x509.KeyUsageContentCommitment, "contentCommitment"},
	{x509.KeyUsageKeyEncipherment, "keyEncipherment"},
	{x509.KeyUsageDataEncipherment, "dataEncipherment"},
	{x509.KeyUsageKeyAgreement, "keyAgreement"},
	{x509.KeyUsageCertSign, "keyCertSign"},
	{x509.KeyUsageCRLSign, "cRLSign"},
	{x509.KeyUsageEncipherOnly, "encipherOnly"},
	{x509.KeyUsageDecipherOnly, "decipherOnly"},
}

func keyUsageNames(ku x509.KeyUsage) []string {
	var out []string
	for _, b := range keyUsageBits {
		if ku&b.bit != 0 {
			out = append(out, b.name)
		}
	}
	return out
}

// extKeyUsageNames names the extended key usages of cert as RFC 5280 does;
// usages Go does not know are given by OID.
func extKeyUsageNames(cert *x509.Certificate) []string {
	names := map[x509.ExtKeyUsage]string{
		x509.ExtKeyUsageAny:             "anyExtendedKeyUsage",
		x509.ExtKeyUsageServerAuth:      "serverAuth",
		x509.ExtKeyUsageClientAuth:      "clientAuth",
		x509.ExtKeyUsageCodeSigning:     "codeSigning",
		x509.ExtKeyUsageEmailProtection: "emailProtection",
		x509.ExtKeyUsageTimeStamping:    "timeStamping",
		x509.ExtKeyUsageOCSPSigning:     "OCSPSigning",
	}
	var out []string
	for _, u := range cert.ExtKeyUsage {
		if n, ok := names[u]; ok {
			out = append(out, n)
		} else {
			out = append(out, fmt.Sprintf("extKeyUsage(%d)", u))
		}
	}
	for _, oid := range cert.UnknownExtKeyUsage {
		out = append(out, oid.String())
	}
	return out
}
