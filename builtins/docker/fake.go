package docker

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Fake is an in-memory Engine for tests and `cocalcctl test`. It keeps
// networks, volumes, images and containers with their configuration and
// files, so builtins that read back what they wrote work on it. Commands
// given to Exec return the results a test registered with OnExec; any other
// command fails, saying that no result is registered.
//
// NOTE: bind mounts are recorded but not backed by the host's files: paths
// under a bind target hold whatever was copied into the container.
type Fake struct {
	mu         sync.Mutex
	networks   map[string]*Network
	subnets    map[string]int
	volumes    map[string]*Volume
	images     map[string]*fakeImage // by normalized reference and by ID
	remote     map[string]*fakeImage // images ImagePull can fetch
	containers map[string]*fakeContainer
	// volumeData holds the files of each volume, with paths relative to
	// the mount point written as absolute paths ("/" is the mount point).
	volumeData map[string]map[string]File
	handlers   []execHandler
	execs      []ExecCall
	serial     int

	// Now returns the time of starts and log lines. Nil means time.Now.
	Now func() time.Time
}

var _ Engine = (*Fake)(nil)

type fakeImage struct {
	Image
	files map[string]File
}

type fakeContainer struct {
	Container
	// files is the container's own file system; volumes maps mount points
	// to the volumes mounted there.
	files   map[string]File
	volumes map[string]string
	logs    []logLine
	ports   map[int]bool
}

type logLine struct {
	at   time.Time
	text string
}

type execHandler struct {
	container, prefix string
	fn                func(ExecSpec) (ExecResult, error)
}

// ExecCall is one command that Fake.Exec received.
type ExecCall struct {
	Container string
	Spec      ExecSpec
}

// NewFake returns a Fake with the default "bridge" network and nothing else.
func NewFake() *Fake {
	f := &Fake{
		networks:   map[string]*Network{},
		subnets:    map[string]int{},
		volumes:    map[string]*Volume{},
		images:     map[string]*fakeImage{},
		remote:     map[string]*fakeImage{},
		containers: map[string]*fakeContainer{},
		volumeData: map[string]map[string]File{},
	}
	f.networks["bridge"] = &Network{ID: f.newID("network bridge"), Name: "bridge", Driver: "bridge", Labels: map[string]string{}}
	f.subnets["bridge"] = 17
	return f
}

func (f *Fake) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

// newID returns a fresh 64-digit hex ID. The caller holds f.mu or owns f.
func (f *Fake) newID(seed string) string {
	f.serial++
	sum := sha256.Sum256(fmt.Appendf(nil, "%s %d", seed, f.serial))
	return hex.EncodeToString(sum[:])
}

// AddImage makes ref a local image with the configuration img and the given
// files (parent folders are added owned by root, mode 0755). It returns the
// image ID.
func (f *Fake) AddImage(ref string, img Image, files ...File) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	fi := f.newImage(ref, img, files)
	f.tagImage(ref, fi)
	return fi.ID
}

// AddRemoteImage makes ref available to ImagePull, as if a registry held it.
func (f *Fake) AddRemoteImage(ref string, img Image, files ...File) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.remote[normalizeRef(ref)] = f.newImage(ref, img, files)
}

func (f *Fake) newImage(ref string, img Image, files []File) *fakeImage {
	fi := &fakeImage{Image: img, files: map[string]File{}}
	fi.ID = "sha256:" + f.newID("image "+ref)
	fi.Tags = nil
	fi.Labels = copyMap(img.Labels)
	for _, file := range files {
		putFile(fi.files, file)
	}
	ensureRoot(fi.files)
	return fi
}

// tagImage points ref at fi, moving the tag away from any other image.
func (f *Fake) tagImage(ref string, fi *fakeImage) {
	ref = normalizeRef(ref)
	if old := f.images[ref]; old != nil {
		old.Tags = slices.DeleteFunc(old.Tags, func(t string) bool { return t == ref })
	}
	f.images[ref] = fi
	f.images[fi.ID] = fi
	if !slices.Contains(fi.Tags, ref) {
		fi.Tags = append(fi.Tags, ref)
	}
}

// normalizeRef adds the tag "latest" to a reference without tag or digest.
func normalizeRef(ref string) string {
	if strings.HasPrefix(ref, "sha256:") || strings.Contains(ref, "@") {
		return ref
	}
	last := ref[strings.LastIndex(ref, "/")+1:]
	if !strings.Contains(last, ":") {
		return ref + ":latest"
	}
	return ref
}

