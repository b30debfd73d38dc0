package docker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"go.starlark.net/starlark"

	"github.com/cocalcctl/cocalcctl/builtins/runtime"
)

// owner is a resolved "user[:group]".
type owner struct {
	uid, gid int
}

// resolveOwner resolves "user[:group]" against the container's /etc/passwd
// and /etc/group. Numbers are taken as they are. Without a group, a user
// name brings its primary group, and a number the group of the same number.
func resolveOwner(ctx context.Context, engine Engine, container, spec string) (owner, error) {
	userPart, groupPart, hasGroup := strings.Cut(spec, ":")
	if userPart == "" || (hasGroup && groupPart == "") {
		return owner{}, fmt.Errorf("owner %q, want \"user\", \"user:group\" or numbers such as \"999:999\"", spec)
	}

	var o owner
	primary := -1
	if n, err := strconv.Atoi(userPart); err == nil && n >= 0 {
		o.uid, primary = n, n
	} else {
		entry, err := lookupEntry(ctx, engine, container, "/etc/passwd", userPart)
		if err != nil {
			return owner{}, err
		}
		if len(entry) < 4 {
			return owner{}, fmt.Errorf("the entry of user %q in /etc/passwd of container %q is malformed", userPart, container)
		}
		o.uid, _ = strconv.Atoi(entry[2])
		primary, _ = strconv.Atoi(entry[3])
	}

	if !hasGroup {
		o.gid = primary
		return o, nil
	}
	if n, err := strconv.Atoi(groupPart); err == nil && n >= 0 {
		o.gid = n
		return o, nil
	}
	entry, err := lookupEntry(ctx, engine, container, "/etc/group", groupPart)
	if err != nil {
		return owner{}, err
	}
	o.gid, _ = strconv.Atoi(entry[2])
	return o, nil
}

// lookupEntry returns the colon-separated fields of name's line in the
// container's passwd or group file.
func lookupEntry(ctx context.Context, engine Engine, container, file, name string) ([]string, error) {
	files, err := engine.CopyFrom(ctx, container, file)
	if err != nil {
		return nil, fmt.Errorf("reading %s of container %q to look up %q: %w", file, container, name, err)
	}
	for _, line := range strings.Split(string(files[0].Data), "\n") {
		fields := strings.Split(line, ":")
		if len(fields) >= 3 && fields[0] == name {
			return fields, nil
		}
	}
	what := "user"
	if file == "/etc/group" {
		what = "group"
	}
	return nil, fmt.Errorf("%s %q is not in %s of container %q: create it in the image first, or give a number", what, name, file, container)
}

// dirMode gives a folder the search permission wherever mode grants read, so
// mode=0o640 on a copied folder makes its folders 0750.
func dirMode(mode fs.FileMode) fs.FileMode {
	perm := mode.Perm()
	for _, bits := range [][2]fs.FileMode{{0o400, 0o100}, {0o040, 0o010}, {0o004, 0o001}} {
		if perm&bits[0] != 0 {
			perm |= bits[1]
		}
	}
	return mode&^fs.ModePerm | perm | fs.ModeDir
}

// localTree reads the local file or folder src through fsys as the files to
// place at dest in a container.
func localTree(fsys runtime.FS, src, dest string) ([]File, error) {
	info, err := fsys.Stat(src)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		data, err := fsys.ReadFile(src)
		if err != nil {
			return nil, err
		}
		return []File{{Path: dest, Mode: info.Mode().Perm(), Data: data}}, nil
	}

	out := []File{{Path: dest, Mode: fs.ModeDir | info.Mode().Perm()}}
	entries, err := fsys.ReadDir(src)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		sub, err := localTree(fsys, filepath.Join(src, e.Name()), path.Join(dest, e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, sub...)
	}
	return out, nil
}

