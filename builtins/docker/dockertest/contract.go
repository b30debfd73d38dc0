// Package dockertest holds what tests of the docker module share: the
// contract suite that every docker.Engine must pass, and a read-only image
// registry served on 127.0.0.1 for pull tests.
package dockertest

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cocalcctl/cocalcctl/builtins/docker"
)

// Harness is the engine under test with the fixtures the contract suite
// needs around it.
type Harness struct {
	Engine docker.Engine

	// Prefix starts the name of everything the suite creates, so parallel
	// runs and leftovers can be distinguished.
	Prefix string

	// Labels go on every network, volume and container the suite creates.
	Labels map[string]string

	// Image is a local image whose command is "bash", with sh, cat, sleep,
	// id and perl, and the user "nobody" with uid 65534.
	Image string

	// PullableImage returns a reference that ImagePull can fetch and that is
	// not present locally, and a reference in the same registry that does
	// not exist. The harness removes the pulled image when the test ends.
	PullableImage func(t *testing.T) (ref, missing string)

	// ExpectExec makes cmd in container return result on a fake engine; on
	// a real engine it does nothing, because the command really runs.
	ExpectExec func(container string, cmd []string, result docker.ExecResult)

	// Printed makes container print text on a fake engine, where the
	// container's command does not run; a no-op on a real engine.
	Printed func(container, text string)

	// Listening makes port of container accept connections on a fake
	// engine, where the container's command does not run; a no-op on a real
	// engine.
	Listening func(container string, port int)

	// RemoveImage removes an image the suite committed, at the end of the
	// test.
	RemoveImage func(ref string)
}

// contractCase is one case of the suite with the Engine methods it covers.
type contractCase struct {
	name    string
	methods []string
	run     func(t *testing.T, h *Harness)
}

var cases = []contractCase{
	{"networks", []string{"NetworkCreate", "NetworkInspect", "NetworkRemove"}, testNetworks},
	{"network in use", []string{"NetworkRemove"}, testNetworkInUse},
	{"volumes", []string{"VolumeCreate", "VolumeInspect", "VolumeRemove"}, testVolumes},
	{"images", []string{"ImageInspect"}, testImages},
	{"pull", []string{"ImagePull"}, testPull},
	{"container config", []string{"ContainerCreate", "ContainerInspect", "ContainerList"}, testContainerConfig},
	{"container create errors", []string{"ContainerCreate"}, testContainerCreateErrors},
	{"container command defaults", []string{"ContainerCreate", "ContainerInspect"}, testCommandDefaults},
	{"start and stop", []string{"ContainerStart", "ContainerStop", "ContainerRemove"}, testStartStop},
	{"logs", []string{"ContainerLogs"}, testLogs},
	{"exec", []string{"Exec"}, testExec},
	{"copy", []string{"CopyTo", "CopyFrom"}, testCopy},
	{"volume data", []string{"CopyTo", "CopyFrom", "ContainerRemove"}, testVolumeData},
	{"volume gets image files", []string{"ContainerCreate", "CopyFrom"}, testVolumeCopyUp},
	{"commit", []string{"ContainerCommit", "ContainerRemove"}, testCommit},
	{"dial port", []string{"DialPort"}, testDialPort},
}

// CoveredMethods returns the Engine methods that at least one case of the
// suite exercises.
func CoveredMethods() map[string]bool {
	out := map[string]bool{}
	for _, c := range cases {
		for _, m := range c.methods {
			out[m] = true
		}
	}
	return out
}

// RunContract runs every case of the suite against h.Engine.
func RunContract(t *testing.T, h *Harness) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.run(t, h) })
	}
}

func ctxOf(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// name returns a name unique to the test: the prefix, the case and part.
func (h *Harness) name(t *testing.T, part string) string {
	c := t.Name()[strings.LastIndex(t.Name(), "/")+1:]
	c = strings.NewReplacer(" ", "-", "_", "-").Replace(strings.ToLower(c))
	return h.Prefix + c + "-" + part
}

func (h *Harness) labels(extra map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range h.Labels {
		out[k] = v
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}

// wantKind fails the test unless err is an *docker.Error of kind about
// object.
func wantKind(t *testing.T, what string, err, kind error, object string) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Errorf("%s: got error %v, want %q", what, err, kind)
		return
	}
	var e *docker.Error
	if !errors.As(err, &e) || e.Object != object {
		t.Errorf("%s: error %v is about %q, want %q", what, err, e.Object, object)
	}
}

// newContainer creates a container that the test removes at its end, with
// its anonymous volumes.
func (h *Harness) newContainer(t *testing.T, spec docker.ContainerSpec) string {
	t.Helper()
	ctx := ctxOf(t)
	spec.Labels = h.labels(spec.Labels)
	if spec.Image == "" {
		spec.Image = h.Image
	}
	if _, err := h.Engine.ContainerCreate(ctx, spec); err != nil {
		t.Fatalf("ContainerCreate(%s): %v", spec.Name, err)
	}
	t.Cleanup(func() {
		err := h.Engine.ContainerRemove(context.Background(), spec.Name, true)
		if err != nil && !errors.Is(err, docker.ErrNotFound) {
			t.Errorf("cleanup: removing container %s: %v", spec.Name, err)
		}
	})
	return spec.Name
}

