package postgres

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"go.starlark.net/starlark"

	"github.com/cocalcctl/cocalcctl/builtins/docker"
	"github.com/cocalcctl/cocalcctl/builtins/runtime"
)

var hbaTypes = []string{"local", "host", "hostssl", "hostnossl", "hostgssenc", "hostnogssenc"}

// hbaLine is the fields of one pg_hba.conf line.
type hbaLine struct {
	fields []string
}

// key returns the fields that make two lines the same rule: type, database,
// user and, except for local lines, address.
func (l hbaLine) key() string {
	n := 3
	if l.fields[0] != "local" {
		n = 4
	}
	if len(l.fields) < n {
		return strings.Join(l.fields, " ")
	}
	return strings.Join(l.fields[:n], " ")
}

// catchAll reports whether the line matches every database and user, so a
// line after it of the same connection type never applies.
func (l hbaLine) catchAll() bool {
	return len(l.fields) >= 3 && l.fields[1] == "all" && l.fields[2] == "all"
}

func parseHBALine(s string) (hbaLine, bool) {
	if i := strings.IndexByte(s, '#'); i >= 0 {
		s = s[:i]
	}
	fields := strings.Fields(s)
	if len(fields) < 4 {
		return hbaLine{}, false
	}
	return hbaLine{fields: fields}, true
}

// ensureHBA returns content with want present exactly once, before the
// first catch-all line, and a description of the change ("" for none). A line
// with the same type, database, user and address is replaced.
func ensureHBA(content, want string) (string, string) {
	wantLine, _ := parseHBALine(want)
	lines := strings.Split(strings.TrimSuffix(content, "\n"), "\n")
	if content == "" {
		lines = nil
	}

	found, catchAll := -1, -1
	for i, l := range lines {
		parsed, ok := parseHBALine(l)
		if !ok {
			continue
		}
		if found < 0 && parsed.key() == wantLine.key() {
			found = i
			continue
		}
		if catchAll < 0 && parsed.catchAll() {
			catchAll = i
		}
	}
	if found >= 0 && (catchAll < 0 || found < catchAll) {
		if existing, _ := parseHBALine(lines[found]); slices.Equal(existing.fields, wantLine.fields) {
			return content, ""
		}
		lines[found] = want
		return joinLines(lines), "replaced " + strings.TrimSpace(lines[found])
	}

	detail := "added"
	if found >= 0 {
		detail = "moved above the catch-all line " + strings.Join(strings.Fields(lines[catchAll]), " ")
		lines = slices.Delete(lines, found, found+1)
		if found < catchAll {
			catchAll--
		}
	}
	if catchAll < 0 {
		lines = append(lines, want)
	} else {
		lines = slices.Insert(lines, catchAll, want)
	}
	return joinLines(lines), detail
}

func joinLines(lines []string) string {
	if len(lines) == 0 {
		return ""
	}
	return strings.Join(lines, "\n") + "\n"
}

func hba(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		container, typ, dbName, user string
		address, path                string
		method                       = "scram-sha-256"
		options                      *starlark.List
		reload                       = true
		state                        = "present"
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "container", &container, "type", &typ, "database", &dbName,
		"user", &user, "address??", &address, "method?", &method, "options?", &options, "path??", &path, "reload?", &reload,
		"state?", &state); err != nil {
		return nil, err
	}

	if state != "present" && state != "absent" {
		return nil, fmt.Errorf("%s: state %q, want \"present\" or \"absent\"", b.Name(), state)
	}
	if !slices.Contains(hbaTypes, typ) {
		return nil, fmt.Errorf("%s: type %q is not a pg_hba.conf connection type: use one of %s", b.Name(), typ, strings.Join(hbaTypes, ", "))
	}
	if (typ == "local") != (address == "") {
		return nil, fmt.Errorf("%s: a %s line %s an address", b.Name(), typ, map[bool]string{true: "takes no", false: "needs"}[typ == "local"])
	}
	fields := []string{typ, dbName, user}
	if address != "" {
		fields = append(fields, address)
	}
	fields = append(fields, method)
	if options != nil {
		for i := range options.Len() {
			o, ok := starlark.AsString(options.Index(i))
			if !ok {
				return nil, fmt.Errorf("%s: options[%d] must be a string such as \"clientcert=verify-full\"", b.Name(), i)
			}
			fields = append(fields, o)
		}
	}
	for _, f := range fields {
		if f == "" || strings.ContainsAny(f, " \t\n#") {
			return nil, fmt.Errorf("%s: %q cannot be a pg_hba.conf field: fields are non-empty and hold no blanks or #", b.Name(), f)
		}
	}
	line := strings.Join(fields, " ")

	if state == "absent" && runtime.EnvOf(thread).DryRun {
		// A server that does not run yet starts from initdb's pg_hba.conf,
		// which has no line to remove.
		if engine, err := engineOf(thread); err == nil && !containerRuns(runtime.EnvOf(thread).Ctx, engine, container) {
			runtime.Begin(thread, b, args, kwargs).Report(runtime.Unchanged, "the container does not run yet")
			return starlark.None, nil
		}
	}
	return editConfig(thread, b, args, kwargs, container, path, "hba_file", "", reload, func(content string) (string, string) {
		if state == "absent" {
			return removeHBA(content, line)
		}
		return ensureHBA(content, line)
	})
}

