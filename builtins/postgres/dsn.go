package postgres

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// errPasswordInDSN is returned for a DSN that holds a password. The message
// never repeats the DSN, because it holds the password.
var errPasswordInDSN = errors.New("the DSN holds a password; remove it and pass password=secret.file(...) instead, " +
	"so the password stays out of the script")

// dsnKeywords are the libpq keywords a DSN may set.
var dsnKeywords = map[string]bool{
	"host": true, "port": true, "user": true, "dbname": true,
	"sslmode": true, "sslrootcert": true, "sslcert": true, "sslkey": true,
	"connect_timeout": true, "application_name": true,
}

// parseDSN parses a libpq connection URI (postgresql://...) or a
// keyword/value string (host=... dbname=...) into libpq keywords. A password
// in either form is rejected.
func parseDSN(dsn string) (map[string]string, error) {
	var (
		settings map[string]string
		err      error
	)
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		settings, err = parseURI(dsn)
	} else {
		settings, err = parseKeywordValue(dsn)
	}
	if err != nil {
		return nil, err
	}

	for k := range settings {
		switch {
		case k == "password" || k == "sslpassword" || k == "passfile":
			return nil, errPasswordInDSN
		case !dsnKeywords[k]:
			return nil, fmt.Errorf("the DSN sets %q, which postgres.connect does not support; it supports %s",
				k, strings.Join(sortedKeys(dsnKeywords), ", "))
		}
	}
	if strings.Contains(settings["host"], ",") {
		return nil, errors.New("the DSN names several hosts; give one host")
	}
	return settings, nil
}

func parseURI(dsn string) (map[string]string, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		// url.Parse quotes its input, which may hold a password.
		if strings.Contains(strings.SplitN(strings.SplitN(dsn, "://", 2)[1], "/", 2)[0], "@") {
			return nil, errPasswordInDSN
		}
		return nil, errors.New("the DSN is not a valid URI: write postgresql://user@host:port/database?sslmode=...")
	}
	settings := map[string]string{}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			return nil, errPasswordInDSN
		}
		if name := u.User.Username(); name != "" {
			settings["user"] = name
		}
	}
	if h := u.Hostname(); h != "" {
		settings["host"] = h
	}
	if p := u.Port(); p != "" {
		settings["port"] = p
	}
	if db := strings.TrimPrefix(u.Path, "/"); db != "" {
		settings["dbname"] = db
	}
	for k, vs := range u.Query() {
		if len(vs) > 0 {
			settings[k] = vs[len(vs)-1]
		}
	}
	if settings["ssl"] == "true" {
		settings["sslmode"] = "require"
		delete(settings, "ssl")
	}
	return settings, nil
}

// parseKeywordValue parses "key=value key='quoted value'" with libpq's rules:
// a backslash takes the next character literally.
func parseKeywordValue(s string) (map[string]string, error) {
	settings := map[string]string{}
	i := 0
	skipSpace := func() {
		for i < len(s) && strings.IndexByte(" \t\n\r\v\f", s[i]) >= 0 {
			i++
		}
	}
	for {
		skipSpace()
		if i >= len(s) {
			return settings, nil
		}
		start := i
		for i < len(s) && s[i] != '=' && strings.IndexByte(" \t\n\r\v\f", s[i]) < 0 {
			i++
		}
		key := s[start:i]
		skipSpace()
		if i >= len(s) || s[i] != '=' || key == "" {
			return nil, fmt.Errorf("the DSN is not valid: missing \"=\" after %q; write keyword=value pairs such as host=db port=5432", key)
		}
		i++
		skipSpace()

		var b strings.Builder
		if i < len(s) && s[i] == '\'' {
			i++
			for ; i < len(s) && s[i] != '\''; i++ {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				b.WriteByte(s[i])
			}
			if i >= len(s) {
				if key == "password" {
					return nil, errPasswordInDSN
				}
				return nil, fmt.Errorf("the DSN is not valid: the quoted value of %s is not closed", key)
			}
			i++
		} else {
			for ; i < len(s) && strings.IndexByte(" \t\n\r\v\f", s[i]) < 0; i++ {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				b.WriteByte(s[i])
			}
		}
		settings[key] = b.String()
	}
}
