package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"
	"github.com/docker/go-connections/nat"
)

// pingTimeout bounds how long OpenReal waits for the engine to answer, so an
// unreachable engine fails fast with the address it tried.
const pingTimeout = 2 * time.Second

// Real is the Engine of a Docker Engine reached through the Docker client.
type Real struct {
	cli *client.Client
}

var _ Engine = (*Real)(nil)

// OpenReal connects to the engine named by DOCKER_HOST, DOCKER_TLS_VERIFY and
// DOCKER_CERT_PATH (the local socket when they are unset) and negotiates the
// API version. It fails within about two seconds when the engine does not
// answer, naming the address it tried.
func OpenReal(ctx context.Context) (*Real, error) {
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("cannot set up the Docker client from DOCKER_HOST, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH: %w", err)
	}

	pingCtx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	ping, err := cli.Ping(pingCtx)
	if err != nil {
		cli.Close()
		cause := err
		if errors.Is(pingCtx.Err(), context.DeadlineExceeded) {
			cause = fmt.Errorf("no answer within %s", pingTimeout)
		}
		return nil, fmt.Errorf("cannot reach the Docker Engine at %s: %v: start the engine, or set DOCKER_HOST to where it listens",
			cli.DaemonHost(), cause)
	}
	cli.NegotiateAPIVersionPing(ping)
	return &Real{cli: cli}, nil
}

// Close closes the connection to the engine.
func (r *Real) Close() error { return r.cli.Close() }

// Client returns the Docker client, for tests that set up or clean up what
// the Engine interface does not cover.
func (r *Real) Client() *client.Client { return r.cli }

// engineError turns a Docker client error about object name into an *Error
// of the kind it is, keeping the engine's message as the detail.
func engineError(err error, object, name string) error {
	switch {
	case err == nil:
		return nil
	case cerrdefs.IsNotFound(err):
		return &Error{Kind: ErrNotFound, Object: object, Name: name}
	case cerrdefs.IsConflict(err):
		return &Error{Kind: ErrConflict, Object: object, Name: name, Detail: err.Error()}
	}
	return fmt.Errorf("%s %q: %w", object, name, err)
}

// NetworkInspect implements Engine.
func (r *Real) NetworkInspect(ctx context.Context, name string) (Network, error) {
	n, err := r.cli.NetworkInspect(ctx, name, network.InspectOptions{})
	if err != nil {
		return Network{}, engineError(err, "network", name)
	}
	// The engine also matches IDs and ID prefixes; a name must match exactly.
	if n.Name != name && n.ID != name {
		return Network{}, notFound("network", name)
	}
	out := Network{ID: n.ID, Name: n.Name, Driver: n.Driver, Labels: n.Labels}
	for _, c := range n.Containers {
		out.Containers = append(out.Containers, c.Name)
	}
	sort.Strings(out.Containers)
	return out, nil
}

// NetworkCreate implements Engine.
func (r *Real) NetworkCreate(ctx context.Context, spec NetworkSpec) (Network, error) {
	if _, err := r.NetworkInspect(ctx, spec.Name); err == nil {
		return Network{}, &Error{Kind: ErrConflict, Object: "network", Name: spec.Name}
	}
	_, err := r.cli.NetworkCreate(ctx, spec.Name, network.CreateOptions{Driver: spec.Driver, Labels: spec.Labels})
	if err != nil {
		return Network{}, engineError(err, "network", spec.Name)
	}
	return r.NetworkInspect(ctx, spec.Name)
}

// NetworkRemove implements Engine.
func (r *Real) NetworkRemove(ctx context.Context, name string) error {
	n, err := r.NetworkInspect(ctx, name)
	if err != nil {
		return err
	}
	if len(n.Containers) > 0 {
		return &Error{Kind: ErrInUse, Object: "network", Name: name,
			Detail: "containers attached: " + strings.Join(n.Containers, ", ")}
	}
	return engineError(r.cli.NetworkRemove(ctx, n.ID), "network", name)
}

// VolumeInspect implements Engine.
func (r *Real) VolumeInspect(ctx context.Context, name string) (Volume, error) {
	v, err := r.cli.VolumeInspect(ctx, name)
	if err != nil {
		return Volume{}, engineError(err, "volume", name)
	}
	return Volume{Name: v.Name, Driver: v.Driver, Labels: v.Labels}, nil
}