// OnExec registers the result of every command in container (any container
// when container is "") whose command line, its arguments joined with
// spaces, starts with cmdPrefix. When several registrations match, the
// longest prefix wins, and among equal ones the latest.
func (f *Fake) OnExec(container, cmdPrefix string, result ExecResult) {
	f.OnExecFunc(container, cmdPrefix, func(ExecSpec) (ExecResult, error) { return result, nil })
}

// OnExecFunc is OnExec with a function that computes the result, for tests
// that look at the command, its environment or its standard input.
func (f *Fake) OnExecFunc(container, cmdPrefix string, fn func(ExecSpec) (ExecResult, error)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.handlers = append(f.handlers, execHandler{container: container, prefix: cmdPrefix, fn: fn})
}

// Execs returns the commands Exec received, in order.
func (f *Fake) Execs() []ExecCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.execs)
}

// AppendLog adds text to the output of container, as if it printed it now.
func (f *Fake) AppendLog(container, text string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.containers[container]
	if c == nil {
		return notFound("container", container)
	}
	c.logs = append(c.logs, logLine{at: f.now(), text: text})
	return nil
}

// Listen makes DialPort to port of container succeed (open) or fail.
func (f *Fake) Listen(container string, port int, open bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.containers[container]
	if c == nil {
		return notFound("container", container)
	}
	c.ports[port] = open
	return nil
}

// NetworkInspect implements Engine.
func (f *Fake) NetworkInspect(ctx context.Context, name string) (Network, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.networks[name]
	if n == nil {
		return Network{}, notFound("network", name)
	}
	return f.networkView(n), nil
}

func (f *Fake) networkView(n *Network) Network {
	out := *n
	out.Labels = copyMap(n.Labels)
	out.Containers = nil
	for _, c := range f.containers {
		if _, ok := c.IPs[n.Name]; ok && c.Running {
			out.Containers = append(out.Containers, c.Name)
		}
	}
	sort.Strings(out.Containers)
	return out
}

// NetworkCreate implements Engine.
func (f *Fake) NetworkCreate(ctx context.Context, spec NetworkSpec) (Network, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.networks[spec.Name] != nil {
		return Network{}, &Error{Kind: ErrConflict, Object: "network", Name: spec.Name}
	}
	n := &Network{ID: f.newID("network " + spec.Name), Name: spec.Name, Driver: orDefault(spec.Driver, "bridge"), Labels: copyMap(spec.Labels)}
	f.networks[spec.Name] = n
	f.subnets[spec.Name] = 18 + len(f.subnets)
	return f.networkView(n), nil
}

// NetworkRemove implements Engine.
func (f *Fake) NetworkRemove(ctx context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.networks[name]
	if n == nil {
		return notFound("network", name)
	}
	if view := f.networkView(n); len(view.Containers) > 0 {
		return &Error{Kind: ErrInUse, Object: "network", Name: name,
			Detail: "containers attached: " + strings.Join(view.Containers, ", ")}
	}
	delete(f.networks, name)
	return nil
}

// VolumeInspect implements Engine.
func (f *Fake) VolumeInspect(ctx context.Context, name string) (Volume, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v := f.volumes[name]
	if v == nil {
		return Volume{}, notFound("volume", name)
	}
	return Volume{Name: v.Name, Driver: v.Driver, Labels: copyMap(v.Labels)}, nil
}

// VolumeCreate implements Engine.
func (f *Fake) VolumeCreate(ctx context.Context, spec VolumeSpec) (Volume, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.volumes[spec.Name] != nil {
		return Volume{}, &Error{Kind: ErrConflict, Object: "volume", Name: spec.Name}
	}
	v := f.addVolume(spec.Name, spec.Labels)
	return *v, nil
}

// VolumeRemove implements Engine.
func (f *Fake) VolumeRemove(ctx context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.volumes[name] == nil {
		return notFound("volume", name)
	}
	for _, c := range f.containers {
		if slices.Contains(c.AnonymousVolumes, name) || slices.ContainsFunc(c.Mounts, func(m Mount) bool {
			return m.Type == "volume" && m.Source == name
		}) {
			return &Error{Kind: ErrInUse, Object: "volume", Name: name, Detail: "used by container " + c.Name}
		}
	}
	delete(f.volumes, name)
	delete(f.volumeData, name)
	return nil
}

