package docker

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"go.starlark.net/starlark"

	"github.com/cocalcctl/cocalcctl/builtins/runtime"
)

// entrypointArg is an entrypoint: a list of strings, a string naming one
// program, or [] to clear the image's entrypoint.
type entrypointArg struct{ argv []string }

func (e *entrypointArg) Unpack(v starlark.Value) error {
	switch v := v.(type) {
	case starlark.NoneType:
		return nil
	case starlark.String:
		e.argv = []string{string(v)}
		return nil
	}
	list, err := stringList(v)
	if err != nil {
		return fmt.Errorf("got %s, want a list of strings or a program path", v.Type())
	}
	e.argv = list
	return nil
}

// containerRequest is the unpacked form of a docker.container call.
type containerRequest struct {
	spec     ContainerSpec
	env      map[string]string
	recreate bool
	start    bool
}

func parseContainerArgs(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (*containerRequest, error) {
	var (
		name, imageRef   string
		command          commandArg
		entrypoint       entrypointArg
		env, labels      *starlark.Dict
		user, workdir    string
		mounts, ports    *starlark.List
		network          string
		aliases          stringListArg
		restart          = "no"
		recreate, start_ = false, true
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs,
		"name", &name, "image", &imageRef, "command??", &command, "entrypoint??", &entrypoint,
		"env?", &env, "user??", &user, "workdir??", &workdir, "mounts?", &mounts, "ports?", &ports,
		"network??", &network, "aliases?", &aliases, "restart?", &restart, "labels?", &labels,
		"recreate?", &recreate, "start?", &start_); err != nil {
		return nil, err
	}

	if err := checkName(b, "container", name); err != nil {
		return nil, err
	}
	if imageRef == "" {
		return nil, fmt.Errorf("%s: image is empty: name an image such as \"postgres:17\"", b.Name())
	}
	if err := checkRestart(restart); err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	if workdir != "" && !strings.HasPrefix(workdir, "/") {
		return nil, fmt.Errorf("%s: workdir %q must be an absolute path in the container", b.Name(), workdir)
	}
	if len(aliases.list) > 0 && network == "" {
		return nil, fmt.Errorf("%s: aliases need a network: pass network= with a network from docker.network", b.Name())
	}
	envMap, err := stringDict(env)
	if err != nil {
		return nil, fmt.Errorf("%s: env: %w", b.Name(), err)
	}
	if err := checkEnv(envMap); err != nil {
		return nil, fmt.Errorf("%s: env: %w", b.Name(), err)
	}
	labelMap, err := stringDict(labels)
	if err != nil {
		return nil, fmt.Errorf("%s: labels: %w", b.Name(), err)
	}

	req := &containerRequest{env: envMap, recreate: recreate, start: start_}
	req.spec = ContainerSpec{
		Name: name, Image: imageRef, Cmd: command.argv, Entrypoint: entrypoint.argv,
		Env: envList(envMap), User: user, WorkDir: workdir, Labels: managedLabels(labelMap),
		Network: network, Aliases: aliases.list, Restart: restart,
	}
	rt := runtime.EnvOf(thread)
	for i := range listLen(mounts) {
		m, err := parseMount(rt, mounts.Index(i))
		if err != nil {
			return nil, fmt.Errorf("%s: mounts[%d]: %w", b.Name(), i, err)
		}
		req.spec.Mounts = append(req.spec.Mounts, m)
	}
	for i := range listLen(ports) {
		s, ok := starlark.AsString(ports.Index(i))
		if !ok {
			return nil, fmt.Errorf("%s: ports[%d] is %s, want a string such as \"5432:5432\"", b.Name(), i, ports.Index(i).Type())
		}
		p, err := parsePort(s)
		if err != nil {
			return nil, fmt.Errorf("%s: ports[%d]: %w", b.Name(), i, err)
		}
		req.spec.Ports = append(req.spec.Ports, p)
	}
	sortPorts(req.spec.Ports)
	return req, nil
}

func listLen(l *starlark.List) int {
	if l == nil {
		return 0
	}
	return l.Len()
}

func containerFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	req, err := parseContainerArgs(thread, b, args, kwargs)
	if err != nil {
		return nil, err
	}
	engine, err := engineOf(thread, b)
	if err != nil {
		return nil, err
	}

	env := runtime.EnvOf(thread)
	spec := req.spec
	step := runtime.Begin(thread, b, args, kwargs)
	c, err := engine.ContainerInspect(env.Ctx, spec.Name)
	if errors.Is(err, ErrNotFound) {
		return createContainer(thread, b, step, engine, req)
	}
	if err != nil {
		return nil, step.Fail(fmt.Errorf("%s: %w", b.Name(), err))
	}
	if c.Labels[ManagedLabel] != "true" {
		return nil, step.Fail(fmt.Errorf("%s: container %q exists but cocalcctl did not create it (it lacks the label %s=true), "+
			"so it is left alone: rename it (docker rename %s %s-old) or remove it (docker rm -f %s) yourself, or choose another name",
			b.Name(), spec.Name, ManagedLabel, spec.Name, spec.Name, spec.Name))
	}

	img, err := engine.ImageInspect(env.Ctx, spec.Image)
	imagePresent := err == nil
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, step.Fail(fmt.Errorf("%s: %w", b.Name(), err))
	}
	diffs := containerDiffs(req, c, img, imagePresent)
	if len(diffs) > 0 {
		if !req.recreate {
			return nil, step.Drift(fmt.Sprintf("%s: container %q", b.Name(), spec.Name), diffs,
				"pass recreate=True to replace it (named volumes keep their data), or change the request")
		}
		return recreateContainer(thread, b, step, engine, req, c, diffs, imagePresent)
	}

	if req.start && !c.Running {
		err := step.Apply(runtime.Changed, "started", func() error {
			if err := engine.ContainerStart(env.Ctx, spec.Name); err != nil {
				return fmt.Errorf("%s: starting container %q: %w", b.Name(), spec.Name, startHint(err))
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if env.DryRun {
			v := newContainerValue(c)
			v.ip = runtime.NewUnknown(thread, fmt.Sprintf("docker.container(%q).ip", spec.Name))
			return v, nil
		}
		return inspectValue(env, engine, b, spec.Name)
	}
	step.Report(runtime.Unchanged, "")
	return newContainerValue(c), nil
}

// startHint adds what to do to a failed start.
func startHint(err error) error {
	if errors.Is(err, ErrNotFound) && objectOf(err) == "network" {
		return fmt.Errorf("%w: create the network with docker.network first", err)
	}
	if strings.Contains(err.Error(), "port is already allocated") || strings.Contains(err.Error(), "address already in use") {
		return fmt.Errorf("%w: another program or container uses the host port; choose another in ports=", err)
	}
	return err
}

func inspectValue(env *runtime.Env, engine Engine, b *starlark.Builtin, name string) (starlark.Value, error) {
	c, err := engine.ContainerInspect(env.Ctx, name)
	if err != nil {
		return nil, fmt.Errorf("%s: reading container %q back: %w", b.Name(), name, err)
	}
	return newContainerValue(c), nil
}

// create creates and, when asked, starts the container of req.
func create(env *runtime.Env, b *starlark.Builtin, engine Engine, req *containerRequest) error {
	spec := req.spec
	if _, err := engine.ContainerCreate(env.Ctx, spec); err != nil {
		switch {
		case errors.Is(err, ErrNotFound) && objectOf(err) == "image":
			return fmt.Errorf("%s: image %q is not present: add docker.image(%q) before this call, or load or build the image",
				b.Name(), spec.Image, spec.Image)
		case errors.Is(err, ErrNotFound) && objectOf(err) == "network":
			return fmt.Errorf("%s: network %q does not exist: add docker.network(%q) before this call", b.Name(), spec.Network, spec.Network)
		}
		return fmt.Errorf("%s: creating container %q: %w", b.Name(), spec.Name, err)
	}
	if !req.start {
		return nil
	}
	if err := engine.ContainerStart(env.Ctx, spec.Name); err != nil {
		return fmt.Errorf("%s: container %q was created but did not start: %w", b.Name(), spec.Name, startHint(err))
	}
	return nil
}

func createContainer(thread *starlark.Thread, b *starlark.Builtin, step *runtime.Step, engine Engine, req *containerRequest) (starlark.Value, error) {
	env := runtime.EnvOf(thread)
	err := step.Apply(runtime.Created, "", func() error { return create(env, b, engine, req) })
	if err != nil {
		return nil, err
	}
	if env.DryRun {
		env.Plan("container:" + req.spec.Name)
		return unknownContainerValue(thread, req.spec), nil
	}
	return inspectValue(env, engine, b, req.spec.Name)
}

// recreateTimeout is how long a replaced container gets to stop.
const recreateTimeout = 10 * time.Second

func recreateContainer(thread *starlark.Thread, b *starlark.Builtin, step *runtime.Step, engine Engine,
	req *containerRequest, old Container, diffs []string, imagePresent bool) (starlark.Value, error) {
	env := runtime.EnvOf(thread)
	name := req.spec.Name
	if len(old.AnonymousVolumes) > 0 {
		what := fmt.Sprintf("replace container %s, whose %d anonymous volume(s) will not be attached to the new container", name, len(old.AnonymousVolumes))
		if err := step.Confirm(what); err != nil {
			return nil, err
		}
	}
	if !imagePresent && !env.DryRun {
		return nil, step.Fail(fmt.Errorf("%s: image %q is not present: add docker.image(%q) before this call", b.Name(), req.spec.Image, req.spec.Image))
	}

	err := step.Apply(runtime.Changed, "replaced: "+strings.Join(diffs, "; "), func() error {
		if err := engine.ContainerStop(env.Ctx, name, recreateTimeout); err != nil {
			return fmt.Errorf("%s: stopping container %q: %w", b.Name(), name, err)
		}
		if err := engine.ContainerRemove(env.Ctx, name, false); err != nil {
			return fmt.Errorf("%s: removing container %q: %w", b.Name(), name, err)
		}
		return create(env, b, engine, req)
	})
	if err != nil {
		return nil, err
	}
	if env.DryRun {
		return unknownContainerValue(thread, req.spec), nil
	}
	return inspectValue(env, engine, b, name)
}

// sensitiveWords are parts of environment variable names whose values are
// never shown in a difference.
var sensitiveWords = []string{"password", "passphrase", "secret", "token"}

func sensitive(key string) bool {
	key = strings.ToLower(key)
	return slices.ContainsFunc(sensitiveWords, func(w string) bool { return strings.Contains(key, w) })
}

func envMapOf(pairs []string) map[string]string {
	out := map[string]string{}
	for _, kv := range pairs {
		k, v, _ := strings.Cut(kv, "=")
		out[k] = v
	}
	return out
}

// containerDiffs lists how the container c differs from the request, one
// line per difference, with the values of sensitive variables hidden.
func containerDiffs(req *containerRequest, c Container, img Image, imagePresent bool) []string {
	spec := req.spec
	var diffs []string
	add := func(format string, a ...any) { diffs = append(diffs, fmt.Sprintf(format, a...)) }

	switch {
	case c.Image != spec.Image:
		add("image: %s, request is %s", c.Image, spec.Image)
	case !imagePresent:
		add("image: %s is no longer present, so the container's image cannot be checked", spec.Image)
	case img.ID != c.ImageID:
		add("image: %s now refers to %s, the container runs %s", spec.Image, shortID(img.ID), shortID(c.ImageID))
	}

	if imagePresent {
		wantCmd, wantEntrypoint := mergeCommand(spec.Cmd, spec.Entrypoint, img)
		if !slices.Equal(c.Entrypoint, wantEntrypoint) {
			add("entrypoint: %s, request is %s", quoteList(c.Entrypoint), quoteList(wantEntrypoint))
		}
		if !slices.Equal(c.Cmd, wantCmd) {
			add("command: %s, request is %s", quoteList(c.Cmd), quoteList(wantCmd))
		}
		if want := orDefault(spec.User, img.User); c.User != want {
			add("user: %q, request is %q", c.User, want)
		}
		if want := orDefault(spec.WorkDir, img.WorkDir); c.WorkDir != want {
			add("workdir: %q, request is %q", c.WorkDir, want)
		}
		diffs = append(diffs, envDiffs(req.env, envMapOf(c.Env), envMapOf(img.Env))...)
	}

	diffs = append(diffs, setDiffs("mount", mapStrings(spec.Mounts, mountString), mapStrings(c.Mounts, mountString))...)
	diffs = append(diffs, setDiffs("port", mapStrings(spec.Ports, portString), mapStrings(c.Ports, portString))...)
	if want := orDefault(spec.Network, "bridge"); c.Network != want {
		add("network: %s, request is %s", c.Network, want)
	} else {
		diffs = append(diffs, setDiffs("alias", spec.Aliases, c.Aliases)...)
	}
	if c.Restart != spec.Restart {
		add("restart: %s, request is %s", c.Restart, spec.Restart)
	}
	return append(diffs, labelDiffs(spec.Labels, c.Labels)...)
}

// envDiffs compares the requested environment with the container's, where
// variables that only repeat the image's value count as not set.
func envDiffs(want, have, image map[string]string) []string {
	var diffs []string
	show := func(k, v string) string {
		if sensitive(k) {
			return "<secret>"
		}
		return fmt.Sprintf("%q", v)
	}
	for _, k := range sortedKeys(want) {
		got, ok := have[k]
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("env %s: not set, request is %s", k, show(k, want[k])))
		case got != want[k] && sensitive(k):
			diffs = append(diffs, fmt.Sprintf("env %s: differs from the request", k))
		case got != want[k]:
			diffs = append(diffs, fmt.Sprintf("env %s: %s, request is %s", k, show(k, got), show(k, want[k])))
		}
	}
	for _, k := range sortedKeys(have) {
		if _, requested := want[k]; requested {
			continue
		}
		if v, ok := image[k]; ok && v == have[k] {
			continue
		}
		diffs = append(diffs, fmt.Sprintf("env %s: set to %s, not in the request", k, show(k, have[k])))
	}
	return diffs
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// setDiffs compares two sets of rendered items, ignoring order.
func setDiffs(what string, want, have []string) []string {
	var diffs []string
	for _, w := range want {
		if !slices.Contains(have, w) {
			diffs = append(diffs, fmt.Sprintf("%s %s: missing in the container", what, w))
		}
	}
	for _, h := range have {
		if !slices.Contains(want, h) {
			diffs = append(diffs, fmt.Sprintf("%s %s: not in the request", what, h))
		}
	}
	return diffs
}

func mapStrings[T any](items []T, f func(T) string) []string {
	out := make([]string, len(items))
	for i, x := range items {
		out[i] = f(x)
	}
	return out
}

func quoteList(argv []string) string {
	if len(argv) == 0 {
		return "[]"
	}
	parts := make([]string, len(argv))
	for i, a := range argv {
		parts[i] = fmt.Sprintf("%q", a)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}
