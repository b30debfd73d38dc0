package postgres

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// scramIterations is the iteration count PostgreSQL uses by default
// (scram_iterations = 4096).
const scramIterations = 4096

// ScramVerifier returns the SCRAM-SHA-256 verifier of password in the form
// PostgreSQL stores in pg_authid.rolpassword:
// SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>, with a random
// 16-byte salt. Sending the verifier in CREATE ROLE ... PASSWORD keeps the
// plain password out of the server's logs.
func ScramVerifier(password string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	return scramVerifier(password, salt, scramIterations)
}

func scramVerifier(password string, salt []byte, iterations int) (string, error) {
	salted, err := pbkdf2.Key(sha256.New, saslPrep(password), salt, iterations, sha256.Size)
	if err != nil {
		return "", err
	}
	clientKey := hmacSHA256(salted, "Client Key")
	storedKey := sha256.Sum256(clientKey)
	serverKey := hmacSHA256(salted, "Server Key")
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", iterations, b64(salt), b64(storedKey[:]), b64(serverKey)), nil
}

func hmacSHA256(key []byte, msg string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(msg))
	return h.Sum(nil)
}

// ScramMatches reports whether stored, a verifier from pg_authid, was made
// from password: it recomputes the verifier with the stored salt and
// iteration count. A stored value that is no SCRAM-SHA-256 verifier (an MD5
// hash, or none) does not match.
func ScramMatches(stored, password string) bool {
	rest, ok := strings.CutPrefix(stored, "SCRAM-SHA-256$")
	if !ok {
		return false
	}
	iterSalt, _, ok := strings.Cut(rest, "$")
	if !ok {
		return false
	}
	iterText, saltText, ok := strings.Cut(iterSalt, ":")
	if !ok {
		return false
	}
	iterations, err := strconv.Atoi(iterText)
	if err != nil || iterations < 1 {
		return false
	}
	salt, err := base64.StdEncoding.DecodeString(saltText)
	if err != nil {
		return false
	}
	again, err := scramVerifier(password, salt, iterations)
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(again), []byte(stored)) == 1
}

// saslPrep normalizes a password as PostgreSQL's pg_saslprep does before
// hashing it: a pure ASCII password is used as it is; otherwise non-ASCII
// spaces become ASCII spaces, characters mapped to nothing are dropped and
// the result is NFKC-normalized. When the result holds a prohibited
// character, PostgreSQL uses the password as it is, and so does this.
//
// NOTE: the prohibited set covers controls, private use, non-characters and
// surrogates, but not the bidirectional rules or the code points that
// Unicode 3.2 left unassigned, so a password with those may hash
// differently from the server's own ALTER ROLE ... PASSWORD 'plain'.
func saslPrep(password string) string {
	ascii := true
	for i := 0; i < len(password); i++ {
		if password[i] >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		return password
	}

	var b strings.Builder
	for _, r := range password {
		switch {
		case r != ' ' && unicode.Is(unicode.Zs, r):
			b.WriteRune(' ')
		case mappedToNothing(r):
		default:
			b.WriteRune(r)
		}
	}
	out := norm.NFKC.String(b.String())
	for _, r := range out {
		if prohibited(r) {
			return password
		}
	}
	return out
}

// mappedToNothing reports whether r is in RFC 3454 table B.1.
func mappedToNothing(r rune) bool {
	switch {
	case r == 0x00AD, r == 0x034F, r == 0x1806, r == 0x180B, r == 0x180C, r == 0x180D,
		r == 0x200B, r == 0x200C, r == 0x200D, r == 0x2060, r == 0xFEFF,
		r >= 0xFE00 && r <= 0xFE0F:
		return true
	}
	return false
}

// prohibited reports whether r is in the SASLprep tables C.2 to C.9 that
// this implementation checks.
func prohibited(r rune) bool {
	switch {
	case r < 0x20 || r == 0x7F, r >= 0x80 && r <= 0x9F:
		return true
	case r >= 0xE000 && r <= 0xF8FF, r >= 0xF0000 && r <= 0xFFFFD, r >= 0x100000 && r <= 0x10FFFD:
		return true
	case r >= 0xFDD0 && r <= 0xFDEF, r&0xFFFE == 0xFFFE:
		return true
	case r >= 0xD800 && r <= 0xDFFF, r == 0xFFFD:
		return true
	case r >= 0x2FF0 && r <= 0x2FFB, r >= 0x200E && r <= 0x200F, r >= 0x202A && r <= 0x202E, r >= 0x206A && r <= 0x206F:
		return true
	case r == 0xE0001, r >= 0xE0020 && r <= 0xE007F:
		return true
	}
	return false
}
