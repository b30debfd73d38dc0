package main

import (
	"crypto/x509"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cocalcctl/cocalcctl/tests/images"
)

// These tests start PostgreSQL and the stand-in as containers on a network of
// their own, with the database reachable as "db". They check that a correct
// set-up becomes healthy and that each broken one fails the way the hub
// does, saying why in the log.

const (
	healthyTimeout = 60 * time.Second
	failureTimeout = 45 * time.Second
)

func ptr(s string) *string { return &s }

// tlsCase is a certificate set for one test: a CA, a server certificate for
// serverNames and a client certificate for the role cocalc.
type tlsCase struct {
	ca                       *testCA
	serverCert, serverKey    []byte
	clientCert, clientKey    []byte
	caFileName, clientPrefix string
}

func newTLSCase(t *testing.T, serverNames ...string) *tlsCase {
	t.Helper()
	ca := newTestCA(t)
	serverCert, serverKey := ca.issue(t, serverNames[0], serverNames, x509.ExtKeyUsageServerAuth)
	clientCert, clientKey := ca.issue(t, "cocalc", nil, x509.ExtKeyUsageClientAuth)
	return &tlsCase{ca: ca, serverCert: serverCert, serverKey: serverKey, clientCert: clientCert, clientKey: clientKey}
}

func (c *tlsCase) postgres(image, version string, hba []string, initSQL ...string) postgresSetup {
	return postgresSetup{
		image: image, version: version,
		serverCertPEM: c.serverCert, serverKeyPEM: c.serverKey, caPEM: c.ca.certPEM,
		hba: hba, initSQL: initSQL,
	}
}

// startTLSPostgres creates the test network and starts PostgreSQL version
// from image on it, with TLS from a new certificate set for "db" and
// "localhost". The single pg_hba.conf line hba follows the local trust line.
func startTLSPostgres(t *testing.T, image, version, hba string, initSQL ...string) (*testEnv, *tlsCase, *postgresServer) {
	t.Helper()
	env := newTestEnv(t, image)
	certs := newTLSCase(t, "db", "localhost")
	db := env.startPostgres(certs.postgres(image, version, []string{hba}, initSQL...))
	return env, certs, db
}

// ownedDatabase creates the role cocalc and a database cocalc it owns. An
// empty password creates the role without one, for certificate logins.
func ownedDatabase(password string) []string {
	role := "CREATE ROLE cocalc LOGIN"
	if password != "" {
		role += " PASSWORD '" + password + "'"
	}
	return []string{role, "CREATE DATABASE cocalc OWNER cocalc"}
}

func baseEnv() map[string]string {
	return map[string]string{"PGHOST": "db", "PGUSER": "cocalc", "SMC_DB": "cocalc", "PGDATABASE": "cocalc"}
}

const hostsslPassword = "hostssl all all 0.0.0.0/0 scram-sha-256"
const hostsslCert = "hostssl all all 0.0.0.0/0 cert"

// passwordSetup returns a stand-in set-up that logs in with password and
// checks the server certificate against the test CA.
func passwordSetup(certs *tlsCase, password string) standinSetup {
	vars := baseEnv()
	vars["SMC_DB_SSL_CA_FILE"] = "/root/pgtls/ca.crt"
	return standinSetup{
		env:      vars,
		password: ptr(password),
		tlsFiles: map[string]tlsFile{"ca.crt": {certs.ca.certPEM, 0o644}},
	}
}

// certSetup returns a stand-in set-up that logs in with the client
// certificate, its key file in keyMode, and checks the server certificate
// against the test CA.
func certSetup(certs *tlsCase, keyMode os.FileMode) standinSetup {
	vars := baseEnv()
	vars["SMC_DB_SSL_CA_FILE"] = "/root/pgtls/ca.crt"
	vars["SMC_DB_SSL_CLIENT_CERT_FILE"] = "/root/pgtls/client.crt"
	vars["SMC_DB_SSL_CLIENT_KEY_FILE"] = "/root/pgtls/client.key"
	return standinSetup{
		env: vars,
		tlsFiles: map[string]tlsFile{
			"ca.crt":     {certs.ca.certPEM, 0o644},
			"client.crt": {certs.clientCert, 0o644},
			"client.key": {certs.clientKey, keyMode},
		},
	}
}

