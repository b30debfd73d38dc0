package docker_test

import (
	"strings"
	"testing"

	"github.com/cocalcctl/cocalcctl/builtins/docker"
	"github.com/cocalcctl/cocalcctl/builtins/runtime/runtimetest"
	"github.com/cocalcctl/cocalcctl/builtins/secret"
)

// newFixture returns a runtimetest fixture whose scripts see the docker and
// secret modules and talk to a fresh Fake holding the Debian test image.
func newFixture(t *testing.T) (*runtimetest.Fixture, *docker.Fake) {
	t.Helper()
	f := runtimetest.New(t, docker.Module, secret.Module)
	fake := newFakeWithBase()
	f.Env.SetBackend(docker.BackendKey, fake)
	return f, fake
}

func wantStatuses(t *testing.T, f *runtimetest.Fixture, want ...string) {
	t.Helper()
	if got := f.Statuses(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("statuses = %v, want %v\nstderr:\n%s", got, want, f.Stderr.String())
	}
}

func wantError(t *testing.T, f *runtimetest.Fixture, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("the script succeeded, want an error containing %q\nstderr:\n%s", parts, f.Stderr.String())
	}
	text := f.ErrorText(err)
	for _, p := range parts {
		if !strings.Contains(text, p) {
			t.Errorf("error does not contain %q:\n%s", p, text)
		}
	}
}

const dbScript = `
def main():
    net = docker.network("cocalc")
    c = docker.container("db", "cocalcctl-test/debian:trixie", command=["sleep", "infinity"],
        env={"PGDATA": "/data", "POSTGRES_PASSWORD": "hunter2-hunter2"},
        mounts=["volume:pgdata:/data"], ports=["5432:5432"], network=net, aliases=["postgres"],
        restart="unless-stopped", labels={"cocalcctl.test": "1"})
    print("id", c.id)
    print("ip", c.ip)
`

func TestContainerCreatedThenUnchanged(t *testing.T) {
	f, fake := newFixture(t)
	f.MustRun(dbScript)
	wantStatuses(t, f, "created", "created")
	first, err := fake.ContainerInspect(t.Context(), "db")
	if err != nil {
		t.Fatal(err)
	}
	if !first.Running || first.Labels[docker.ManagedLabel] != "true" {
		t.Errorf("container running %v labels %v, want running and managed", first.Running, first.Labels)
	}
	if got := first.Ports[0]; got.HostIP != "127.0.0.1" || got.HostPort != 5432 || got.ContainerPort != 5432 {
		t.Errorf("port = %+v, want 127.0.0.1:5432:5432", got)
	}
	if !strings.Contains(f.Stderr.String(), "id "+first.ID) || !strings.Contains(f.Stderr.String(), "ip "+first.IPs["cocalc"]) {
		t.Errorf("the script printed no id and address of its container:\n%s", f.Stderr.String())
	}
	if strings.Contains(f.Stderr.String(), "hunter2") {
		t.Errorf("the step line shows a password:\n%s", f.Stderr.String())
	}

	f.ResetOutput()
	f.MustRun(dbScript)
	wantStatuses(t, f, "unchanged", "unchanged")
	second, _ := fake.ContainerInspect(t.Context(), "db")
	if second.ID != first.ID || !second.StartedAt.Equal(first.StartedAt) {
		t.Errorf("rerun replaced or restarted the container: id %s→%s, started %v→%v", first.ID, second.ID, first.StartedAt, second.StartedAt)
	}
}

func TestContainerStoppedIsStarted(t *testing.T) {
	f, fake := newFixture(t)
	f.MustRun(dbScript)
	if err := fake.ContainerStop(t.Context(), "db", 0); err != nil {
		t.Fatal(err)
	}
	f.ResetOutput()
	f.MustRun(dbScript)
	wantStatuses(t, f, "unchanged", "changed")
	if c, _ := fake.ContainerInspect(t.Context(), "db"); !c.Running {
		t.Error("the stopped container was not started")
	}
}

