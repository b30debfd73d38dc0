package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func lookupFrom(env map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		value, ok := env[name]
		return value, ok
	}
}

func TestLoadConfigWithoutPGHOST(t *testing.T) {
	_, err := loadConfig(lookupFrom(map[string]string{"PGUSER": "cocalc"}))
	if !errors.Is(err, errLocalDatabase) {
		t.Fatalf("loadConfig without PGHOST: got %v, want errLocalDatabase", err)
	}
}

func TestLoadConfigDefaults(t *testing.T) {
	secrets := t.TempDir()
	cfg, err := loadConfig(lookupFrom(map[string]string{"PGHOST": "", "SECRETS": secrets}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.User != "smc" {
		t.Errorf("User = %q, want smc", cfg.User)
	}
	if cfg.Database != "smc" {
		t.Errorf("Database = %q, want smc", cfg.Database)
	}
	if cfg.HasPassword {
		t.Error("HasPassword is true without a password file")
	}
	if cfg.SSL.Enabled {
		t.Error("SSL is enabled with no SMC_DB_SSL variables")
	}
}

func TestLoadConfigDatabaseOrder(t *testing.T) {
	secrets := t.TempDir()
	cfg, err := loadConfig(lookupFrom(map[string]string{
		"PGHOST": "db", "SECRETS": secrets, "SMC_DB": "first", "PGDATABASE": "second",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Database != "first" {
		t.Errorf("Database = %q, want SMC_DB's value first", cfg.Database)
	}

	cfg, err = loadConfig(lookupFrom(map[string]string{"PGHOST": "db", "SECRETS": secrets, "PGDATABASE": "second"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Database != "second" {
		t.Errorf("Database = %q, want PGDATABASE's value second", cfg.Database)
	}
}

func TestLoadConfigTrimsPassword(t *testing.T) {
	secrets := t.TempDir()
	if err := os.WriteFile(filepath.Join(secrets, "postgres"), []byte("  s3cret \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig(lookupFrom(map[string]string{"PGHOST": "db", "SECRETS": secrets}))
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.HasPassword || cfg.Password != "s3cret" {
		t.Errorf("password = %q (found %t), want s3cret", cfg.Password, cfg.HasPassword)
	}
	if strings.Contains(cfg.describe(), "s3cret") {
		t.Errorf("describe() contains the password: %s", cfg.describe())
	}
}

func TestSSLSettingsRules(t *testing.T) {
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(caFile, []byte("not checked here"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name        string
		env         map[string]string
		wantEnabled bool
		wantObject  bool
	}{
		{"nothing set", map[string]string{}, false, false},
		{"SMC_DB_SSL true", map[string]string{"SMC_DB_SSL": "true"}, true, false},
		{"SMC_DB_SSL TRUE", map[string]string{"SMC_DB_SSL": "TRUE"}, true, false},
		{"SMC_DB_SSL 1", map[string]string{"SMC_DB_SSL": "1"}, false, false},
		{"SMC_DB_SSL yes", map[string]string{"SMC_DB_SSL": "yes"}, false, false},
		{"CA file overrides SMC_DB_SSL false", map[string]string{"SMC_DB_SSL": "false", "SMC_DB_SSL_CA_FILE": caFile}, true, true},
		{"passphrase alone", map[string]string{"SMC_DB_SSL_CLIENT_KEY_PASSPHRASE": "x"}, true, true},
		{"empty CA variable", map[string]string{"SMC_DB_SSL_CA_FILE": ""}, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ssl, err := loadSSLSettings(func(name string) string { return tc.env[name] })
			if err != nil {
				t.Fatal(err)
			}
			if ssl.Enabled != tc.wantEnabled {
				t.Errorf("Enabled = %t, want %t", ssl.Enabled, tc.wantEnabled)
			}
			if ssl.Object != tc.wantObject {
				t.Errorf("Object = %t, want %t", ssl.Object, tc.wantObject)
			}
		})
	}
}

func TestSSLSettingsUnreadableFile(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.crt")
	_, err := loadSSLSettings(func(name string) string {
		if name == "SMC_DB_SSL_CLIENT_CERT_FILE" {
			return missing
		}
		return ""
	})
	if err == nil {
		t.Fatal("loadSSLSettings accepted a missing client certificate file")
	}
	if !strings.Contains(err.Error(), "SMC_DB_SSL_CLIENT_CERT_FILE") {
		t.Errorf("error %q does not name the variable", err)
	}
}

func TestPsqlSettingsUseSystemWithoutCA(t *testing.T) {
	cfg := config{Host: "db:6000,other", User: "cocalc", Password: "pw", SSL: sslSettings{
		Enabled: true, Object: true, ClientCertFile: "/c.crt", ClientKeyFile: "/c.key",
	}}
	settings := psqlSettings(cfg, func(string) string { return "" })
	if settings.Host != "db" || settings.Port != "6000" {
		t.Errorf("host, port = %q, %q, want db, 6000", settings.Host, settings.Port)
	}
	if settings.Database != "postgres" {
		t.Errorf("Database = %q, want postgres", settings.Database)
	}
	if settings.SSLMode != "verify-full" {
		t.Errorf("SSLMode = %q, want verify-full", settings.SSLMode)
	}
	if settings.SSLRootCert != "system" {
		t.Errorf("SSLRootCert = %q, want system", settings.SSLRootCert)
	}
	if settings.SSLCert != "/c.crt" || settings.SSLKey != "/c.key" {
		t.Errorf("client files = %q, %q", settings.SSLCert, settings.SSLKey)
	}
}

func TestPsqlSettingsPlainTrueIsRequire(t *testing.T) {
	cfg := config{Host: "db", SSL: sslSettings{Enabled: true}}
	settings := psqlSettings(cfg, func(string) string { return "" })
	if settings.SSLMode != "require" {
		t.Errorf("SSLMode = %q, want require", settings.SSLMode)
	}
	if settings.Port != "5432" {
		t.Errorf("Port = %q, want 5432", settings.Port)
	}
}

func TestCheckKeyFileMode(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		mode    os.FileMode
		wantErr bool
	}{
		{0o600, false},
		{0o400, false},
		{0o644, true},
		{0o604, true},
	} {
		path := filepath.Join(dir, tc.mode.String())
		if err := os.WriteFile(path, []byte("key"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, tc.mode); err != nil {
			t.Fatal(err)
		}
		err := checkKeyFileMode(path)
		if (err != nil) != tc.wantErr {
			t.Errorf("mode %v: got error %v, want error %t", tc.mode, err, tc.wantErr)
		}
		if err != nil && !strings.Contains(err.Error(), "has group or world access") {
			t.Errorf("mode %v: error %q lacks libpq's wording", tc.mode, err)
		}
	}
}

func TestMatchHostname(t *testing.T) {
	cases := []struct {
		pattern, host string
		want          bool
	}{
		{"db", "db", true},
		{"DB", "db", true},
		{"db", "localhost", false},
		{"*.example.org", "db.example.org", true},
		{"*.example.org", "a.b.example.org", false},
		{"*.example.org", "example.org", false},
		{"", "", false},
	}
	for _, tc := range cases {
		if got := matchHostname(tc.pattern, tc.host); got != tc.want {
			t.Errorf("matchHostname(%q, %q) = %t, want %t", tc.pattern, tc.host, got, tc.want)
		}
	}
}

func TestSplitHubHost(t *testing.T) {
	host, port := splitHubHost("db")
	if host != "db" || port != "5432" {
		t.Errorf("splitHubHost(db) = %q, %q", host, port)
	}
	host, port = splitHubHost("db:5433")
	if host != "db" || port != "5433" {
		t.Errorf("splitHubHost(db:5433) = %q, %q", host, port)
	}
}

func TestBackoffGrowsToTenSeconds(t *testing.T) {
	delay := newBackoff()
	want := []time.Duration{time.Second, 1500 * time.Millisecond, 2250 * time.Millisecond}
	for i, expected := range want {
		if got := delay.next(); got != expected {
			t.Errorf("delay %d = %s, want %s", i, got, expected)
		}
	}
	for range 10 {
		delay.next()
	}
	if got := delay.next(); got != 10*time.Second {
		t.Errorf("delay after many failures = %s, want 10s", got)
	}
}
