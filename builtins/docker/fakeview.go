package docker

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

// Inspect returns the fake's state and its set-up methods as a Starlark
// value, for testing.fake("docker") in script tests; it implements
// scripttest.Inspector. Attributes are read when a test accesses them, so a
// value kept across testing.run calls shows the current state.
func (f *Fake) Inspect(thread *starlark.Thread) (starlark.Value, error) {
	return &fakeView{fake: f}, nil
}

// fakeView is the Starlark face of a Fake. The attribute names and the
// fields of the values they return are documented in docs/testing.md.
type fakeView struct{ fake *Fake }

var _ starlark.HasAttrs = (*fakeView)(nil)

var fakeViewAttrs = []string{
	"add_image", "containers", "execs", "file", "files", "images", "listen", "log", "networks", "on_exec", "volumes",
}

func (v *fakeView) String() string        { return "<docker fake>" }
func (v *fakeView) Type() string          { return "docker.fake" }
func (v *fakeView) Freeze()               {}
func (v *fakeView) Truth() starlark.Bool  { return starlark.True }
func (v *fakeView) Hash() (uint32, error) { return 0, errors.New("unhashable type: docker.fake") }

// AttrNames implements starlark.HasAttrs.
func (v *fakeView) AttrNames() []string { return fakeViewAttrs }

// Attr implements starlark.HasAttrs.
func (v *fakeView) Attr(name string) (starlark.Value, error) {
	f := v.fake
	switch name {
	case "networks":
		return f.networksValue(), nil
	case "volumes":
		return f.volumesValue(), nil
	case "images":
		return f.imagesValue(), nil
	case "containers":
		return f.containersValue(), nil
	case "execs":
		return f.execsValue(), nil
	case "file":
		return starlark.NewBuiltin("fake.file", f.fileMethod), nil
	case "files":
		return starlark.NewBuiltin("fake.files", f.filesMethod), nil
	case "add_image":
		return starlark.NewBuiltin("fake.add_image", f.addImageMethod), nil
	case "on_exec":
		return starlark.NewBuiltin("fake.on_exec", f.onExecMethod), nil
	case "log":
		return starlark.NewBuiltin("fake.log", f.logMethod), nil
	case "listen":
		return starlark.NewBuiltin("fake.listen", f.listenMethod), nil
	}
	return nil, nil
}

func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func newStruct(fields starlark.StringDict) *starlarkstruct.Struct {
	return starlarkstruct.FromStringDict(starlarkstruct.Default, fields)
}

func (f *Fake) networksValue() *starlark.Dict {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := starlark.NewDict(len(f.networks))
	for _, name := range sortedNames(f.networks) {
		n := f.networkView(f.networks[name])
		out.SetKey(starlark.String(name), newStruct(starlark.StringDict{
			"name":       starlark.String(n.Name),
			"driver":     starlark.String(n.Driver),
			"labels":     stringMapDict(n.Labels),
			"containers": stringsList(n.Containers),
		}))
	}
	return out
}

func (f *Fake) volumesValue() *starlark.Dict {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := starlark.NewDict(len(f.volumes))
	for _, name := range sortedNames(f.volumes) {
		v := f.volumes[name]
		var paths []string
		for p := range f.volumeData[name] {
			if p != "/" {
				paths = append(paths, p)
			}
		}
		sort.Strings(paths)
		out.SetKey(starlark.String(name), newStruct(starlark.StringDict{
			"name":   starlark.String(v.Name),
			"labels": stringMapDict(v.Labels),
			"files":  stringsList(paths),
		}))
	}
	return out
}

func (f *Fake) imagesValue() *starlark.Dict {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := starlark.NewDict(len(f.images))
	for _, key := range sortedNames(f.images) {
		img := f.images[key]
		// Each image appears under its tags; an untagged one under its ID.
		if key == img.ID && len(img.Tags) > 0 {
			continue
		}
		out.SetKey(starlark.String(key), newStruct(starlark.StringDict{
			"id":         starlark.String(img.ID),
			"tags":       stringsList(img.Tags),
			"env":        stringMapDict(envMapOf(img.Env)),
			"cmd":        stringsList(img.Cmd),
			"entrypoint": stringsList(img.Entrypoint),
			"user":       starlark.String(img.User),
			"workdir":    starlark.String(img.WorkDir),
			"labels":     stringMapDict(img.Labels),
			"volumes":    stringsList(img.Volumes),
		}))
	}
	return out
}