func TestContainerDrift(t *testing.T) {
	f, fake := newFixture(t)
	f.MustRun(dbScript)
	before, _ := fake.ContainerInspect(t.Context(), "db")

	f.ResetOutput()
	changed := strings.NewReplacer(`"PGDATA": "/data"`, `"PGDATA": "/srv"`, `hunter2-hunter2`, `other-password`,
		`"5432:5432"`, `"5433:5432"`, `["sleep", "infinity"]`, `["sleep", "1000"]`).Replace(dbScript)
	err := f.Run(changed)
	wantError(t, f, err,
		`test.star:4:25: docker.container: container "db" differs from the request`,
		`command: ["sleep", "infinity"], request is ["sleep", "1000"]`,
		`env PGDATA: "/data", request is "/srv"`,
		`env POSTGRES_PASSWORD: differs from the request`,
		`port 127.0.0.1:5433:5432: missing in the container`,
		`port 127.0.0.1:5432:5432: not in the request`,
		"pass recreate=True")
	wantStatuses(t, f, "unchanged", "drift")
	if strings.Contains(f.Stderr.String()+f.ErrorText(err), "password") && strings.Contains(f.Stderr.String()+f.ErrorText(err), "other-password") {
		t.Errorf("the drift shows the new password:\n%s", f.Stderr.String())
	}
	if after, _ := fake.ContainerInspect(t.Context(), "db"); after.ID != before.ID {
		t.Error("drift without recreate=True replaced the container")
	}

	f.ResetOutput()
	f.MustRun(strings.Replace(changed, `labels={`, `recreate=True, labels={`, 1))
	wantStatuses(t, f, "unchanged", "changed")
	after, _ := fake.ContainerInspect(t.Context(), "db")
	if after.ID == before.ID || !after.Running || after.Ports[0].HostPort != 5433 {
		t.Errorf("recreate=True: id %s (was %s) running %v ports %+v; want a new running container on 5433", after.ID, before.ID, after.Running, after.Ports)
	}
}

func TestContainerImageMovedIsDrift(t *testing.T) {
	f, fake := newFixture(t)
	f.MustRun(dbScript)
	fake.AddImage("cocalcctl-test/debian:trixie", docker.Image{Cmd: []string{"bash"}})
	f.ResetOutput()
	err := f.Run(dbScript)
	wantError(t, f, err, "image: cocalcctl-test/debian:trixie now refers to")
}

func TestContainerNotManaged(t *testing.T) {
	f, fake := newFixture(t)
	if _, err := fake.ContainerCreate(t.Context(), docker.ContainerSpec{Name: "db", Image: "cocalcctl-test/debian:trixie"}); err != nil {
		t.Fatal(err)
	}
	err := f.Run(`docker.container("db", "cocalcctl-test/debian:trixie")`)
	wantError(t, f, err, `test.star:1:17: docker.container: container "db" exists but cocalcctl did not create it`,
		"docker rename db db-old", "docker rm -f db")
	wantStatuses(t, f, "failed")
}

func TestContainerDryRun(t *testing.T) {
	f, fake := newFixture(t)
	f.Env.DryRun = true
	f.MustRun(dbScript)
	wantStatuses(t, f, "would create", "would create")
	if !strings.Contains(f.Stderr.String(), "id (known after apply)") {
		t.Errorf("dry run printed no unknown id:\n%s", f.Stderr.String())
	}
	if _, err := fake.ContainerInspect(t.Context(), "db"); err == nil {
		t.Error("dry run created the container")
	}
	if _, err := fake.NetworkInspect(t.Context(), "cocalc"); err == nil {
		t.Error("dry run created the network")
	}
}

func TestContainerMissingImage(t *testing.T) {
	f, _ := newFixture(t)
	err := f.Run(`docker.container("web", "nginx:1")`)
	wantError(t, f, err, `docker.container: image "nginx:1" is not present: add docker.image("nginx:1") before this call`)
}

func TestContainerMissingNetwork(t *testing.T) {
	f, _ := newFixture(t)
	err := f.Run(`docker.container("web", "cocalcctl-test/debian:trixie", network="nope")`)
	wantError(t, f, err, `network "nope" does not exist: add docker.network("nope") before this call`)
}

