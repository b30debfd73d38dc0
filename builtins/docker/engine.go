package docker

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"
)

// Engine is what the docker module needs from a Docker Engine. Real talks to
// the engine through the Docker client; Fake keeps the same state in memory
// for tests and `cocalcctl test`. The contract suite in
// builtins/docker/dockertest runs against both, so the two behave alike.
//
// Names are exact: a name never matches another object by ID prefix. Errors
// that the contract defines wrap one of ErrNotFound, ErrConflict, ErrInUse
// and ErrNotRunning inside an *Error that names the missing or busy object.
type Engine interface {
	// NetworkInspect returns the network called name, or ErrNotFound.
	NetworkInspect(ctx context.Context, name string) (Network, error)
	// NetworkCreate creates a network, or returns ErrConflict when one of
	// that name exists.
	NetworkCreate(ctx context.Context, spec NetworkSpec) (Network, error)
	// NetworkRemove removes a network: ErrNotFound when it does not exist,
	// ErrInUse while containers are attached to it.
	NetworkRemove(ctx context.Context, name string) error

	// VolumeInspect returns the volume called name, or ErrNotFound.
	VolumeInspect(ctx context.Context, name string) (Volume, error)
	// VolumeCreate creates a volume, or returns ErrConflict when one of that
	// name exists.
	VolumeCreate(ctx context.Context, spec VolumeSpec) (Volume, error)
	// VolumeRemove removes a volume and its data: ErrNotFound when it does
	// not exist, ErrInUse while a container (running or not) uses it.
	VolumeRemove(ctx context.Context, name string) error

	// ImageInspect returns the local image ref (a name:tag or an ID), or
	// ErrNotFound.
	ImageInspect(ctx context.Context, ref string) (Image, error)
	// ImagePull fetches ref from its registry and calls progress (when not
	// nil) as layers arrive. A registry that does not have ref gives
	// ErrNotFound.
	ImagePull(ctx context.Context, ref string, progress func(PullProgress)) error

	// ContainerCreate creates a stopped container and returns its ID:
	// ErrConflict when the name is taken, ErrNotFound (Object "image" or
	// "network") when the image is not present locally or the network does
	// not exist.
	ContainerCreate(ctx context.Context, spec ContainerSpec) (string, error)
	// ContainerInspect returns the container called name, or ErrNotFound.
	ContainerInspect(ctx context.Context, name string) (Container, error)
	// ContainerList returns every container, running or not, that carries
	// all of labels. Only ID, Name, Image, State, Running and Labels are
	// filled in.
	ContainerList(ctx context.Context, labels map[string]string) ([]Container, error)
	// ContainerStart starts a container; starting a running one does
	// nothing. ErrNotFound when it does not exist.
	ContainerStart(ctx context.Context, name string) error
	// ContainerStop stops a container, killing it after timeout; stopping a
	// stopped one does nothing. ErrNotFound when it does not exist.
	ContainerStop(ctx context.Context, name string, timeout time.Duration) error
	// ContainerRemove removes a container, running or not, and with volumes
	// its anonymous volumes (never named ones). ErrNotFound when it does not
	// exist.
	ContainerRemove(ctx context.Context, name string, volumes bool) error
	// ContainerLogs returns the container's output, stdout and stderr
	// interleaved in the order the engine received them (lines written to
	// both within a few milliseconds may swap). ErrNotFound when the
	// container does not exist.
	ContainerLogs(ctx context.Context, name string, opts LogOptions) (string, error)
	// ContainerCommit saves the container's file system as the image ref,
	// applying Dockerfile instructions from changes, and returns the image
	// ID. ErrNotFound when the container does not exist.
	ContainerCommit(ctx context.Context, name, ref string, changes []string) (string, error)

	// Exec runs a command in a running container and returns its exit code
	// and output. ErrNotFound when the container does not exist,
	// ErrNotRunning when it is stopped. A command that cannot be started
	// (missing program, unknown user) is an exit code of 126 or 127 with
	// the reason on stdout or stderr, not an error.
	Exec(ctx context.Context, container string, spec ExecSpec) (ExecResult, error)
	// CopyTo writes files into a container, running or not, with their
	// owner and mode. Paths are absolute; missing parent folders are created
	// owned by root with mode 0755. ErrNotFound when the container does not
	// exist.
	CopyTo(ctx context.Context, container string, files []File) error
	// CopyFrom reads path from a container, running or not: the file, or
	// the folder and everything below it, parents before children. Paths in
	// the result are absolute. ErrNotFound (Object "container" or "file")
	// when the container or the path does not exist.
	CopyFrom(ctx context.Context, container, path string) ([]File, error)
	// DialPort reports whether a TCP connection to port in the container
	// succeeds: through a port published on the host when there is one,
	// otherwise to the container's address on each of its networks.
	// ErrNotFound when the container does not exist, ErrNotRunning when it
	// is stopped; any other error means nothing accepted the connection.
	DialPort(ctx context.Context, container string, port int) error
}