// sleeper runs a container that prints a line on stdout, then one on
// stderr, and sleeps. The pause between the two keeps their order: the
// engine reads the two streams through separate pipes.
func (h *Harness) sleeper(t *testing.T, spec docker.ContainerSpec) string {
	t.Helper()
	if spec.Cmd == nil {
		spec.Cmd = []string{"sh", "-c", "echo ready; sleep 0.3; echo warming >&2; exec sleep infinity"}
	}
	name := h.newContainer(t, spec)
	if err := h.Engine.ContainerStart(ctxOf(t), name); err != nil {
		t.Fatalf("ContainerStart(%s): %v", name, err)
	}
	h.Printed(name, "ready\nwarming\n")
	return name
}

func (h *Harness) newNetwork(t *testing.T, part string) string {
	t.Helper()
	name := h.name(t, part)
	if _, err := h.Engine.NetworkCreate(ctxOf(t), docker.NetworkSpec{Name: name, Driver: "bridge", Labels: h.labels(nil)}); err != nil {
		t.Fatalf("NetworkCreate(%s): %v", name, err)
	}
	t.Cleanup(func() {
		err := h.Engine.NetworkRemove(context.Background(), name)
		if err != nil && !errors.Is(err, docker.ErrNotFound) {
			t.Errorf("cleanup: removing network %s: %v", name, err)
		}
	})
	return name
}

func (h *Harness) newVolume(t *testing.T, part string) string {
	t.Helper()
	name := h.name(t, part)
	if _, err := h.Engine.VolumeCreate(ctxOf(t), docker.VolumeSpec{Name: name, Labels: h.labels(nil)}); err != nil {
		t.Fatalf("VolumeCreate(%s): %v", name, err)
	}
	h.removeVolumeLater(t, name)
	return name
}

func (h *Harness) removeVolumeLater(t *testing.T, name string) {
	t.Cleanup(func() {
		err := h.Engine.VolumeRemove(context.Background(), name)
		if err != nil && !errors.Is(err, docker.ErrNotFound) {
			t.Errorf("cleanup: removing volume %s: %v", name, err)
		}
	})
}

func testNetworks(t *testing.T, h *Harness) {
	ctx := ctxOf(t)
	name := h.name(t, "net")
	labels := h.labels(map[string]string{"purpose": "contract"})
	created, err := h.Engine.NetworkCreate(ctx, docker.NetworkSpec{Name: name, Driver: "bridge", Labels: labels})
	if err != nil {
		t.Fatalf("NetworkCreate: %v", err)
	}
	t.Cleanup(func() { h.Engine.NetworkRemove(context.Background(), name) })
	if created.Name != name || created.ID == "" {
		t.Errorf("NetworkCreate returned name %q id %q, want name %q and an id", created.Name, created.ID, name)
	}

	got, err := h.Engine.NetworkInspect(ctx, name)
	if err != nil {
		t.Fatalf("NetworkInspect: %v", err)
	}
	if got.Driver != "bridge" || got.Labels["purpose"] != "contract" || got.ID != created.ID {
		t.Errorf("NetworkInspect = %+v, want driver bridge, label purpose=contract, id %s", got, created.ID)
	}

	_, err = h.Engine.NetworkCreate(ctx, docker.NetworkSpec{Name: name, Driver: "bridge", Labels: labels})
	wantKind(t, "NetworkCreate of an existing name", err, docker.ErrConflict, "network")

	// A prefix of the name or of the ID is another network, not this one.
	_, err = h.Engine.NetworkInspect(ctx, name[:len(name)-1])
	wantKind(t, "NetworkInspect of a name prefix", err, docker.ErrNotFound, "network")
	_, err = h.Engine.NetworkInspect(ctx, created.ID[:12])
	if err == nil {
		t.Log("NetworkInspect accepts a short ID")
	}

	if err := h.Engine.NetworkRemove(ctx, name); err != nil {
		t.Fatalf("NetworkRemove: %v", err)
	}
	_, err = h.Engine.NetworkInspect(ctx, name)
	wantKind(t, "NetworkInspect after remove", err, docker.ErrNotFound, "network")
	err = h.Engine.NetworkRemove(ctx, name)
	wantKind(t, "NetworkRemove of a missing network", err, docker.ErrNotFound, "network")
}

func testNetworkInUse(t *testing.T, h *Harness) {
	ctx := ctxOf(t)
	net := h.newNetwork(t, "net")
	c := h.sleeper(t, docker.ContainerSpec{Name: h.name(t, "c"), Network: net})

	n, err := h.Engine.NetworkInspect(ctx, net)
	if err != nil {
		t.Fatalf("NetworkInspect: %v", err)
	}
	if !slices.Equal(n.Containers, []string{c}) {
		t.Errorf("network containers = %v, want [%s]", n.Containers, c)
	}
	err = h.Engine.NetworkRemove(ctx, net)
	wantKind(t, "NetworkRemove with a running container", err, docker.ErrInUse, "network")

	if err := h.Engine.ContainerStop(ctx, c, 0); err != nil {
		t.Fatalf("ContainerStop: %v", err)
	}
	if err := h.Engine.NetworkRemove(ctx, net); err != nil {
		t.Errorf("NetworkRemove with only a stopped container attached: %v", err)
	}
	err = h.Engine.ContainerStart(ctx, c)
	wantKind(t, "ContainerStart after its network was removed", err, docker.ErrNotFound, "network")
}

