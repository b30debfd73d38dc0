package pki_test

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cocalcctl/cocalcctl/builtins/pki"
	"github.com/cocalcctl/cocalcctl/builtins/runtime/runtimetest"
	"github.com/cocalcctl/cocalcctl/builtins/secret"
)

// tutorialSet issues the certificates of the tutorial: a CA, a server
// certificate for the container "postgres" and a client certificate for the
// role "cocalc". It records their fingerprints with print().
const tutorialSet = `
def main():
    ca = pki.ca("certs")
    server = ca.issue("server", "postgres", dns=["postgres", "localhost"])
    client = ca.issue("client", "cocalc", usage="client")
    print("ca", ca.fingerprint)
    print("server", server.fingerprint)
    print("client", client.fingerprint)
`

func newFixture(t *testing.T) *runtimetest.Fixture {
	t.Helper()
	return runtimetest.New(t, pki.Module, secret.Module)
}

func mustCert(t *testing.T, f *runtimetest.Fixture, path string) *x509.Certificate {
	t.Helper()
	data, err := f.FS.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	cert, err := pki.ParseCertificatePEM(data)
	if err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	return cert
}

func mode(t *testing.T, f *runtimetest.Fixture, path string) fs.FileMode {
	t.Helper()
	info, err := f.FS.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return info.Mode().Perm()
}

// printed returns the lines print() wrote, which the fixture captures on
// stderr next to the step lines.
func printed(f *runtimetest.Fixture, prefix string) []string {
	var out []string
	for _, line := range strings.Split(f.Stderr.String(), "\n") {
		if strings.HasPrefix(line, prefix) {
			out = append(out, line)
		}
	}
	return out
}

func wantContains(t *testing.T, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("output does not contain %q:\n%s", w, got)
		}
	}
}

func TestCAFilesAndModes(t *testing.T) {
	f := newFixture(t)
	f.MustRun(`
def main():
    ca = pki.ca("certs")
    if ca.cert_file != "/work/certs/ca.crt" or ca.key_file != "/work/certs/ca.key":
        fail("paths: %s %s" % (ca.cert_file, ca.key_file))
    if ca.common_name != "cocalcctl CA" or ca.dir != "/work/certs":
        fail("attrs: %s %s" % (ca.common_name, ca.dir))
    if not ca.fingerprint.startswith("sha256:") or len(ca.fingerprint) != 7 + 64:
        fail("fingerprint: " + ca.fingerprint)
    if ca.not_after != "2035-12-31T03:04:05Z":
        fail("not_after: " + ca.not_after)
`)
	if got := mode(t, f, "/work/certs"); got != 0o700 {
		t.Errorf("folder mode %04o, want 0700", got)
	}
	if got := mode(t, f, "/work/certs/ca.crt"); got != 0o644 {
		t.Errorf("ca.crt mode %04o, want 0644", got)
	}
	if got := mode(t, f, "/work/certs/ca.key"); got != 0o600 {
		t.Errorf("ca.key mode %04o, want 0600", got)
	}
	if got := f.Statuses(); !slices.Equal(got, []string{"created"}) {
		t.Errorf("statuses %v, want [created]", got)
	}
}

func TestCACertificateExtensions(t *testing.T) {
	f := newFixture(t)
	f.MustRun(`pki.ca("certs", common_name="Test CA")`)
	cert := mustCert(t, f, "/work/certs/ca.crt")

	if cert.Subject.CommonName != "Test CA" {
		t.Errorf("CN %q, want Test CA", cert.Subject.CommonName)
	}
	if !cert.BasicConstraintsValid || !cert.IsCA {
		t.Error("basic constraints: want CA:TRUE")
	}
	if cert.MaxPathLen != 0 || !cert.MaxPathLenZero {
		t.Errorf("path length %d (zero=%v), want 0", cert.MaxPathLen, cert.MaxPathLenZero)
	}
	if cert.KeyUsage != x509.KeyUsageCertSign|x509.KeyUsageCRLSign {
		t.Errorf("key usage %b, want keyCertSign and cRLSign", cert.KeyUsage)
	}
	if len(cert.SubjectKeyId) == 0 || !bytes.Equal(cert.SubjectKeyId, cert.AuthorityKeyId) {
		t.Errorf("subject key id %x and authority key id %x: want both, equal", cert.SubjectKeyId, cert.AuthorityKeyId)
	}
	if err := cert.CheckSignatureFrom(cert); err != nil {
		t.Errorf("CA is not self-signed: %v", err)
	}
	if want := runtimetest.Epoch.Add(-5 * time.Minute); !cert.NotBefore.Equal(want) {
		t.Errorf("not before %s, want %s", cert.NotBefore, want)
	}
	if want := runtimetest.Epoch.AddDate(0, 0, 3650); !cert.NotAfter.Equal(want) {
		t.Errorf("not after %s, want %s", cert.NotAfter, want)
	}
	if cert.PublicKeyAlgorithm != x509.ECDSA {
		t.Errorf("key algorithm %s, want ECDSA", cert.PublicKeyAlgorithm)
	}
}

