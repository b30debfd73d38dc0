package postgres

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
)

// HintError is a failure with a hint that names its cause and the fix.
type HintError struct {
	Err  error
	Hint string
}

func (e *HintError) Error() string { return e.Err.Error() + "\nhint: " + e.Hint }

// Unwrap returns the cause.
func (e *HintError) Unwrap() error { return e.Err }

// ConnectError is a failed connection: what was dialled and why it failed.
type ConnectError struct {
	Where, User, Database string
	Err                   error
}

func (e *ConnectError) Error() string {
	return fmt.Sprintf("cannot connect to %s as user %q, database %q: %s", e.Where, e.User, e.Database, connectCause(e.Err))
}

// Unwrap returns the cause.
func (e *ConnectError) Unwrap() error { return e.Err }

// connectCause shortens pgconn's message, which repeats the user and
// database, to the part that says what failed.
func connectCause(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return fmt.Sprintf("%s (SQLSTATE %s)", pgErr.Message, pgErr.Code)
	}
	msg := err.Error()
	if i := strings.Index(msg, "`: "); i >= 0 && strings.HasPrefix(msg, "failed to connect to `") {
		msg = msg[i+3:]
	}
	return msg
}

var (
	hbaNoEntry = regexp.MustCompile(`no pg_hba\.conf entry for host "([^"]*)", user "([^"]*)", database "([^"]*)"(?:, (.*))?`)
	hbaRejects = regexp.MustCompile(`pg_hba\.conf rejects connection for host "([^"]*)", user "([^"]*)", database "([^"]*)"(?:, (.*))?`)
	certFailed = regexp.MustCompile(`certificate authentication failed for user "([^"]*)"`)
)

// explainConnect wraps a connection failure with a hint when the cause is
// one of the known ones.
func explainConnect(err error, spec *ConnSpec) error {
	cerr := &ConnectError{Where: spec.Where(), User: spec.User, Database: spec.Database, Err: err}
	if hint := connectHint(err, spec); hint != "" {
		return &HintError{Err: cerr, Hint: hint}
	}
	return cerr
}

func connectHint(err error, spec *ConnSpec) string {
	var hostErr x509.HostnameError
	if errors.As(err, &hostErr) {
		names := hostErr.Certificate.DNSNames
		for _, ip := range hostErr.Certificate.IPAddresses {
			names = append(names, ip.String())
		}
		return fmt.Sprintf("the server's certificate names %s, not %q, the name verify-full checks: "+
			"connect to a name the certificate carries, pass server_name=%q to check that name while dialling %s, "+
			"or issue the server a certificate with %q among its names",
			quoteList(names), hostErr.Host, firstOr(names, "NAME"), spec.Host, hostErr.Host)
	}
	var authErr x509.UnknownAuthorityError
	if errors.As(err, &authErr) {
		return "the server's certificate is not signed by a CA in sslrootcert: pass the CA certificate that issued " +
			"the server's certificate as sslrootcert"
	}

	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		if hint := serverHint(pgErr, spec); hint != "" {
			return hint
		}
	}

	msg := err.Error()
	switch {
	case strings.Contains(msg, "server refused TLS connection"):
		return "the server does not offer TLS, but sslmode " + spec.SSLMode + " needs it: turn on ssl in the server's " +
			"postgresql.conf with a certificate and key, or lower sslmode"
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Sprintf("nothing accepts connections at %s: start the server, check the port, and check that "+
			"listen_addresses in postgresql.conf covers this address", spec.Where())
	case errors.Is(err, syscall.ENOENT) && strings.HasPrefix(spec.Host, "/"):
		return fmt.Sprintf("there is no server socket in %s: start the server or pass host= and port= of a running one", spec.Host)
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return fmt.Sprintf("the name %q does not resolve from this machine: connect to an address and pass "+
			"server_name=%q to verify the certificate against the name", dnsErr.Name, dnsErr.Name)
	}
	return ""
}