// checkSignup creates an account through the API and finds it in the
// database, and checks that the trigger's notification reached the hub.
func checkSignup(t *testing.T, db *postgresServer, hub *standin) {
	t.Helper()
	status, body := hub.signup("ada@example.org", "Ada", "Lovelace")
	if status != http.StatusOK {
		t.Fatalf("POST /api/signup: status %d, body %v", status, body)
	}
	accountID := body["account_id"]
	if len(accountID) != 36 {
		t.Fatalf("account_id = %q, want a uuid", accountID)
	}

	email := db.psql("cocalc", "SELECT email_address FROM accounts WHERE account_id = '"+accountID+"'")
	if email != "ada@example.org" {
		t.Errorf("email_address of %s in the database = %q, want ada@example.org", accountID, email)
	}
	owner := db.psql("cocalc", "SELECT tableowner FROM pg_tables WHERE tablename = 'accounts'")
	if owner != "cocalc" {
		t.Errorf("accounts owner = %q, want cocalc", owner)
	}
	hub.waitLog("notification on standin_accounts_changed: account "+accountID, 1, 10*time.Second)

	status, body = hub.signup("ada@example.org", "Ada", "Again")
	if status != http.StatusConflict {
		t.Errorf("second sign-up with the same email: status %d, body %v, want 409", status, body)
	}
}

func TestHealthyWithPasswordAuth(t *testing.T) {
	t.Parallel()
	env, certs, db := startTLSPostgres(t, images.Postgres17, "17", hostsslPassword, ownedDatabase("pw-ok")...)

	hub := env.startStandin(passwordSetup(certs, "pw-ok"))
	hub.waitHealthy(healthyTimeout)
	checkSignup(t, db, hub)

	// Every hub connection uses TLS, because pg_hba.conf allows only hostssl.
	plain := db.psql("postgres", "SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) WHERE usename = 'cocalc' AND NOT ssl")
	if plain != "0" {
		t.Errorf("%s connections of cocalc without TLS", plain)
	}
}

func TestHealthyWithCertificateAuth(t *testing.T) {
	t.Parallel()
	env, certs, db := startTLSPostgres(t, images.Postgres17, "17", hostsslCert, ownedDatabase("")...)

	hub := env.startStandin(certSetup(certs, 0o600))
	hub.waitHealthy(healthyTimeout)
	checkSignup(t, db, hub)
}

func TestHealthyOnPostgres15(t *testing.T) {
	t.Parallel()
	env, certs, db := startTLSPostgres(t, images.Postgres15, "15", hostsslPassword, ownedDatabase("pw-15")...)

	hub := env.startStandin(passwordSetup(certs, "pw-15"))
	hub.waitHealthy(healthyTimeout)
	checkSignup(t, db, hub)
}

// expectRetrying checks that the hub keeps retrying with cause in its log
// and never becomes healthy.
func expectRetrying(t *testing.T, hub *standin, cause string) {
	t.Helper()
	hub.waitLog(`database connection attempt \d+ failed, retrying in [^:]+: .*`+cause, 2, failureTimeout)
	if running, exitCode := hub.running(); !running {
		t.Errorf("stand-in exited with status %s, want it to keep retrying", exitCode)
	}
	if status := hub.health(); status != http.StatusServiceUnavailable {
		t.Errorf("GET /health = %d while the database is unreachable, want 503", status)
	}
}

func TestServerCertWithoutLocalhostSAN(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, images.Postgres17)
	certs := newTLSCase(t, "db")
	env.startPostgres(certs.postgres(images.Postgres17, "17", []string{hostsslPassword}, ownedDatabase("pw")...))

	hub := env.startStandin(passwordSetup(certs, "pw"))
	// The psql check passes (it checks "db"); the main connection checks
	// "localhost" and fails.
	expectRetrying(t, hub, regexp.QuoteMeta("Host: localhost. is not in the cert's altnames: DNS:db"))
}

func TestClientFilesWithoutCAFile(t *testing.T) {
	t.Parallel()
	env, certs, _ := startTLSPostgres(t, images.Postgres17, "17", hostsslCert, ownedDatabase("")...)

	setup := certSetup(certs, 0o600)
	delete(setup.env, "SMC_DB_SSL_CA_FILE")
	delete(setup.tlsFiles, "ca.crt")
	hub := env.startStandin(setup)
	expectRetrying(t, hub, regexp.QuoteMeta(`psql --list: root certificate file "system" does not exist`))
}