func TestIssueServerCertificate(t *testing.T) {
	f := newFixture(t)
	f.MustRun(`
def main():
    ca = pki.ca("certs")
    c = ca.issue("server", "postgres", dns=["postgres", "localhost"], ips=["127.0.0.1", "::1"])
    if c.cert_file != "/work/certs/server.crt" or c.key_file != "/work/certs/server.key":
        fail("paths: %s %s" % (c.cert_file, c.key_file))
    if c.ca_file != ca.cert_file or c.common_name != "postgres":
        fail("attrs: %s %s" % (c.ca_file, c.common_name))
    if c.dns != ["postgres", "localhost"] or c.ips != ["127.0.0.1", "::1"]:
        fail("names: %s %s" % (c.dns, c.ips))
    if c.usage != "server" or c.key_type != "ecdsa-p256" or c.encrypted:
        fail("usage: %s %s %s" % (c.usage, c.key_type, c.encrypted))
`)
	ca := mustCert(t, f, "/work/certs/ca.crt")
	cert := mustCert(t, f, "/work/certs/server.crt")

	if got := mode(t, f, "/work/certs/server.key"); got != 0o600 {
		t.Errorf("server.key mode %04o, want 0600", got)
	}
	if got := mode(t, f, "/work/certs/server.crt"); got != 0o644 {
		t.Errorf("server.crt mode %04o, want 0644", got)
	}
	if err := cert.CheckSignatureFrom(ca); err != nil {
		t.Errorf("server.crt is not signed by ca.crt: %v", err)
	}
	if cert.Subject.CommonName != "postgres" {
		t.Errorf("CN %q, want postgres", cert.Subject.CommonName)
	}
	if !slices.Equal(cert.DNSNames, []string{"postgres", "localhost"}) {
		t.Errorf("DNS SANs %v", cert.DNSNames)
	}
	if len(cert.IPAddresses) != 2 || !cert.IPAddresses[0].Equal(net.IPv4(127, 0, 0, 1)) || !cert.IPAddresses[1].Equal(net.IPv6loopback) {
		t.Errorf("IP SANs %v", cert.IPAddresses)
	}
	if cert.IsCA {
		t.Error("server certificate is a CA")
	}
	if cert.KeyUsage != x509.KeyUsageDigitalSignature {
		t.Errorf("key usage %b, want digitalSignature only for an ECDSA key", cert.KeyUsage)
	}
	if !slices.Equal(cert.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) {
		t.Errorf("extended key usage %v, want serverAuth", cert.ExtKeyUsage)
	}
	if !bytes.Equal(cert.AuthorityKeyId, ca.SubjectKeyId) || len(cert.SubjectKeyId) == 0 {
		t.Errorf("key ids: authority %x, CA subject %x, subject %x", cert.AuthorityKeyId, ca.SubjectKeyId, cert.SubjectKeyId)
	}
	if cert.SerialNumber.Sign() <= 0 || cert.SerialNumber.BitLen() > 128 {
		t.Errorf("serial %s is not a positive 128-bit number", cert.SerialNumber)
	}
	if want := runtimetest.Epoch.Add(-5 * time.Minute); !cert.NotBefore.Equal(want) {
		t.Errorf("not before %s, want %s", cert.NotBefore, want)
	}
	if want := runtimetest.Epoch.AddDate(0, 0, 1825); !cert.NotAfter.Equal(want) {
		t.Errorf("not after %s, want %s", cert.NotAfter, want)
	}
}

func TestIssueClientCertificate(t *testing.T) {
	f := newFixture(t)
	f.MustRun(`
def main():
    c = pki.ca("certs").issue("client", "cocalc", usage="client")
    if c.dns != ["cocalc"] or c.ips != []:
        fail("names: %s %s" % (c.dns, c.ips))
`)
	cert := mustCert(t, f, "/work/certs/client.crt")
	if cert.Subject.CommonName != "cocalc" || !slices.Equal(cert.DNSNames, []string{"cocalc"}) {
		t.Errorf("CN %q, SANs %v; want cocalc and [cocalc]", cert.Subject.CommonName, cert.DNSNames)
	}
	if !slices.Equal(cert.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}) {
		t.Errorf("extended key usage %v, want clientAuth", cert.ExtKeyUsage)
	}
	if cert.KeyUsage != x509.KeyUsageDigitalSignature {
		t.Errorf("key usage %b, want digitalSignature", cert.KeyUsage)
	}
}

func TestIssueIPCommonNameBecomesIPSAN(t *testing.T) {
	f := newFixture(t)
	f.MustRun(`pki.ca("certs").issue("db", "10.0.0.7")`)
	cert := mustCert(t, f, "/work/certs/db.crt")
	if len(cert.DNSNames) != 0 || len(cert.IPAddresses) != 1 || cert.IPAddresses[0].String() != "10.0.0.7" {
		t.Errorf("SANs DNS %v IP %v, want only IP 10.0.0.7", cert.DNSNames, cert.IPAddresses)
	}
}

func TestKeyTypes(t *testing.T) {
	tests := []struct {
		keyType   string
		algorithm x509.PublicKeyAlgorithm
		usage     x509.KeyUsage
	}{
		{"ecdsa-p256", x509.ECDSA, x509.KeyUsageDigitalSignature},
		{"ecdsa-p384", x509.ECDSA, x509.KeyUsageDigitalSignature},
		{"rsa2048", x509.RSA, x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment},
		{"rsa3072", x509.RSA, x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment},
		{"rsa4096", x509.RSA, x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment},
		{"ed25519", x509.Ed25519, x509.KeyUsageDigitalSignature},
	}
	for _, tt := range tests {
		t.Run(tt.keyType, func(t *testing.T) {
			f := newFixture(t)
			f.MustRun(`
def main():
    ca = pki.ca("certs", key_type="` + tt.keyType + `")
    c = ca.issue("server", "postgres")
    if ca.key_type != "` + tt.keyType + `" or c.key_type != ca.key_type:
        fail("key types: %s %s" % (ca.key_type, c.key_type))
    info = pki.inspect(c)
    if info.key_type != "` + tt.keyType + `":
        fail("inspect key type: " + info.key_type)
`)
			ca := mustCert(t, f, "/work/certs/ca.crt")
			cert := mustCert(t, f, "/work/certs/server.crt")
			if cert.PublicKeyAlgorithm != tt.algorithm || ca.PublicKeyAlgorithm != tt.algorithm {
				t.Errorf("algorithms %s and %s, want %s", ca.PublicKeyAlgorithm, cert.PublicKeyAlgorithm, tt.algorithm)
			}
			if cert.KeyUsage != tt.usage {
				t.Errorf("server key usage %b, want %b", cert.KeyUsage, tt.usage)
			}
			if err := cert.CheckSignatureFrom(ca); err != nil {
				t.Errorf("signature: %v", err)
			}
			keyPEM, err := f.FS.ReadFile("/work/certs/server.key")
			if err != nil {
				t.Fatal(err)
			}
			key, err := pki.ParsePrivateKeyPEM(keyPEM, nil)
			if err != nil {
				t.Fatalf("parse server.key: %v", err)
			}
			if _, ok := key.(crypto.Signer); !ok {
				t.Fatalf("server.key holds a %T, which cannot sign", key)
			}
		})
	}
}