// ImageInspect implements Engine.
func (f *Fake) ImageInspect(ctx context.Context, ref string) (Image, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	img := f.images[normalizeRef(ref)]
	if img == nil {
		return Image{}, notFound("image", ref)
	}
	return img.view(), nil
}

func (img *fakeImage) view() Image {
	out := img.Image
	out.Tags = slices.Clone(img.Tags)
	out.Env = slices.Clone(img.Env)
	out.Labels = copyMap(img.Labels)
	return out
}

// ImagePull implements Engine. It reports one layer per file of the image.
func (f *Fake) ImagePull(ctx context.Context, ref string, progress func(PullProgress)) error {
	f.mu.Lock()
	remote := f.remote[normalizeRef(ref)]
	f.mu.Unlock()
	if remote == nil {
		return &Error{Kind: ErrNotFound, Object: "image", Name: ref, Detail: "manifest unknown"}
	}

	var p PullProgress
	for _, file := range remote.files {
		if file.Mode.IsRegular() {
			p.Layers++
			p.Total += int64(len(file.Data))
		}
	}
	for done := 1; done <= p.Layers && progress != nil; done++ {
		p.LayersDone = done
		p.Current = p.Total * int64(done) / int64(p.Layers)
		progress(p)
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	if existing := f.images[remote.ID]; existing == nil {
		f.images[remote.ID] = remote
	}
	f.tagImage(ref, remote)
	return nil
}

// ContainerCreate implements Engine.
func (f *Fake) ContainerCreate(ctx context.Context, spec ContainerSpec) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.containers[spec.Name] != nil {
		return "", &Error{Kind: ErrConflict, Object: "container", Name: spec.Name}
	}
	img := f.images[normalizeRef(spec.Image)]
	if img == nil {
		return "", notFound("image", spec.Image)
	}
	netName := orDefault(spec.Network, "bridge")
	if f.networks[netName] == nil {
		return "", notFound("network", spec.Network)
	}

	c := &fakeContainer{files: map[string]File{}, volumes: map[string]string{}, ports: map[int]bool{}}
	c.ID = f.newID("container " + spec.Name)
	c.Name, c.Image, c.ImageID = spec.Name, spec.Image, img.ID
	c.Created, c.State = f.now(), "created"
	c.Cmd, c.Entrypoint = mergeCommand(spec.Cmd, spec.Entrypoint, img.Image)
	c.Cmd, c.Entrypoint = slices.Clone(c.Cmd), slices.Clone(c.Entrypoint)
	c.Env = mergeEnv(img.Env, spec.Env)
	c.User, c.WorkDir = orDefault(spec.User, img.User), orDefault(spec.WorkDir, img.WorkDir)
	c.Labels = copyMap(img.Labels)
	maps.Copy(c.Labels, spec.Labels)
	c.Restart = orDefault(spec.Restart, "no")
	c.Mounts, c.Ports = slices.Clone(spec.Mounts), slices.Clone(spec.Ports)
	sortPorts(c.Ports)
	c.Network, c.Aliases = netName, slices.Clone(spec.Aliases)
	c.IPs = map[string]string{}

	for p, file := range img.files {
		c.files[p] = cloneFile(file)
	}
	for _, m := range spec.Mounts {
		if m.Type == "volume" {
			f.mountVolume(c, m.Source, m.Target)
		}
	}
	for _, p := range img.Volumes {
		if !slices.ContainsFunc(spec.Mounts, func(m Mount) bool { return path.Clean(m.Target) == path.Clean(p) }) {
			name := f.newID("anonymous volume")
			f.mountVolume(c, name, p)
			c.AnonymousVolumes = append(c.AnonymousVolumes, name)
		}
	}
	f.containers[spec.Name] = c
	return c.ID, nil
}

func (f *Fake) addVolume(name string, labels map[string]string) *Volume {
	v := &Volume{Name: name, Driver: "local", Labels: copyMap(labels)}
	f.volumes[name] = v
	f.volumeData[name] = map[string]File{"/": {Path: "/", Mode: fs.ModeDir | 0o755}}
	return v
}