func TestClientKeyModeTooOpen(t *testing.T) {
	t.Parallel()
	env, certs, _ := startTLSPostgres(t, images.Postgres17, "17", hostsslCert, ownedDatabase("")...)

	hub := env.startStandin(certSetup(certs, 0o644))
	expectRetrying(t, hub, regexp.QuoteMeta(`private key file "/root/pgtls/client.key" has group or world access`))
}

func TestWrongPasswordRetries(t *testing.T) {
	t.Parallel()
	env, certs, _ := startTLSPostgres(t, images.Postgres17, "17", hostsslPassword, ownedDatabase("right")...)

	hub := env.startStandin(passwordSetup(certs, "wrong"))
	expectRetrying(t, hub, regexp.QuoteMeta(`password authentication failed for user "cocalc"`))
	if logs := hub.logs(); strings.Contains(logs, "wrong") {
		t.Errorf("the log contains the password:\n%s", logs)
	}
}

// expectSchemaExit checks that the stand-in exits with status 1 after a
// failed schema sync, logging cause.
func expectSchemaExit(t *testing.T, hub *standin, cause string) {
	t.Helper()
	if exitCode := hub.waitExit(failureTimeout); exitCode != "1" {
		t.Errorf("exit status %s, want 1", exitCode)
	}
	logs := hub.logs()
	if !strings.Contains(logs, "schema sync failed, exiting: ") {
		t.Errorf("log lacks the schema failure:\n%s", logs)
	}
	if !strings.Contains(logs, cause) {
		t.Errorf("log lacks %q:\n%s", cause, logs)
	}
}

func TestTablesOwnedByAnotherRole(t *testing.T) {
	t.Parallel()
	env, certs, db := startTLSPostgres(t, images.Postgres17, "17", hostsslPassword, ownedDatabase("pw")...)
	// A restore run as postgres leaves the tables owned by postgres.
	db.psql("cocalc", "CREATE TABLE accounts (account_id uuid PRIMARY KEY, email_address varchar(254) UNIQUE)")
	db.psql("cocalc", "GRANT ALL ON accounts TO cocalc")

	hub := env.startStandin(passwordSetup(certs, "pw"))
	expectSchemaExit(t, hub, `relation "accounts" already exists`)
}

func TestNoRightsOnPublicSchema(t *testing.T) {
	t.Parallel()
	// The tutorial's grant: enough on PostgreSQL 14, not on 15 and later.
	env, certs, _ := startTLSPostgres(t, images.Postgres17, "17", hostsslPassword,
		"CREATE ROLE cocalc LOGIN PASSWORD 'pw'",
		"CREATE DATABASE cocalc",
		"GRANT ALL PRIVILEGES ON DATABASE cocalc TO cocalc")

	hub := env.startStandin(passwordSetup(certs, "pw"))
	expectSchemaExit(t, hub, "permission denied for schema public")
}

func TestPlainSSLTrueWithPrivateCA(t *testing.T) {
	t.Parallel()
	env, _, _ := startTLSPostgres(t, images.Postgres17, "17", hostsslPassword, ownedDatabase("pw")...)

	// SMC_DB_SSL=true checks against the default roots, which lack the
	// private CA. psql runs with sslmode=require and does not check, so
	// only the main connection fails. PostgreSQL sends its ssl_ca_file
	// along with the server certificate, so Node sees a self-signed root.
	vars := baseEnv()
	vars["SMC_DB_SSL"] = "true"
	hub := env.startStandin(standinSetup{env: vars, password: ptr("pw")})
	expectRetrying(t, hub, regexp.QuoteMeta("main connection: ALL clients failed")+".*"+
		regexp.QuoteMeta("self-signed certificate in certificate chain (SELF_SIGNED_CERT_IN_CHAIN)"))
}

func TestMissingDatabaseWithCertAuth(t *testing.T) {
	t.Parallel()
	env, certs, _ := startTLSPostgres(t, images.Postgres17, "17", hostsslCert, "CREATE ROLE cocalc LOGIN CREATEDB")

	// The hub runs createdb with no TLS settings, so it sends no client
	// certificate and the cert rule rejects it.
	hub := env.startStandin(certSetup(certs, 0o600))
	logs := hub.waitLog(`database "cocalc" does not exist: running createdb`, 1, failureTimeout)
	if strings.Contains(logs, "created database") {
		t.Errorf("createdb succeeded without a client certificate:\n%s", logs)
	}
	expectRetrying(t, hub, regexp.QuoteMeta("createdb cocalc: "))
}
