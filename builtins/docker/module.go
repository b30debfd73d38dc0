// Package docker is the Starlark module `docker`: networks, volumes, images
// and containers on a Docker Engine, commands and files inside containers.
// Every builtin reaches the engine through the Engine interface, so tests
// and `cocalcctl test` run the same builtins on a Fake.
package docker

import "github.com/cocalcctl/cocalcctl/builtins/runtime"

// Module declares the docker module.
var Module = runtime.Module{
	Name: "docker",
	Doc: "Networks, volumes, images and containers on a Docker Engine, and commands and files inside containers. " +
		"The engine is the one `DOCKER_HOST`, `DOCKER_TLS_VERIFY` and `DOCKER_CERT_PATH` name (the local socket when " +
		"they are unset); the API version is negotiated, so engines from 20.10 on work. Networks, volumes and " +
		"containers that cocalcctl creates carry the label `cocalcctl.managed=true`.\n\n" +
		"Builtins that take a container accept its name or the value `docker.container` returns. Steps read the " +
		"engine's state first and change only what differs; under `--dry-run` they read and report, and values that " +
		"exist only after a change (a new container's ID and address, a command's output) are `(known after apply)`.",
	Builtins: []runtime.Builtin{
		{Name: "docker.network", Fn: networkFn, Doc: `docker.network(name, driver="bridge", labels={})

Ensures the network name exists and returns its name. A user-defined bridge network (the
default driver) gives DNS between its containers: each container resolves the others by
name and by their aliases.

A missing network is created (status created). An existing one is unchanged when its driver
matches and it carries the requested labels; otherwise the step reports drift and the run
stops, because a network cannot be changed in place: remove it with docker.remove_network
(after its containers) or change the request.`},

		{Name: "docker.volume", Fn: volumeFn, Doc: `docker.volume(name, labels={})

Ensures the named volume name exists on the local driver and returns its name. Data in a
named volume outlives the containers that mount it, so a replaced container finds it again.

A missing volume is created; an existing one with the requested labels is unchanged, and one
without them is drift, because labels of a volume cannot change.`},

		{Name: "docker.image", Fn: imageFn, Doc: `docker.image(ref, pull="missing")

Ensures the image ref is present locally and returns ref.

- pull="missing" (the default) pulls only when the image is absent.
- pull="always" pulls every time: changed when the registry had a newer image, unchanged
  when not.
- pull="never" never pulls: an absent image is an error that names it and says how to get
  it (docker load, docker import, or docker build).

A pull shows progress (layers done and bytes downloaded) while it runs. Under --dry-run
nothing is pulled and the step reports would create (or would change for pull="always").`},

		{Name: "docker.image_exists", Fn: imageExistsFn, Doc: `docker.image_exists(ref)

Reports whether the image ref (a name:tag or an ID) is present locally. A read, not a step:
it never pulls, so a script can decide whether to build an image, as the stdlib does before
installing PostgreSQL once and saving the result with docker.commit.`},

		{Name: "docker.container", Fn: containerFn, Doc: `docker.container(name, image, command=None, entrypoint=None, env={}, user=None, workdir=None, mounts=[], ports=[], network=None, aliases=[], restart="no", labels={}, recreate=False, start=True)

Ensures the container name exists with this configuration and, with start=True, runs. Returns
a container value with .name, .id, .ip (its IPv4 address on its network, None while it is
stopped), .image and .network; other docker builtins accept it in place of the name.

- command: a list of strings, or a string run with /bin/sh -c. None keeps the image's.
- entrypoint: a list of strings, or a string naming one program; [] clears the image's. As
  in Docker, a given entrypoint also drops the image's command.
- env: a dict of variables added to the image's environment. Values are strings (numbers are
  converted); a secret is rejected, because anyone who can inspect the container can read
  its environment: give secrets to programs with docker.exec(stdin=...) or in a file with
  docker.copy. Values of keys that contain password, secret, token or passphrase are shown
  as <secret> in step lines and differences.
- mounts: a list of "volume:NAME:/path" (a named volume, created when missing),
  "/host/path:/path" (a host folder; ./ and ~/ paths are relative to the script's folder
  and the home folder), each with an optional ":ro", or dicts with type ("volume" or
  "bind"), source, target and read_only.
- ports: a list of "HOSTPORT:CONTAINERPORT", published on 127.0.0.1 only, or
  "ADDR:HOSTPORT:CONTAINERPORT" to choose the host address (for example "0.0.0.0:443:443"
  for every interface). Add "/udp" for UDP.
- network: a network from docker.network; None is Docker's default bridge, where
  containers do not resolve each other's names. aliases are extra names on that network.
- restart: "no", "always", "unless-stopped" or "on-failure".
- labels: extra labels; cocalcctl adds cocalcctl.managed=true.

A missing container is created and started (created). An existing container that matches is
unchanged: same ID, not restarted; a stopped one is started (changed). When its image (the
reference or the image it now points to), command, entrypoint, env, user, workdir, mounts,
ports, network, aliases, restart policy or labels differ from the request, the step reports
drift with one line per difference and the run stops. With recreate=True the container is
stopped, removed and created again instead (changed). Named volumes and host folders keep
their data; a container with anonymous volumes (data the image keeps under its VOLUME paths
without a mount) asks for confirmation first, because the new container gets new, empty
ones.

A name taken by a container without the label cocalcctl.managed=true is an error:
cocalcctl never replaces what it did not create. Rename or remove that container yourself,
or choose another name.`},

		{Name: "docker.exec", Fn: execFn, Doc: `docker.exec(container, cmd, user=None, env={}, stdin=None, check=True, unless=None, workdir=None)

Runs cmd in the running container and returns a struct with exit_code, stdout, stderr and
ran (False when unless= skipped the command).

- cmd: a list of strings run as is, or a string run with /bin/sh -c.
- user, workdir, env: the user (name or uid[:gid]), working folder and extra variables of
  the command. env values must not be secrets (see docker.container).
- stdin: a string or a secret written to the command's standard input, which is then
  closed. This is how passwords reach programs inside containers without appearing in argv
  or in an environment.
- check=True: a non-zero exit code fails the step with the command, its exit code and the
  last lines of its output. With check=False the script reads exit_code itself.
- unless: a command (list or string) run first with the same user, env and workdir; exit code
  0 means the work is done, so cmd is not run and the step is unchanged. Otherwise cmd runs
  and the step is changed.

Without unless= the step reports ran every time. Under --dry-run cmd does not run (would
run); the unless= command still runs, because it only reads, and the fields of the result are
(known after apply).`},

		{Name: "docker.copy", Fn: copyFn, Doc: `docker.copy(container, src, dest, owner=None, mode=None)

Copies the local file or folder src (relative paths are relative to the script's folder)
into the container at dest, an absolute path that names the copy itself; a dest ending in /
means the folder to copy into, keeping src's name. Missing parent folders are created owned
by root with mode 0755. The container does not have to be running.

- owner: "user", "user:group" or numbers such as "999:999". Names are looked up in the
  container's /etc/passwd and /etc/group; a user alone brings its primary group. Without
  owner, files belong to root (0:0).
- mode: an integer such as 0o640 or a string such as "0640". For a folder it applies to every
  file, and its folders get the search (x) bit wherever the mode allows reading (0o640 makes
  them 0o750). Without mode, the local permissions are kept.

Unchanged when every file already has the same content, owner and mode; otherwise only the
files that differ are written (changed, or created when dest did not exist). Files in the
container that src does not have are left alone.`},

		{Name: "docker.file", Fn: fileFn, Doc: `docker.file(container, path, line=None, state="present", after=None, before=None, regexp=None, owner=None, mode=None, create=False)

Reads or edits one text file in the container, line by line: the basis of idempotent
configuration edits such as setting listen_addresses in postgresql.conf.

- With no line, regexp, owner or mode, returns the file's content (a read, not a step).
- line with state="present" ensures the line appears exactly once. With regexp, the last
  line matching it is replaced by line (so regexp="^#?listen_addresses\\s*=" rewrites the
  setting whether or not it was commented out); further exact copies of line are removed. A
  new line goes after the last line matching after, or before the first line matching
  before, or at the end when neither is given or nothing matches.
- state="absent" removes every line equal to line and every line matching regexp.
- owner and mode (as in docker.copy) are set on the file too.
- A missing file is an error unless create=True, which creates it (owned by root, mode 0644
  unless owner or mode say otherwise). With state="absent" a missing file is unchanged.

Unchanged when the content, owner and mode already match; otherwise the file is rewritten
(changed). The owner and mode of an existing file are kept unless given.`},

		{Name: "docker.commit", Fn: commit, Doc: `docker.commit(container, ref, changes=[])

Saves the container's file system as the local image ref and returns ref, so that work done
once in a temporary container (installing packages) is reused by later runs. changes are
Dockerfile instructions applied to the image, such as "CMD [\"postgres\"]", "USER postgres"
or "ENV PGDATA=/var/lib/postgresql/data".

When ref already exists the step is unchanged and the container is not read: to build the
image again, remove it (docker rmi REF) or use a new tag.`},

		{Name: "docker.start", Fn: start, Doc: `docker.start(name)

Starts the stopped container name (changed); a running one is unchanged. A missing container
is an error that says to create it with docker.container.`},

		{Name: "docker.stop", Fn: stop, Doc: `docker.stop(name, timeout=10)

Stops the running container name, giving its main process timeout (seconds, or a string
such as "30s") to exit after SIGTERM before it is killed. A stopped or missing container is
unchanged.`},

		{Name: "docker.remove", Fn: remove, Doc: `docker.remove(name, volumes=False)

Removes the container name, stopping it first when it runs. A missing container is
unchanged. Named volumes are never removed here (use docker.remove_volume); volumes=True
also deletes the container's anonymous volumes, which destroys their data and therefore asks
for confirmation (--yes, or yes at a terminal).`},

		{Name: "docker.remove_network", Fn: removeNetwork, Doc: `docker.remove_network(name)

Removes the network name (removed); a missing network is unchanged. It fails while running
containers are attached: stop or remove them first.`},

		{Name: "docker.remove_volume", Fn: removeVolume, Doc: `docker.remove_volume(name)

Deletes the volume name and all data in it (removed). This is destructive, so it asks for
confirmation (--yes, or yes at a terminal) and is refused without it. A missing volume is
unchanged; a volume that a container (running or stopped) uses cannot be removed until the
container is.`},

		{Name: "docker.logs", Fn: logs, Doc: `docker.logs(name, tail=100)

Returns the last tail lines of the container's output, stdout and stderr interleaved in the
order the engine received them (lines written to both streams within a few milliseconds may
swap); tail=0 returns everything. A read, not a step. Under --dry-run a missing container
gives (known after apply).`},

		{Name: "docker.inspect", Fn: inspect, Doc: `docker.inspect(name, network=None)

Returns a struct describing the container name. A read, not a step; a missing container is
no error but gives exists=False, state "missing", running=False and ip None.

Fields: exists, name, id, image, image_id, state ("created", "running", "exited", ...),
running, exit_code, started_at (RFC 3339, None if it never started), ip (its address on
network, by default the network it was created on; None when stopped), ips (network to
address), network, labels, env (a dict), command, entrypoint, user, mounts and ports (in
the string forms docker.container takes), restart.`},

		{Name: "docker.wait", Fn: wait, Doc: `docker.wait(container, log=None, port=None, cmd=None, timeout=60, interval=1)

Waits until the container is ready and reports unchanged with the time it took. Every
condition given must hold:

- log: a regular expression that some line of the container's output since its last start
  matches, such as "database system is ready".
- port: a TCP port that accepts connections, through the host port it is published on, or
  else at the container's address on its networks (reachable from the host with Linux
  bridge networks; not from another machine when DOCKER_HOST names a remote engine).
- cmd: a command (list or string) that exits with code 0 inside the container, such as
  ["pg_isready"].

timeout and interval are seconds or strings such as "2m". A container that stops while
waited for keeps failing the check until the timeout; on timeout the error shows what was
still missing and the last lines of the container's log. Under --dry-run the conditions are
checked once without waiting: unchanged when they hold, otherwise would run.`},
	},
}
