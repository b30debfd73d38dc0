package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// The hub reaches the database along three code paths that read PGHOST and
// the port differently and check different TLS names:
//
//   - A, the hub's main connection: PGHOST split at the first ':' (port 5432
//     when none), the name resolved, one connection per address, TLS name
//     "localhost" because Node gets an IP address and no servername.
//   - B, the start-up `psql --list` check and `createdb`: libpq (psql 14)
//     against the host part of PGHOST and the database "postgres".
//   - C, the node-postgres pool used for the schema and the API: PGHOST as
//     it is, port from PGPORT or 5432, TLS name PGHOST.

const (
	hubDefaultPort = "5432"
	connectTimeout = 10 * time.Second
)

// splitHubHost splits one PGHOST entry at its first ':' as the hub's main
// connection code does, so an IPv6 literal breaks as it does there.
func splitHubHost(entry string) (host, port string) {
	host, port, found := strings.Cut(entry, ":")
	if !found || port == "" {
		port = hubDefaultPort
	}
	return host, port
}

// newConnConfig returns a pgx configuration that no PG* variable of the
// process influences: every field that matters is set here.
func newConnConfig(host, port, user, database, password string, tlsConfig *tls.Config) (*pgx.ConnConfig, error) {
	portNumber, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("invalid port %q: %w", port, err)
	}
	// sslmode=disable in the string overrides PGSSLMODE, so the parser never
	// loads the PGSSL* files. The fields below replace the rest.
	connConfig, err := pgx.ParseConfig("host=127.0.0.1 sslmode=disable")
	if err != nil {
		return nil, fmt.Errorf("build connection settings: %w", err)
	}
	connConfig.Host = host
	connConfig.Port = uint16(portNumber)
	connConfig.User = user
	connConfig.Database = database
	connConfig.Password = password
	connConfig.TLSConfig = tlsConfig
	connConfig.Fallbacks = nil
	connConfig.ValidateConnect = nil
	connConfig.ConnectTimeout = connectTimeout
	connConfig.RuntimeParams = map[string]string{}
	return connConfig, nil
}

// nodePassword is the password node-postgres sends: the secrets file, or
// PGPASSWORD when the hub passes none.
func nodePassword(cfg config) string {
	if cfg.HasPassword {
		return cfg.Password
	}
	return cfg.EnvPassword
}

// connectMain opens path A: one connection per address that each PGHOST
// entry resolves to. It succeeds when at least one connection works.
func connectMain(ctx context.Context, cfg config, logf func(string, ...any)) error {
	var tlsConfig *tls.Config
	if cfg.SSL.Enabled {
		var err error
		tlsConfig, err = nodeTLSConfig(cfg, "localhost")
		if err != nil {
			return fmt.Errorf("main connection TLS settings: %w", err)
		}
	}

	var failures []string
	connected := 0
	for _, entry := range strings.Split(cfg.Host, ",") {
		host, port := splitHubHost(entry)
		addresses, err := net.DefaultResolver.LookupHost(ctx, host)
		if err != nil {
			failures = append(failures, fmt.Sprintf("resolve %q: %v", host, err))
			continue
		}
		for _, address := range addresses {
			connConfig, err := newConnConfig(address, port, cfg.User, cfg.Database, nodePassword(cfg), tlsConfig)
			if err != nil {
				return err
			}
			conn, err := pgx.ConnectConfig(ctx, connConfig)
			if err != nil {
				failures = append(failures, fmt.Sprintf("%s port %s: %v", address, port, err))
				continue
			}
			logf("main connection to %s (%s) port %s works", host, address, port)
			conn.Close(ctx)
			connected++
		}
	}
	if connected == 0 {
		return fmt.Errorf("main connection: ALL clients failed: %s", strings.Join(failures, "; "))
	}
	return nil
}