func testVolumes(t *testing.T, h *Harness) {
	ctx := ctxOf(t)
	name := h.name(t, "vol")
	v, err := h.Engine.VolumeCreate(ctx, docker.VolumeSpec{Name: name, Labels: h.labels(map[string]string{"purpose": "contract"})})
	if err != nil {
		t.Fatalf("VolumeCreate: %v", err)
	}
	h.removeVolumeLater(t, name)
	if v.Name != name || v.Driver != "local" {
		t.Errorf("VolumeCreate = %+v, want name %s on driver local", v, name)
	}
	got, err := h.Engine.VolumeInspect(ctx, name)
	if err != nil {
		t.Fatalf("VolumeInspect: %v", err)
	}
	if got.Labels["purpose"] != "contract" {
		t.Errorf("VolumeInspect labels = %v, want purpose=contract", got.Labels)
	}
	_, err = h.Engine.VolumeCreate(ctx, docker.VolumeSpec{Name: name})
	wantKind(t, "VolumeCreate of an existing name", err, docker.ErrConflict, "volume")

	// A stopped container keeps its volume in use.
	c := h.newContainer(t, docker.ContainerSpec{Name: h.name(t, "c"), Cmd: []string{"true"},
		Mounts: []docker.Mount{{Type: "volume", Source: name, Target: "/data"}}})
	err = h.Engine.VolumeRemove(ctx, name)
	wantKind(t, "VolumeRemove while a container uses it", err, docker.ErrInUse, "volume")
	if err := h.Engine.ContainerRemove(ctx, c, false); err != nil {
		t.Fatalf("ContainerRemove: %v", err)
	}

	if err := h.Engine.VolumeRemove(ctx, name); err != nil {
		t.Fatalf("VolumeRemove: %v", err)
	}
	_, err = h.Engine.VolumeInspect(ctx, name)
	wantKind(t, "VolumeInspect after remove", err, docker.ErrNotFound, "volume")
	err = h.Engine.VolumeRemove(ctx, name)
	wantKind(t, "VolumeRemove of a missing volume", err, docker.ErrNotFound, "volume")
}

func testImages(t *testing.T, h *Harness) {
	ctx := ctxOf(t)
	img, err := h.Engine.ImageInspect(ctx, h.Image)
	if err != nil {
		t.Fatalf("ImageInspect(%s): %v", h.Image, err)
	}
	if !strings.HasPrefix(img.ID, "sha256:") || len(img.ID) != 71 {
		t.Errorf("image ID = %q, want sha256: and 64 hex digits", img.ID)
	}
	if !slices.Contains(img.Tags, h.Image) {
		t.Errorf("image tags = %v, want %s among them", img.Tags, h.Image)
	}
	if !slices.Equal(img.Cmd, []string{"bash"}) {
		t.Errorf("image command = %q, want [bash]", img.Cmd)
	}
	if !slices.ContainsFunc(img.Env, func(e string) bool { return strings.HasPrefix(e, "PATH=") }) {
		t.Errorf("image env = %q, want a PATH", img.Env)
	}
	byID, err := h.Engine.ImageInspect(ctx, img.ID)
	if err != nil || byID.ID != img.ID {
		t.Errorf("ImageInspect by ID = %v, %v; want the same image", byID.ID, err)
	}

	_, err = h.Engine.ImageInspect(ctx, h.Prefix+"missing/image:1")
	wantKind(t, "ImageInspect of a missing image", err, docker.ErrNotFound, "image")
}

func testPull(t *testing.T, h *Harness) {
	ctx := ctxOf(t)
	ref, missing := h.PullableImage(t)
	if _, err := h.Engine.ImageInspect(ctx, ref); !errors.Is(err, docker.ErrNotFound) {
		t.Fatalf("before the pull ImageInspect(%s) = %v, want not found", ref, err)
	}

	var updates []docker.PullProgress
	if err := h.Engine.ImagePull(ctx, ref, func(p docker.PullProgress) { updates = append(updates, p) }); err != nil {
		t.Fatalf("ImagePull(%s): %v", ref, err)
	}
	if len(updates) == 0 {
		t.Fatal("ImagePull reported no progress")
	}
	last := updates[len(updates)-1]
	if last.Layers == 0 || last.LayersDone != last.Layers || last.Total == 0 || last.Current != last.Total {
		t.Errorf("last progress = %+v, want every layer done and every byte counted", last)
	}
	if _, err := h.Engine.ImageInspect(ctx, ref); err != nil {
		t.Errorf("ImageInspect after the pull: %v", err)
	}

	err := h.Engine.ImagePull(ctx, missing, nil)
	wantKind(t, "ImagePull of a missing image", err, docker.ErrNotFound, "image")
}