// VolumeCreate implements Engine. The engine itself returns an existing
// volume of the same name; the contract makes that a conflict, so a caller
// never mistakes someone else's volume for a new one.
func (r *Real) VolumeCreate(ctx context.Context, spec VolumeSpec) (Volume, error) {
	if _, err := r.VolumeInspect(ctx, spec.Name); err == nil {
		return Volume{}, &Error{Kind: ErrConflict, Object: "volume", Name: spec.Name}
	}
	v, err := r.cli.VolumeCreate(ctx, volume.CreateOptions{Name: spec.Name, Driver: "local", Labels: spec.Labels})
	if err != nil {
		return Volume{}, engineError(err, "volume", spec.Name)
	}
	return Volume{Name: v.Name, Driver: v.Driver, Labels: v.Labels}, nil
}

// VolumeRemove implements Engine.
func (r *Real) VolumeRemove(ctx context.Context, name string) error {
	err := r.cli.VolumeRemove(ctx, name, false)
	if cerrdefs.IsConflict(err) {
		return &Error{Kind: ErrInUse, Object: "volume", Name: name, Detail: err.Error()}
	}
	return engineError(err, "volume", name)
}

// ImageInspect implements Engine.
func (r *Real) ImageInspect(ctx context.Context, ref string) (Image, error) {
	img, err := r.cli.ImageInspect(ctx, ref)
	if err != nil {
		return Image{}, engineError(err, "image", ref)
	}
	out := Image{ID: img.ID, Tags: img.RepoTags}
	if c := img.Config; c != nil {
		out.Env, out.Cmd, out.Entrypoint = c.Env, c.Cmd, c.Entrypoint
		out.User, out.WorkDir, out.Labels = c.User, c.WorkingDir, c.Labels
		for p := range c.Volumes {
			out.Volumes = append(out.Volumes, p)
		}
		sort.Strings(out.Volumes)
	}
	return out, nil
}

// pullMessage is one line of the JSON stream of an image pull.
type pullMessage struct {
	Status   string `json:"status"`
	ID       string `json:"id"`
	Progress struct {
		Current int64 `json:"current"`
		Total   int64 `json:"total"`
	} `json:"progressDetail"`
	Error       string `json:"error"`
	ErrorDetail struct {
		Message string `json:"message"`
	} `json:"errorDetail"`
}

// ImagePull implements Engine.
func (r *Real) ImagePull(ctx context.Context, ref string, progress func(PullProgress)) error {
	body, err := r.cli.ImagePull(ctx, ref, image.PullOptions{})
	if err != nil {
		return pullError(ref, err.Error(), err)
	}
	defer body.Close()

	tracker := newPullTracker()
	dec := json.NewDecoder(body)
	for {
		var msg pullMessage
		if err := dec.Decode(&msg); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return fmt.Errorf("image %q: reading the pull progress: %w", ref, err)
		}
		if msg.Error != "" || msg.ErrorDetail.Message != "" {
			text := msg.ErrorDetail.Message
			if text == "" {
				text = msg.Error
			}
			return pullError(ref, text, nil)
		}
		if tracker.update(msg) && progress != nil {
			progress(tracker.state())
		}
	}
	return nil
}

// pullError classifies a failed pull; a registry that has no such image
// answers "not found" or "manifest unknown" depending on its version.
func pullError(ref, text string, cause error) error {
	lower := strings.ToLower(text)
	if cerrdefs.IsNotFound(cause) || strings.Contains(lower, "not found") || strings.Contains(lower, "manifest unknown") {
		return &Error{Kind: ErrNotFound, Object: "image", Name: ref, Detail: text}
	}
	if cause != nil {
		return fmt.Errorf("pulling image %q: %w", ref, cause)
	}
	return fmt.Errorf("pulling image %q: %s", ref, text)
}

// pullTracker sums the per-layer messages of a pull.
type pullTracker struct {
	layers map[string]*layerState
}

type layerState struct {
	current, total int64
	done           bool
}

func newPullTracker() *pullTracker { return &pullTracker{layers: map[string]*layerState{}} }