// mountVolume mounts the volume name at target in c, creating the volume
// when it does not exist. As Docker does, an empty volume first receives
// what the image has at target.
func (f *Fake) mountVolume(c *fakeContainer, name, target string) {
	target = path.Clean(target)
	if f.volumes[name] == nil {
		f.addVolume(name, nil)
	}
	c.volumes[target] = name
	if _, ok := c.files[target]; !ok {
		putFile(c.files, File{Path: target, Mode: fs.ModeDir | 0o755})
	}
	data := f.volumeData[name]
	if len(data) > 1 {
		return
	}
	for p, file := range c.files {
		if rel, ok := under(p, target); ok {
			file.Path = rel
			data[rel] = cloneFile(file)
		}
	}
}

// under reports whether p is dir or below it, and returns p relative to dir
// written as an absolute path.
func under(p, dir string) (string, bool) {
	if p == dir {
		return "/", true
	}
	if dir == "/" {
		return p, true
	}
	if rest, ok := strings.CutPrefix(p, dir+"/"); ok {
		return "/" + rest, true
	}
	return "", false
}

// resolve returns the file table that holds p in c, the volume mounted
// deepest above p or the container's own, p's key in it, and the volume's
// name ("" for the container's own table).
func (f *Fake) resolve(c *fakeContainer, p string) (table map[string]File, key, volume string) {
	best := ""
	for target := range c.volumes {
		if _, ok := under(p, target); ok && len(target) > len(best) {
			best = target
		}
	}
	if best == "" {
		return c.files, p, ""
	}
	rel, _ := under(p, best)
	return f.volumeData[c.volumes[best]], rel, c.volumes[best]
}

// mergeEnv returns the image's KEY=VALUE pairs with the request's added,
// a requested key replacing the image's value.
func mergeEnv(image, request []string) []string {
	out := slices.Clone(image)
	for _, kv := range request {
		key, _, _ := strings.Cut(kv, "=")
		i := slices.IndexFunc(out, func(e string) bool { k, _, _ := strings.Cut(e, "="); return k == key })
		if i >= 0 {
			out[i] = kv
		} else {
			out = append(out, kv)
		}
	}
	return out
}

func (f *Fake) container(name string) (*fakeContainer, error) {
	c := f.containers[name]
	if c == nil {
		return nil, notFound("container", name)
	}
	return c, nil
}

// ContainerInspect implements Engine.
func (f *Fake) ContainerInspect(ctx context.Context, name string) (Container, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.container(name)
	if err != nil {
		return Container{}, err
	}
	return c.view(), nil
}

func (c *fakeContainer) view() Container {
	out := c.Container
	out.Cmd, out.Entrypoint, out.Env = slices.Clone(c.Cmd), slices.Clone(c.Entrypoint), slices.Clone(c.Env)
	out.Labels, out.IPs = copyMap(c.Labels), copyMap(c.IPs)
	out.Mounts, out.Ports, out.Aliases = slices.Clone(c.Mounts), slices.Clone(c.Ports), slices.Clone(c.Aliases)
	out.AnonymousVolumes = slices.Clone(c.AnonymousVolumes)
	return out
}