func testContainerConfig(t *testing.T, h *Harness) {
	ctx := ctxOf(t)
	net := h.newNetwork(t, "net")
	vol := h.newVolume(t, "vol")
	spec := docker.ContainerSpec{
		Name:    h.name(t, "c"),
		Cmd:     []string{"sleep", "infinity"},
		Env:     []string{"A=1", "PATH=/usr/bin:/bin"},
		User:    "nobody",
		WorkDir: "/tmp",
		Labels:  map[string]string{"role": "contract"},
		Mounts:  []docker.Mount{{Type: "volume", Source: vol, Target: "/data", ReadOnly: true}},
		Ports: []docker.Port{
			{HostIP: "127.0.0.1", HostPort: freePort(t), ContainerPort: 5432, Protocol: "tcp"},
		},
		Network: net,
		Aliases: []string{"db-alias"},
		Restart: "unless-stopped",
	}
	h.newContainer(t, spec)

	c, err := h.Engine.ContainerInspect(ctx, spec.Name)
	if err != nil {
		t.Fatalf("ContainerInspect: %v", err)
	}
	if c.Name != spec.Name || c.Image != h.Image || !strings.HasPrefix(c.ImageID, "sha256:") {
		t.Errorf("name, image, image ID = %q, %q, %q; want %q, %q, sha256:...", c.Name, c.Image, c.ImageID, spec.Name, h.Image)
	}
	if c.State != "created" || c.Running || !c.StartedAt.IsZero() || c.Created.IsZero() {
		t.Errorf("state %q running %v started %v created %v; want a created container that never started", c.State, c.Running, c.StartedAt, c.Created)
	}
	if !slices.Equal(c.Cmd, spec.Cmd) || len(c.Entrypoint) != 0 {
		t.Errorf("command %q entrypoint %q, want %q and none", c.Cmd, c.Entrypoint, spec.Cmd)
	}
	if !slices.Contains(c.Env, "A=1") || !slices.Contains(c.Env, "PATH=/usr/bin:/bin") || slices.Contains(c.Env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin") {
		t.Errorf("env = %q, want A=1 and the requested PATH replacing the image's", c.Env)
	}
	if c.User != "nobody" || c.WorkDir != "/tmp" || c.Restart != "unless-stopped" {
		t.Errorf("user %q workdir %q restart %q, want nobody, /tmp, unless-stopped", c.User, c.WorkDir, c.Restart)
	}
	if c.Labels["role"] != "contract" || c.Labels["cocalcctl.test"] != "1" {
		t.Errorf("labels = %v, want role=contract and the image's cocalcctl.test=1", c.Labels)
	}
	if !slices.Equal(c.Mounts, spec.Mounts) || len(c.AnonymousVolumes) != 0 {
		t.Errorf("mounts %+v anonymous %v, want %+v and none", c.Mounts, c.AnonymousVolumes, spec.Mounts)
	}
	if !slices.Equal(c.Ports, spec.Ports) {
		t.Errorf("ports = %+v, want %+v", c.Ports, spec.Ports)
	}
	if c.Network != net || !slices.Equal(c.Aliases, spec.Aliases) || len(c.IPs) != 0 {
		t.Errorf("network %q aliases %q IPs %v, want %q, %q and no address before start", c.Network, c.Aliases, c.IPs, net, spec.Aliases)
	}

	_, err = h.Engine.ContainerInspect(ctx, spec.Name[:len(spec.Name)-1])
	wantKind(t, "ContainerInspect of a name prefix", err, docker.ErrNotFound, "container")

	list, err := h.Engine.ContainerList(ctx, h.labels(map[string]string{"role": "contract"}))
	if err != nil {
		t.Fatalf("ContainerList: %v", err)
	}
	i := slices.IndexFunc(list, func(x docker.Container) bool { return x.Name == spec.Name })
	if i < 0 {
		t.Fatalf("ContainerList by label = %+v, want %s in it", list, spec.Name)
	}
	if got := list[i]; got.ID != c.ID || got.State != "created" || got.Running || got.Labels["role"] != "contract" {
		t.Errorf("ContainerList entry = %+v, want ID %s, state created, label role=contract", got, c.ID)
	}
	none, err := h.Engine.ContainerList(ctx, map[string]string{"role": h.Prefix + "nobody-has-this"})
	if err != nil || len(none) != 0 {
		t.Errorf("ContainerList of an unused label = %v, %v; want nothing", none, err)
	}
}

func testContainerCreateErrors(t *testing.T, h *Harness) {
	ctx := ctxOf(t)
	name := h.newContainer(t, docker.ContainerSpec{Name: h.name(t, "c"), Cmd: []string{"true"}})

	_, err := h.Engine.ContainerCreate(ctx, docker.ContainerSpec{Name: name, Image: h.Image, Labels: h.labels(nil)})
	wantKind(t, "ContainerCreate of a taken name", err, docker.ErrConflict, "container")

	other := h.name(t, "other")
	_, err = h.Engine.ContainerCreate(ctx, docker.ContainerSpec{Name: other, Image: h.Prefix + "missing/image:1", Labels: h.labels(nil)})
	wantKind(t, "ContainerCreate with a missing image", err, docker.ErrNotFound, "image")
	_, err = h.Engine.ContainerCreate(ctx, docker.ContainerSpec{Name: other, Image: h.Image, Network: h.name(t, "missing-net"), Labels: h.labels(nil)})
	wantKind(t, "ContainerCreate on a missing network", err, docker.ErrNotFound, "network")
	if _, err := h.Engine.ContainerInspect(ctx, other); !errors.Is(err, docker.ErrNotFound) {
		t.Errorf("a failed ContainerCreate left container %s behind: %v", other, err)
		h.Engine.ContainerRemove(ctx, other, true)
	}
}

