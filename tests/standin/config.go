package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// sslSettings is the hub's database TLS setting. In CoCalc it is either a
// boolean or a Node TLS options object built from the SMC_DB_SSL_* variables.
type sslSettings struct {
	// Enabled is false only when no TLS is used at all.
	Enabled bool
	// Object is true when any SMC_DB_SSL_*_FILE or the passphrase variable is
	// set. Then CA and client files are used and SMC_DB_SSL is ignored.
	Object bool

	CAFile         string
	ClientCertFile string
	ClientKeyFile  string
	Passphrase     string

	// PEM contents, read once at start as CoCalc does when its data module loads.
	CA         []byte
	ClientCert []byte
	ClientKey  []byte
}

// config is what the hub reads from its environment to reach the database.
type config struct {
	// Host is PGHOST exactly as given, which may contain ":port" or a comma list.
	Host     string
	User     string
	Database string
	// Password is the trimmed content of the secrets file, empty when the file
	// does not exist.
	Password     string
	PasswordFile string
	HasPassword  bool
	// EnvPassword is PGPASSWORD, which node-postgres falls back to when the
	// hub passes no password.
	EnvPassword string
	// NodePort is PGPORT, which only the pool path (node-postgres defaults)
	// reads. The other two paths use 5432 or the port inside PGHOST.
	NodePort string
	SSL      sslSettings
	// RejectUnauthorized is false when NODE_TLS_REJECT_UNAUTHORIZED=0, which
	// turns off certificate checks in Node (not in psql).
	RejectUnauthorized bool
	// ExtraCAFile is NODE_EXTRA_CA_CERTS, added to Node's default roots.
	ExtraCAFile string
}

// errLocalDatabase means PGHOST is not set, so the real image would start its
// own PostgreSQL, which the stand-in does not do.
var errLocalDatabase = errors.New("PGHOST is not set, so cocalc-docker would run its own internal PostgreSQL, " +
	"which the stand-in does not model: set PGHOST to the database host")

// loadConfig reads the environment through lookup (os.LookupEnv in main)
// with the rules of CoCalc's data module and cocalc-docker's run.py.
func loadConfig(lookup func(string) (string, bool)) (config, error) {
	env := func(name string) string {
		value, _ := lookup(name)
		return value
	}
	// Values given with Node's `??`: an empty but set variable stays empty.
	envOr := func(fallback string, names ...string) string {
		for _, name := range names {
			if value, ok := lookup(name); ok {
				return value
			}
		}
		return fallback
	}

	host, external := lookup("PGHOST")
	if !external {
		return config{}, errLocalDatabase
	}
	cfg := config{
		Host:               host,
		User:               envOr("smc", "PGUSER"),
		Database:           envOr("smc", "SMC_DB", "PGDATABASE"),
		EnvPassword:        env("PGPASSWORD"),
		NodePort:           env("PGPORT"),
		RejectUnauthorized: env("NODE_TLS_REJECT_UNAUTHORIZED") != "0",
		ExtraCAFile:        env("NODE_EXTRA_CA_CERTS"),
	}

	// run.py always sets DATA=/projects, so secrets default to /projects/secrets.
	secrets := envOr("/projects/secrets", "SECRETS")
	cfg.PasswordFile = filepath.Join(secrets, "postgres")
	content, err := os.ReadFile(cfg.PasswordFile)
	switch {
	case err == nil:
		cfg.Password = strings.TrimSpace(string(content))
		cfg.HasPassword = true
	case errors.Is(err, fs.ErrNotExist):
	default:
		return config{}, fmt.Errorf("read password file %s: %w", cfg.PasswordFile, err)
	}

	ssl, err := loadSSLSettings(env)
	if err != nil {
		return config{}, err
	}
	cfg.SSL = ssl
	return cfg, nil
}

// loadSSLSettings applies CoCalc's rule: a non-empty SMC_DB_SSL_CA_FILE,
// SMC_DB_SSL_CLIENT_CERT_FILE, SMC_DB_SSL_CLIENT_KEY_FILE or
// SMC_DB_SSL_CLIENT_KEY_PASSPHRASE makes an options object and SMC_DB_SSL is
// ignored. Otherwise TLS is on only when SMC_DB_SSL, lowercased, is "true".
// A file that cannot be read is an error, as CoCalc fails when it loads.
func loadSSLSettings(env func(string) string) (sslSettings, error) {
	ssl := sslSettings{
		CAFile:         env("SMC_DB_SSL_CA_FILE"),
		ClientCertFile: env("SMC_DB_SSL_CLIENT_CERT_FILE"),
		ClientKeyFile:  env("SMC_DB_SSL_CLIENT_KEY_FILE"),
		Passphrase:     env("SMC_DB_SSL_CLIENT_KEY_PASSPHRASE"),
	}
	files := []struct {
		variable string
		path     string
		content  *[]byte
	}{
		{"SMC_DB_SSL_CA_FILE", ssl.CAFile, &ssl.CA},
		{"SMC_DB_SSL_CLIENT_CERT_FILE", ssl.ClientCertFile, &ssl.ClientCert},
		{"SMC_DB_SSL_CLIENT_KEY_FILE", ssl.ClientKeyFile, &ssl.ClientKey},
	}
	for _, file := range files {
		if file.path == "" {
			continue
		}
		content, err := os.ReadFile(file.path)
		if err != nil {
			return sslSettings{}, fmt.Errorf("%s: cannot read %s: %w", file.variable, file.path, err)
		}
		*file.content = content
		ssl.Object = true
	}
	if ssl.Passphrase != "" {
		ssl.Object = true
	}

	ssl.Enabled = ssl.Object || strings.ToLower(env("SMC_DB_SSL")) == "true"
	return ssl, nil
}

// describe returns the settings for the log, without the password, the
// passphrase or any file content.
func (c config) describe() string {
	var parts []string
	parts = append(parts, fmt.Sprintf("PGHOST=%q PGUSER=%q database=%q", c.Host, c.User, c.Database))
	if c.HasPassword {
		parts = append(parts, "password from "+c.PasswordFile)
	} else {
		parts = append(parts, "no password file at "+c.PasswordFile)
	}
	switch {
	case !c.SSL.Enabled:
		parts = append(parts, "ssl off")
	case !c.SSL.Object:
		parts = append(parts, "ssl on (SMC_DB_SSL=true, default CA roots)")
	default:
		parts = append(parts, fmt.Sprintf("ssl on (ca file %q, client cert %q, client key %q, passphrase set: %t)",
			c.SSL.CAFile, c.SSL.ClientCertFile, c.SSL.ClientKeyFile, c.SSL.Passphrase != ""))
	}
	if !c.RejectUnauthorized {
		parts = append(parts, "NODE_TLS_REJECT_UNAUTHORIZED=0")
	}
	return strings.Join(parts, ", ")
}
