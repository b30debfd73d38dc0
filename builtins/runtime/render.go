package runtime

import (
	"fmt"
	"strconv"
	"strings"

	"go.starlark.net/starlark"
)

// sensitiveWords are parts of keyword names whose values are always redacted
// in rendered calls, even when a script passes a plain string.
var sensitiveWords = []string{"password", "passphrase", "secret", "token"}

// RenderCall renders a call of name with args and kwargs as Starlark source,
// with secrets and the values of sensitive keywords shown as <secret>.
func RenderCall(name string, args starlark.Tuple, kwargs []starlark.Tuple) string {
	var b strings.Builder
	b.WriteString(name)
	b.WriteByte('(')
	for i, a := range args {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(RenderValue(a))
	}
	for i, kv := range kwargs {
		if i > 0 || len(args) > 0 {
			b.WriteString(", ")
		}
		key := string(kv[0].(starlark.String))
		b.WriteString(key)
		b.WriteByte('=')
		mode, isInt := kv[1].(starlark.Int)
		switch {
		case isSensitive(key) && kv[1] != starlark.None:
			b.WriteString("<secret>")
		case key == "mode" && isInt:
			// File modes read best in octal, as the script wrote them.
			if n, ok := mode.Int64(); ok && n >= 0 {
				b.WriteString("0o" + strconv.FormatInt(n, 8))
				break
			}
			b.WriteString(mode.String())
		default:
			b.WriteString(RenderValue(kv[1]))
		}
	}
	b.WriteByte(')')
	return b.String()
}

func isSensitive(key string) bool {
	key = strings.ToLower(key)
	for _, w := range sensitiveWords {
		if strings.Contains(key, w) {
			return true
		}
	}
	return false
}

// RenderValue renders v as Starlark source. Values of host types render
// through their String method, which for a secret is "<secret>" and for an
// unknown is "(known after apply)".
func RenderValue(v starlark.Value) string {
	switch v := v.(type) {
	case *starlark.List:
		parts := make([]string, v.Len())
		for i := range parts {
			parts[i] = RenderValue(v.Index(i))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case starlark.Tuple:
		parts := make([]string, len(v))
		for i := range v {
			parts[i] = RenderValue(v[i])
		}
		if len(parts) == 1 {
			return "(" + parts[0] + ",)"
		}
		return "(" + strings.Join(parts, ", ") + ")"
	case *starlark.Dict:
		var parts []string
		for _, item := range v.Items() {
			val := RenderValue(item[1])
			if k, ok := item[0].(starlark.String); ok && isSensitive(string(k)) {
				val = "<secret>"
			}
			parts = append(parts, RenderValue(item[0])+": "+val)
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	if s, ok := v.(starlark.String); ok && len(s) > maxRendered {
		// Long contents such as a config file would drown the step line.
		return starlark.String(s[:maxRendered]).String() + fmt.Sprintf("+<%d more bytes>", len(s)-maxRendered)
	}
	return v.String()
}

// maxRendered is the longest string shown whole in a step line.
const maxRendered = 120