func testCommandDefaults(t *testing.T, h *Harness) {
	ctx := ctxOf(t)
	tests := []struct {
		part                    string
		cmd, entrypoint         []string
		wantCmd, wantEntrypoint []string
	}{
		{"default", nil, nil, []string{"bash"}, nil},
		{"cmd", []string{"sleep", "1"}, nil, []string{"sleep", "1"}, nil},
		{"entrypoint", nil, []string{"sleep"}, nil, []string{"sleep"}},
		{"both", []string{"1"}, []string{"sleep"}, []string{"1"}, []string{"sleep"}},
	}
	for _, tt := range tests {
		name := h.newContainer(t, docker.ContainerSpec{Name: h.name(t, tt.part), Cmd: tt.cmd, Entrypoint: tt.entrypoint})
		c, err := h.Engine.ContainerInspect(ctx, name)
		if err != nil {
			t.Fatalf("ContainerInspect(%s): %v", name, err)
		}
		if !slices.Equal(c.Cmd, tt.wantCmd) || !slices.Equal(c.Entrypoint, tt.wantEntrypoint) {
			t.Errorf("%s: command %q entrypoint %q, want %q and %q", tt.part, c.Cmd, c.Entrypoint, tt.wantCmd, tt.wantEntrypoint)
		}
	}
}

func testStartStop(t *testing.T, h *Harness) {
	ctx := ctxOf(t)
	name := h.sleeper(t, docker.ContainerSpec{Name: h.name(t, "c")})

	c, err := h.Engine.ContainerInspect(ctx, name)
	if err != nil {
		t.Fatalf("ContainerInspect: %v", err)
	}
	if !c.Running || c.State != "running" || c.StartedAt.IsZero() || net.ParseIP(c.IPs["bridge"]) == nil {
		t.Errorf("after start: running %v state %q started %v IPs %v; want running with an address on bridge", c.Running, c.State, c.StartedAt, c.IPs)
	}
	if err := h.Engine.ContainerStart(ctx, name); err != nil {
		t.Errorf("ContainerStart of a running container: %v", err)
	}
	again, _ := h.Engine.ContainerInspect(ctx, name)
	if !again.StartedAt.Equal(c.StartedAt) {
		t.Errorf("ContainerStart of a running container restarted it: started %v, then %v", c.StartedAt, again.StartedAt)
	}

	if err := h.Engine.ContainerStop(ctx, name, time.Second); err != nil {
		t.Fatalf("ContainerStop: %v", err)
	}
	c, _ = h.Engine.ContainerInspect(ctx, name)
	if c.Running || c.State != "exited" || len(c.IPs) != 0 {
		t.Errorf("after stop: running %v state %q IPs %v; want exited without address", c.Running, c.State, c.IPs)
	}
	if err := h.Engine.ContainerStop(ctx, name, time.Second); err != nil {
		t.Errorf("ContainerStop of a stopped container: %v", err)
	}

	if err := h.Engine.ContainerRemove(ctx, name, false); err != nil {
		t.Fatalf("ContainerRemove: %v", err)
	}
	_, err = h.Engine.ContainerInspect(ctx, name)
	wantKind(t, "ContainerInspect after remove", err, docker.ErrNotFound, "container")
	wantKind(t, "ContainerStart of a missing container", h.Engine.ContainerStart(ctx, name), docker.ErrNotFound, "container")
	wantKind(t, "ContainerStop of a missing container", h.Engine.ContainerStop(ctx, name, 0), docker.ErrNotFound, "container")
	wantKind(t, "ContainerRemove of a missing container", h.Engine.ContainerRemove(ctx, name, false), docker.ErrNotFound, "container")

	// A running container is removed too.
	running := h.sleeper(t, docker.ContainerSpec{Name: h.name(t, "running")})
	if err := h.Engine.ContainerRemove(ctx, running, false); err != nil {
		t.Errorf("ContainerRemove of a running container: %v", err)
	}
}

func testLogs(t *testing.T, h *Harness) {
	ctx := ctxOf(t)
	name := h.sleeper(t, docker.ContainerSpec{Name: h.name(t, "c")})

	var logs string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		var err error
		if logs, err = h.Engine.ContainerLogs(ctx, name, docker.LogOptions{}); err != nil {
			t.Fatalf("ContainerLogs: %v", err)
		}
		if strings.Count(logs, "\n") >= 2 {
			break
		}
	}
	if logs != "ready\nwarming\n" {
		t.Errorf("logs = %q, want stdout and stderr lines in order", logs)
	}
	if tail, _ := h.Engine.ContainerLogs(ctx, name, docker.LogOptions{Tail: 1}); tail != "warming\n" {
		t.Errorf("logs with tail 1 = %q, want the last line", tail)
	}
	if later, _ := h.Engine.ContainerLogs(ctx, name, docker.LogOptions{Since: time.Now().Add(time.Hour)}); later != "" {
		t.Errorf("logs since an hour from now = %q, want nothing", later)
	}
	_, err := h.Engine.ContainerLogs(ctx, h.name(t, "missing"), docker.LogOptions{})
	wantKind(t, "ContainerLogs of a missing container", err, docker.ErrNotFound, "container")
}

