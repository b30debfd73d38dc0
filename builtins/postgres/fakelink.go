package postgres

// This file links the fake PostgreSQL to a fake (or real) Docker engine.
// A server in a container then reads its pg_hba.conf and postgresql.conf
// from the container's files, as a real server does. postgres.hba and
// postgres.conf edit those files through the docker module, and the next
// reload (or restart) of the fake server applies them. As in PostgreSQL,
// pg_hba_file_rules shows the file as it is on disk, reloaded or not.

import (
	"context"
	"fmt"
	"net"
	"path"
	"regexp"
	"strings"

	"github.com/cocalcctl/cocalcctl/builtins/docker"
)

// localInContainer is Fake.Local when the fake is linked to an engine: the
// server is the one in the running container spec.Container, created on
// first use when the container has a data folder (a postgresql.conf at the
// path current_setting('config_file') returns).
func (f *Fake) localInContainer(ctx context.Context, spec *LocalSpec) (Session, error) {
	c, err := f.Engine.ContainerInspect(ctx, spec.Container)
	if err != nil || !c.Running {
		if spec.ReadOnly {
			// Under --dry-run an earlier step only would have started it.
			return &absentSession{info: Info{Kind: "local", User: spec.User, Database: spec.Database, Where: spec.Container}}, nil
		}
		if err != nil {
			return nil, err
		}
		return nil, &docker.Error{Kind: docker.ErrNotRunning, Object: "container", Name: spec.Container}
	}

	f.mu.Lock()
	s, ok := f.servers[spec.Container]
	f.mu.Unlock()
	if !ok {
		config := f.defaultFiles()["config_file"]
		if _, err := f.Engine.CopyFrom(ctx, spec.Container, config); err != nil {
			return nil, fmt.Errorf("container %s runs no PostgreSQL server in the fake: %s is missing (%v); "+
				"give its image the files of a data folder after initdb, or add a server with Fake.Server(%q)",
				spec.Container, config, err, spec.Container)
		}
		s = f.Server(spec.Container)
	}

	s.mu.Lock()
	s.engine, s.container = f.Engine, spec.Container
	if !c.StartedAt.Equal(s.startedAt) {
		// The container started (again) since the last session: the server
		// read its files then, and settings that need a restart apply.
		s.startedAt = c.StartedAt
		s.loadFiles(ctx, true)
	}
	s.mu.Unlock()

	if err := s.admit(spec.User, spec.Database, "", false, "", false); err != nil {
		return nil, err
	}
	return &fakeSession{server: s, info: Info{Kind: "local", User: spec.User, Database: spec.Database, Where: spec.Container},
		readOnly: spec.ReadOnly}, nil
}

// linked reports whether the server reads its files from a container. The
// caller holds s.mu.
func (s *FakeServer) linked() bool { return s.engine != nil && s.container != "" }

// readFile returns a file of the server's container; a relative path is
// relative to the data folder, as in postgresql.conf. The caller holds s.mu.
func (s *FakeServer) readFile(ctx context.Context, p string) (docker.File, error) {
	if !path.IsAbs(p) {
		p = path.Join(path.Dir(s.Files["config_file"]), p)
	}
	files, err := s.engine.CopyFrom(ctx, s.container, p)
	if err != nil {
		return docker.File{}, err
	}
	if !files[0].Mode.IsRegular() {
		return docker.File{}, fmt.Errorf("%s is not a regular file", p)
	}
	return files[0], nil
}

// loadFiles reads pg_hba.conf and postgresql.conf from the container, as
// the server does when it starts (start) or reloads. A file that cannot be
// read leaves the rules or settings as they were, as PostgreSQL keeps its
// configuration when a reload finds an error. The caller holds s.mu.
func (s *FakeServer) loadFiles(ctx context.Context, start bool) {
	if hba, err := s.readFile(ctx, s.Files["hba_file"]); err == nil {
		rules, _ := parseHBAFile(string(hba.Data))
		s.HBA = s.HBA[:0]
		for _, r := range rules {
			if r.err == "" {
				s.HBA = append(s.HBA, r.FakeHBA)
			}
		}
	}
	conf := map[string]string{}
	if file, err := s.readFile(ctx, s.Files["config_file"]); err == nil {
		conf = parseConfFile(string(file.Data))
	}
	s.applySettings(conf, start)
	if start {
		for _, set := range s.Settings {
			set.PendingRestart = false
		}
	}
	s.checkSSL(ctx)
}

// applySettings sets every setting to its value in postgresql.auto.conf
// (the File of the setting), else in conf, else the server's default. At a
// reload, settings that need a restart only become pending. The caller
// holds s.mu.
func (s *FakeServer) applySettings(conf map[string]string, start bool) {
	for name, set := range s.Settings {
		text, ok := set.File, set.File != ""
		if !ok {
			text, ok = conf[name]
		}
		if !ok {
			text, ok = s.defaults[name]
		}
		if !ok {
			continue
		}
		value := normalizeSetting(set, text)
		switch {
		case value == set.Value:
			set.PendingRestart = false
		case set.Context == "postmaster" && !start:
			set.PendingRestart = true
		default:
			set.Value = value
		}
	}
}