func (f *Fake) containersValue() *starlark.Dict {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := starlark.NewDict(len(f.containers))
	for _, name := range sortedNames(f.containers) {
		c := f.containers[name].view()
		mounts := make([]starlark.Value, len(c.Mounts))
		for i, m := range c.Mounts {
			mounts[i] = newStruct(starlark.StringDict{
				"type":      starlark.String(m.Type),
				"source":    starlark.String(m.Source),
				"target":    starlark.String(m.Target),
				"read_only": starlark.Bool(m.ReadOnly),
			})
		}
		ip := starlark.Value(starlark.None)
		if a := c.IPs[c.Network]; a != "" {
			ip = starlark.String(a)
		}
		out.SetKey(starlark.String(name), newStruct(starlark.StringDict{
			"name":              starlark.String(c.Name),
			"id":                starlark.String(c.ID),
			"image":             starlark.String(c.Image),
			"image_id":          starlark.String(c.ImageID),
			"state":             starlark.String(c.State),
			"running":           starlark.Bool(c.Running),
			"env":               stringMapDict(envMapOf(c.Env)),
			"command":           stringsList(c.Cmd),
			"entrypoint":        stringsList(c.Entrypoint),
			"user":              starlark.String(c.User),
			"workdir":           starlark.String(c.WorkDir),
			"labels":            stringMapDict(c.Labels),
			"restart":           starlark.String(c.Restart),
			"mounts":            starlark.NewList(mounts),
			"ports":             stringsList(mapStrings(c.Ports, portString)),
			"network":           starlark.String(c.Network),
			"aliases":           stringsList(c.Aliases),
			"ip":                ip,
			"anonymous_volumes": stringsList(c.AnonymousVolumes),
		}))
	}
	return out
}

func (f *Fake) execsValue() *starlark.List {
	var out []starlark.Value
	for _, e := range f.Execs() {
		out = append(out, newStruct(starlark.StringDict{
			"container": starlark.String(e.Container),
			"cmd":       stringsList(e.Spec.Cmd),
			"user":      starlark.String(e.Spec.User),
			"workdir":   starlark.String(e.Spec.WorkDir),
			"env":       stringMapDict(envMapOf(e.Spec.Env)),
			"stdin":     starlark.String(e.Spec.Stdin),
		}))
	}
	return starlark.NewList(out)
}

// fileMethod is fake.file(container, path): the file at path in the
// container, looking through volumes, or None when there is none.
func (f *Fake) fileMethod(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var container, p string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "container", &container, "path", &p); err != nil {
		return nil, err
	}

	ctx := context.Background()
	files, err := f.CopyFrom(ctx, container, p)
	if errors.Is(err, ErrNotFound) && objectOf(err) == "file" {
		return starlark.None, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	file := files[0]
	content := ""
	if file.Mode.IsRegular() {
		content = string(file.Data)
	}
	return newStruct(starlark.StringDict{
		"path":    starlark.String(file.Path),
		"content": starlark.String(content),
		"mode":    starlark.MakeInt(int(tarMode(file.Mode))),
		"uid":     starlark.MakeInt(file.UID),
		"gid":     starlark.MakeInt(file.GID),
		"owner":   starlark.String(f.idName(ctx, container, "/etc/passwd", file.UID)),
		"group":   starlark.String(f.idName(ctx, container, "/etc/group", file.GID)),
		"is_dir":  starlark.Bool(file.Mode.IsDir()),
		"link":    starlark.String(file.LinkTarget),
	}), nil
}

// idName returns the name of the user or group id in the container's passwd
// or group file, or the number as text when the file does not list it.
func (f *Fake) idName(ctx context.Context, container, file string, id int) string {
	files, err := f.CopyFrom(ctx, container, file)
	if err == nil {
		if name, ok := nameOfID(string(files[0].Data), id); ok {
			return name
		}
	}
	return strconv.Itoa(id)
}

func nameOfID(table string, id int) (string, bool) {
	for _, line := range strings.Split(table, "\n") {
		fields := strings.Split(line, ":")
		if len(fields) >= 3 && fields[2] == strconv.Itoa(id) {
			return fields[0], true
		}
	}
	return "", false
}

// filesMethod is fake.files(container, path="/"): the paths below a folder
// in the container, sorted.
func (f *Fake) filesMethod(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var container, p = "", "/"
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "container", &container, "path?", &p); err != nil {
		return nil, err
	}

	files, err := f.CopyFrom(context.Background(), container, p)
	if errors.Is(err, ErrNotFound) && objectOf(err) == "file" {
		return starlark.NewList(nil), nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	var paths []string
	for _, file := range files[1:] {
		paths = append(paths, file.Path)
	}
	return stringsList(paths), nil
}