// ContainerList implements Engine.
func (f *Fake) ContainerList(ctx context.Context, labels map[string]string) ([]Container, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Container
	for _, c := range f.containers {
		match := true
		for k, v := range labels {
			if got, ok := c.Labels[k]; !ok || got != v {
				match = false
			}
		}
		if match {
			out = append(out, Container{ID: c.ID, Name: c.Name, Image: c.Image, ImageID: c.ImageID,
				State: c.State, Running: c.Running, Labels: copyMap(c.Labels)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// ContainerStart implements Engine.
func (f *Fake) ContainerStart(ctx context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.container(name)
	if err != nil {
		return err
	}
	if c.Running {
		return nil
	}
	if f.networks[c.Network] == nil {
		return notFound("network", c.Network)
	}
	c.Running, c.State, c.ExitCode, c.StartedAt = true, "running", 0, f.now()
	used := map[string]bool{}
	for _, other := range f.containers {
		if ip, ok := other.IPs[c.Network]; ok {
			used[ip] = true
		}
	}
	for host := 2; host < 255; host++ {
		ip := fmt.Sprintf("172.%d.0.%d", f.subnets[c.Network], host)
		if !used[ip] {
			c.IPs[c.Network] = ip
			break
		}
	}
	return nil
}

// ContainerStop implements Engine.
func (f *Fake) ContainerStop(ctx context.Context, name string, timeout time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.container(name)
	if err != nil {
		return err
	}
	if c.Running {
		c.Running, c.State = false, "exited"
		c.IPs = map[string]string{}
	}
	return nil
}

// ContainerRemove implements Engine.
func (f *Fake) ContainerRemove(ctx context.Context, name string, volumes bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.container(name)
	if err != nil {
		return err
	}
	delete(f.containers, name)
	if volumes {
		for _, v := range c.AnonymousVolumes {
			delete(f.volumes, v)
			delete(f.volumeData, v)
		}
	}
	return nil
}

// ContainerLogs implements Engine.
func (f *Fake) ContainerLogs(ctx context.Context, name string, opts LogOptions) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.container(name)
	if err != nil {
		return "", err
	}
	var text strings.Builder
	for _, l := range c.logs {
		if opts.Since.IsZero() || !l.at.Before(opts.Since) {
			text.WriteString(l.text)
		}
	}
	return tailLines(text.String(), opts.Tail), nil
}

// tailLines returns the last n lines of s, or all of s when n is 0.
func tailLines(s string, n int) string {
	if n <= 0 {
		return s
	}
	lines := strings.SplitAfter(s, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "")
}

// ContainerCommit implements Engine. It understands the CMD, ENTRYPOINT,
// ENV, USER, WORKDIR, LABEL and VOLUME instructions.
func (f *Fake) ContainerCommit(ctx context.Context, name, ref string, changes []string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.container(name)
	if err != nil {
		return "", err
	}
	base := f.images[c.ImageID]
	img := Image{Env: slices.Clone(c.Env), Cmd: slices.Clone(c.Cmd), Entrypoint: slices.Clone(c.Entrypoint),
		User: c.User, WorkDir: c.WorkDir, Labels: copyMap(c.Labels)}
	if base != nil {
		img.Volumes = slices.Clone(base.Volumes)
	}
	for _, change := range changes {
		if err := applyChange(&img, change); err != nil {
			return "", err
		}
	}
	files := make([]File, 0, len(c.files))
	for _, file := range c.files {
		files = append(files, cloneFile(file))
	}
	fi := f.newImage(ref, img, files)
	if ref != "" {
		f.tagImage(ref, fi)
	} else {
		f.images[fi.ID] = fi
	}
	return fi.ID, nil
}

// applyChange applies one Dockerfile instruction of a commit to img.
func applyChange(img *Image, change string) error {
	word, rest, _ := strings.Cut(strings.TrimSpace(change), " ")
	rest = strings.TrimSpace(rest)
	switch strings.ToUpper(word) {
	case "CMD":
		img.Cmd = instructionArgs(rest)
	case "ENTRYPOINT":
		img.Entrypoint = instructionArgs(rest)
	case "ENV":
		key, value, ok := strings.Cut(rest, "=")
		if !ok {
			key, value, _ = strings.Cut(rest, " ")
		}
		img.Env = mergeEnv(img.Env, []string{strings.TrimSpace(key) + "=" + strings.Trim(strings.TrimSpace(value), `"`)})
	case "USER":
		img.User = rest
	case "WORKDIR":
		img.WorkDir = rest
	case "LABEL":
		key, value, _ := strings.Cut(rest, "=")
		if img.Labels == nil {
			img.Labels = map[string]string{}
		}
		img.Labels[strings.TrimSpace(key)] = strings.Trim(strings.TrimSpace(value), `"`)
	case "VOLUME":
		var paths []string
		if json.Unmarshal([]byte(rest), &paths) != nil {
			paths = strings.Fields(rest)
		}
		img.Volumes = append(img.Volumes, paths...)
	default:
		return fmt.Errorf("the fake engine does not model the commit change %q", change)
	}
	return nil
}

// instructionArgs parses the JSON form ["a", "b"] or the shell form of a
// Dockerfile instruction, which runs under /bin/sh -c.
func instructionArgs(s string) []string {
	var args []string
	if json.Unmarshal([]byte(s), &args) == nil {
		return args
	}
	return []string{"/bin/sh", "-c", s}
}

// Exec implements Engine.
func (f *Fake) Exec(ctx context.Context, name string, spec ExecSpec) (ExecResult, error) {
	f.mu.Lock()
	c, err := f.container(name)
	if err != nil {
		f.mu.Unlock()
		return ExecResult{}, err
	}
	if !c.Running {
		f.mu.Unlock()
		return ExecResult{}, &Error{Kind: ErrNotRunning, Object: "container", Name: name}
	}
	spec.Cmd, spec.Env, spec.Stdin = slices.Clone(spec.Cmd), slices.Clone(spec.Env), slices.Clone(spec.Stdin)
	f.execs = append(f.execs, ExecCall{Container: name, Spec: spec})

	line := strings.Join(spec.Cmd, " ")
	var best *execHandler
	for i := range f.handlers {
		h := &f.handlers[i]
		if (h.container == "" || h.container == name) && strings.HasPrefix(line, h.prefix) &&
			(best == nil || len(h.prefix) >= len(best.prefix)) {
			best = h
		}
	}
	f.mu.Unlock()

	if best == nil {
		return ExecResult{}, fmt.Errorf("the fake engine has no result registered for the command %q in container %q: register one with OnExec", line, name)
	}
	return best.fn(spec)
}

// CopyTo implements Engine.
func (f *Fake) CopyTo(ctx context.Context, name string, files []File) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.container(name)
	if err != nil {
		return err
	}
	for _, file := range files {
		abs := path.Clean(file.Path)
		table, key, _ := f.resolve(c, abs)
		if old, ok := table[key]; ok && old.Mode.IsDir() && !file.Mode.IsDir() {
			return fmt.Errorf("copying into container %q: cannot replace folder %s with a file", name, abs)
		}
		file = cloneFile(file)
		file.Path = key
		putFile(table, file)
	}
	return nil
}

// CopyFrom implements Engine.
func (f *Fake) CopyFrom(ctx context.Context, name, p string) ([]File, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.container(name)
	if err != nil {
		return nil, err
	}
	p = path.Clean(p)
	table, key, _ := f.resolve(c, p)
	top, ok := table[key]
	if !ok {
		return nil, &Error{Kind: ErrNotFound, Object: "file", Name: p}
	}
	top = cloneFile(top)
	top.Path = p
	out := []File{top}
	if top.Mode.IsDir() {
		out = append(out, f.filesBelow(c, p)...)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// filesBelow lists everything below the folder p of c, looking through the
// volumes mounted there and skipping what a mount hides.
func (f *Fake) filesBelow(c *fakeContainer, p string) []File {
	var out []File
	add := func(abs, volume string, file File) {
		if r, ok := under(abs, p); !ok || r == "/" {
			return
		}
		if _, _, owner := f.resolve(c, abs); owner != volume {
			return
		}
		file = cloneFile(file)
		file.Path = abs
		out = append(out, file)
	}
	for fp, file := range c.files {
		add(fp, "", file)
	}
	for target, vol := range c.volumes {
		for rel, file := range f.volumeData[vol] {
			add(path.Join(target, rel), vol, file)
		}
	}
	return out
}

// DialPort implements Engine.
func (f *Fake) DialPort(ctx context.Context, name string, port int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.container(name)
	if err != nil {
		return err
	}
	if !c.Running {
		return &Error{Kind: ErrNotRunning, Object: "container", Name: name}
	}
	if !c.ports[port] {
		return fmt.Errorf("dial tcp %s:%d: connection refused", c.IPs[c.Network], port)
	}
	return nil
}

// putFile stores file in files, adding missing parent folders owned by root
// with mode 0755, as the engine does when it unpacks an archive.
func putFile(files map[string]File, file File) {
	file.Path = path.Clean(file.Path)
	for dir := path.Dir(file.Path); dir != "/" && dir != "."; dir = path.Dir(dir) {
		if _, ok := files[dir]; !ok {
			files[dir] = File{Path: dir, Mode: fs.ModeDir | 0o755}
		}
	}
	if file.Mode.IsRegular() && file.Data == nil {
		file.Data = []byte{}
	}
	files[file.Path] = file
}

func ensureRoot(files map[string]File) {
	if _, ok := files["/"]; !ok {
		files["/"] = File{Path: "/", Mode: fs.ModeDir | 0o755}
	}
}

func cloneFile(f File) File {
	f.Data = slices.Clone(f.Data)
	return f
}

func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	maps.Copy(out, m)
	return out
}