func TestContainerArgumentErrors(t *testing.T) {
	tests := []struct {
		args string
		want string
	}{
		{`mounts=["data:/data"]`, `mounts[0]: "data:/data": want "volume:NAME:/path"`},
		{`mounts=["volume:data:rel"]`, `the target "rel" must be an absolute path`},
		{`mounts=["/srv:/srv:rx"]`, `unknown option "rx"`},
		{`mounts=[{"type": "tmpfs", "source": "x", "target": "/x"}]`, `type "tmpfs", want "volume" or "bind"`},
		{`ports=["5432"]`, `ports[0]: "5432": want "HOSTPORT:CONTAINERPORT"`},
		{`ports=["70000:80"]`, `host port "70000" is not a port number`},
		{`ports=["1:2/sctp"]`, `protocol "sctp", want tcp or udp`},
		{`restart="sometimes"`, `restart "sometimes", want one of no, always, unless-stopped, on-failure`},
		{`env={"PW": secret.random()}`, `value of "PW" is a secret`},
		{`env={"1A": "x"}`, `environment variable name "1A" is invalid`},
		{`aliases=["x"]`, `aliases need a network`},
		{`workdir="srv"`, `workdir "srv" must be an absolute path`},
	}
	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			f, _ := newFixture(t)
			err := f.Run(`docker.container("web", "cocalcctl-test/debian:trixie", ` + tt.args + `)`)
			wantError(t, f, err, "test.star:1:17: docker.container: ", tt.want)
		})
	}
	f, _ := newFixture(t)
	err := f.Run(`docker.container("bad name", "cocalcctl-test/debian:trixie")`)
	wantError(t, f, err, `container name "bad name" is invalid`)
}

func TestContainerMountsAndPorts(t *testing.T) {
	f, fake := newFixture(t)
	f.MustRun(`docker.container("web", "cocalcctl-test/debian:trixie",
        mounts=["volume:web-data:/data:ro", "./certs:/certs:ro", {"type": "bind", "source": "/srv/x", "target": "/x"}],
        ports=["0.0.0.0:443:443", "127.0.0.2:8080:80/udp"])`)
	c, err := fake.ContainerInspect(t.Context(), "web")
	if err != nil {
		t.Fatal(err)
	}
	want := []docker.Mount{
		{Type: "volume", Source: "web-data", Target: "/data", ReadOnly: true},
		{Type: "bind", Source: "/work/certs", Target: "/certs", ReadOnly: true},
		{Type: "bind", Source: "/srv/x", Target: "/x"},
	}
	if len(c.Mounts) != 3 || c.Mounts[0] != want[0] || c.Mounts[1] != want[1] || c.Mounts[2] != want[2] {
		t.Errorf("mounts = %+v, want %+v", c.Mounts, want)
	}
	if len(c.Ports) != 2 || c.Ports[0].ContainerPort != 80 || c.Ports[0].Protocol != "udp" || c.Ports[1].HostIP != "0.0.0.0" {
		t.Errorf("ports = %+v, want 127.0.0.2:8080:80/udp and 0.0.0.0:443:443", c.Ports)
	}
}

func TestContainerRecreateAsksForAnonymousVolumes(t *testing.T) {
	f, fake := newFixture(t)
	fake.AddImage("app:1", docker.Image{Cmd: []string{"app"}, Volumes: []string{"/state"}})
	f.MustRun(`docker.container("app", "app:1")`)
	f.ResetOutput()
	err := f.Run(`docker.container("app", "app:1", env={"A": "1"}, recreate=True)`)
	wantError(t, f, err, "replace container app, whose 1 anonymous volume(s) will not be attached", "--yes")
	wantStatuses(t, f, "refused")

	f.ResetOutput()
	f.Env.Yes = true
	f.MustRun(`docker.container("app", "app:1", env={"A": "1"}, recreate=True)`)
	wantStatuses(t, f, "changed")
}

func TestContainerValueAttributes(t *testing.T) {
	f, fake := newFixture(t)
	fake.OnExec("db", "true", docker.ExecResult{})
	f.MustRun(`
c = docker.container("db", "cocalcctl-test/debian:trixie")
print(c.name, c.image, c.network, c.ip, type(c))
docker.exec(c, ["true"], check=False, unless=["true"])
`)
	out := f.Stderr.String()
	if !strings.Contains(out, "db cocalcctl-test/debian:trixie bridge 172.17.0.2 docker.container") {
		t.Errorf("attributes not printed as expected:\n%s", out)
	}
	if !strings.Contains(out, `docker.exec("db", ["true"]`) {
		t.Errorf("the exec step does not render the container by name:\n%s", out)
	}
}

func TestRemoveAfterPlannedCreateInDryRun(t *testing.T) {
	f, _ := newFixture(t)
	f.Env.DryRun = true
	f.MustRun(`
docker.container("tmp", "cocalcctl-test/debian:trixie", command = ["sleep", "infinity"])
docker.remove("tmp")
docker.remove("never-made")
`)
	wantStatuses(t, f, "would create", "would remove", "unchanged")
}