// fileDiff describes how have differs from want, or returns "" when they
// match.
func fileDiff(want File, have File, found bool) string {
	switch {
	case !found:
		return want.Path + ": missing"
	case want.Mode.IsDir() != have.Mode.IsDir():
		return want.Path + ": a file where a folder is requested, or the other way round"
	case !want.Mode.IsDir() && !bytes.Equal(want.Data, have.Data):
		return want.Path + ": content differs"
	case tarMode(want.Mode) != tarMode(have.Mode):
		return fmt.Sprintf("%s: mode %s, request is %s", want.Path, modeString(have.Mode), modeString(want.Mode))
	case want.UID != have.UID || want.GID != have.GID:
		return fmt.Sprintf("%s: owner %d:%d, request is %d:%d", want.Path, have.UID, have.GID, want.UID, want.GID)
	}
	return ""
}

func copyFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		container nameArg
		src, dest string
		ownerSpec string
		mode      modeArg
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "container", &container, "src", &src, "dest", &dest,
		"owner??", &ownerSpec, "mode??", &mode); err != nil {
		return nil, err
	}

	if !path.IsAbs(dest) {
		return nil, fmt.Errorf("%s: dest %q must be an absolute path in the container", b.Name(), dest)
	}
	env := runtime.EnvOf(thread)
	local := runtime.ResolvePath(env, src)
	if strings.HasSuffix(dest, "/") {
		dest = path.Join(dest, filepath.Base(local))
	}
	dest = path.Clean(dest)
	want, err := localTree(env.FS, local, dest)
	if errors.Is(err, fs.ErrNotExist) && env.DryRun {
		// An earlier step, such as ca.issue, only would have made src.
		step := runtime.Begin(thread, b, args, kwargs)
		step.Report(runtime.Changed, local+" does not exist yet")
		return starlark.None, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %s does not exist on this machine: check src", b.Name(), local)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: reading %s: %w", b.Name(), local, err)
	}
	engine, err := engineOf(thread, b)
	if err != nil {
		return nil, err
	}

	step := runtime.Begin(thread, b, args, kwargs)
	if _, err := engine.ContainerInspect(env.Ctx, container.name); err != nil {
		if errors.Is(err, ErrNotFound) && env.DryRun {
			step.Report(runtime.Created, "the container does not exist yet")
			return starlark.None, nil
		}
		return nil, step.Fail(fmt.Errorf("%s: %w", b.Name(), err))
	}
	o := owner{}
	if ownerSpec != "" {
		if o, err = resolveOwner(env.Ctx, engine, container.name, ownerSpec); err != nil {
			return nil, step.Fail(fmt.Errorf("%s: %w", b.Name(), err))
		}
	}
	for i := range want {
		want[i].UID, want[i].GID = o.uid, o.gid
		if mode.isSet {
			if want[i].Mode.IsDir() {
				want[i].Mode = dirMode(mode.mode)
			} else {
				want[i].Mode = mode.mode
			}
		}
	}

	have, err := engine.CopyFrom(env.Ctx, container.name, dest)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, step.Fail(fmt.Errorf("%s: %w", b.Name(), err))
	}
	existing := map[string]File{}
	for _, f := range have {
		existing[f.Path] = f
	}
	var changed []File
	var diffs []string
	for _, w := range want {
		h, found := existing[w.Path]
		if d := fileDiff(w, h, found); d != "" {
			changed, diffs = append(changed, w), append(diffs, d)
		}
	}
	if len(changed) == 0 {
		step.Report(runtime.Unchanged, "")
		return starlark.None, nil
	}

	status := runtime.Changed
	if len(have) == 0 {
		status = runtime.Created
	}
	detail := strings.Join(diffs, "\n")
	if len(diffs) > 10 {
		detail = strings.Join(diffs[:10], "\n") + fmt.Sprintf("\nand %d more", len(diffs)-10)
	}
	if status == runtime.Created {
		detail = ""
	}
	return starlark.None, step.Apply(status, detail, func() error {
		if err := engine.CopyTo(env.Ctx, container.name, changed); err != nil {
			return fmt.Errorf("%s: %w", b.Name(), err)
		}
		return nil
	})
}

