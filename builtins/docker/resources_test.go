package docker_test

import (
	"strings"
	"testing"

	"github.com/cocalcctl/cocalcctl/builtins/docker"
)

func TestNetworkAndVolume(t *testing.T) {
	f, fake := newFixture(t)
	script := `
docker.network("cocalc", labels={"cocalcctl.test": "1"})
docker.volume("pgdata", labels={"cocalcctl.test": "1"})
`
	f.MustRun(script)
	wantStatuses(t, f, "created", "created")
	n, err := fake.NetworkInspect(t.Context(), "cocalc")
	if err != nil || n.Driver != "bridge" || n.Labels[docker.ManagedLabel] != "true" || n.Labels["cocalcctl.test"] != "1" {
		t.Errorf("network = %+v, %v; want a managed bridge network with the test label", n, err)
	}
	f.ResetOutput()
	f.MustRun(script)
	wantStatuses(t, f, "unchanged", "unchanged")

	err = f.Run(`docker.network("cocalc", driver="macvlan")`)
	wantError(t, f, err, `docker.network: network "cocalc" differs from the request: driver: bridge, request is macvlan`, "docker.remove_network")
	err = f.Run(`docker.volume("pgdata", labels={"k": "v"})`)
	wantError(t, f, err, `label k: missing, request is "v"`)
	err = f.Run(`docker.volume("bad/name")`)
	wantError(t, f, err, `docker.volume: volume name "bad/name" is invalid`)
}

func TestRemoveVolumeNeedsConsent(t *testing.T) {
	f, fake := newFixture(t)
	f.MustRun(`docker.volume("pgdata")`)
	f.ResetOutput()
	err := f.Run(`docker.remove_volume("pgdata")`)
	wantError(t, f, err, "delete volume pgdata and all data in it", "--yes")
	wantStatuses(t, f, "refused")
	if _, err := fake.VolumeInspect(t.Context(), "pgdata"); err != nil {
		t.Error("a refused removal removed the volume")
	}

	f.Env.Yes = true
	f.MustRun(`docker.container("db", "cocalcctl-test/debian:trixie", mounts=["volume:pgdata:/data"])`)
	err = f.Run(`docker.remove_volume("pgdata")`)
	wantError(t, f, err, `docker.remove_volume: volume "pgdata" is in use by a container: remove the container first`)

	f.ResetOutput()
	f.MustRun(`
docker.remove("db")
docker.remove_volume("pgdata")
docker.remove_volume("pgdata")
`)
	wantStatuses(t, f, "removed", "removed", "unchanged")
}

func TestRemoveNetwork(t *testing.T) {
	f, _ := newFixture(t)
	f.MustRun(`
docker.network("n")
docker.container("db", "cocalcctl-test/debian:trixie", network="n")
`)
	err := f.Run(`docker.remove_network("n")`)
	wantError(t, f, err, `docker.remove_network: network "n" is in use by running containers (db)`)
	f.ResetOutput()
	f.MustRun(`
docker.stop("db")
docker.remove_network("n")
docker.remove_network("n")
`)
	wantStatuses(t, f, "changed", "removed", "unchanged")
}

func TestImagePull(t *testing.T) {
	f, fake := newFixture(t)
	fake.AddRemoteImage("registry.test/app:1", docker.Image{Cmd: []string{"app"}},
		docker.File{Path: "/a", Mode: 0o644, Data: make([]byte, 3000)},
		docker.File{Path: "/b", Mode: 0o644, Data: make([]byte, 5000)})
	f.MustRun(`print("ref", docker.image("registry.test/app:1"))`)
	wantStatuses(t, f, "created")
	out := f.Stderr.String()
	if !strings.Contains(out, `...           docker.image("registry.test/app:1"): 2/2 layers, 7.8 KiB of 7.8 KiB`) {
		t.Errorf("no final progress line:\n%s", out)
	}
	if !strings.Contains(out, "ref registry.test/app:1") {
		t.Errorf("docker.image did not return its ref:\n%s", out)
	}

	f.ResetOutput()
	f.MustRun(`
docker.image("registry.test/app:1")
docker.image("registry.test/app:1", pull="always")
docker.image("registry.test/app:1", pull="never")
`)
	wantStatuses(t, f, "unchanged", "unchanged", "unchanged")

	err := f.Run(`docker.image("local/thing:2", pull="never")`)
	wantError(t, f, err, `docker.image: image "local/thing:2" is not present and pull="never" forbids fetching it`,
		"docker load", "docker import", "docker build -t local/thing:2")
	err = f.Run(`docker.image("registry.test/app:2")`)
	wantError(t, f, err, `docker.image: the registry has no image "registry.test/app:2"`)
	err = f.Run(`docker.image("x", pull="sometimes")`)
	wantError(t, f, err, `pull "sometimes", want "missing", "always" or "never"`)
}