func TestIssueKeyTypeOtherThanCA(t *testing.T) {
	f := newFixture(t)
	f.MustRun(`pki.ca("certs").issue("server", "postgres", key_type="rsa2048")`)
	if cert := mustCert(t, f, "/work/certs/server.crt"); cert.PublicKeyAlgorithm != x509.RSA {
		t.Errorf("algorithm %s, want RSA", cert.PublicKeyAlgorithm)
	}
}

func TestRerunKeepsKeysUnchanged(t *testing.T) {
	f := newFixture(t)
	f.MustRun(tutorialSet)
	first := printed(f, "ca ")
	first = append(first, printed(f, "server ")...)
	first = append(first, printed(f, "client ")...)
	keys := map[string][]byte{}
	for _, name := range []string{"ca", "server", "client"} {
		data, err := f.FS.ReadFile("/work/certs/" + name + ".key")
		if err != nil {
			t.Fatal(err)
		}
		keys[name] = data
	}

	f.ResetOutput()
	f.Clock.Advance(24 * time.Hour)
	f.MustRun(tutorialSet)

	if got := f.Statuses(); !slices.Equal(got, []string{"unchanged", "unchanged", "unchanged"}) {
		t.Errorf("rerun statuses %v, want three unchanged\n%s", got, f.Stderr.String())
	}
	second := printed(f, "ca ")
	second = append(second, printed(f, "server ")...)
	second = append(second, printed(f, "client ")...)
	if !slices.Equal(first, second) || len(first) != 3 {
		t.Errorf("fingerprints changed:\nfirst  %v\nsecond %v", first, second)
	}
	for name, data := range keys {
		now, _ := f.FS.ReadFile("/work/certs/" + name + ".key")
		if !bytes.Equal(now, data) {
			t.Errorf("%s.key was rewritten", name)
		}
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	f := newFixture(t)
	f.MustRun("")
	before := f.FS.Paths()
	f.Env.DryRun = true
	f.MustRun(`
def main():
    ca = pki.ca("certs")
    server = ca.issue("server", "postgres", dns=["postgres", "localhost"])
    print("fingerprint", type(ca.fingerprint), type(server.fingerprint), type(server.not_after))
    print("file", server.cert_file)
    print("inspect", type(pki.inspect(server.cert_file)))
`)
	if after := f.FS.Paths(); !slices.Equal(before, after) {
		t.Errorf("dry run changed the file system:\nbefore %v\nafter  %v", before, after)
	}
	if got := f.Statuses(); !slices.Equal(got, []string{"would create", "would create"}) {
		t.Errorf("statuses %v, want two would create", got)
	}
	wantContains(t, f.Stderr.String(),
		"fingerprint unknown unknown unknown",
		"file /work/certs/server.crt",
		"inspect unknown")
}

func TestDryRunOnExistingFiles(t *testing.T) {
	f := newFixture(t)
	f.MustRun(tutorialSet)
	fingerprints := printed(f, "server ")
	before := f.FS.Paths()

	f.ResetOutput()
	f.Env.DryRun = true
	f.MustRun(tutorialSet + `
    pki.ca("certs").issue("extra", "extra.example")
`)
	if got := f.Statuses(); !slices.Equal(got, []string{"unchanged", "unchanged", "unchanged", "unchanged", "would create"}) {
		t.Errorf("statuses %v", got)
	}
	if got := printed(f, "server "); !slices.Equal(got, fingerprints) {
		t.Errorf("dry run fingerprints %v, want the real ones %v", got, fingerprints)
	}
	if after := f.FS.Paths(); !slices.Equal(before, after) {
		t.Errorf("dry run changed the file system:\nbefore %v\nafter  %v", before, after)
	}
}

func TestRenewalWindowAndExpiry(t *testing.T) {
	f := newFixture(t)
	const script = `
def main():
    ca = pki.ca("certs")
    ca.issue("server", "postgres", days=100)
`
	f.MustRun(script)

	// 75 days later the certificate has 25 days left: inside the 30-day
	// window, so a warning, but the files stay.
	key, _ := f.FS.ReadFile("/work/certs/server.key")
	f.ResetOutput()
	f.Clock.Advance(75 * 24 * time.Hour)
	f.MustRun(script)
	if got := f.Statuses(); !slices.Equal(got, []string{"unchanged", "warning"}) {
		t.Errorf("statuses in the renewal window %v, want unchanged, warning", got)
	}
	wantContains(t, f.Stderr.String(), "/work/certs/server.crt expires on 2026-04-12 03:04:05 UTC, in 25 days", "force=True")
	if now, _ := f.FS.ReadFile("/work/certs/server.key"); !bytes.Equal(now, key) {
		t.Error("server.key was replaced in the renewal window")
	}

	// After 101 days it has expired: a difference, and the run stops.
	f.ResetOutput()
	f.Clock.Advance(26 * 24 * time.Hour)
	err := f.Run(script)
	if err == nil {
		t.Fatal("rerun with an expired certificate succeeded")
	}
	wantContains(t, f.ErrorText(err), "/work/test.star:4:13: ca.issue:", "server.crt expired on 2026-04-12 03:04:05 UTC", "force=True")
	if got := f.Statuses(); !slices.Equal(got, []string{"unchanged", "drift"}) {
		t.Errorf("statuses after expiry %v, want unchanged, drift", got)
	}
	if now, _ := f.FS.ReadFile("/work/certs/server.key"); !bytes.Equal(now, key) {
		t.Error("server.key was replaced without force")
	}
}

func TestForceRenewsInsideWindow(t *testing.T) {
	f := newFixture(t)
	f.Env.Yes = true
	f.MustRun(`pki.ca("certs").issue("server", "postgres", days=100)`)
	old := mustCert(t, f, "/work/certs/server.crt")

	f.ResetOutput()
	f.Clock.Advance(80 * 24 * time.Hour)
	f.MustRun(`pki.ca("certs").issue("server", "postgres", days=100, force=True)`)
	if got := f.Statuses(); !slices.Equal(got, []string{"unchanged", "changed"}) {
		t.Errorf("statuses %v, want unchanged, changed", got)
	}
	wantContains(t, f.Stderr.String(), "renewed: /work/certs/server.crt expires on")
	if cert := mustCert(t, f, "/work/certs/server.crt"); !cert.NotAfter.After(old.NotAfter) {
		t.Errorf("not after %s, want later than %s", cert.NotAfter, old.NotAfter)
	}
}

func TestCARenewalWindowWarning(t *testing.T) {
	f := newFixture(t)
	f.MustRun(`pki.ca("certs", days=400, renew_before_days=60)`)
	f.ResetOutput()
	f.Clock.Advance(350 * 24 * time.Hour)
	f.MustRun(`pki.ca("certs", days=400, renew_before_days=60)`)
	if got := f.Statuses(); !slices.Equal(got, []string{"warning"}) {
		t.Errorf("statuses %v, want warning", got)
	}
	wantContains(t, f.Stderr.String(), "ca.crt expires on", "renew_before_days=60")
}

func TestLeafLifetimeCutToCA(t *testing.T) {
	f := newFixture(t)
	f.MustRun(`pki.ca("certs", days=100).issue("server", "postgres", days=1000)`)
	ca := mustCert(t, f, "/work/certs/ca.crt")
	cert := mustCert(t, f, "/work/certs/server.crt")
	if !cert.NotAfter.Equal(ca.NotAfter) {
		t.Errorf("server not after %s, want the CA's %s", cert.NotAfter, ca.NotAfter)
	}
	if got := f.Statuses(); !slices.Equal(got, []string{"created", "created", "warning"}) {
		t.Errorf("statuses %v, want created, created, warning", got)
	}
	wantContains(t, f.Stderr.String(), "with its CA, not after the 1000 days asked for")
}

func TestMismatchReportsEveryDifference(t *testing.T) {
	f := newFixture(t)
	f.MustRun(`pki.ca("certs").issue("server", "postgres", dns=["postgres", "localhost"])`)
	crt, _ := f.FS.ReadFile("/work/certs/server.crt")
	key, _ := f.FS.ReadFile("/work/certs/server.key")

	f.ResetOutput()
	err := f.Run(`
ca = pki.ca("certs")
ca.issue("server", "db", dns=["db"], ips=["10.0.0.5"], usage="client", key_type="rsa2048")
`)
	got := f.ErrorText(err)
	wantContains(t, got,
		"/work/test.star:3:9: ca.issue: certificate \"server\" in /work/certs differs from the request",
		`common name is "postgres", want "db"`,
		"key type is ecdsa-p256, want rsa2048",
		"DNS names are [postgres, localhost], want [db]",
		"IP addresses are [], want [10.0.0.5]",
		"usage is server, want client",
		"pass force=True to replace server.crt and server.key")
	if statuses := f.Statuses(); !slices.Equal(statuses, []string{"unchanged", "drift"}) {
		t.Errorf("statuses %v, want unchanged, drift", statuses)
	}
	if now, _ := f.FS.ReadFile("/work/certs/server.crt"); !bytes.Equal(now, crt) {
		t.Error("server.crt was changed")
	}
	if now, _ := f.FS.ReadFile("/work/certs/server.key"); !bytes.Equal(now, key) {
		t.Error("server.key was changed")
	}
}

func TestForceReplacesWithConsent(t *testing.T) {
	f := newFixture(t)
	f.MustRun(`pki.ca("certs").issue("server", "postgres")`)
	old := mustCert(t, f, "/work/certs/server.crt")
	const changed = `pki.ca("certs").issue("server", "db", force=True)`

	// Without --yes and without a terminal the replacement is refused.
	f.ResetOutput()
	err := f.Run(changed)
	wantContains(t, f.ErrorText(err), "/work/test.star:1:22:", "this would replace the existing certificate and key /work/certs/server.crt and server.key", "--yes")
	if got := f.Statuses(); !slices.Equal(got, []string{"unchanged", "refused"}) {
		t.Errorf("statuses %v, want unchanged, refused", got)
	}
	if cert := mustCert(t, f, "/work/certs/server.crt"); !cert.Equal(old) {
		t.Error("server.crt changed although the step was refused")
	}

	f.ResetOutput()
	f.Env.Yes = true
	f.MustRun(changed)
	if got := f.Statuses(); !slices.Equal(got, []string{"unchanged", "changed"}) {
		t.Errorf("statuses %v, want unchanged, changed", got)
	}
	wantContains(t, f.Stderr.String(), `replaced: common name is "postgres", want "db"`)
	if cert := mustCert(t, f, "/work/certs/server.crt"); cert.Subject.CommonName != "db" {
		t.Errorf("CN %q after force, want db", cert.Subject.CommonName)
	}

	// force=True on matching files changes nothing.
	f.ResetOutput()
	f.MustRun(changed)
	if got := f.Statuses(); !slices.Equal(got, []string{"unchanged", "unchanged"}) {
		t.Errorf("statuses %v, want unchanged twice", got)
	}
}

func TestForceUnderDryRunChangesNothing(t *testing.T) {
	f := newFixture(t)
	f.MustRun(`pki.ca("certs").issue("server", "postgres")`)
	crt, _ := f.FS.ReadFile("/work/certs/server.crt")

	f.ResetOutput()
	f.Env.DryRun = true
	f.MustRun(`
c = pki.ca("certs").issue("server", "db", force=True)
print("fingerprint", type(c.fingerprint))
`)
	if got := f.Statuses(); !slices.Equal(got, []string{"unchanged", "would change"}) {
		t.Errorf("statuses %v, want unchanged, would change", got)
	}
	wantContains(t, f.Stderr.String(), "fingerprint unknown")
	if now, _ := f.FS.ReadFile("/work/certs/server.crt"); !bytes.Equal(now, crt) {
		t.Error("dry run replaced server.crt")
	}
}

func TestCertificateFromAnotherCA(t *testing.T) {
	f := newFixture(t)
	f.MustRun(`
pki.ca("certs")
pki.ca("other").issue("server", "postgres")
`)
	for _, ext := range []string{".crt", ".key"} {
		data, _ := f.FS.ReadFile("/work/other/server" + ext)
		if err := f.FS.WriteFile("/work/certs/server"+ext, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	f.ResetOutput()
	err := f.Run(`pki.ca("certs").issue("server", "postgres")`)
	wantContains(t, f.ErrorText(err), "it was not signed by the CA in /work/certs", "force=True")
}

func TestLeafKeyMismatchIsDrift(t *testing.T) {
	f := newFixture(t)
	f.MustRun(`
ca = pki.ca("certs")
ca.issue("a", "a.example")
ca.issue("b", "b.example")
`)
	other, _ := f.FS.ReadFile("/work/certs/b.key")
	if err := f.FS.WriteFile("/work/certs/a.key", other, 0o600); err != nil {
		t.Fatal(err)
	}
	f.ResetOutput()
	err := f.Run(`pki.ca("certs").issue("a", "a.example")`)
	wantContains(t, f.ErrorText(err), "a.key does not belong to a.crt", "force=True")
	if got := f.Statuses(); !slices.Equal(got, []string{"unchanged", "drift"}) {
		t.Errorf("statuses %v, want unchanged, drift", got)
	}
}

func TestMissingHalfIsDrift(t *testing.T) {
	f := newFixture(t)
	f.MustRun(`pki.ca("certs").issue("server", "postgres")`)
	if err := f.FS.Remove("/work/certs/server.key"); err != nil {
		t.Fatal(err)
	}
	f.ResetOutput()
	err := f.Run(`pki.ca("certs").issue("server", "postgres")`)
	wantContains(t, f.ErrorText(err), "server.key is missing")
}

func TestCAKeyMismatchIsError(t *testing.T) {
	f := newFixture(t)
	f.MustRun(`
pki.ca("certs")
pki.ca("other")
`)
	other, _ := f.FS.ReadFile("/work/other/ca.key")
	if err := f.FS.WriteFile("/work/certs/ca.key", other, 0o600); err != nil {
		t.Fatal(err)
	}
	f.ResetOutput()
	err := f.Run(`
def main():
    pki.ca("certs")
`)
	wantContains(t, f.ErrorText(err),
		"/work/test.star:3:11: pki.ca: /work/certs/ca.key does not belong to /work/certs/ca.crt",
		"force=True")
	if got := f.Statuses(); !slices.Equal(got, []string{"failed"}) {
		t.Errorf("statuses %v, want failed", got)
	}

	f.ResetOutput()
	f.Env.Yes = true
	f.MustRun(`pki.ca("certs", force=True)`)
	if got := f.Statuses(); !slices.Equal(got, []string{"changed"}) {
		t.Errorf("statuses %v, want changed", got)
	}
}

func TestCADifferencesAreDrift(t *testing.T) {
	f := newFixture(t)
	f.MustRun(`pki.ca("certs")`)
	f.ResetOutput()
	err := f.Run(`pki.ca("certs", common_name="Other CA", key_type="ed25519")`)
	wantContains(t, f.ErrorText(err),
		"/work/test.star:1:7: pki.ca: CA in /work/certs differs from the request",
		`common name is "cocalcctl CA", want "Other CA"`,
		"key type is ecdsa-p256, want ed25519",
		"pass force=True to replace ca.crt and ca.key")
	if got := f.Statuses(); !slices.Equal(got, []string{"drift"}) {
		t.Errorf("statuses %v, want drift", got)
	}
}

func TestExpiredCAIsDrift(t *testing.T) {
	f := newFixture(t)
	f.MustRun(`pki.ca("certs", days=10, renew_before_days=1)`)
	f.ResetOutput()
	f.Clock.Advance(11 * 24 * time.Hour)
	err := f.Run(`pki.ca("certs", days=10, renew_before_days=1)`)
	wantContains(t, f.ErrorText(err), "ca.crt expired on 2026-01-12 03:04:05 UTC")
}

func TestLeafCertificateAsCAIsDrift(t *testing.T) {
	f := newFixture(t)
	f.MustRun(`pki.ca("certs").issue("server", "postgres")`)
	if err := f.FS.MkdirAll("/work/leaf", 0o700); err != nil {
		t.Fatal(err)
	}
	for _, ext := range []string{".crt", ".key"} {
		data, _ := f.FS.ReadFile("/work/certs/server" + ext)
		if err := f.FS.WriteFile("/work/leaf/ca"+ext, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	f.ResetOutput()
	err := f.Run(`pki.ca("leaf", common_name="postgres")`)
	wantContains(t, f.ErrorText(err), "ca.crt is not a CA certificate")
}

func TestFolderModeWarning(t *testing.T) {
	f := newFixture(t)
	if err := f.FS.MkdirAll("/work/certs", 0o755); err != nil {
		t.Fatal(err)
	}
	f.MustRun(`pki.ca("certs")`)
	if got := f.Statuses(); !slices.Equal(got, []string{"created", "warning"}) {
		t.Errorf("statuses %v, want created, warning", got)
	}
	wantContains(t, f.Stderr.String(), "folder /work/certs has mode 0755", "chmod 700 /work/certs")
	if got := mode(t, f, "/work/certs"); got != 0o755 {
		t.Errorf("folder mode changed to %04o", got)
	}

	f.ResetOutput()
	f.MustRun(`pki.ca("certs")`)
	if got := f.Statuses(); !slices.Equal(got, []string{"warning"}) {
		t.Errorf("rerun statuses %v, want warning", got)
	}
}

func TestKeyFileModeWarning(t *testing.T) {
	f := newFixture(t)
	f.MustRun(`pki.ca("certs").issue("server", "postgres")`)
	if err := f.FS.Chmod("/work/certs/server.key", 0o644); err != nil {
		t.Fatal(err)
	}
	f.ResetOutput()
	f.MustRun(`pki.ca("certs").issue("server", "postgres")`)
	if got := f.Statuses(); !slices.Equal(got, []string{"unchanged", "warning"}) {
		t.Errorf("statuses %v, want unchanged, warning", got)
	}
	wantContains(t, f.Stderr.String(), "/work/certs/server.key has mode 0644", "chmod 600 /work/certs/server.key")
}

func TestPassphraseEncryptsKey(t *testing.T) {
	f := newFixture(t)
	const pass = "correct horse battery"
	const script = `
def main():
    ca = pki.ca("certs")
    c = ca.issue("client", "cocalc", usage="client", passphrase="` + pass + `")
    if not c.encrypted:
        fail("encrypted is False")
`
	f.MustRun(script)
	keyPEM, err := f.FS.ReadFile("/work/certs/client.key")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(keyPEM, []byte("-----BEGIN ENCRYPTED PRIVATE KEY-----")) {
		t.Fatalf("client.key is not encrypted PKCS#8:\n%s", keyPEM)
	}
	key, err := pki.ParsePrivateKeyPEM(keyPEM, []byte(pass))
	if err != nil {
		t.Fatalf("decrypt client.key: %v", err)
	}
	cert := mustCert(t, f, "/work/certs/client.crt")
	if !cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(key.(crypto.Signer).Public()) {
		t.Error("decrypted key does not belong to client.crt")
	}
	if _, err := pki.ParsePrivateKeyPEM(keyPEM, nil); !errors.Is(err, pki.ErrKeyEncrypted) {
		t.Errorf("parse without passphrase: %v, want ErrKeyEncrypted", err)
	}
	if _, err := pki.ParsePrivateKeyPEM(keyPEM, []byte("wrong passphrase")); !errors.Is(err, pki.ErrWrongPassphrase) {
		t.Errorf("parse with a wrong passphrase: %v, want ErrWrongPassphrase", err)
	}

	// A rerun decrypts the key to check it, and keeps it.
	f.ResetOutput()
	f.MustRun(script)
	if got := f.Statuses(); !slices.Equal(got, []string{"unchanged", "unchanged"}) {
		t.Errorf("rerun statuses %v, want unchanged twice", got)
	}
	if now, _ := f.FS.ReadFile("/work/certs/client.key"); !bytes.Equal(now, keyPEM) {
		t.Error("rerun rewrote client.key")
	}
	if strings.Contains(f.Stderr.String(), pass) {
		t.Errorf("the passphrase appears in the output:\n%s", f.Stderr.String())
	}

	// Other passphrase, or none, is a difference.
	for _, tc := range []struct{ arg, want string }{
		{`passphrase="another passphrase"`, "client.key cannot be decrypted with the passphrase given"},
		{`passphrase=None`, "client.key is encrypted, but no passphrase was given"},
	} {
		f.ResetOutput()
		err := f.Run(`pki.ca("certs").issue("client", "cocalc", usage="client", ` + tc.arg + `)`)
		wantContains(t, f.ErrorText(err), tc.want, "force=True")
	}
}

func TestPassphraseFromSecret(t *testing.T) {
	f := newFixture(t)
	f.MustRun(`
def main():
    pw = secret.file("pass/client-key")
    pki.ca("certs").issue("client", "cocalc", usage="client", passphrase=pw)
`)
	pass, err := f.FS.ReadFile("/work/pass/client-key")
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, _ := f.FS.ReadFile("/work/certs/client.key")
	if _, err := pki.ParsePrivateKeyPEM(keyPEM, pass); err != nil {
		t.Errorf("decrypt with the secret file's passphrase: %v", err)
	}
	if strings.Contains(f.Stderr.String(), string(pass)) {
		t.Error("the passphrase appears in the output")
	}
	wantContains(t, f.Stderr.String(), "passphrase=<secret>")
}

func TestPassphraseAddedToPlainKeyIsDrift(t *testing.T) {
	f := newFixture(t)
	f.MustRun(`pki.ca("certs").issue("client", "cocalc", usage="client")`)
	f.ResetOutput()
	err := f.Run(`pki.ca("certs").issue("client", "cocalc", usage="client", passphrase="some passphrase")`)
	wantContains(t, f.ErrorText(err), "client.key is not encrypted, but a passphrase was given")
	if strings.Contains(f.ErrorText(err), "some passphrase") {
		t.Error("the passphrase appears in the error")
	}
}

func TestUnknownPassphraseUnderDryRun(t *testing.T) {
	f := newFixture(t)
	f.Env.DryRun = true
	f.MustRun(`
def main():
    pw = secret.file("pass/client-key")
    pki.ca("certs").issue("client", "cocalc", usage="client", passphrase=pw)
`)
	if got := f.Statuses(); !slices.Equal(got, []string{"would create", "would create", "would create"}) {
		t.Errorf("statuses %v, want would create three times", got)
	}
}

func TestInspect(t *testing.T) {
	f := newFixture(t)
	f.MustRun(`
def main():
    ca = pki.ca("certs")
    c = ca.issue("server", "postgres", dns=["postgres", "localhost"], ips=["127.0.0.1"])
    i = pki.inspect("certs/server.crt")
    checks = {
        "subject": i.subject == "CN=postgres",
        "common_name": i.common_name == "postgres",
        "dns": i.dns == ["postgres", "localhost"],
        "ips": i.ips == ["127.0.0.1"],
        "issuer": i.issuer == "CN=cocalcctl CA",
        "usages": i.usages == ["digitalSignature", "serverAuth"],
        "not_before": i.not_before == "2026-01-02T02:59:05Z",
        "not_after": i.not_after == c.not_after,
        "fingerprint": i.fingerprint == c.fingerprint,
        "is_ca": i.is_ca == False,
        "serial": len(i.serial) > 0,
    }
    for name, ok in checks.items():
        if not ok:
            fail("%s: %s" % (name, getattr(i, name)))
    a = pki.inspect(ca)
    if not a.is_ca or a.usages != ["keyCertSign", "cRLSign"] or a.fingerprint != ca.fingerprint:
        fail("ca: %s" % a)
`)
}

func TestInspectErrors(t *testing.T) {
	f := newFixture(t)
	if err := f.FS.WriteFile("/work/notes.txt", []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ src, want string }{
		{`pki.inspect("missing.crt")`, "/work/test.star:1:12: pki.inspect: cannot read /work/missing.crt"},
		{`pki.inspect("notes.txt")`, "/work/test.star:1:12: pki.inspect: /work/notes.txt: no PEM certificate found"},
		{`pki.inspect(3)`, "pki.inspect: path must be a string or a value of pki.ca or ca.issue, got int"},
	}
	for _, tt := range tests {
		if got := f.ErrorText(f.Run(tt.src)); !strings.Contains(got, tt.want) {
			t.Errorf("%s: error %q, want it to contain %q", tt.src, got, tt.want)
		}
	}
}

func TestArgumentErrors(t *testing.T) {
	tests := []struct {
		name, src string
		wants     []string
	}{
		{"weak key", `pki.ca("certs", key_type="rsa1024")`,
			[]string{"/work/test.star:1:7: pki.ca: key_type \"rsa1024\" is too weak; use one of ecdsa-p256, ecdsa-p384, rsa2048, rsa3072, rsa4096, ed25519"}},
		{"weak issue key", `pki.ca("certs").issue("s", "s", key_type="rsa1024")`,
			[]string{"/work/test.star:1:22: ca.issue: key_type \"rsa1024\" is too weak", "ecdsa-p256, ecdsa-p384"}},
		{"unknown key", `pki.ca("certs", key_type="ecdsa-p999")`,
			[]string{"pki.ca: unknown key_type \"ecdsa-p999\"; use one of"}},
		{"zero days", `pki.ca("certs", days=0)`,
			[]string{"/work/test.star:1:7: pki.ca: days must be between 1 and 36500, got 0"}},
		{"zero issue days", `pki.ca("certs").issue("s", "s", days=0)`,
			[]string{"/work/test.star:1:22: ca.issue: days must be between 1 and 36500, got 0"}},
		{"window longer than lifetime", `pki.ca("certs").issue("s", "s", days=20)`,
			[]string{"ca.issue: days=20 is not more than renew_before_days=30"}},
		{"unknown keyword", `pki.ca("certs", color="red")`,
			[]string{"/work/test.star:1:7: pki.ca: unexpected keyword argument \"color\""}},
		{"unknown issue keyword", `pki.ca("certs").issue("s", "s", sans=["x"])`,
			[]string{"/work/test.star:1:22: ca.issue: unexpected keyword argument \"sans\""}},
		{"bad SAN", `pki.ca("certs").issue("s", "s", dns=["bad name!"])`,
			[]string{"/work/test.star:1:22: ca.issue: dns[0] \"bad name!\" is neither a DNS name nor an IP address"}},
		{"bad IP", `pki.ca("certs").issue("s", "s", ips=["bad name!"])`,
			[]string{"ca.issue: ips[0] \"bad name!\" is neither a DNS name nor an IP address"}},
		{"IP in dns", `pki.ca("certs").issue("s", "s", dns=["10.0.0.1"])`,
			[]string{"ca.issue: dns[0] \"10.0.0.1\" is an IP address; pass it in ips"}},
		{"name in ips", `pki.ca("certs").issue("s", "s", ips=["postgres"])`,
			[]string{"ca.issue: ips[0] \"postgres\" is a DNS name, not an IP address; pass it in dns"}},
		{"no SAN", `pki.ca("certs").issue("client", "cocalc user", usage="client")`,
			[]string{"ca.issue: a certificate needs a subject alternative name (SAN)", "pass dns=[...] or ips=[...]"}},
		{"dns not a list", `pki.ca("certs").issue("s", "s", dns="postgres")`,
			[]string{"ca.issue: dns must be a list of strings, got string"}},
		{"usage", `pki.ca("certs").issue("s", "s", usage="both")`,
			[]string{"ca.issue: usage must be \"server\" or \"client\", got \"both\""}},
		{"name ca", `pki.ca("certs").issue("ca", "s")`,
			[]string{"ca.issue: name \"ca\" is taken by the CA's own ca.crt and ca.key"}},
		{"name with slash", `pki.ca("certs").issue("../x", "s")`,
			[]string{"ca.issue: name \"../x\" must start with a letter"}},
		{"short passphrase", `pki.ca("certs").issue("s", "s", passphrase="abc")`,
			[]string{"ca.issue: passphrase must have at least 4 characters"}},
		{"empty dir", `pki.ca("")`,
			[]string{"pki.ca: dir is empty"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			err := f.Run(tt.src)
			if err == nil {
				t.Fatalf("%s succeeded, want an error", tt.src)
			}
			wantContains(t, f.ErrorText(err), tt.wants...)
		})
	}
}

func TestCAFolderIsAFile(t *testing.T) {
	f := newFixture(t)
	if err := f.FS.WriteFile("/work/certs", []byte("not a folder"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := f.Run(`
def main():
    pki.ca("certs")
`)
	wantContains(t, f.ErrorText(err), "/work/test.star:3:11: pki.ca: /work/certs is a file, not a folder")
	if got := f.Statuses(); !slices.Equal(got, []string{"failed"}) {
		t.Errorf("statuses %v, want failed", got)
	}
}

func TestParsePrivateKeyPEMFormats(t *testing.T) {
	f := newFixture(t)
	f.MustRun(`
ca = pki.ca("certs")
ca.issue("ec", "ec.example")
ca.issue("rsa", "rsa.example", key_type="rsa2048")
`)
	for _, name := range []string{"ec", "rsa"} {
		data, _ := f.FS.ReadFile("/work/certs/" + name + ".key")
		key, err := pki.ParsePrivateKeyPEM(data, nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		legacy, err := pki.MarshalLegacyPEMForTest(key)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		again, err := pki.ParsePrivateKeyPEM(legacy, nil)
		if err != nil {
			t.Errorf("%s in its legacy format: %v", name, err)
		} else if !again.(interface{ Equal(crypto.PrivateKey) bool }).Equal(key) {
			t.Errorf("%s: legacy form parsed to another key", name)
		}
	}

	legacyEncrypted := []byte("-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,00112233445566778899AABBCCDDEEFF\n\nAAAA\n-----END RSA PRIVATE KEY-----\n")
	if _, err := pki.ParsePrivateKeyPEM(legacyEncrypted, []byte("pass")); err == nil || !strings.Contains(err.Error(), "openssl pkcs8 -topk8") {
		t.Errorf("legacy encryption: %v, want an error that says how to convert", err)
	}
	if _, err := pki.ParsePrivateKeyPEM([]byte("garbage"), nil); err == nil {
		t.Error("garbage parsed as a key")
	}
}

func TestSerialNumbersDiffer(t *testing.T) {
	f := newFixture(t)
	f.MustRun(`
ca = pki.ca("certs")
for i in range(5):
    ca.issue("s%d" % i, "s.example")
`)
	seen := map[string]bool{}
	for i := range 5 {
		serial := mustCert(t, f, fmt.Sprintf("/work/certs/s%d.crt", i)).SerialNumber
		if seen[serial.String()] {
			t.Errorf("serial %s repeats", serial)
		}
		seen[serial.String()] = true
	}
}

func TestExampleScript(t *testing.T) {
	src, err := os.ReadFile("../../docs/examples/certs.star")
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t)
	if _, err := f.Exec("certs.star", string(src)); err != nil {
		t.Fatalf("first run: %s", f.ErrorText(err))
	}
	if got := f.Statuses(); !slices.Equal(got, []string{"created", "created", "created"}) {
		t.Errorf("first run statuses %v, want created three times", got)
	}

	f.ResetOutput()
	script, err := f.Exec("certs.star", string(src))
	if err != nil {
		t.Fatalf("second run: %s", f.ErrorText(err))
	}
	if got := f.Statuses(); !slices.Equal(got, []string{"unchanged", "unchanged", "unchanged"}) {
		t.Errorf("second run statuses %v, want unchanged three times", got)
	}

	f.ResetOutput()
	show, err := script.Function("show")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := script.Call(show, nil); err != nil {
		t.Fatalf("show: %s", f.ErrorText(err))
	}
	wantContains(t, f.Stderr.String(),
		"server.crt: subject CN=postgres, issuer CN=cocalcctl CA, SANs postgres, localhost, usages digitalSignature, serverAuth",
		"client.crt: subject CN=cocalc, issuer CN=cocalcctl CA, SANs cocalc, usages digitalSignature, clientAuth")
}
