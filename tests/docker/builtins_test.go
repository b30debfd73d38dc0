package docker

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"

	"github.com/cocalcctl/cocalcctl/builtins/docker"
	"github.com/cocalcctl/cocalcctl/builtins/docker/dockertest"
	"github.com/cocalcctl/cocalcctl/builtins/runtime"
	"github.com/cocalcctl/cocalcctl/builtins/runtime/runtimetest"
	"github.com/cocalcctl/cocalcctl/builtins/secret"
	"github.com/cocalcctl/cocalcctl/tests/images"
)

// scriptFixture is a runtimetest fixture on the real engine, with the real
// clock so waits take real time. It returns the name prefix the scripts
// must use; everything with that prefix is removed when the test ends.
func scriptFixture(t *testing.T) (*runtimetest.Fixture, *docker.Real, string) {
	engine := openEngine(t)
	prefix := runPrefix(t)
	t.Cleanup(func() { removeByPrefix(t, engine, prefix) })

	f := runtimetest.New(t, docker.Module, secret.Module)
	f.Env.Clock = runtime.SystemClock{}
	f.Env.SetBackend(docker.BackendKey, engine)
	f.Predeclared["P"] = starlarkString(prefix)
	f.Predeclared["IMAGE"] = starlarkString(images.DebianTrixie)
	f.Predeclared["TEST"] = mustDict(testLabels)
	// STOPPABLE sleeps like ["sleep", "infinity"] but exits on SIGTERM, so
	// replacing the container does not wait for the 10 s stop timeout.
	f.Predeclared["STOPPABLE"] = starlarkString(`trap "exit 0" TERM; sleep infinity & wait`)
	return f, engine, prefix
}

// removeByPrefix removes the containers, networks and volumes whose names
// start with prefix.
func removeByPrefix(t *testing.T, engine *docker.Real, prefix string) {
	ctx := context.Background()
	list, err := engine.ContainerList(ctx, testLabels)
	if err != nil {
		t.Errorf("cleanup: %v", err)
	}
	for _, c := range list {
		if strings.HasPrefix(c.Name, prefix) {
			if err := engine.ContainerRemove(ctx, c.Name, true); err != nil {
				t.Errorf("cleanup: removing container %s: %v", c.Name, err)
			}
		}
	}
	cli := engine.Client()
	nets, _ := cli.NetworkList(ctx, network.ListOptions{Filters: filters.NewArgs(filters.Arg("name", prefix))})
	for _, n := range nets {
		if strings.HasPrefix(n.Name, prefix) {
			if err := cli.NetworkRemove(ctx, n.ID); err != nil {
				t.Errorf("cleanup: removing network %s: %v", n.Name, err)
			}
		}
	}
	vols, _ := cli.VolumeList(ctx, volume.ListOptions{Filters: filters.NewArgs(filters.Arg("name", prefix))})
	for _, v := range vols.Volumes {
		if strings.HasPrefix(v.Name, prefix) {
			if err := cli.VolumeRemove(ctx, v.Name, true); err != nil {
				t.Errorf("cleanup: removing volume %s: %v", v.Name, err)
			}
		}
	}
}

func wantStatuses(t *testing.T, f *runtimetest.Fixture, want ...string) {
	t.Helper()
	if got := f.Statuses(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("statuses = %v, want %v\nstderr:\n%s", got, want, f.Stderr.String())
	}
}

func wantOutput(t *testing.T, f *runtimetest.Fixture, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(f.Stderr.String(), p) {
			t.Errorf("output lacks %q:\n%s", p, f.Stderr.String())
		}
	}
}

// listener is a command that accepts TCP connections on port 8080.
const listener = `["perl", "-MIO::Socket::INET", "-e", "$s = IO::Socket::INET->new(LocalPort => 8080, Listen => 5, ReuseAddr => 1) or die; while ($c = $s->accept) { print $c \"hi\\n\"; close $c }"]`