// addImageMethod is fake.add_image(ref, files={}, env={}, cmd=None,
// entrypoint=None, user="", workdir="", labels={}, volumes=[],
// remote=False): a local image (or, with remote=True, one that
// docker.image can pull) with the given files and configuration. It returns
// the image ID.
func (f *Fake) addImageMethod(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		ref                string
		files, env, labels *starlark.Dict
		cmd, entrypoint    stringListArg
		user, workdir      string
		volumes            stringListArg
		remote             bool
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "ref", &ref, "files?", &files, "env?", &env,
		"cmd??", &cmd, "entrypoint??", &entrypoint, "user?", &user, "workdir?", &workdir, "labels?", &labels,
		"volumes?", &volumes, "remote?", &remote); err != nil {
		return nil, err
	}

	if ref == "" {
		return nil, fmt.Errorf("%s: ref is empty: give an image reference such as \"debian:trixie\"", b.Name())
	}
	envMap, err := stringDict(env)
	if err != nil {
		return nil, fmt.Errorf("%s: env: %w", b.Name(), err)
	}
	labelMap, err := stringDict(labels)
	if err != nil {
		return nil, fmt.Errorf("%s: labels: %w", b.Name(), err)
	}
	imageFiles, err := imageFilesOf(files)
	if err != nil {
		return nil, fmt.Errorf("%s: files: %w", b.Name(), err)
	}

	img := Image{Env: envList(envMap), Cmd: cmd.list, Entrypoint: entrypoint.list, User: user, WorkDir: workdir,
		Labels: labelMap, Volumes: volumes.list}
	if remote {
		f.AddRemoteImage(ref, img, imageFiles...)
		return starlark.None, nil
	}
	return starlark.String(f.AddImage(ref, img, imageFiles...)), nil
}

// imageFilesOf converts the files= dict of add_image. A value is the
// content as a string, or a dict or struct with content, mode, owner
// ("user[:group]", names from the /etc/passwd and /etc/group among the
// files, or numbers), dir and link. A path ending in "/" is a folder.
func imageFilesOf(d *starlark.Dict) ([]File, error) {
	if d == nil {
		return nil, nil
	}
	type entry struct {
		path  string
		file  File
		owner string
	}
	var entries []entry
	tables := map[string]string{}
	for _, item := range d.Items() {
		p, ok := starlark.AsString(item[0])
		if !ok || !path.IsAbs(p) {
			return nil, fmt.Errorf("key %s must be an absolute path", item[0])
		}
		e := entry{path: p, file: File{Path: path.Clean(p), Mode: 0o644}}
		if strings.HasSuffix(p, "/") {
			e.file.Mode = fs.ModeDir | 0o755
		}
		if err := fillFile(&e.file, &e.owner, item[1]); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		if e.file.Path == "/etc/passwd" || e.file.Path == "/etc/group" {
			tables[e.file.Path] = string(e.file.Data)
		}
		entries = append(entries, e)
	}

	out := make([]File, 0, len(entries))
	for _, e := range entries {
		if e.owner != "" {
			uid, gid, err := ownerIDs(e.owner, tables)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", e.path, err)
			}
			e.file.UID, e.file.GID = uid, gid
		}
		out = append(out, e.file)
	}
	return out, nil
}

// fillFile sets the content and attributes of file from a files= value.
func fillFile(file *File, owner *string, v starlark.Value) error {
	if s, ok := v.(starlark.String); ok {
		file.Data = []byte(s)
		return nil
	}
	fields, err := fieldsOf(v)
	if err != nil {
		return err
	}
	for key, val := range fields {
		switch key {
		case "content":
			s, ok := starlark.AsString(val)
			if !ok {
				return fmt.Errorf("content is %s, want a string", val.Type())
			}
			file.Data = []byte(s)
		case "mode":
			var m modeArg
			if err := m.Unpack(val); err != nil {
				return fmt.Errorf("mode: %w", err)
			}
			file.Mode = file.Mode&fs.ModeType | m.mode
		case "owner":
			s, ok := starlark.AsString(val)
			if !ok {
				return fmt.Errorf("owner is %s, want a string such as \"postgres\" or \"100:102\"", val.Type())
			}
			*owner = s
		case "dir":
			if val.Truth() {
				file.Mode = fs.ModeDir | file.Mode.Perm()
				if !fieldSet(fields, "mode") {
					file.Mode = fs.ModeDir | 0o755
				}
			}
		case "link":
			s, ok := starlark.AsString(val)
			if !ok {
				return fmt.Errorf("link is %s, want the path the link points to", val.Type())
			}
			file.Mode, file.LinkTarget = fs.ModeSymlink|0o777, s
		default:
			return fmt.Errorf("unknown field %s, want content, mode, owner, dir or link", key)
		}
	}
	return nil
}