func testExec(t *testing.T, h *Harness) {
	ctx := ctxOf(t)
	name := h.sleeper(t, docker.ContainerSpec{Name: h.name(t, "c")})

	both := []string{"sh", "-c", "echo out; echo err >&2; exit 3"}
	h.ExpectExec(name, both, docker.ExecResult{ExitCode: 3, Stdout: "out\n", Stderr: "err\n"})
	res, err := h.Engine.Exec(ctx, name, docker.ExecSpec{Cmd: both})
	if err != nil {
		t.Fatalf("Exec: %v", err)
	}
	if res != (docker.ExecResult{ExitCode: 3, Stdout: "out\n", Stderr: "err\n"}) {
		t.Errorf("Exec = %+v, want exit 3 with stdout out and stderr err", res)
	}

	h.ExpectExec(name, []string{"cat"}, docker.ExecResult{Stdout: "line one\nline two"})
	res, err = h.Engine.Exec(ctx, name, docker.ExecSpec{Cmd: []string{"cat"}, Stdin: []byte("line one\nline two")})
	if err != nil || res.ExitCode != 0 || res.Stdout != "line one\nline two" {
		t.Errorf("Exec of cat with stdin = %+v, %v; want stdin echoed", res, err)
	}

	who := []string{"sh", "-c", `echo "$GREETING"; id -u; pwd`}
	h.ExpectExec(name, who, docker.ExecResult{Stdout: "hello\n65534\n/tmp\n"})
	res, err = h.Engine.Exec(ctx, name, docker.ExecSpec{Cmd: who, Env: []string{"GREETING=hello"}, User: "nobody", WorkDir: "/tmp"})
	if err != nil || res.Stdout != "hello\n65534\n/tmp\n" {
		t.Errorf("Exec with env, user and workdir = %+v, %v; want hello, 65534, /tmp", res, err)
	}

	missing := []string{h.Prefix + "no-such-program"}
	h.ExpectExec(name, missing, docker.ExecResult{ExitCode: 127, Stdout: "executable file not found in $PATH"})
	res, err = h.Engine.Exec(ctx, name, docker.ExecSpec{Cmd: missing})
	if err != nil || (res.ExitCode != 126 && res.ExitCode != 127) {
		t.Errorf("Exec of a missing program = %+v, %v; want exit code 126 or 127 and no error", res, err)
	}

	_, err = h.Engine.Exec(ctx, h.name(t, "missing"), docker.ExecSpec{Cmd: []string{"true"}})
	wantKind(t, "Exec in a missing container", err, docker.ErrNotFound, "container")
	if err := h.Engine.ContainerStop(ctx, name, 0); err != nil {
		t.Fatal(err)
	}
	_, err = h.Engine.Exec(ctx, name, docker.ExecSpec{Cmd: []string{"true"}})
	wantKind(t, "Exec in a stopped container", err, docker.ErrNotRunning, "container")
}

func findFile(files []docker.File, p string) (docker.File, bool) {
	i := slices.IndexFunc(files, func(f docker.File) bool { return f.Path == p })
	if i < 0 {
		return docker.File{}, false
	}
	return files[i], true
}