func TestContainersReachEachOtherByName(t *testing.T) {
	f, _, _ := scriptFixture(t)
	f.MustRun(`
def main():
    net = docker.network(P + "net", labels=TEST)
    server = docker.container(P + "server", IMAGE, command=` + listener + `, network=net, aliases=["api"], labels=TEST)
    client = docker.container(P + "client", IMAGE, command=["sleep", "infinity"], network=net, labels=TEST)
    docker.wait(server, port=8080, timeout=20, interval=0.2)
    for name in [P + "server", "api"]:
        r = docker.exec(client, ["perl", "-MIO::Socket::INET", "-e",
            "$c = IO::Socket::INET->new(PeerAddr => '%s:8080') or die $@; print scalar <$c>" % name])
        print("reply from", name, r.stdout.strip())
    r = docker.exec(client, ["getent", "hosts", P + "server"])
    print("server ip", server.ip, r.stdout.split(" ")[0] == server.ip)
`)
	wantOutput(t, f, "reply from "+"api hi", "True")
	wantStatuses(t, f, "created", "created", "created", "unchanged", "ran", "ran", "ran")
}

func TestCopyShowsOwnerAndMode(t *testing.T) {
	f, _, _ := scriptFixture(t)
	f.FS.WriteFile("/work/app.conf", []byte("key = value\n"), 0o644)
	script := `
c = docker.container(P + "c", IMAGE, command=["sleep", "infinity"], labels=TEST)
docker.copy(c, "app.conf", "/etc/app/app.conf", owner="nobody:nogroup", mode=0o640)
print("stat", docker.exec(c, ["stat", "-c", "%U:%G %a %s", "/etc/app/app.conf"]).stdout.strip())
`
	f.MustRun(script)
	wantOutput(t, f, "stat nobody:nogroup 640 12")
	wantStatuses(t, f, "created", "created", "ran")

	f.ResetOutput()
	f.MustRun(script)
	wantStatuses(t, f, "unchanged", "unchanged", "ran")
}

func TestFileLineEnsuredTwiceAppearsOnce(t *testing.T) {
	f, _, _ := scriptFixture(t)
	f.MustRun(`
c = docker.container(P + "c", IMAGE, command=["sleep", "infinity"], labels=TEST)
docker.exec(c, "printf '#listen_addresses = x\nport = 5432\n' > /etc/pg.conf")
for i in range(2):
    docker.file(c, "/etc/pg.conf", line="listen_addresses = '*'", regexp="^#?listen_addresses")
    docker.file(c, "/etc/pg.conf", line="ssl = on")
print("count", docker.exec(c, ["grep", "-c", "^listen_addresses = '\\*'$", "/etc/pg.conf"]).stdout.strip())
print("content", repr(docker.file(c, "/etc/pg.conf")))
`)
	wantOutput(t, f, "count 1", `content "listen_addresses = '*'\nport = 5432\nssl = on\n"`)
	wantStatuses(t, f, "created", "ran", "changed", "changed", "unchanged", "unchanged", "ran")
}