// update applies one message and reports whether the sums changed.
func (p *pullTracker) update(msg pullMessage) bool {
	switch msg.Status {
	case "Pulling fs layer", "Waiting", "Already exists", "Downloading", "Verifying Checksum",
		"Download complete", "Extracting", "Pull complete":
	default:
		return false
	}
	l := p.layers[msg.ID]
	if l == nil {
		l = &layerState{}
		p.layers[msg.ID] = l
	}
	switch msg.Status {
	case "Downloading":
		l.current, l.total = msg.Progress.Current, msg.Progress.Total
	case "Download complete", "Extracting", "Pull complete", "Already exists", "Verifying Checksum":
		if l.total > 0 {
			l.current = l.total
		}
		if msg.Status != "Verifying Checksum" {
			l.done = true
		}
	}
	return true
}

func (p *pullTracker) state() PullProgress {
	var s PullProgress
	for _, l := range p.layers {
		s.Layers++
		if l.done {
			s.LayersDone++
		}
		s.Current += l.current
		s.Total += l.total
	}
	return s
}

// ContainerCreate implements Engine.
func (r *Real) ContainerCreate(ctx context.Context, spec ContainerSpec) (string, error) {
	cfg := &container.Config{
		Image:      spec.Image,
		Cmd:        spec.Cmd,
		Entrypoint: spec.Entrypoint,
		Env:        spec.Env,
		User:       spec.User,
		WorkingDir: spec.WorkDir,
		Labels:     spec.Labels,
	}
	host := &container.HostConfig{
		RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyMode(orDefault(spec.Restart, "no"))},
	}
	for _, m := range spec.Mounts {
		host.Mounts = append(host.Mounts, mount.Mount{
			Type: mount.Type(m.Type), Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly,
		})
	}
	if len(spec.Ports) > 0 {
		cfg.ExposedPorts = nat.PortSet{}
		host.PortBindings = nat.PortMap{}
	}
	for _, p := range spec.Ports {
		port := nat.Port(fmt.Sprintf("%d/%s", p.ContainerPort, orDefault(p.Protocol, "tcp")))
		cfg.ExposedPorts[port] = struct{}{}
		host.PortBindings[port] = append(host.PortBindings[port],
			nat.PortBinding{HostIP: p.HostIP, HostPort: strconv.Itoa(p.HostPort)})
	}
	var netcfg *network.NetworkingConfig
	if spec.Network != "" {
		// The engine accepts a missing network here and fails only at
		// start; the contract reports it now.
		if _, err := r.NetworkInspect(ctx, spec.Network); err != nil {
			return "", err
		}
		host.NetworkMode = container.NetworkMode(spec.Network)
		netcfg = &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
			spec.Network: {Aliases: spec.Aliases},
		}}
	}

	resp, err := r.cli.ContainerCreate(ctx, cfg, host, netcfg, nil, spec.Name)
	if err == nil {
		return resp.ID, nil
	}
	if cerrdefs.IsNotFound(err) {
		if strings.Contains(strings.ToLower(err.Error()), "network") {
			return "", &Error{Kind: ErrNotFound, Object: "network", Name: spec.Network}
		}
		return "", &Error{Kind: ErrNotFound, Object: "image", Name: spec.Image}
	}
	return "", engineError(err, "container", spec.Name)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// inspect returns the raw inspection of the container called exactly name.
func (r *Real) inspect(ctx context.Context, name string) (container.InspectResponse, error) {
	info, err := r.cli.ContainerInspect(ctx, name)
	if err != nil {
		return info, engineError(err, "container", name)
	}
	// The engine also matches ID prefixes; a name must match exactly.
	if info.Name != "/"+name && info.ID != name {
		return container.InspectResponse{}, notFound("container", name)
	}
	return info, nil
}