func testCopy(t *testing.T, h *Harness) {
	ctx := ctxOf(t)
	name := h.newContainer(t, docker.ContainerSpec{Name: h.name(t, "c"), Cmd: []string{"true"}})

	err := h.Engine.CopyTo(ctx, name, []docker.File{
		{Path: "/srv/app/conf", Mode: fs.ModeDir | 0o750, UID: 65534, GID: 65534},
		{Path: "/srv/app/conf/a.txt", Mode: 0o640, UID: 65534, GID: 0, Data: []byte("alpha\n")},
		{Path: "/srv/app/conf/empty", Mode: 0o600, Data: []byte{}},
		{Path: "/srv/app/conf/link", Mode: fs.ModeSymlink | 0o777, LinkTarget: "a.txt"},
	})
	if err != nil {
		t.Fatalf("CopyTo into a stopped container: %v", err)
	}

	files, err := h.Engine.CopyFrom(ctx, name, "/srv/app")
	if err != nil {
		t.Fatalf("CopyFrom: %v", err)
	}
	var paths []string
	for _, f := range files {
		paths = append(paths, f.Path)
	}
	want := []string{"/srv/app", "/srv/app/conf", "/srv/app/conf/a.txt", "/srv/app/conf/empty", "/srv/app/conf/link"}
	if !slices.Equal(paths, want) {
		t.Fatalf("CopyFrom paths = %q, want %q", paths, want)
	}
	if f, _ := findFile(files, "/srv/app"); f.Mode != fs.ModeDir|0o755 || f.UID != 0 {
		t.Errorf("created parent: mode %v uid %d, want drwxr-xr-x owned by root", f.Mode, f.UID)
	}
	if f, _ := findFile(files, "/srv/app/conf"); f.Mode != fs.ModeDir|0o750 || f.UID != 65534 || f.GID != 65534 {
		t.Errorf("folder: mode %v owner %d:%d, want drwxr-x--- 65534:65534", f.Mode, f.UID, f.GID)
	}
	if f, _ := findFile(files, "/srv/app/conf/a.txt"); string(f.Data) != "alpha\n" || f.Mode != 0o640 || f.UID != 65534 || f.GID != 0 {
		t.Errorf("file: %q mode %v owner %d:%d, want alpha, -rw-r-----, 65534:0", f.Data, f.Mode, f.UID, f.GID)
	}
	if f, _ := findFile(files, "/srv/app/conf/empty"); f.Data == nil || len(f.Data) != 0 || f.Mode != 0o600 {
		t.Errorf("empty file: data %v mode %v, want empty and -rw-------", f.Data, f.Mode)
	}
	if f, _ := findFile(files, "/srv/app/conf/link"); f.Mode&fs.ModeSymlink == 0 || f.LinkTarget != "a.txt" {
		t.Errorf("link: mode %v target %q, want a symbolic link to a.txt", f.Mode, f.LinkTarget)
	}

	// Replacing a file changes its content, owner and mode.
	if err := h.Engine.CopyTo(ctx, name, []docker.File{{Path: "/srv/app/conf/a.txt", Mode: 0o600, UID: 0, GID: 65534, Data: []byte("beta")}}); err != nil {
		t.Fatalf("CopyTo over a file: %v", err)
	}
	one, err := h.Engine.CopyFrom(ctx, name, "/srv/app/conf/a.txt")
	if err != nil || len(one) != 1 {
		t.Fatalf("CopyFrom of one file = %+v, %v", one, err)
	}
	if f := one[0]; f.Path != "/srv/app/conf/a.txt" || string(f.Data) != "beta" || f.Mode != 0o600 || f.UID != 0 || f.GID != 65534 {
		t.Errorf("replaced file = %s %q %v %d:%d, want beta -rw------- 0:65534", f.Path, f.Data, f.Mode, f.UID, f.GID)
	}

	_, err = h.Engine.CopyFrom(ctx, name, "/srv/app/missing")
	wantKind(t, "CopyFrom of a missing path", err, docker.ErrNotFound, "file")
	_, err = h.Engine.CopyFrom(ctx, h.name(t, "missing"), "/etc/passwd")
	wantKind(t, "CopyFrom of a missing container", err, docker.ErrNotFound, "container")
	err = h.Engine.CopyTo(ctx, h.name(t, "missing"), []docker.File{{Path: "/x", Mode: 0o644}})
	wantKind(t, "CopyTo of a missing container", err, docker.ErrNotFound, "container")

	passwd, err := h.Engine.CopyFrom(ctx, name, "/etc/passwd")
	if err != nil || len(passwd) != 1 || !strings.Contains(string(passwd[0].Data), "nobody:x:65534:") {
		t.Errorf("CopyFrom(/etc/passwd) = %v; want the image's passwd with user nobody", err)
	}
}

func testVolumeData(t *testing.T, h *Harness) {
	ctx := ctxOf(t)
	vol := h.newVolume(t, "vol")
	mounts := []docker.Mount{{Type: "volume", Source: vol, Target: "/var/lib/data"}}
	first := h.newContainer(t, docker.ContainerSpec{Name: h.name(t, "first"), Cmd: []string{"true"}, Mounts: mounts})
	if err := h.Engine.CopyTo(ctx, first, []docker.File{{Path: "/var/lib/data/kept", Mode: 0o600, UID: 65534, GID: 65534, Data: []byte("kept")}}); err != nil {
		t.Fatalf("CopyTo: %v", err)
	}
	if err := h.Engine.ContainerRemove(ctx, first, true); err != nil {
		t.Fatalf("ContainerRemove: %v", err)
	}

	second := h.newContainer(t, docker.ContainerSpec{Name: h.name(t, "second"), Cmd: []string{"true"}, Mounts: mounts})
	files, err := h.Engine.CopyFrom(ctx, second, "/var/lib/data")
	if err != nil {
		t.Fatalf("CopyFrom: %v", err)
	}
	if f, ok := findFile(files, "/var/lib/data/kept"); !ok || string(f.Data) != "kept" || f.UID != 65534 {
		t.Errorf("the named volume lost its file: %+v", files)
	}
}