// connectPool opens one connection the way the hub's node-postgres pool
// (path C) would, to database.
func connectPool(ctx context.Context, cfg config, database string) (*pgx.Conn, error) {
	port := cfg.NodePort
	if port == "" {
		port = hubDefaultPort
	}
	var tlsConfig *tls.Config
	if cfg.SSL.Enabled {
		// node-postgres sets servername only for a host name, and Node
		// then checks "localhost" for an IP address.
		checkName := cfg.Host
		if net.ParseIP(cfg.Host) != nil {
			checkName = "localhost"
		}
		var err error
		tlsConfig, err = nodeTLSConfig(cfg, checkName)
		if err != nil {
			return nil, fmt.Errorf("pool TLS settings: %w", err)
		}
	}
	connConfig, err := newConnConfig(cfg.Host, port, cfg.User, database, nodePassword(cfg), tlsConfig)
	if err != nil {
		return nil, err
	}
	conn, err := pgx.ConnectConfig(ctx, connConfig)
	if err != nil {
		return nil, fmt.Errorf("pool connection to %q port %s: %w", cfg.Host, port, err)
	}
	return conn, nil
}

// libpqSettings are the libpq connection options of path B.
type libpqSettings struct {
	Host, Port, User, Password, Database  string
	SSLMode, SSLRootCert, SSLCert, SSLKey string
}

// psqlSettings returns what the hub passes to `psql --list`: the host part
// of PGHOST, its port and the password only from the secrets file. The SSL
// variables that CoCalc derives from its ssl setting replace the PGSSL*
// variables that the process inherits.
func psqlSettings(cfg config, environ func(string) string) libpqSettings {
	host, port := splitHubHost(strings.Split(cfg.Host, ",")[0])
	settings := libpqSettings{
		Host:        host,
		Port:        port,
		User:        cfg.User,
		Password:    cfg.Password,
		Database:    "postgres",
		SSLMode:     environ("PGSSLMODE"),
		SSLRootCert: environ("PGSSLROOTCERT"),
		SSLCert:     environ("PGSSLCERT"),
		SSLKey:      environ("PGSSLKEY"),
	}
	switch {
	case !cfg.SSL.Enabled:
	case !cfg.SSL.Object:
		settings.SSLMode = "require"
	default:
		settings.SSLMode = "verify-full"
		// psql 14 reads "system" as a file name: only libpq 16 and later
		// take it to mean the system CA store.
		settings.SSLRootCert = "system"
		if cfg.SSL.CAFile != "" {
			settings.SSLRootCert = cfg.SSL.CAFile
		}
		if cfg.SSL.ClientCertFile != "" {
			settings.SSLCert = cfg.SSL.ClientCertFile
		}
		if cfg.SSL.ClientKeyFile != "" {
			settings.SSLKey = cfg.SSL.ClientKeyFile
		}
	}
	return settings
}

// createdbSettings returns what the hub passes to `createdb`: only the
// password, so no TLS settings beyond the inherited PGSSL* variables.
func createdbSettings(cfg config, environ func(string) string) libpqSettings {
	return psqlSettings(config{Host: cfg.Host, User: cfg.User, Password: cfg.Password}, environ)
}