// normalizeSetting converts a setting's text from a file to the form
// pg_settings shows: numbers in the setting's unit, booleans as on or off.
func normalizeSetting(set *FakeSetting, text string) string {
	if set.Unit != "" {
		if n, err := settingNumber(text, set.Unit); err == nil {
			return fmt.Sprint(n)
		}
	}
	if set.Vartype == "bool" {
		if b := parseBool(text); b != "" {
			return b
		}
	}
	return text
}

// checkSSL loads the TLS files when ssl is on. Like PostgreSQL 17, it
// rejects a key file that is not owned by the server's user with no access
// for group and others, or by root with at most read access for the group.
// Then, as a real server after a reload, it writes the reason to the
// container's log and keeps serving without TLS, while pg_settings still
// shows ssl on. (A real server also refuses to start with such a key; the
// fake only logs.) The caller holds s.mu.
func (s *FakeServer) checkSSL(ctx context.Context) {
	s.sslLoaded = false
	set := s.Settings["ssl"]
	if set == nil || set.Value != "on" {
		return
	}
	problem := ""
	certPath, keyPath := s.setting("ssl_cert_file", "server.crt"), s.setting("ssl_key_file", "server.key")
	_, certErr := s.readFile(ctx, certPath)
	key, keyErr := s.readFile(ctx, keyPath)
	switch {
	case certErr != nil:
		problem = fmt.Sprintf("could not load server certificate file %q: %v", certPath, certErr)
	case keyErr != nil:
		problem = fmt.Sprintf("could not load private key file %q: %v", keyPath, keyErr)
	case key.UID == s.serverUID(ctx) && key.Mode.Perm()&0o077 != 0,
		key.UID == 0 && key.Mode.Perm()&0o037 != 0,
		key.UID != 0 && key.UID != s.serverUID(ctx):
		problem = fmt.Sprintf("private key file %q has group or world access\nDETAIL:  File must have permissions u=rw (0600) or less "+
			"if owned by the database user, or permissions u=rw,g=r (0640) or less if owned by root.", keyPath)
	}
	if problem == "" {
		s.sslLoaded = true
		return
	}
	if logger, ok := s.engine.(logAppender); ok {
		logger.AppendLog(s.container, "LOG:  "+problem+"\nLOG:  SSL configuration was not reloaded\n")
	}
}

// logAppender is an engine that takes output for a container, as the Docker
// fake does; a real engine gets the server's own log lines.
type logAppender interface {
	AppendLog(container, text string) error
}

// SSLLoaded reports whether the server has loaded its TLS files, so that it
// accepts TLS connections: ssl is on and the files passed the checks.
func (s *FakeServer) SSLLoaded() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sslLoaded
}

// setting returns the value of a string setting, or def.
func (s *FakeServer) setting(name, def string) string {
	if set := s.Settings[name]; set != nil && set.Value != "" {
		return set.Value
	}
	return def
}

// serverUID returns the uid of the postgres user in the container's
// /etc/passwd, the user the server runs as; -1 when it is not listed.
func (s *FakeServer) serverUID(ctx context.Context) int {
	files, err := s.engine.CopyFrom(ctx, s.container, "/etc/passwd")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(files[0].Data), "\n") {
		fields := strings.Split(line, ":")
		if len(fields) >= 3 && fields[0] == "postgres" {
			var uid int
			if _, err := fmt.Sscan(fields[2], &uid); err == nil {
				return uid
			}
		}
	}
	return -1
}

// parseConfFile returns the settings of a postgresql.conf: name = value
// lines, the value quoted or not, with comments removed; a later line wins.
// Include directives are not followed.
func parseConfFile(text string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.IndexAny(line, " \t=")
		if i <= 0 {
			continue
		}
		name := strings.ToLower(line[:i])
		rest := strings.TrimSpace(line[i:])
		rest = strings.TrimSpace(strings.TrimPrefix(rest, "="))
		value := ""
		if strings.HasPrefix(rest, "'") {
			var b strings.Builder
			for j := 1; j < len(rest); j++ {
				switch {
				case rest[j] == '\'' && j+1 < len(rest) && rest[j+1] == '\'':
					b.WriteByte('\'')
					j++
				case rest[j] == '\\' && j+1 < len(rest):
					b.WriteByte(rest[j+1])
					j++
				case rest[j] == '\'':
					j = len(rest)
				default:
					b.WriteByte(rest[j])
				}
			}
			value = b.String()
		} else {
			value, _, _ = strings.Cut(rest, "#")
			value = strings.TrimSpace(value)
		}
		if name == "include" || name == "include_if_exists" || name == "include_dir" {
			continue
		}
		out[name] = value
	}
	return out
}

// hbaRule is one line of pg_hba.conf as pg_hba_file_rules shows it.
type hbaRule struct {
	FakeHBA
	line    int
	netmask string
	err     string
}