func serverHint(pgErr *pgconn.PgError, spec *ConnSpec) string {
	switch pgErr.Code {
	case "57P03":
		return "the server is starting up or in recovery and does not accept connections yet: " +
			"wait for it with postgres.wait(...), or read its log if it stays this way"
	case "28P01":
		return fmt.Sprintf("the password is wrong for role %q, or the role has no password: check the secret "+
			"passed as password, or set it with postgres.role(session, %q, password=...) as an administrator", spec.User, spec.User)
	case "3D000":
		return fmt.Sprintf("database %q does not exist: create it with postgres.database(...) or pass database= of an existing one", spec.Database)
	}

	if m := certFailed.FindStringSubmatch(pgErr.Message); m != nil {
		cn := spec.ClientCN
		if cn == "" {
			return fmt.Sprintf("pg_hba.conf asks for cert authentication for role %q and no client certificate "+
				"was sent: pass sslcert= and sslkey= with a certificate whose common name is %q", m[1], m[1])
		}
		return fmt.Sprintf("the client certificate's common name is %q but the role is %q; under cert authentication "+
			"they must be equal: issue a client certificate with common_name=%q, or connect as user=%q", cn, m[1], m[1], cn)
	}
	if strings.Contains(pgErr.Message, "connection requires a valid client certificate") {
		return "pg_hba.conf asks for a client certificate: pass sslcert= and sslkey= with a certificate signed by the server's ssl_ca_file"
	}

	noEntry := hbaNoEntry.FindStringSubmatch(pgErr.Message)
	rejects := hbaRejects.FindStringSubmatch(pgErr.Message)
	m := noEntry
	if m == nil {
		m = rejects
	}
	if m == nil {
		return ""
	}
	host, user, database, encryption := m[1], m[2], m[3], m[4]
	// PostgreSQL 14 and later say "no encryption", older ones "SSL off".
	plain := strings.Contains(encryption, "no encryption") || strings.Contains(encryption, "SSL off")
	switch {
	case plain && (spec.SSLMode == "disable" || spec.SSLMode == "allow"):
		return fmt.Sprintf("the server accepts role %q only over TLS, and sslmode %s connected without it: "+
			"pass sslmode=\"verify-full\" with sslrootcert= (or at least sslmode=\"require\")", user, spec.SSLMode)
	case plain:
		return fmt.Sprintf("the connection ran without TLS because the server does not offer it, and pg_hba.conf "+
			"has no line for plain connections of role %q: turn on ssl in the server's postgresql.conf", user)
	case rejects != nil:
		return fmt.Sprintf("a reject line in pg_hba.conf matches host %s, role %q, database %q: "+
			"add an accepting line above it, for example with postgres.hba(...)", host, user, database)
	}
	return fmt.Sprintf("pg_hba.conf has no line that admits host %s, role %q, database %q over TLS: add one, "+
		"for example postgres.hba(container, \"hostssl\", %q, %q, \"%s/32\", \"scram-sha-256\"), and reload the server",
		host, user, database, database, user, host)
}

// explainSQL adds a hint to known failures of statements.
func explainSQL(err error) error {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return err
	}
	switch {
	case pgErr.Code == "25006":
		return &HintError{Err: err, Hint: "the session is read-only because this is a dry run; " +
			"use query only for reads, and exec for changes"}
	case pgErr.Code == "42501" && strings.Contains(pgErr.Message, "must be member of role"),
		pgErr.Code == "42501" && strings.Contains(pgErr.Message, "must be able to SET ROLE"):
		return &HintError{Err: err, Hint: "the session's role must be a member of the owner role, as on " +
			"managed databases whose administrator is not a superuser: run GRANT <owner> TO <administrator> first"}
	}
	return err
}

// logHints are the server log lines whose cause cocalcctl can name.
var logHints = []struct {
	re   *regexp.Regexp
	hint func(m []string) string
}{
	{regexp.MustCompile(`private key file "([^"]*)" has group or world access`), func(m []string) string {
		return fmt.Sprintf("PostgreSQL refuses to start because its key file %s can be read by group or others: "+
			"make it owned by the server's user with mode 0600 (or owned by root, group of the server's user, mode 0640)", m[1])
	}},
	{regexp.MustCompile(`private key file "([^"]*)" must be owned by the database user or root`), func(m []string) string {
		return fmt.Sprintf("PostgreSQL refuses to start because its key file %s belongs to another user: "+
			"make the server's user or root its owner", m[1])
	}},
	{regexp.MustCompile(`could not load (?:server certificate|private key) file "([^"]*)": (.*)`), func(m []string) string {
		return fmt.Sprintf("PostgreSQL cannot read %s (%s): check that the file exists inside the server's "+
			"environment and that ssl_cert_file and ssl_key_file name it", m[1], m[2])
	}},
	{regexp.MustCompile(`could not bind IPv[46] address "([^"]*)": Address already in use`), func(m []string) string {
		return fmt.Sprintf("another program already listens on %s: stop it or change the server's port", m[1])
	}},
}

// LogHint returns a hint for the first known failure in a server log, or
// "" when it finds none. A client only sees a refused connection when the
// server did not start, so the cause has to come from the log.
func LogHint(log string) string {
	for _, line := range strings.Split(log, "\n") {
		for _, h := range logHints {
			if m := h.re.FindStringSubmatch(line); m != nil {
				return h.hint(m)
			}
		}
	}
	return ""
}

func quoteList(names []string) string {
	if len(names) == 0 {
		return "no name"
	}
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}

func firstOr(names []string, def string) string {
	if len(names) > 0 {
		return names[0]
	}
	return def
}
