package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/youmark/pkcs8"
)

// KeyTypes lists the key types pki accepts, strongest last within each
// family. The first one is the default.
var KeyTypes = []string{"ecdsa-p256", "ecdsa-p384", "rsa2048", "rsa3072", "rsa4096", "ed25519"}

// checkKeyType returns nil when keyType is one of KeyTypes. Otherwise the
// error states whether the type is too weak or unknown, and lists the
// allowed types.
func checkKeyType(keyType string) error {
	for _, k := range KeyTypes {
		if keyType == k {
			return nil
		}
	}
	allowed := strings.Join(KeyTypes, ", ")
	if isWeakKeyType(keyType) {
		return fmt.Errorf("key_type %q is too weak; use one of %s", keyType, allowed)
	}
	return fmt.Errorf("unknown key_type %q; use one of %s", keyType, allowed)
}

// isWeakKeyType reports whether keyType names a key that exists but is below
// the strength pki accepts: RSA under 2048 bits, DSA, and the P-224 and
// smaller curves.
func isWeakKeyType(keyType string) bool {
	k := strings.ToLower(keyType)
	if bits, ok := strings.CutPrefix(k, "rsa"); ok {
		n, err := strconv.Atoi(strings.TrimPrefix(bits, "-"))
		return err == nil && n < 2048
	}
	if strings.HasPrefix(k, "dsa") {
		return true
	}
	switch k {
	case "ecdsa-p224", "ecdsa-p192", "p224", "p192", "secp224r1", "prime192v1":
		return true
	}
	return false
}

// generateKey makes a new private key of keyType, which checkKeyType accepted.
func generateKey(keyType string) (crypto.Signer, error) {
	switch keyType {
	case "ecdsa-p256":
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ecdsa-p384":
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "rsa2048":
		return rsa.GenerateKey(rand.Reader, 2048)
	case "rsa3072":
		return rsa.GenerateKey(rand.Reader, 3072)
	case "rsa4096":
		return rsa.GenerateKey(rand.Reader, 4096)
	case "ed25519":
		_, key, err := ed25519.GenerateKey(rand.Reader)
		return key, err
	}
	return nil, fmt.Errorf("internal error: no generator for key type %q", keyType)
}

// keyTypeOf names the type of a public key in the words of KeyTypes, or
// describes it when pki would not make such a key (for example "ecdsa-p521"
// or "rsa1024").
func keyTypeOf(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		return "ecdsa-" + strings.ToLower(strings.ReplaceAll(k.Curve.Params().Name, "-", ""))
	case *rsa.PublicKey:
		return fmt.Sprintf("rsa%d", k.N.BitLen())
	case ed25519.PublicKey:
		return "ed25519"
	}
	return fmt.Sprintf("unsupported key %T", pub)
}

// sameKey reports whether a and b are the same public key.
func sameKey(a, b crypto.PublicKey) bool {
	eq, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(b)
}

// subjectKeyID computes a key identifier as RFC 7093 section 2 method 1
// describes it: the leftmost 160 bits of the SHA-256 hash of the
// subjectPublicKey bit string.
func subjectKeyID(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &spki); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(spki.PublicKey.Bytes)
	return sum[:20], nil
}

// pbkdf2Iterations is the PBKDF2-HMAC-SHA256 work factor for encrypted keys:
// 600,000, the figure the OWASP Password Storage Cheat Sheet gives for this
// hash since 2023. Decrypting a key therefore takes a noticeable fraction of
// a second, on every read.
const pbkdf2Iterations = 600_000

// encryptOptions are the PBES2 parameters of encrypted keys: PBKDF2 with
// HMAC-SHA256 and a 16-byte salt, and AES-256-CBC.
var encryptOptions = &pkcs8.Opts{
	Cipher: pkcs8.AES256CBC,
	KDFOpts: pkcs8.PBKDF2Opts{
		SaltSize:       16,
		IterationCount: pbkdf2Iterations,
		HMACHash:       crypto.SHA256,
	},
}