// readContainerFile reads one regular file, following symbolic links.
func readContainerFile(ctx context.Context, engine Engine, container, p string) (File, error) {
	for range 8 {
		files, err := engine.CopyFrom(ctx, container, p)
		if err != nil {
			return File{}, err
		}
		f := files[0]
		switch {
		case f.Mode&fs.ModeSymlink != 0:
			target := f.LinkTarget
			if !path.IsAbs(target) {
				target = path.Join(path.Dir(p), target)
			}
			p = target
			continue
		case f.Mode.IsDir():
			return File{}, fmt.Errorf("%s in container %q is a folder, not a file", p, container)
		}
		return f, nil
	}
	return File{}, fmt.Errorf("%s in container %q: too many levels of symbolic links", p, container)
}

func fileFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		container                 nameArg
		p, line, state            = "", "", "present"
		after, before, regexpText string
		ownerSpec                 string
		mode                      modeArg
		create                    bool
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "container", &container, "path", &p, "line??", &line,
		"state?", &state, "after??", &after, "before??", &before, "regexp??", &regexpText,
		"owner??", &ownerSpec, "mode??", &mode, "create?", &create); err != nil {
		return nil, err
	}

	if !path.IsAbs(p) {
		return nil, fmt.Errorf("%s: path %q must be an absolute path in the container", b.Name(), p)
	}
	if state != "present" && state != "absent" {
		return nil, fmt.Errorf("%s: state %q, want \"present\" or \"absent\"", b.Name(), state)
	}
	if strings.Contains(line, "\n") {
		return nil, fmt.Errorf("%s: line contains a newline: ensure one line per call", b.Name())
	}
	edit := lineEdit{line: line, absent: state == "absent"}
	for _, r := range []struct {
		name, text string
		dest       **regexp.Regexp
	}{{"regexp", regexpText, &edit.match}, {"after", after, &edit.after}, {"before", before, &edit.before}} {
		if r.text == "" {
			continue
		}
		re, err := regexp.Compile(r.text)
		if err != nil {
			return nil, fmt.Errorf("%s: %s %q is not a valid regular expression: %w", b.Name(), r.name, r.text, err)
		}
		*r.dest = re
	}
	engine, err := engineOf(thread, b)
	if err != nil {
		return nil, err
	}

	env := runtime.EnvOf(thread)
	readOnly := line == "" && edit.match == nil && state == "present" && ownerSpec == "" && !mode.isSet
	if readOnly {
		return readFileValue(thread, b, engine, container.name, p)
	}
	if line == "" && state == "present" && edit.match != nil {
		return nil, fmt.Errorf("%s: regexp= needs line= to replace the matching line with, or state=\"absent\" to delete it", b.Name())
	}
	if state == "absent" && line == "" && edit.match == nil {
		return nil, fmt.Errorf("%s: state=\"absent\" needs line= or regexp= to say which lines to delete", b.Name())
	}

	step := runtime.Begin(thread, b, args, kwargs)
	if _, err := engine.ContainerInspect(env.Ctx, container.name); err != nil {
		if errors.Is(err, ErrNotFound) && env.DryRun {
			step.Report(runtime.Changed, "the container does not exist yet")
			return starlark.None, nil
		}
		return nil, step.Fail(fmt.Errorf("%s: %w", b.Name(), err))
	}
	cur, err := readContainerFile(env.Ctx, engine, container.name, p)
	exists := err == nil
	switch {
	case err != nil && !errors.Is(err, ErrNotFound):
		return nil, step.Fail(fmt.Errorf("%s: %w", b.Name(), err))
	case !exists && state == "absent":
		step.Report(runtime.Unchanged, "no such file")
		return starlark.None, nil
	case !exists && !create:
		return nil, step.Fail(fmt.Errorf("%s: %s does not exist in container %q: pass create=True to create it", b.Name(), p, container.name))
	case !exists:
		cur = File{Path: p, Mode: 0o644, Data: []byte{}}
	}

	want := cur
	want.Data = []byte(edit.apply(string(cur.Data)))
	if ownerSpec != "" {
		o, err := resolveOwner(env.Ctx, engine, container.name, ownerSpec)
		if err != nil {
			return nil, step.Fail(fmt.Errorf("%s: %w", b.Name(), err))
		}
		want.UID, want.GID = o.uid, o.gid
	}
	if mode.isSet {
		want.Mode = mode.mode
	}
	diff := fileDiff(want, cur, exists)
	if diff == "" {
		step.Report(runtime.Unchanged, "")
		return starlark.None, nil
	}
	status := runtime.Changed
	if !exists {
		status, diff = runtime.Created, ""
	}
	return starlark.None, step.Apply(status, strings.TrimPrefix(diff, p+": "), func() error {
		if err := engine.CopyTo(env.Ctx, container.name, []File{want}); err != nil {
			return fmt.Errorf("%s: %w", b.Name(), err)
		}
		return nil
	})
}