// The kinds of error the Engine contract defines. Test with errors.Is.
var (
	ErrNotFound   = errors.New("not found")
	ErrConflict   = errors.New("already exists")
	ErrInUse      = errors.New("in use")
	ErrNotRunning = errors.New("not running")
)

// Error is an Engine error of one of the kinds above about one object.
type Error struct {
	// Kind is ErrNotFound, ErrConflict, ErrInUse or ErrNotRunning.
	Kind error
	// Object is "container", "image", "network", "volume" or "file".
	Object string
	// Name is the name of the object, or the path of a file.
	Name string
	// Detail is the engine's own message, when there is one.
	Detail string
}

func (e *Error) Error() string {
	var msg string
	switch e.Kind {
	case ErrInUse:
		msg = fmt.Sprintf("%s %q is in use", e.Object, e.Name)
	case ErrNotRunning:
		msg = fmt.Sprintf("%s %q is not running", e.Object, e.Name)
	default:
		msg = fmt.Sprintf("%s %q %s", e.Object, e.Name, e.Kind)
	}
	if e.Detail != "" {
		msg += " (" + e.Detail + ")"
	}
	return msg
}

// Unwrap returns the kind, so errors.Is(err, ErrNotFound) works.
func (e *Error) Unwrap() error { return e.Kind }

func notFound(object, name string) error {
	return &Error{Kind: ErrNotFound, Object: object, Name: name}
}

// objectOf returns the Object of an *Error inside err, or "".
func objectOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Object
	}
	return ""
}

// Network is a Docker network.
type Network struct {
	ID     string
	Name   string
	Driver string
	Labels map[string]string
	// Containers lists the names of the containers attached to it.
	Containers []string
}

// NetworkSpec is a network to create.
type NetworkSpec struct {
	Name   string
	Driver string
	Labels map[string]string
}

// Volume is a named Docker volume.
type Volume struct {
	Name   string
	Driver string
	Labels map[string]string
}

// VolumeSpec is a volume to create on the local driver.
type VolumeSpec struct {
	Name   string
	Labels map[string]string
}

// Image is a local image.
type Image struct {
	// ID is the image ID, "sha256:" and 64 hex digits.
	ID         string
	Tags       []string
	Env        []string
	Cmd        []string
	Entrypoint []string
	User       string
	WorkDir    string
	Labels     map[string]string
	// Volumes lists the paths the image declares with VOLUME; a container
	// gets an anonymous volume at each unless a mount covers it.
	Volumes []string
}

// PullProgress is the state of an image pull, summed over its layers.
type PullProgress struct {
	// Layers is the number of layers seen so far and LayersDone the number
	// downloaded or already present.
	Layers, LayersDone int
	// Current and Total count the bytes downloaded and to download, over the
	// layers whose size is known.
	Current, Total int64
}