// ContainerInspect implements Engine.
func (r *Real) ContainerInspect(ctx context.Context, name string) (Container, error) {
	info, err := r.inspect(ctx, name)
	if err != nil {
		return Container{}, err
	}

	c := Container{
		ID:      info.ID,
		Name:    strings.TrimPrefix(info.Name, "/"),
		ImageID: info.Image,
		IPs:     map[string]string{},
	}
	c.Created, _ = time.Parse(time.RFC3339Nano, info.Created)
	if s := info.State; s != nil {
		c.State, c.Running, c.ExitCode = s.Status, s.Running, s.ExitCode
		if t, err := time.Parse(time.RFC3339Nano, s.StartedAt); err == nil && t.Year() > 1 {
			c.StartedAt = t
		}
	}
	if cfg := info.Config; cfg != nil {
		c.Image, c.Cmd, c.Entrypoint, c.Env = cfg.Image, cfg.Cmd, cfg.Entrypoint, cfg.Env
		c.User, c.WorkDir, c.Labels = cfg.User, cfg.WorkingDir, cfg.Labels
	}

	named := map[string]bool{}
	if h := info.HostConfig; h != nil {
		c.Restart = orDefault(string(h.RestartPolicy.Name), "no")
		c.Network = string(h.NetworkMode)
		if c.Network == "default" || c.Network == "" {
			c.Network = "bridge"
		}
		for _, m := range h.Mounts {
			c.Mounts = append(c.Mounts, Mount{Type: string(m.Type), Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly})
			if m.Type == mount.TypeVolume {
				named[m.Source] = true
			}
		}
		for port, bindings := range h.PortBindings {
			for _, b := range bindings {
				hostPort, _ := strconv.Atoi(b.HostPort)
				c.Ports = append(c.Ports, Port{HostIP: b.HostIP, HostPort: hostPort, ContainerPort: port.Int(), Protocol: port.Proto()})
			}
		}
		sortPorts(c.Ports)
	}
	for _, m := range info.Mounts {
		if m.Type == mount.TypeVolume && !named[m.Name] {
			c.AnonymousVolumes = append(c.AnonymousVolumes, m.Name)
		}
	}

	if ns := info.NetworkSettings; ns != nil {
		for name, ep := range ns.Networks {
			if ep == nil {
				continue
			}
			if ep.IPAddress != "" {
				c.IPs[name] = ep.IPAddress
			}
			if name == c.Network {
				c.Aliases = userAliases(ep.Aliases, c.ID, c.Name)
			}
		}
	}
	return c, nil
}

// userAliases drops the names the engine adds by itself (the short ID, and
// on some versions the container name) from a network's aliases.
func userAliases(aliases []string, id, name string) []string {
	var out []string
	for _, a := range aliases {
		if a == name || (len(id) >= 12 && a == id[:12]) {
			continue
		}
		out = append(out, a)
	}
	return out
}

func sortPorts(ports []Port) {
	sort.Slice(ports, func(i, j int) bool {
		if ports[i].ContainerPort != ports[j].ContainerPort {
			return ports[i].ContainerPort < ports[j].ContainerPort
		}
		if ports[i].Protocol != ports[j].Protocol {
			return ports[i].Protocol < ports[j].Protocol
		}
		return ports[i].HostPort < ports[j].HostPort
	})
}

