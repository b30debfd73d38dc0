package docker

import (
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.starlark.net/starlark"

	"github.com/cocalcctl/cocalcctl/builtins/runtime"
	"github.com/cocalcctl/cocalcctl/builtins/secret"
)

// ManagedLabel marks the networks, volumes and containers cocalcctl made.
// docker.container replaces only containers that carry it.
const ManagedLabel = "cocalcctl.managed"

// BackendKey is the key of the Engine among the run's backends; tests
// install a Fake with env.SetBackend(BackendKey, fake).
const BackendKey = "docker"

// EngineOf returns the run's Engine: the one a test installed under
// BackendKey, or else the real engine, connected on first use. Other modules
// (postgres.local runs psql through it) share the engine this way.
func EngineOf(thread *starlark.Thread) (Engine, error) {
	env := runtime.EnvOf(thread)
	backend, err := env.Backend(BackendKey, func() (any, error) { return OpenReal(env.Ctx) })
	if err != nil {
		return nil, err
	}
	engine, ok := backend.(Engine)
	if !ok {
		return nil, fmt.Errorf("internal error: the docker backend is a %T, not an Engine", backend)
	}
	return engine, nil
}

// engineOf is EngineOf with the builtin's name in front of an error.
func engineOf(thread *starlark.Thread, b *starlark.Builtin) (Engine, error) {
	engine, err := EngineOf(thread)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return engine, nil
}

// nameArg is an argument that names a container: a string, or a container
// value from docker.container.
type nameArg struct{ name string }

func (n *nameArg) Unpack(v starlark.Value) error {
	switch v := v.(type) {
	case starlark.String:
		n.name = string(v)
	case *ContainerValue:
		n.name = v.name
	default:
		return fmt.Errorf("got %s, want a container name or a container from docker.container", v.Type())
	}
	if n.name == "" {
		return fmt.Errorf("the container name is empty")
	}
	return nil
}

// commandArg is a command: a list of strings run as is, or a string run
// with /bin/sh -c.
type commandArg struct {
	argv  []string
	isSet bool
}

func (c *commandArg) Unpack(v starlark.Value) error {
	switch v := v.(type) {
	case starlark.NoneType:
		return nil
	case starlark.String:
		c.argv, c.isSet = []string{"/bin/sh", "-c", string(v)}, true
		return nil
	case *starlark.List, starlark.Tuple:
		list, err := stringList(v)
		if err != nil {
			return err
		}
		c.argv, c.isSet = list, true
		return nil
	}
	return fmt.Errorf("got %s, want a list of strings or a shell command string", v.Type())
}

// stringList converts a list or tuple of strings.
func stringList(v starlark.Value) ([]string, error) {
	iter, ok := v.(starlark.Iterable)
	if !ok {
		return nil, fmt.Errorf("got %s, want a list of strings", v.Type())
	}
	out := []string{}
	it := iter.Iterate()
	defer it.Done()
	var x starlark.Value
	for i := 0; it.Next(&x); i++ {
		s, ok := x.(starlark.String)
		if !ok {
			return nil, fmt.Errorf("item %d is %s, want a string", i, x.Type())
		}
		out = append(out, string(s))
	}
	return out, nil
}

// stringListArg unpacks an optional list of strings.
type stringListArg struct{ list []string }

func (l *stringListArg) Unpack(v starlark.Value) error {
	if v == starlark.None {
		return nil
	}
	list, err := stringList(v)
	l.list = list
	return err
}

// stringDict converts a dict of strings to strings. Numbers and booleans are
// converted to their text; a secret is rejected, because a value in a
// container's or a command's environment is visible to every process that
// can inspect it.
func stringDict(v *starlark.Dict) (map[string]string, error) {
	out := map[string]string{}
	if v == nil {
		return out, nil
	}
	for _, item := range v.Items() {
		key, ok := item[0].(starlark.String)
		if !ok {
			return nil, fmt.Errorf("key %s is %s, want a string", item[0], item[0].Type())
		}
		switch val := item[1].(type) {
		case starlark.String:
			out[string(key)] = string(val)
		case starlark.Int, starlark.Bool, starlark.Float:
			out[string(key)] = val.String()
		case *secret.Secret:
			return nil, fmt.Errorf("value of %q is a secret, which an environment would expose to anyone who can inspect the container: "+
				"pass it with stdin= of docker.exec or write it to a file with docker.copy", string(key))
		default:
			return nil, fmt.Errorf("value of %q is %s, want a string", string(key), val.Type())
		}
	}
	return out, nil
}