var hbaMethods = []string{"trust", "reject", "scram-sha-256", "md5", "password", "gss", "sspi", "ident", "peer", "ldap", "radius", "cert", "pam", "bsd"}

// parseHBAFile returns the rules of a pg_hba.conf, with an error text for
// lines PostgreSQL would not load.
func parseHBAFile(text string) ([]hbaRule, error) {
	var out []hbaRule
	for i, line := range strings.Split(text, "\n") {
		if j := strings.IndexByte(line, '#'); j >= 0 {
			line = line[:j]
		}
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		r := hbaRule{line: i + 1}
		r.Type = fields[0]
		rest := fields[1:]
		switch {
		case !containsString(hbaTypes, r.Type):
			r.err = fmt.Sprintf("invalid connection type %q", r.Type)
		case len(rest) < 2:
			r.err = "end-of-line before database specification"
		default:
			r.Database, r.User, rest = rest[0], rest[1], rest[2:]
			if r.Type != "local" && len(rest) > 0 {
				r.Address, rest = rest[0], rest[1:]
				if !strings.Contains(r.Address, "/") && net.ParseIP(r.Address) != nil && len(rest) > 0 {
					r.netmask, rest = rest[0], rest[1:]
				}
			}
			switch {
			case r.Type != "local" && r.Address == "":
				r.err = "end-of-line before IP address specification"
			case len(rest) == 0:
				r.err = "end-of-line before authentication method"
			case !containsString(hbaMethods, rest[0]):
				r.err = fmt.Sprintf("invalid authentication method %q", rest[0])
			default:
				r.Method, r.Options = rest[0], strings.Join(rest[1:], " ")
			}
		}
		out = append(out, r)
	}
	return out, nil
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// reHBARules matches the queries of pg_hba_file_rules the fake answers:
// plain columns, optionally without the lines in error, in file order.
var reHBARules = regexp.MustCompile(`(?i)^select (.+?) from (?:pg_catalog\.)?pg_hba_file_rules(?: where error is null)?(?: order by (?:line_number|rule_number))?$`)

// hbaFileRules answers a query of pg_hba_file_rules: from the container's
// pg_hba.conf as it is now when the server is linked, otherwise from HBA.
// The caller holds s.mu.
func (s *FakeServer) hbaFileRules(me *FakeRole, sql string) (*Result, error) {
	m := reHBARules.FindStringSubmatch(sql)
	if me == nil || !me.Superuser {
		return nil, pgError("42501", "permission denied for view pg_hba_file_rules")
	}
	onlyValid := strings.Contains(strings.ToLower(sql), "where error is null")

	var rules []hbaRule
	file := s.Files["hba_file"]
	if s.linked() {
		f, err := s.readFile(context.Background(), file)
		if err != nil {
			return nil, pgError("58P01", "could not open file %q: %v", file, err)
		}
		rules, _ = parseHBAFile(string(f.Data))
	} else {
		for i, e := range s.HBA {
			rules = append(rules, hbaRule{FakeHBA: e, line: i + 1})
		}
	}

	res := &Result{}
	for _, col := range strings.Split(m[1], ",") {
		res.Columns = append(res.Columns, strings.TrimSpace(col))
	}
	number := int64(0)
	for _, r := range rules {
		if r.err != "" && onlyValid {
			continue
		}
		row := make([]any, len(res.Columns))
		var ruleNumber any
		if r.err == "" {
			number++
			ruleNumber = number
		}
		for i, col := range res.Columns {
			v, err := r.column(col, ruleNumber, file)
			if err != nil {
				return nil, err
			}
			row[i] = v
		}
		res.Rows = append(res.Rows, row)
	}
	return res, nil
}

// column returns one column of a pg_hba_file_rules row.
func (r hbaRule) column(name string, ruleNumber any, file string) (any, error) {
	list := func(s string) any {
		if s == "" {
			return nil
		}
		var out []any
		for _, item := range strings.Split(s, ",") {
			out = append(out, item)
		}
		return out
	}
	orNil := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	switch name {
	case "rule_number":
		return ruleNumber, nil
	case "file_name":
		return file, nil
	case "line_number":
		return int64(r.line), nil
	case "type":
		return orNil(r.Type), nil
	case "database":
		return list(r.Database), nil
	case "user_name":
		return list(r.User), nil
	case "address", "netmask":
		address, mask := r.Address, r.netmask
		if ip, ipnet, err := net.ParseCIDR(r.Address); err == nil {
			address, mask = ip.String(), net.IP(ipnet.Mask).String()
		}
		if name == "address" {
			return orNil(address), nil
		}
		return orNil(mask), nil
	case "auth_method":
		return orNil(r.Method), nil
	case "options":
		if r.Options == "" {
			return nil, nil
		}
		return list(strings.ReplaceAll(r.Options, " ", ",")), nil
	case "error":
		return orNil(r.err), nil
	}
	return nil, fmt.Errorf("the fake PostgreSQL has no column %q in pg_hba_file_rules: select plain columns such as line_number, type, database, user_name, address, auth_method", name)
}