// ContainerList implements Engine.
func (r *Real) ContainerList(ctx context.Context, labels map[string]string) ([]Container, error) {
	args := filters.NewArgs()
	for k, v := range labels {
		args.Add("label", k+"="+v)
	}
	list, err := r.cli.ContainerList(ctx, container.ListOptions{All: true, Filters: args})
	if err != nil {
		return nil, fmt.Errorf("listing containers: %w", err)
	}
	var out []Container
	for _, s := range list {
		c := Container{ID: s.ID, Image: s.Image, ImageID: s.ImageID, State: string(s.State), Labels: s.Labels}
		c.Running = c.State == "running"
		if len(s.Names) > 0 {
			c.Name = strings.TrimPrefix(s.Names[0], "/")
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// ContainerStart implements Engine.
func (r *Real) ContainerStart(ctx context.Context, name string) error {
	info, err := r.inspect(ctx, name)
	if err != nil {
		return err
	}
	err = r.cli.ContainerStart(ctx, info.ID, container.StartOptions{})
	if cerrdefs.IsNotFound(err) {
		// The container exists, so what is missing is its network.
		return &Error{Kind: ErrNotFound, Object: "network", Name: string(info.HostConfig.NetworkMode), Detail: err.Error()}
	}
	return engineError(err, "container", name)
}

// ContainerStop implements Engine.
func (r *Real) ContainerStop(ctx context.Context, name string, timeout time.Duration) error {
	info, err := r.inspect(ctx, name)
	if err != nil {
		return err
	}
	secs := int(timeout.Round(time.Second) / time.Second)
	return engineError(r.cli.ContainerStop(ctx, info.ID, container.StopOptions{Timeout: &secs}), "container", name)
}

// ContainerRemove implements Engine.
func (r *Real) ContainerRemove(ctx context.Context, name string, volumes bool) error {
	info, err := r.inspect(ctx, name)
	if err != nil {
		return err
	}
	err = r.cli.ContainerRemove(ctx, info.ID, container.RemoveOptions{Force: true, RemoveVolumes: volumes})
	return engineError(err, "container", name)
}

// ContainerLogs implements Engine.
func (r *Real) ContainerLogs(ctx context.Context, name string, opts LogOptions) (string, error) {
	info, err := r.inspect(ctx, name)
	if err != nil {
		return "", err
	}
	lo := container.LogsOptions{ShowStdout: true, ShowStderr: true, Tail: "all"}
	if opts.Tail > 0 {
		lo.Tail = strconv.Itoa(opts.Tail)
	}
	if !opts.Since.IsZero() {
		lo.Since = strconv.FormatFloat(float64(opts.Since.UnixNano())/1e9, 'f', 9, 64)
	}
	body, err := r.cli.ContainerLogs(ctx, info.ID, lo)
	if err != nil {
		return "", engineError(err, "container", name)
	}
	defer body.Close()

	var out bytes.Buffer
	if info.Config != nil && info.Config.Tty {
		_, err = io.Copy(&out, body)
	} else {
		// One buffer for both streams keeps the lines in the order written.
		_, err = stdcopy.StdCopy(&out, &out, body)
	}
	if err != nil {
		return "", fmt.Errorf("reading the logs of container %q: %w", name, err)
	}
	return out.String(), nil
}

// ContainerCommit implements Engine.
func (r *Real) ContainerCommit(ctx context.Context, name, ref string, changes []string) (string, error) {
	info, err := r.inspect(ctx, name)
	if err != nil {
		return "", err
	}
	resp, err := r.cli.ContainerCommit(ctx, info.ID, container.CommitOptions{Reference: ref, Changes: changes})
	if err != nil {
		return "", engineError(err, "container", name)
	}
	return resp.ID, nil
}

// Exec implements Engine.
func (r *Real) Exec(ctx context.Context, name string, spec ExecSpec) (ExecResult, error) {
	info, err := r.inspect(ctx, name)
	if err != nil {
		return ExecResult{}, err
	}
	if info.State == nil || !info.State.Running || info.State.Paused || info.State.Restarting {
		return ExecResult{}, &Error{Kind: ErrNotRunning, Object: "container", Name: name}
	}

	created, err := r.cli.ContainerExecCreate(ctx, info.ID, container.ExecOptions{
		User: spec.User, WorkingDir: spec.WorkDir, Env: spec.Env, Cmd: spec.Cmd,
		AttachStdin: spec.Stdin != nil, AttachStdout: true, AttachStderr: true,
	})
	if err != nil {
		if cerrdefs.IsConflict(err) {
			return ExecResult{}, &Error{Kind: ErrNotRunning, Object: "container", Name: name, Detail: err.Error()}
		}
		return ExecResult{}, engineError(err, "container", name)
	}
	attach, err := r.cli.ContainerExecAttach(ctx, created.ID, container.ExecAttachOptions{})
	if err != nil {
		return ExecResult{}, fmt.Errorf("starting a command in container %q: %w", name, err)
	}
	defer attach.Close()

	stop := context.AfterFunc(ctx, func() { attach.Close() })
	defer stop()
	if spec.Stdin != nil {
		go func() {
			attach.Conn.Write(spec.Stdin)
			attach.CloseWrite()
		}()
	}
	var stdout, stderr bytes.Buffer
	if _, err := stdcopy.StdCopy(&stdout, &stderr, attach.Reader); err != nil && ctx.Err() == nil {
		return ExecResult{}, fmt.Errorf("reading the output of a command in container %q: %w", name, err)
	}
	if err := ctx.Err(); err != nil {
		return ExecResult{}, err
	}

	// The stream ends when the process exits, but the engine may record the
	// exit code a moment later.
	for range 100 {
		ins, err := r.cli.ContainerExecInspect(ctx, created.ID)
		if err != nil {
			return ExecResult{}, fmt.Errorf("reading the exit code of a command in container %q: %w", name, err)
		}
		if !ins.Running {
			return ExecResult{ExitCode: ins.ExitCode, Stdout: stdout.String(), Stderr: stderr.String()}, nil
		}
		select {
		case <-ctx.Done():
			return ExecResult{}, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return ExecResult{}, fmt.Errorf("a command in container %q closed its output but did not exit within 2s", name)
}

// CopyTo implements Engine. The files travel as one tar archive unpacked at
// the container's root, which applies the owner and mode in each header.
func (r *Real) CopyTo(ctx context.Context, name string, files []File) error {
	info, err := r.inspect(ctx, name)
	if err != nil {
		return err
	}

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	now := time.Now()
	for _, f := range files {
		h := &tar.Header{
			Name:    strings.TrimPrefix(path.Clean(f.Path), "/"),
			Mode:    int64(tarMode(f.Mode)),
			Uid:     f.UID,
			Gid:     f.GID,
			ModTime: now,
		}
		switch {
		case f.Mode.IsDir():
			h.Typeflag, h.Name = tar.TypeDir, h.Name+"/"
		case f.Mode&fs.ModeSymlink != 0:
			h.Typeflag, h.Linkname = tar.TypeSymlink, f.LinkTarget
		default:
			h.Typeflag, h.Size = tar.TypeReg, int64(len(f.Data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return fmt.Errorf("packing %s: %w", f.Path, err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write(f.Data); err != nil {
				return fmt.Errorf("packing %s: %w", f.Path, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}

	err = r.cli.CopyToContainer(ctx, info.ID, "/", &buf, container.CopyToContainerOptions{})
	if err != nil {
		return fmt.Errorf("copying into container %q: %w", name, err)
	}
	return nil
}

// tarMode converts permission and special bits to the numeric tar form.
func tarMode(m fs.FileMode) uint32 {
	mode := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		mode |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		mode |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		mode |= 0o1000
	}
	return mode
}

// CopyFrom implements Engine.
func (r *Real) CopyFrom(ctx context.Context, name, p string) ([]File, error) {
	info, err := r.inspect(ctx, name)
	if err != nil {
		return nil, err
	}
	p = path.Clean(p)
	body, _, err := r.cli.CopyFromContainer(ctx, info.ID, p)
	if err != nil {
		if cerrdefs.IsNotFound(err) {
			return nil, &Error{Kind: ErrNotFound, Object: "file", Name: p}
		}
		return nil, fmt.Errorf("reading %s from container %q: %w", p, name, err)
	}
	defer body.Close()

	// The archive's names start with the last element of p.
	parent := path.Dir(p)
	var out []File
	tr := tar.NewReader(body)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s from container %q: %w", p, name, err)
		}
		f := File{Path: path.Join(parent, h.Name), Mode: h.FileInfo().Mode(), UID: h.Uid, GID: h.Gid}
		switch h.Typeflag {
		case tar.TypeReg:
			if f.Data, err = io.ReadAll(tr); err != nil {
				return nil, fmt.Errorf("reading %s from container %q: %w", f.Path, name, err)
			}
			if f.Data == nil {
				f.Data = []byte{}
			}
		case tar.TypeSymlink:
			f.LinkTarget = h.Linkname
		}
		out = append(out, f)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// DialPort implements Engine.
func (r *Real) DialPort(ctx context.Context, name string, port int) error {
	c, err := r.ContainerInspect(ctx, name)
	if err != nil {
		return err
	}
	if !c.Running {
		return &Error{Kind: ErrNotRunning, Object: "container", Name: name}
	}

	var addrs []string
	for _, p := range c.Ports {
		if p.ContainerPort == port && p.Protocol == "tcp" {
			host := p.HostIP
			if host == "" || host == "0.0.0.0" || host == "::" {
				host = "127.0.0.1"
			}
			addrs = append(addrs, net.JoinHostPort(host, strconv.Itoa(p.HostPort)))
		}
	}
	if len(addrs) == 0 {
		for _, ip := range c.IPs {
			addrs = append(addrs, net.JoinHostPort(ip, strconv.Itoa(port)))
		}
	}
	if len(addrs) == 0 {
		return fmt.Errorf("container %q has no address and does not publish port %d", name, port)
	}

	var errs []error
	dialer := net.Dialer{Timeout: time.Second}
	for _, addr := range addrs {
		conn, err := dialer.DialContext(ctx, "tcp", addr)
		if err == nil {
			conn.Close()
			return nil
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