func TestImageDryRun(t *testing.T) {
	f, fake := newFixture(t)
	f.Env.DryRun = true
	f.MustRun(`
docker.image("registry.test/app:1")
docker.image("cocalcctl-test/debian:trixie", pull="always")
`)
	wantStatuses(t, f, "would create", "would change")
	if _, err := fake.ImageInspect(t.Context(), "registry.test/app:1"); err == nil {
		t.Error("dry run pulled")
	}
}

func TestCommit(t *testing.T) {
	f, fake := newFixture(t)
	script := runningDB + `print("ref", docker.commit("db", "local/pg:17", changes=["USER postgres"]))`
	f.MustRun(script)
	wantStatuses(t, f, "created", "created")
	img, err := fake.ImageInspect(t.Context(), "local/pg:17")
	if err != nil || img.User != "postgres" {
		t.Errorf("committed image = %+v, %v; want user postgres", img, err)
	}
	f.ResetOutput()
	f.MustRun(script)
	wantStatuses(t, f, "unchanged", "unchanged")
	err = f.Run(`docker.commit("nope", "local/other:1")`)
	wantError(t, f, err, `docker.commit: container "nope" not found`)
}

func TestStartStopRemove(t *testing.T) {
	f, fake := newFixture(t)
	f.MustRun(runningDB + `
docker.stop("db", timeout="3s")
docker.stop("db")
docker.start("db")
docker.start("db")
docker.remove("db")
docker.remove("db")
docker.stop("db")
`)
	wantStatuses(t, f, "created", "changed", "unchanged", "changed", "unchanged", "removed", "unchanged", "unchanged")
	if _, err := fake.ContainerInspect(t.Context(), "db"); err == nil {
		t.Error("docker.remove left the container")
	}
	err := f.Run(`docker.start("db")`)
	wantError(t, f, err, `docker.start: container "db" does not exist: create it with docker.container`)
	err = f.Run(`docker.stop("db", timeout="soon")`)
	wantError(t, f, err, `docker.stop: for parameter "timeout": got "soon", want a duration`)
}

func TestRemoveWithAnonymousVolumesNeedsConsent(t *testing.T) {
	f, fake := newFixture(t)
	fake.AddImage("app:1", docker.Image{Cmd: []string{"app"}, Volumes: []string{"/state"}})
	f.MustRun(`docker.container("app", "app:1")`)
	err := f.Run(`docker.remove("app", volumes=True)`)
	wantError(t, f, err, "delete its 1 anonymous volume(s) with their data")
	f.ResetOutput()
	f.MustRun(`docker.remove("app")`)
	wantStatuses(t, f, "removed")
}

func TestLogsAndInspect(t *testing.T) {
	f, fake := newFixture(t)
	f.MustRun(runningDB)
	fake.AppendLog("db", "one\ntwo\nthree\n")
	f.ResetOutput()
	f.MustRun(`
print("tail", repr(docker.logs("db", tail=2)))
i = docker.inspect("db")
print("inspect", i.exists, i.running, i.state, i.ip, i.network, i.command, i.labels["cocalcctl.managed"])
m = docker.inspect("ghost")
print("missing", m.exists, m.running, m.ip)
`)
	out := f.Stderr.String()
	for _, want := range []string{`tail "two\nthree\n"`, `inspect True True running 172.17.0.2 bridge ["sleep", "infinity"] true`, "missing False False None"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if len(f.Statuses()) != 0 {
		t.Errorf("reads reported steps: %v", f.Statuses())
	}
	err := f.Run(`docker.logs("ghost")`)
	wantError(t, f, err, `docker.logs: container "ghost" not found`)
}

func TestImageExistsReadsOnly(t *testing.T) {
	f, _ := newFixture(t)
	f.MustRun(`
if not docker.image_exists("cocalcctl-test/debian:trixie"):
    fail("the base image is present but image_exists says no")
if docker.image_exists("missing:1"):
    fail("missing:1 is absent but image_exists says yes")
`)
	wantStatuses(t, f)
}