// envList turns an environment dict into sorted KEY=VALUE pairs.
func envList(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

var envKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func checkEnv(env map[string]string) error {
	for k := range env {
		if !envKey.MatchString(k) {
			return fmt.Errorf("environment variable name %q is invalid: use letters, digits and _, not starting with a digit", k)
		}
	}
	return nil
}

// durationArg is a duration: a string such as "90s" or "2m", or a number of
// seconds.
type durationArg struct{ d time.Duration }

func (d *durationArg) Unpack(v starlark.Value) error {
	switch v := v.(type) {
	case starlark.String:
		parsed, err := time.ParseDuration(string(v))
		if err != nil {
			return fmt.Errorf("got %q, want a duration such as \"30s\" or \"2m\", or a number of seconds", string(v))
		}
		d.d = parsed
	case starlark.Int:
		n, ok := v.Int64()
		if !ok {
			return fmt.Errorf("got %s, want a number of seconds", v)
		}
		d.d = time.Duration(n) * time.Second
	case starlark.Float:
		d.d = time.Duration(float64(v) * float64(time.Second))
	default:
		return fmt.Errorf("got %s, want a duration such as \"30s\" or a number of seconds", v.Type())
	}
	if d.d <= 0 {
		return fmt.Errorf("got %s, want a positive duration", v)
	}
	return nil
}

// modeArg is a permission mode: an integer such as 0o640 or an octal string
// such as "0640".
type modeArg struct {
	mode  fs.FileMode
	isSet bool
}

func (m *modeArg) Unpack(v starlark.Value) error {
	var n uint64
	switch v := v.(type) {
	case starlark.NoneType:
		return nil
	case starlark.Int:
		u, ok := v.Uint64()
		if !ok {
			return fmt.Errorf("got %s, want a mode such as 0o640", v)
		}
		n = u
	case starlark.String:
		u, err := strconv.ParseUint(string(v), 8, 32)
		if err != nil {
			return fmt.Errorf("got %q, want an octal mode such as \"0640\"", string(v))
		}
		n = u
	default:
		return fmt.Errorf("got %s, want a mode such as 0o640 or \"0640\"", v.Type())
	}
	if n > 0o7777 {
		return fmt.Errorf("got %#o, want a mode of at most 0o7777", n)
	}
	m.mode, m.isSet = fileMode(uint32(n)), true
	return nil
}

// fileMode converts numeric permission and special bits to an fs.FileMode.
func fileMode(n uint32) fs.FileMode {
	m := fs.FileMode(n & 0o777)
	if n&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if n&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if n&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	return m
}

// modeString renders the permission and special bits as octal, e.g. 0640.
func modeString(m fs.FileMode) string {
	return fmt.Sprintf("%04o", tarMode(m))
}

// parseMount reads a mount written as "volume:NAME:/path[:ro]",
// "/host/path:/path[:ro]" (also ./ and ~/ paths, relative to the script's
// folder), or a dict with type, source, target and read_only.
func parseMount(env *runtime.Env, v starlark.Value) (Mount, error) {
	switch v := v.(type) {
	case starlark.String:
		return parseMountString(env, string(v))
	case *starlark.Dict:
		return parseMountDict(env, v)
	}
	return Mount{}, fmt.Errorf("got %s, want a string such as \"volume:NAME:/path\" or a dict", v.Type())
}

func parseMountString(env *runtime.Env, s string) (Mount, error) {
	var m Mount
	rest := s
	if after, ok := strings.CutPrefix(s, "volume:"); ok {
		m.Type = "volume"
		name, target, ok := strings.Cut(after, ":")
		if !ok || name == "" {
			return m, fmt.Errorf("%q: want \"volume:NAME:/path\" or \"volume:NAME:/path:ro\"", s)
		}
		m.Source, rest = name, target
	} else if strings.HasPrefix(s, "/") || strings.HasPrefix(s, "./") || strings.HasPrefix(s, "../") || strings.HasPrefix(s, "~/") {
		m.Type = "bind"
		source, target, ok := strings.Cut(s, ":")
		if !ok {
			return m, fmt.Errorf("%q: want \"/host/path:/container/path\" with an optional \":ro\"", s)
		}
		m.Source, rest = path.Clean(runtime.ResolvePath(env, source)), target
	} else {
		return m, fmt.Errorf("%q: want \"volume:NAME:/path\" for a named volume or \"/host/path:/path\" (or ./path) for a host folder", s)
	}

	target, opt, _ := strings.Cut(rest, ":")
	switch opt {
	case "":
	case "ro":
		m.ReadOnly = true
	case "rw":
	default:
		return m, fmt.Errorf("%q: unknown option %q, want ro or rw", s, opt)
	}
	m.Target = target
	return m, checkMount(m, s)
}

func parseMountDict(env *runtime.Env, d *starlark.Dict) (Mount, error) {
	var m Mount
	for _, item := range d.Items() {
		key, _ := starlark.AsString(item[0])
		switch key {
		case "type", "source", "target":
			s, ok := starlark.AsString(item[1])
			if !ok {
				return m, fmt.Errorf("%s is %s, want a string", key, item[1].Type())
			}
			switch key {
			case "type":
				m.Type = s
			case "source":
				m.Source = s
			case "target":
				m.Target = s
			}
		case "read_only":
			b, ok := item[1].(starlark.Bool)
			if !ok {
				return m, fmt.Errorf("read_only is %s, want True or False", item[1].Type())
			}
			m.ReadOnly = bool(b)
		default:
			return m, fmt.Errorf("unknown key %s, want type, source, target or read_only", item[0])
		}
	}
	if m.Type != "volume" && m.Type != "bind" {
		return m, fmt.Errorf("type %q, want \"volume\" or \"bind\"", m.Type)
	}
	if m.Type == "bind" {
		m.Source = path.Clean(runtime.ResolvePath(env, m.Source))
	}
	return m, checkMount(m, d.String())
}

func checkMount(m Mount, written string) error {
	if m.Source == "" {
		return fmt.Errorf("%s: the source is empty", written)
	}
	if !path.IsAbs(m.Target) {
		return fmt.Errorf("%s: the target %q must be an absolute path in the container", written, m.Target)
	}
	if m.Type == "bind" && !path.IsAbs(m.Source) {
		return fmt.Errorf("%s: the host path %q must be absolute, or start with ./ or ~/", written, m.Source)
	}
	return nil
}

// mountString renders a mount in the string form parseMount reads.
func mountString(m Mount) string {
	s := m.Source + ":" + m.Target
	if m.Type == "volume" {
		s = "volume:" + s
	}
	if m.ReadOnly {
		s += ":ro"
	}
	return s
}

// parsePort reads "HOSTPORT:CONTAINERPORT" (published on 127.0.0.1) or
// "ADDR:HOSTPORT:CONTAINERPORT", with an optional "/tcp" or "/udp".
func parsePort(s string) (Port, error) {
	p := Port{HostIP: "127.0.0.1", Protocol: "tcp"}
	spec, proto, hasProto := strings.Cut(s, "/")
	if hasProto {
		if proto != "tcp" && proto != "udp" {
			return p, fmt.Errorf("%q: protocol %q, want tcp or udp", s, proto)
		}
		p.Protocol = proto
	}
	i := strings.LastIndex(spec, ":")
	if i < 0 {
		return p, fmt.Errorf("%q: want \"HOSTPORT:CONTAINERPORT\" or \"ADDR:HOSTPORT:CONTAINERPORT\"", s)
	}
	containerPort, hostPart := spec[i+1:], spec[:i]
	if j := strings.LastIndex(hostPart, ":"); j >= 0 {
		p.HostIP, hostPart = strings.Trim(hostPart[:j], "[]"), hostPart[j+1:]
		if p.HostIP == "" {
			return p, fmt.Errorf("%q: the host address is empty", s)
		}
	}
	var err error
	if p.HostPort, err = portNumber(hostPart); err != nil {
		return p, fmt.Errorf("%q: host port %w", s, err)
	}
	if p.ContainerPort, err = portNumber(containerPort); err != nil {
		return p, fmt.Errorf("%q: container port %w", s, err)
	}
	return p, nil
}

func portNumber(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("%q is not a port number between 1 and 65535", s)
	}
	return n, nil
}