func TestExecExitCodesAndGuards(t *testing.T) {
	f, _, _ := scriptFixture(t)
	f.MustRun(`
c = docker.container(P + "c", IMAGE, command=["sleep", "infinity"], labels=TEST)
r = docker.exec(c, "echo out; echo err >&2; exit 3", check=False)
print("result", r.exit_code, repr(r.stdout), repr(r.stderr))
r = docker.exec(c, ["cat"], stdin="from stdin")
print("stdin", r.stdout)
r = docker.exec(c, ["sh", "-c", "id -un; pwd; echo $X"], user="nobody", workdir="/tmp", env={"X": "y"})
print("as", r.stdout.split())
`)
	wantOutput(t, f, `result 3 "out\n" "err\n"`, "stdin from stdin", `as ["nobody", "/tmp", "y"]`)

	f.ResetOutput()
	err := f.Run(`docker.exec(P + "c", "for i in $(seq 1 40); do echo line $i; done; echo broken >&2; exit 4")`)
	text := f.ErrorText(err)
	for _, want := range []string{"test.star:1:12: docker.exec: /bin/sh -c", "exited with code 4", "  line 40\n  broken", "pass check=False"} {
		if !strings.Contains(text, want) {
			t.Errorf("error lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "line 20\n") {
		t.Errorf("error shows more than the tail:\n%s", text)
	}

	guarded := `docker.exec(P + "c", ["touch", "/done"], unless=["test", "-f", "/done"])`
	f.ResetOutput()
	f.MustRun(guarded)
	f.MustRun(guarded)
	wantStatuses(t, f, "changed", "unchanged")
}

func TestDriftAndUnchangedRerun(t *testing.T) {
	f, engine, prefix := scriptFixture(t)
	script := `
def main(db_env="one"):
    net = docker.network(P + "net", labels=TEST)
    vol = docker.volume(P + "vol", labels=TEST)
    docker.container(P + "db", IMAGE, command=["sleep", "infinity"], env={"MODE": db_env, "DB_PASSWORD": "s3cret-value"},
        mounts=["volume:%s:/data" % vol], ports=["PORT:8080"], network=net, restart="unless-stopped", labels=TEST)
    docker.container(P + "web", IMAGE, command=["sleep", "infinity"], network=net, labels=TEST)
`
	script = strings.Replace(script, "PORT", fmt.Sprint(freePort(t)), 1)
	f.MustRun(script)
	wantStatuses(t, f, "created", "created", "created", "created")
	ctx := context.Background()
	before := map[string]docker.Container{}
	for _, n := range []string{"db", "web"} {
		before[n], _ = engine.ContainerInspect(ctx, prefix+n)
	}

	f.ResetOutput()
	f.MustRun(script)
	wantStatuses(t, f, "unchanged", "unchanged", "unchanged", "unchanged")
	for _, n := range []string{"db", "web"} {
		after, _ := engine.ContainerInspect(ctx, prefix+n)
		if after.ID != before[n].ID || !after.StartedAt.Equal(before[n].StartedAt) {
			t.Errorf("%s: rerun changed id %s→%s or start %v→%v", n, before[n].ID, after.ID, before[n].StartedAt, after.StartedAt)
		}
	}

	f.ResetOutput()
	_, err := f.Exec("test.star", strings.Replace(script, `db_env="one"`, `db_env="two"`, 1))
	text := f.ErrorText(err)
	if !strings.Contains(text, `container "`+prefix+`db" differs from the request: env MODE: "one", request is "two"`) || !strings.Contains(text, "recreate=True") {
		t.Errorf("drift error = %s", text)
	}
	wantStatuses(t, f, "unchanged", "unchanged", "drift")
	if strings.Contains(f.Stderr.String(), "s3cret") {
		t.Errorf("a password reached the output:\n%s", f.Stderr.String())
	}
}

func TestCommitPreparedContainer(t *testing.T) {
	f, engine, prefix := scriptFixture(t)
	ref := strings.TrimSuffix(prefix, "-") + "/prepared:1"
	removeImageLater(t, engine, ref)
	f.Predeclared["REF"] = starlarkString(ref)
	script := `
prep = docker.container(P + "prep", IMAGE, command=["sleep", "infinity"], labels=TEST)
docker.exec(prep, "echo installed > /opt/tool", unless="test -f /opt/tool")
img = docker.commit(prep, REF, changes=['CMD ["sleep", "infinity"]', "ENV TOOL=/opt/tool"])
app = docker.container(P + "app", img, labels=TEST)
print("tool", docker.exec(app, "cat $TOOL").stdout.strip())
`
	f.MustRun(script)
	wantOutput(t, f, "tool installed")
	wantStatuses(t, f, "created", "changed", "created", "created", "ran")
	f.ResetOutput()
	f.MustRun(script)
	wantStatuses(t, f, "unchanged", "unchanged", "unchanged", "unchanged", "ran")
}

func TestVolumeKeepsDataAcrossRecreation(t *testing.T) {
	f, engine, prefix := scriptFixture(t)
	f.MustRun(`
vol = docker.volume(P + "data", labels=TEST)
c = docker.container(P + "c", IMAGE, command=STOPPABLE, mounts=["volume:%s:/data" % vol], labels=TEST)
docker.exec(c, "echo precious > /data/file")
`)
	before, _ := engine.ContainerInspect(context.Background(), prefix+"c")
	f.ResetOutput()
	f.MustRun(`
c = docker.container(P + "c", IMAGE, command=STOPPABLE, mounts=["volume:%s:/data" % (P + "data")],
    env={"NEW": "1"}, recreate=True, labels=TEST)
print("data", docker.exec(c, ["cat", "/data/file"]).stdout.strip())
`)
	wantStatuses(t, f, "changed", "ran")
	wantOutput(t, f, "data precious")
	after, _ := engine.ContainerInspect(context.Background(), prefix+"c")
	if after.ID == before.ID {
		t.Error("recreate=True kept the old container")
	}
}

func TestImagePullShowsProgress(t *testing.T) {
	f, engine, prefix := scriptFixture(t)
	reg := dockertest.ServeRegistry(t)
	ref := reg.AddImage(t, strings.TrimSuffix(prefix, "-")+"/pulled", "1", map[string]string{"etc/motd": "hi\n"}, 24<<20, []string{"/bin/true"}, testLabels)
	removeImageLater(t, engine, ref)
	f.Predeclared["REF"] = starlarkString(ref)

	f.MustRun(`docker.image(REF)`)
	wantStatuses(t, f, "created")
	wantOutput(t, f, "1/1 layers, 24.0 MiB of 24.0 MiB")
	f.ResetOutput()
	f.MustRun(`
docker.image(REF)
docker.image(REF, pull="always")
`)
	wantStatuses(t, f, "unchanged", "unchanged")
	err := f.Run(`docker.image(REF.replace(":1", ":2"))`)
	if text := f.ErrorText(err); !strings.Contains(text, "the registry has no image") {
		t.Errorf("pull of a missing tag: %s", text)
	}
}

func TestWaitForLogAndTimeout(t *testing.T) {
	f, _, _ := scriptFixture(t)
	start := time.Now()
	f.MustRun(`
c = docker.container(P + "c", IMAGE, command=["sh", "-c", "echo booting; sleep 1; echo ready now; exec sleep infinity"], labels=TEST)
docker.wait(c, log="^ready now$", timeout="20s", interval=0.2)
`)
	wantStatuses(t, f, "created", "unchanged")
	if d := time.Since(start); d < time.Second {
		t.Errorf("the wait ended after %s, before the log line can have appeared", d)
	}
	err := f.Run(`docker.wait(P + "c", cmd=["test", "-f", "/never"], timeout=1, interval=0.2)`)
	text := f.ErrorText(err)
	for _, want := range []string{"was not ready after 1s: test -f /never exits with code 1", "  booting\n  ready now"} {
		if !strings.Contains(text, want) {
			t.Errorf("timeout error lacks %q:\n%s", want, text)
		}
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	f, engine, prefix := scriptFixture(t)
	f.Env.DryRun = true
	f.MustRun(`
net = docker.network(P + "net", labels=TEST)
c = docker.container(P + "c", IMAGE, command=["sleep", "infinity"], network=net, labels=TEST)
print("ip", c.ip)
docker.exec(c, ["true"])
docker.wait(c, cmd=["true"])
`)
	wantStatuses(t, f, "would create", "would create", "would run", "would run")
	wantOutput(t, f, "ip (known after apply)")
	if _, err := engine.ContainerInspect(context.Background(), prefix+"c"); err == nil {
		t.Error("the dry run created the container")
	}
}