// readFileValue is docker.file without an edit: the content of the file.
func readFileValue(thread *starlark.Thread, b *starlark.Builtin, engine Engine, container, p string) (starlark.Value, error) {
	env := runtime.EnvOf(thread)
	f, err := readContainerFile(env.Ctx, engine, container, p)
	if errors.Is(err, ErrNotFound) && env.DryRun {
		return runtime.NewUnknown(thread, fmt.Sprintf("docker.file(%q, %q)", container, p)), nil
	}
	if errors.Is(err, ErrNotFound) && objectOf(err) == "file" {
		return nil, fmt.Errorf("%s: %s does not exist in container %q", b.Name(), p, container)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return starlark.String(f.Data), nil
}

// lineEdit ensures one line is present exactly once, or absent.
type lineEdit struct {
	line   string
	absent bool
	// match selects the lines that line replaces (present) or that are
	// deleted (absent) besides exact copies of line.
	match *regexp.Regexp
	// after places a new line after the last line that matches it, and
	// before places it before the first match. Without them, or when nothing
	// matches, a new line goes at the end.
	after, before *regexp.Regexp
}

func (e lineEdit) matches(l string) bool {
	return (e.line != "" && l == e.line) || (e.match != nil && e.match.MatchString(l))
}

// apply returns content with the edit made. The result ends with a newline
// unless it is empty.
func (e lineEdit) apply(content string) string {
	lines := strings.Split(strings.TrimSuffix(content, "\n"), "\n")
	if content == "" {
		lines = nil
	}

	if e.absent {
		var kept []string
		for _, l := range lines {
			if !e.matches(l) {
				kept = append(kept, l)
			}
		}
		return joinLines(kept)
	}

	// The last matching line is replaced and other exact copies of the line
	// are deleted, so it appears exactly once.
	last := -1
	for i, l := range lines {
		if e.matches(l) {
			last = i
		}
	}
	if last >= 0 {
		var out []string
		for i, l := range lines {
			switch {
			case i == last:
				out = append(out, e.line)
			case l == e.line:
			default:
				out = append(out, l)
			}
		}
		return joinLines(out)
	}

	at := len(lines)
	if e.after != nil {
		for i, l := range lines {
			if e.after.MatchString(l) {
				at = i + 1
			}
		}
	} else if e.before != nil {
		for i, l := range lines {
			if e.before.MatchString(l) {
				at = i
				break
			}
		}
	}
	out := append([]string{}, lines[:at]...)
	out = append(out, e.line)
	return joinLines(append(out, lines[at:]...))
}

func joinLines(lines []string) string {
	if len(lines) == 0 {
		return ""
	}
	return strings.Join(lines, "\n") + "\n"
}