// marshalKeyPEM encodes key as PKCS#8 PEM, encrypted with PBES2 when
// passphrase is not empty.
func marshalKeyPEM(key crypto.PrivateKey, passphrase []byte) ([]byte, error) {
	if len(passphrase) == 0 {
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return nil, err
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
	}
	der, err := pkcs8.MarshalPrivateKey(key, passphrase, encryptOptions)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: der}), nil
}

// ErrKeyEncrypted is returned by ParsePrivateKeyPEM for an encrypted key when
// no passphrase was given.
var ErrKeyEncrypted = errors.New("the key is encrypted and no passphrase was given")

// ErrWrongPassphrase is returned by ParsePrivateKeyPEM when an encrypted key
// cannot be decrypted with the passphrase given.
var ErrWrongPassphrase = errors.New("the passphrase does not decrypt the key, or the key is damaged")

// ParsePrivateKeyPEM parses the first private key in PEM data: PKCS#8
// ("PRIVATE KEY"), PKCS#8 encrypted with PBES2 ("ENCRYPTED PRIVATE KEY", which
// needs passphrase), SEC 1 ("EC PRIVATE KEY") or PKCS#1 ("RSA PRIVATE KEY").
// A passphrase given for an unencrypted key is ignored. Keys encrypted with
// OpenSSL's legacy PEM encryption (a Proc-Type header) are rejected with a
// message that shows how to convert them. The errors never contain the
// passphrase; errors.Is matches ErrKeyEncrypted and ErrWrongPassphrase.
func ParsePrivateKeyPEM(data []byte, passphrase []byte) (crypto.PrivateKey, error) {
	key, _, err := parseKeyPEM(data, passphrase)
	return key, err
}

// parseKeyPEM is ParsePrivateKeyPEM that also reports whether the key was
// encrypted.
func parseKeyPEM(data []byte, passphrase []byte) (key crypto.PrivateKey, encrypted bool, err error) {
	block := firstPEM(data, func(t string) bool { return strings.HasSuffix(t, "PRIVATE KEY") })
	if block == nil {
		return nil, false, errors.New("no PEM private key found")
	}
	if _, legacy := block.Headers["Proc-Type"]; legacy {
		return nil, true, errors.New("the key uses legacy PEM encryption, which is not supported; " +
			"convert it with `openssl pkcs8 -topk8 -v2 aes-256-cbc`")
	}

	switch block.Type {
	case "ENCRYPTED PRIVATE KEY":
		if len(passphrase) == 0 {
			return nil, true, ErrKeyEncrypted
		}
		key, _, err := pkcs8.ParsePrivateKey(block.Bytes, passphrase)
		if err != nil {
			return nil, true, fmt.Errorf("%w (%v)", ErrWrongPassphrase, err)
		}
		return key, true, nil
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		return nil, false, fmt.Errorf("unsupported PEM block %q; want PRIVATE KEY, ENCRYPTED PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY", block.Type)
	}
	if err != nil {
		return nil, false, fmt.Errorf("invalid %s: %w", strings.ToLower(block.Type), err)
	}
	return key, false, nil
}

// firstPEM returns the first PEM block in data whose type satisfies want, or
// nil.
func firstPEM(data []byte, want func(string) bool) *pem.Block {
	for {
		block, rest := pem.Decode(data)
		if block == nil {
			return nil
		}
		if want(block.Type) {
			return block
		}
		data = rest
	}
}

// parseCertPEM parses the first certificate in PEM data.
func parseCertPEM(data []byte) (*x509.Certificate, error) {
	block := firstPEM(data, func(t string) bool { return t == "CERTIFICATE" })
	if block == nil {
		return nil, errors.New("no PEM certificate found")
	}
	return x509.ParseCertificate(block.Bytes)
}