// ContainerSpec is a container to create.
type ContainerSpec struct {
	Name  string
	Image string
	// Cmd and Entrypoint replace the image's when not nil. A non-nil empty
	// Entrypoint clears the image's entrypoint. As in Docker, setting
	// Entrypoint also drops the image's Cmd.
	Cmd        []string
	Entrypoint []string
	// Env holds KEY=VALUE pairs, added to the image's environment.
	Env     []string
	User    string
	WorkDir string
	Labels  map[string]string
	Mounts  []Mount
	Ports   []Port
	// Network is the network to attach to; "" is the default bridge.
	Network string
	// Aliases are extra DNS names on Network; the container name always
	// resolves.
	Aliases []string
	// Restart is "no", "always", "unless-stopped" or "on-failure"; "" is
	// "no".
	Restart string
}

// Mount is a volume or a host folder mounted into a container.
type Mount struct {
	// Type is "volume" or "bind".
	Type string
	// Source is the volume name or the absolute host path.
	Source   string
	Target   string
	ReadOnly bool
}

// Port publishes a container port on the host.
type Port struct {
	HostIP        string
	HostPort      int
	ContainerPort int
	// Protocol is "tcp" or "udp".
	Protocol string
}

// Container is a container as the engine reports it.
type Container struct {
	ID   string
	Name string
	// Image is the image reference the container was created from, and
	// ImageID the image it runs.
	Image   string
	ImageID string
	Created time.Time
	// StartedAt is the last start; zero when it never started.
	StartedAt time.Time
	// State is "created", "running", "paused", "restarting", "exited" or
	// "dead".
	State    string
	Running  bool
	ExitCode int

	// The effective configuration: the request merged with the image.
	Cmd        []string
	Entrypoint []string
	Env        []string
	User       string
	WorkDir    string
	Labels     map[string]string
	Restart    string

	// Mounts are the mounts the container was created with.
	// AnonymousVolumes are the names of the volumes Docker made for the
	// image's VOLUME paths. Their data does not follow the container when it
	// is replaced.
	Mounts           []Mount
	AnonymousVolumes []string
	Ports            []Port

	// Network is the network the container was created on ("bridge" for
	// the default) and Aliases its extra names there.
	Network string
	Aliases []string
	// IPs maps each network the container is attached to to its IPv4
	// address there; empty while the container is stopped.
	IPs map[string]string
}

// ExecSpec is a command to run in a container.
type ExecSpec struct {
	Cmd []string
	// Env holds KEY=VALUE pairs added to the container's environment.
	Env     []string
	User    string
	WorkDir string
	// Stdin is written to the command's standard input, which is then
	// closed. With nil the command reads end of file.
	Stdin []byte
}

// ExecResult is the exit code and output of a command in a container.
type ExecResult struct {
	ExitCode int
	Stdout   string
	Stderr   string
}

// File is a file, folder or symbolic link inside a container.
type File struct {
	// Path is absolute.
	Path string
	// Mode holds the permission bits and fs.ModeDir or fs.ModeSymlink.
	Mode     fs.FileMode
	UID, GID int
	Data     []byte
	// LinkTarget is the target of a symbolic link.
	LinkTarget string
}

// LogOptions selects part of a container's output.
type LogOptions struct {
	// Tail is the number of lines from the end; 0 means all.
	Tail int
	// Since drops output written before it, when not zero.
	Since time.Time
}

// mergeCommand applies Docker's rule for the command a container runs: the
// request's entrypoint and command replace the image's, and a requested
// entrypoint also drops the image's command.
func mergeCommand(reqCmd, reqEntrypoint []string, img Image) (cmd, entrypoint []string) {
	cmd, entrypoint = reqCmd, reqEntrypoint
	if len(entrypoint) == 0 {
		if len(cmd) == 0 {
			cmd = img.Cmd
		}
		if entrypoint == nil {
			entrypoint = img.Entrypoint
		}
	}
	return cmd, entrypoint
}
