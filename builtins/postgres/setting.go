package postgres

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"go.starlark.net/starlark"

	"github.com/cocalcctl/cocalcctl/builtins/runtime"
)

var settingName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$`)

func setting(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		sv    *SessionValue
		name  string
		value starlark.Value
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "session", &sv, "name", &name, "value", &value); err != nil {
		return nil, err
	}

	if !settingName.MatchString(name) {
		return nil, fmt.Errorf("%s: %q is not a setting name: use a name such as \"ssl\" or \"shared_buffers\"", b.Name(), name)
	}
	text, err := settingText(value)
	if err != nil {
		return nil, fmt.Errorf("%s: value: %w", b.Name(), err)
	}
	lit, err := QuoteLiteral(text)
	if err != nil {
		return nil, fmt.Errorf("%s: value: %w", b.Name(), err)
	}
	env := runtime.EnvOf(thread)
	s := sv.Session

	step := runtime.Begin(thread, b, args, kwargs)
	res, err := s.Query(env.Ctx, sqlSetting, name)
	if err != nil {
		return nil, step.Fail(stepError(b, "cannot read setting "+name, err))
	}
	if _, absent := s.(*absentSession); absent {
		step.Report(runtime.Changed, "the server does not run yet")
		return starlark.None, nil
	}
	if len(res.Rows) == 0 {
		return nil, step.Fail(fmt.Errorf("%s: the server has no setting %q: check the name in the PostgreSQL documentation for this version", b.Name(), name))
	}
	row := res.Rows[0]
	current, _ := row[0].(string)
	unit, _ := row[1].(string)
	vartype, _ := row[2].(string)
	context, _ := row[3].(string)
	pending := row[4] == true
	restart := context == "postmaster"

	// postgresql.auto.conf holds what ALTER SYSTEM wrote, which may wait
	// for a reload or a restart. Reading it needs a superuser or
	// pg_read_all_settings; without it only the value in effect counts.
	fileValue, inFile := "", false
	if file, err := s.Query(env.Ctx, sqlFileSetting, name); err == nil && len(file.Rows) > 0 {
		fileValue, _ = file.Rows[0][0].(string)
		inFile = true
	}
	fileSame := inFile && sameSetting(fileValue, text, unit, vartype)
	switch {
	case sameSetting(current, text, unit, vartype) && (!inFile || fileSame) && !pending:
		step.Report(runtime.Unchanged, "")
		return starlark.None, nil
	case fileSame && restart:
		step.Report(runtime.Warning, fmt.Sprintf("%s is set to %s but the server must restart to apply it", name, text))
		return starlark.None, nil
	case fileSame:
		// The reload that applies it has not happened yet.
		step.Report(runtime.Unchanged, "")
		return starlark.None, nil
	}

	detail := ""
	if restart {
		detail = "takes effect after the server restarts"
	}
	parts := strings.Split(name, ".")
	for i, p := range parts {
		parts[i], _ = QuoteIdent(p)
	}
	stmt := fmt.Sprintf("ALTER SYSTEM SET %s = %s", strings.Join(parts, "."), lit)
	return starlark.None, step.Apply(runtime.Changed, detail, func() error {
		if _, err := s.Exec(env.Ctx, stmt); err != nil {
			return stepError(b, "cannot set "+name, err)
		}
		if _, err := s.Query(env.Ctx, sqlReload); err != nil {
			return stepError(b, "cannot reload the configuration", err)
		}
		return nil
	})
}

// settingText converts a Starlark value to the text of a setting.
func settingText(v starlark.Value) (string, error) {
	switch v := v.(type) {
	case starlark.String:
		return string(v), nil
	case starlark.Bool:
		if v {
			return "on", nil
		}
		return "off", nil
	case starlark.Int, starlark.Float:
		return v.String(), nil
	}
	return "", fmt.Errorf("got %s, want a string, bool, int or float", v.Type())
}

// sameSetting reports whether two values of a setting mean the same: have
// from pg_settings (a number in the setting's unit) or from a configuration
// file, and want as a script writes it. Numbers with units such as "128MB"
// are converted to the setting's unit first.
func sameSetting(have, want, unit, vartype string) bool {
	switch vartype {
	case "bool":
		return parseBool(have) == parseBool(want) && parseBool(want) != ""
	case "enum":
		return strings.EqualFold(have, want)
	case "integer", "real":
		h, herr := settingNumber(have, unit)
		w, werr := settingNumber(want, unit)
		return herr == nil && werr == nil && h == w
	}
	return have == want
}

func parseBool(s string) string {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "on", "true", "yes", "1", "t", "y":
		return "on"
	case "off", "false", "no", "0", "f", "n":
		return "off"
	}
	return ""
}

var unitSizes = map[string]float64{
	"B": 1, "kB": 1024, "MB": 1024 * 1024, "GB": 1024 * 1024 * 1024, "TB": 1024 * 1024 * 1024 * 1024,
	"us": 0.001, "ms": 1, "s": 1000, "min": 60 * 1000, "h": 60 * 60 * 1000, "d": 24 * 60 * 60 * 1000,
}

// settingNumber converts a value such as "128MB" or "30s" to the setting's
// unit, such as "8kB" or "ms".
func settingNumber(value, unit string) (float64, error) {
	value = strings.TrimSpace(value)
	i := 0
	for i < len(value) && (value[i] == '-' || value[i] == '.' || (value[i] >= '0' && value[i] <= '9')) {
		i++
	}
	n, err := strconv.ParseFloat(value[:i], 64)
	if err != nil {
		return 0, err
	}
	suffix := strings.TrimSpace(value[i:])
	if suffix == "" || unit == "" {
		return n, nil
	}
	from, ok := unitSizes[suffix]
	if !ok {
		return 0, fmt.Errorf("unknown unit %q", suffix)
	}
	to, err := unitSize(unit)
	if err != nil {
		return 0, err
	}
	return n * from / to, nil
}

// unitSize returns the size of a pg_settings unit such as "8kB" in its base
// unit (bytes or milliseconds).
func unitSize(unit string) (float64, error) {
	i := 0
	for i < len(unit) && unit[i] >= '0' && unit[i] <= '9' {
		i++
	}
	factor := 1.0
	if i > 0 {
		f, err := strconv.Atoi(unit[:i])
		if err != nil {
			return 0, err
		}
		factor = float64(f)
	}
	size, ok := unitSizes[unit[i:]]
	if !ok {
		return 0, fmt.Errorf("unknown unit %q", unit)
	}
	return factor * size, nil
}