// connectLibpq connects with libpq's sslmode rules, including its checks
// of the certificate files before the handshake.
func connectLibpq(ctx context.Context, settings libpqSettings) (*pgx.Conn, error) {
	home, _ := os.UserHomeDir()
	mode := settings.SSLMode
	if mode == "" {
		mode = "prefer"
	}
	rootCertFile := settings.SSLRootCert
	if rootCertFile == "" {
		rootCertFile = filepath.Join(home, ".postgresql", "root.crt")
	}
	certFile := settings.SSLCert
	if certFile == "" {
		certFile = filepath.Join(home, ".postgresql", "postgresql.crt")
	}
	keyFile := settings.SSLKey
	if keyFile == "" {
		keyFile = filepath.Join(home, ".postgresql", "postgresql.key")
	}

	var tlsConfig *tls.Config
	switch mode {
	case "disable":
	case "allow", "prefer", "require", "verify-ca", "verify-full":
		// libpq checks the chain whenever the root certificate file exists,
		// whatever the mode, and the host name only under verify-full.
		tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: true}
		rootCert, err := os.ReadFile(rootCertFile)
		switch {
		case err == nil:
			roots := x509.NewCertPool()
			roots.AppendCertsFromPEM(rootCert)
			host, checkName := settings.Host, mode == "verify-full"
			tlsConfig.VerifyConnection = func(state tls.ConnectionState) error {
				return verifyLikeLibpq14(state.PeerCertificates, roots, host, checkName)
			}
		case mode == "verify-ca" || mode == "verify-full":
			return nil, fmt.Errorf("root certificate file %q does not exist: either provide the file "+
				"or change sslmode to disable server certificate verification", rootCertFile)
		}
		if err := addLibpqClientCert(tlsConfig, certFile, keyFile); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("invalid sslmode value: %q", mode)
	}

	connConfig, err := newConnConfig(settings.Host, settings.Port, settings.User, settings.Database, settings.Password, tlsConfig)
	if err != nil {
		return nil, err
	}
	// prefer tries TLS first and then plain text; allow the reverse.
	switch mode {
	case "prefer":
		connConfig.Fallbacks = []*pgconn.FallbackConfig{{Host: connConfig.Host, Port: connConfig.Port, TLSConfig: nil}}
	case "allow":
		connConfig.Fallbacks = []*pgconn.FallbackConfig{{Host: connConfig.Host, Port: connConfig.Port, TLSConfig: tlsConfig}}
		connConfig.TLSConfig = nil
	}
	conn, err := pgx.ConnectConfig(ctx, connConfig)
	if err != nil {
		return nil, fmt.Errorf("connection to server at %q, port %s failed: %w", settings.Host, settings.Port, err)
	}
	return conn, nil
}

// addLibpqClientCert loads the client certificate when its file exists, as
// libpq does, after checking the key file's mode. libpq is never given a
// passphrase by the hub, so an encrypted key fails here.
func addLibpqClientCert(tlsConfig *tls.Config, certFile, keyFile string) error {
	certPEM, err := os.ReadFile(certFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("could not open certificate file %q: %w", certFile, err)
	}
	if err := checkKeyFileMode(keyFile); err != nil {
		return err
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return fmt.Errorf("could not load private key file %q: %w", keyFile, err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return fmt.Errorf("could not load private key file %q: %w (an encrypted key needs a passphrase, which psql is not given)", keyFile, err)
	}
	tlsConfig.Certificates = []tls.Certificate{pair}
	return nil
}

// ensureDatabase is path B: list the databases as `psql --list` does on the
// database "postgres", and create the hub's database with `createdb` when
// it is missing.
func ensureDatabase(ctx context.Context, cfg config, environ func(string) string, logf func(string, ...any)) error {
	conn, err := connectLibpq(ctx, psqlSettings(cfg, environ))
	if err != nil {
		return fmt.Errorf("psql --list: %w", err)
	}
	rows, err := conn.Query(ctx, "SELECT datname FROM pg_database")
	var names []string
	if err == nil {
		names, err = pgx.CollectRows(rows, pgx.RowTo[string])
	}
	conn.Close(ctx)
	if err != nil {
		return fmt.Errorf("psql --list: %w", err)
	}
	if slices.Contains(names, cfg.Database) {
		return nil
	}

	logf("database %q does not exist: running createdb, which gets no TLS settings from the hub", cfg.Database)
	conn, err = connectLibpq(ctx, createdbSettings(cfg, environ))
	if err != nil {
		return fmt.Errorf("createdb %s: %w", cfg.Database, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{cfg.Database}.Sanitize()); err != nil {
		return fmt.Errorf("createdb %s: %w", cfg.Database, err)
	}
	logf("created database %q", cfg.Database)
	return nil
}