// portString renders a port in the form parsePort reads.
func portString(p Port) string {
	s := fmt.Sprintf("%s:%d:%d", p.HostIP, p.HostPort, p.ContainerPort)
	if p.Protocol != "" && p.Protocol != "tcp" {
		s += "/" + p.Protocol
	}
	return s
}

var restartPolicies = []string{"no", "always", "unless-stopped", "on-failure"}

func checkRestart(s string) error {
	if !slices.Contains(restartPolicies, s) {
		return fmt.Errorf("restart %q, want one of %s", s, strings.Join(restartPolicies, ", "))
	}
	return nil
}

var validName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// checkName checks a container, network or volume name as Docker does.
func checkName(b *starlark.Builtin, what, name string) error {
	if !validName.MatchString(name) {
		return fmt.Errorf("%s: %s name %q is invalid: use letters, digits, _, . and -, starting with a letter or digit", b.Name(), what, name)
	}
	return nil
}

// shellJoin renders argv as a shell command line, for messages.
func shellJoin(argv []string) string {
	parts := make([]string, len(argv))
	for i, a := range argv {
		if a != "" && !strings.ContainsAny(a, " \t\n'\"\\$`|&;<>()*?[]#~!{}") {
			parts[i] = a
		} else {
			parts[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(parts, " ")
}

// lastLines returns the last n lines of s, each indented by two spaces.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	for i, l := range lines {
		lines[i] = "  " + l
	}
	return strings.Join(lines, "\n")
}