// removeHBA returns content without the lines whose type, database, user
// and address are those of want.
func removeHBA(content, want string) (string, string) {
	wantLine, _ := parseHBALine(want)
	lines := strings.Split(strings.TrimSuffix(content, "\n"), "\n")
	var kept, removed []string
	for _, l := range lines {
		if parsed, ok := parseHBALine(l); ok && parsed.key() == wantLine.key() {
			removed = append(removed, strings.Join(strings.Fields(l), " "))
			continue
		}
		kept = append(kept, l)
	}
	if len(removed) == 0 {
		return content, ""
	}
	return joinLines(kept), "removed " + strings.Join(removed, "; ")
}

var confNameRe = regexp.MustCompile(`^[a-z_][a-z0-9_.]*$`)

func conf(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		container, name, path string
		value                 starlark.Value
		reload                = true
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "container", &container, "name", &name, "value", &value,
		"path??", &path, "reload?", &reload); err != nil {
		return nil, err
	}

	if !confNameRe.MatchString(name) {
		return nil, fmt.Errorf("%s: %q is not a setting name: use a name such as \"listen_addresses\"", b.Name(), name)
	}
	text, err := settingText(value)
	if err != nil {
		return nil, fmt.Errorf("%s: value: %w", b.Name(), err)
	}
	if strings.ContainsAny(text, "\n\x00") {
		return nil, fmt.Errorf("%s: value contains a line break: a setting takes one line", b.Name())
	}
	line := name + " = '" + strings.ReplaceAll(strings.ReplaceAll(text, `\`, `\\`), "'", "''") + "'"
	match := regexp.MustCompile(`^\s*#?\s*` + regexp.QuoteMeta(name) + `\s*=`)

	return editConfig(thread, b, args, kwargs, container, path, "config_file", name, reload, func(content string) (string, string) {
		return ensureSetting(content, line, match)
	})
}

// ensureSetting returns content with line in place of the last line that
// sets the same name (commented out or not) and without other such lines
// that are in effect.
func ensureSetting(content, line string, match *regexp.Regexp) (string, string) {
	lines := strings.Split(strings.TrimSuffix(content, "\n"), "\n")
	if content == "" {
		lines = nil
	}
	last := -1
	for i, l := range lines {
		if match.MatchString(l) {
			last = i
		}
	}
	if last < 0 {
		return joinLines(append(lines, line)), "added"
	}
	var out []string
	for i, l := range lines {
		switch {
		case i == last:
			out = append(out, line)
		case match.MatchString(l) && !strings.HasPrefix(strings.TrimSpace(l), "#"):
		default:
			out = append(out, l)
		}
	}
	result := joinLines(out)
	if result == content {
		return content, ""
	}
	return result, "was " + strings.TrimSpace(lines[last])
}

// editConfig is the step behind postgres.hba and postgres.conf: it finds
// the file (the server's current_setting(setting) unless path is given),
// applies edit, writes the file back with its owner and mode, and reloads
// the server. name is the setting that postgres.conf changes, to say when
// it needs a restart.
func editConfig(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple,
	container, path, setting, name string, reload bool, edit func(string) (string, string)) (starlark.Value, error) {
	env := runtime.EnvOf(thread)
	engine, err := engineOf(thread)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	backend, err := backendOf(thread)
	if err != nil {
		return nil, err
	}

	step := runtime.Begin(thread, b, args, kwargs)
	if env.DryRun && !containerRuns(env.Ctx, engine, container) {
		step.Report(runtime.Changed, "the container does not run yet")
		return starlark.None, nil
	}
	var s Session
	if path == "" || reload {
		s, err = backend.Local(env.Ctx, &LocalSpec{Container: container, User: "postgres", Database: "postgres", Engine: engine})
		if err != nil {
			return nil, step.Fail(fmt.Errorf("%s: cannot reach the server in container %s to find its %s: %w; pass path= when the server is not running",
				b.Name(), container, setting, err))
		}
		defer s.Close()
	}
	if path == "" {
		res, err := s.Query(env.Ctx, sqlConfigPath, setting)
		if err != nil {
			return nil, step.Fail(stepError(b, "cannot read "+setting, err))
		}
		path, _ = res.Rows[0][0].(string)
	}

	files, err := engine.CopyFrom(env.Ctx, container, path)
	if err != nil {
		return nil, step.Fail(fmt.Errorf("%s: cannot read %s in container %s: %w", b.Name(), path, container, err))
	}
	if len(files) != 1 || !files[0].Mode.IsRegular() {
		return nil, step.Fail(fmt.Errorf("%s: %s in container %s is not a regular file: pass path= of the file itself", b.Name(), path, container))
	}
	file := files[0]
	content, detail := edit(string(file.Data))
	if detail == "" {
		step.Report(runtime.Unchanged, "")
		return starlark.None, nil
	}
	if name != "" && s != nil {
		if res, err := s.Query(env.Ctx, sqlSetting, name); err == nil && len(res.Rows) > 0 && res.Rows[0][3] == "postmaster" {
			detail += "; takes effect after the server restarts"
		}
	}
	return starlark.None, step.Apply(runtime.Changed, detail, func() error {
		file.Data = []byte(content)
		if err := engine.CopyTo(env.Ctx, container, []docker.File{file}); err != nil {
			return fmt.Errorf("%s: cannot write %s in container %s: %w", b.Name(), path, container, err)
		}
		if reload {
			if _, err := s.Query(env.Ctx, sqlReload); err != nil {
				return stepError(b, "cannot reload the server", err)
			}
		}
		return nil
	})
}