// testVolumeCopyUp checks that an empty named volume receives what the
// image has at its mount point, with owner and mode. Script tests rely on
// it to give a database container's volume the files of a data folder.
func testVolumeCopyUp(t *testing.T, h *Harness) {
	ctx := ctxOf(t)
	vol := h.newVolume(t, "vol")
	h.newContainer(t, docker.ContainerSpec{Name: h.name(t, "first"), Cmd: []string{"true"},
		Mounts: []docker.Mount{{Type: "volume", Source: vol, Target: "/etc"}}})

	// A second container sees the volume elsewhere, where its image has
	// nothing, so what it finds came through the volume.
	second := h.newContainer(t, docker.ContainerSpec{Name: h.name(t, "second"), Cmd: []string{"true"},
		Mounts: []docker.Mount{{Type: "volume", Source: vol, Target: "/srv/copied"}}})
	files, err := h.Engine.CopyFrom(ctx, second, "/srv/copied/passwd")
	if err != nil {
		t.Fatalf("CopyFrom: the volume did not receive the image's /etc/passwd: %v", err)
	}
	f := files[0]
	if !strings.Contains(string(f.Data), "nobody:x:65534:") || f.UID != 0 || f.Mode.Perm() != 0o644 {
		t.Errorf("passwd in the volume: uid %d, mode %s, content %q; want the image's file, root-owned, 0644", f.UID, f.Mode, f.Data)
	}
}

func testCommit(t *testing.T, h *Harness) {
	ctx := ctxOf(t)
	src := h.newContainer(t, docker.ContainerSpec{Name: h.name(t, "src"), Cmd: []string{"true"}})
	if err := h.Engine.CopyTo(ctx, src, []docker.File{{Path: "/opt/marker", Mode: 0o644, Data: []byte("prepared")}}); err != nil {
		t.Fatalf("CopyTo: %v", err)
	}

	ref := strings.ToLower(h.Prefix) + "committed:1"
	id, err := h.Engine.ContainerCommit(ctx, src, ref, []string{`CMD ["cat", "/opt/marker"]`, "ENV STAGE=committed", "VOLUME /state"})
	if err != nil {
		t.Fatalf("ContainerCommit: %v", err)
	}
	t.Cleanup(func() { h.RemoveImage(ref) })

	img, err := h.Engine.ImageInspect(ctx, ref)
	if err != nil {
		t.Fatalf("ImageInspect of the commit: %v", err)
	}
	if img.ID != id || !slices.Equal(img.Cmd, []string{"cat", "/opt/marker"}) || !slices.Contains(img.Env, "STAGE=committed") ||
		!slices.Equal(img.Volumes, []string{"/state"}) || img.Labels["cocalcctl.test"] != "1" {
		t.Errorf("committed image = %+v, want ID %s, the new command, env, volume and the container's labels", img, id)
	}

	// A container of the new image has the file and an anonymous volume,
	// which ContainerRemove with volumes removes.
	child := h.newContainer(t, docker.ContainerSpec{Name: h.name(t, "child"), Image: ref})
	files, err := h.Engine.CopyFrom(ctx, child, "/opt/marker")
	if err != nil || len(files) != 1 || string(files[0].Data) != "prepared" {
		t.Errorf("CopyFrom in the committed image = %+v, %v; want the marker", files, err)
	}
	c, err := h.Engine.ContainerInspect(ctx, child)
	if err != nil || len(c.AnonymousVolumes) != 1 {
		t.Fatalf("container of the committed image: anonymous volumes %v, %v; want one", c.AnonymousVolumes, err)
	}
	if err := h.Engine.ContainerRemove(ctx, child, true); err != nil {
		t.Fatalf("ContainerRemove: %v", err)
	}
	_, err = h.Engine.VolumeInspect(ctx, c.AnonymousVolumes[0])
	wantKind(t, "VolumeInspect of a removed anonymous volume", err, docker.ErrNotFound, "volume")

	_, err = h.Engine.ContainerCommit(ctx, h.name(t, "missing"), ref+"x", nil)
	wantKind(t, "ContainerCommit of a missing container", err, docker.ErrNotFound, "container")
}

func testDialPort(t *testing.T, h *Harness) {
	ctx := ctxOf(t)
	const port = 8080
	listener := []string{"perl", "-MIO::Socket::INET", "-e",
		`$s = IO::Socket::INET->new(LocalPort => ` + strconv.Itoa(port) + `, Listen => 5, ReuseAddr => 1) or die "listen: $!"; ` +
			`while ($c = $s->accept) { close $c }`}
	published := freePort(t)
	name := h.sleeper(t, docker.ContainerSpec{Name: h.name(t, "c"), Cmd: listener})
	pub := h.sleeper(t, docker.ContainerSpec{Name: h.name(t, "pub"), Cmd: listener,
		Ports: []docker.Port{{HostIP: "127.0.0.1", HostPort: published, ContainerPort: port, Protocol: "tcp"}}})
	h.Listening(name, port)
	h.Listening(pub, port)

	for _, c := range []string{name, pub} {
		var err error
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if err = h.Engine.DialPort(ctx, c, port); err == nil {
				break
			}
		}
		if err != nil {
			t.Errorf("DialPort(%s, %d): %v", c, port, err)
		}
	}
	if err := h.Engine.DialPort(ctx, name, port+1); err == nil {
		t.Errorf("DialPort to a port nobody listens on succeeded")
	}

	_ = h.Engine.ContainerStop(ctx, name, 0)
	wantKind(t, "DialPort to a stopped container", h.Engine.DialPort(ctx, name, port), docker.ErrNotRunning, "container")
	wantKind(t, "DialPort to a missing container", h.Engine.DialPort(ctx, h.name(t, "missing"), port), docker.ErrNotFound, "container")
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