func fieldSet(fields map[string]starlark.Value, name string) bool {
	_, ok := fields[name]
	return ok
}

// fieldsOf returns the fields of a dict with string keys or of a struct.
func fieldsOf(v starlark.Value) (map[string]starlark.Value, error) {
	out := map[string]starlark.Value{}
	switch v := v.(type) {
	case *starlark.Dict:
		for _, item := range v.Items() {
			k, ok := starlark.AsString(item[0])
			if !ok {
				return nil, fmt.Errorf("key %s is %s, want a string", item[0], item[0].Type())
			}
			out[k] = item[1]
		}
	case starlark.HasAttrs:
		for _, name := range v.AttrNames() {
			val, err := v.Attr(name)
			if err != nil {
				return nil, err
			}
			out[name] = val
		}
	default:
		return nil, fmt.Errorf("got %s, want the content as a string, or a dict or struct with content, mode and owner", v.Type())
	}
	return out, nil
}

// ownerIDs resolves "user[:group]" with the passwd and group tables of an
// image being built, or as numbers.
func ownerIDs(spec string, tables map[string]string) (int, int, error) {
	userPart, groupPart, hasGroup := strings.Cut(spec, ":")
	lookup := func(file, name string, field int) (int, error) {
		if n, err := strconv.Atoi(name); err == nil && n >= 0 {
			return n, nil
		}
		for _, line := range strings.Split(tables[file], "\n") {
			fields := strings.Split(line, ":")
			if len(fields) > field && fields[0] == name {
				return strconv.Atoi(fields[field])
			}
		}
		return 0, fmt.Errorf("owner %q: %q is not in the %s given in files", spec, name, file)
	}
	uid, err := lookup("/etc/passwd", userPart, 2)
	if err != nil {
		return 0, 0, err
	}
	// A user name brings its primary group, a number the group of the
	// same number, as docker.copy resolves owners.
	gid := uid
	if _, err := strconv.Atoi(userPart); err != nil {
		if gid, err = lookup("/etc/passwd", userPart, 3); err != nil {
			return 0, 0, err
		}
	}
	if hasGroup {
		if gid, err = lookup("/etc/group", groupPart, 2); err != nil {
			return 0, 0, err
		}
	}
	return uid, gid, nil
}

// onExecMethod is fake.on_exec(container, cmd_prefix, exit_code=0,
// stdout="", stderr=""): the result of every command in container ("" for
// any) whose command line starts with cmd_prefix, a string or a list of
// words.
func (f *Fake) onExecMethod(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		container      string
		cmd            starlark.Value
		exitCode       int
		stdout, stderr string
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "container", &container, "cmd_prefix", &cmd,
		"exit_code?", &exitCode, "stdout?", &stdout, "stderr?", &stderr); err != nil {
		return nil, err
	}

	prefix, ok := starlark.AsString(cmd)
	if !ok {
		words, err := stringList(cmd)
		if err != nil {
			return nil, fmt.Errorf("%s: cmd_prefix: %w", b.Name(), err)
		}
		prefix = strings.Join(words, " ")
	}
	f.OnExec(container, prefix, ExecResult{ExitCode: exitCode, Stdout: stdout, Stderr: stderr})
	return starlark.None, nil
}

// logMethod is fake.log(container, text): output of the container, as if
// it printed text now; a missing final newline is added.
func (f *Fake) logMethod(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var container, text string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "container", &container, "text", &text); err != nil {
		return nil, err
	}
	if !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	if err := f.AppendLog(container, text); err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return starlark.None, nil
}

// listenMethod is fake.listen(container, port, open=True): whether a
// connection to port of the container succeeds, for docker.wait(port=...).
func (f *Fake) listenMethod(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		container string
		port      int
		open      = true
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "container", &container, "port", &port, "open?", &open); err != nil {
		return nil, err
	}
	if err := f.Listen(container, port, open); err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return starlark.None, nil
}
