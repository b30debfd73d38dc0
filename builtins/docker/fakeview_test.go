package docker_test

import (
	"context"
	"strings"
	"testing"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"github.com/cocalcctl/cocalcctl/builtins/docker"
)

// execView runs src with the fake's Starlark view bound to fake and returns
// the globals.
func execView(t *testing.T, f *docker.Fake, src string) starlark.StringDict {
	t.Helper()
	view, err := f.Inspect(nil)
	if err != nil {
		t.Fatal(err)
	}
	thread := &starlark.Thread{Name: "test"}
	globals, err := starlark.ExecFileOptions(&syntax.FileOptions{}, thread, "view.star", src, starlark.StringDict{"fake": view})
	if err != nil {
		if e, ok := err.(*starlark.EvalError); ok {
			t.Fatal(e.Backtrace())
		}
		t.Fatal(err)
	}
	return globals
}

func TestFakeViewImageFilesAndOwners(t *testing.T) {
	f := docker.NewFake()
	execView(t, f, `
fake.add_image("pg:1", files = {
    "/etc/passwd": "root:x:0:0::/root:/bin/sh\npostgres:x:100:102::/home:/bin/sh\n",
    "/etc/group": "root:x:0:\npostgres:x:102:\n",
    "/data/": {"dir": True, "mode": 0o700, "owner": "postgres"},
    "/data/conf": {"content": "a = 1\n", "mode": 0o600, "owner": "postgres"},
    "/bin/tool": {"content": "#!/bin/sh\n", "mode": 0o755},
}, env = {"PGDATA": "/data"}, cmd = ["postgres"])
`)
	ctx := context.Background()
	if _, err := f.ContainerCreate(ctx, docker.ContainerSpec{Name: "db", Image: "pg:1"}); err != nil {
		t.Fatal(err)
	}
	g := execView(t, f, `
conf = fake.file("db", "/data/conf")
folder = fake.file("db", "/data")
missing = fake.file("db", "/nothing")
listing = fake.files("db", "/data")
image = fake.images["pg:1"]
`)
	checks := map[string]string{
		"conf":    `struct(content = "a = 1\n", gid = 102, group = "postgres", is_dir = False, link = "", mode = 384, owner = "postgres", path = "/data/conf", uid = 100)`,
		"folder":  `struct(content = "", gid = 102, group = "postgres", is_dir = True, link = "", mode = 448, owner = "postgres", path = "/data", uid = 100)`,
		"missing": "None",
		"listing": `["/data/conf"]`,
	}
	for name, want := range checks {
		if got := g[name].String(); got != want {
			t.Errorf("%s = %s\nwant %s", name, got, want)
		}
	}
	if got := g["image"].String(); !strings.Contains(got, `cmd = ["postgres"]`) || !strings.Contains(got, `env = {"PGDATA": "/data"}`) {
		t.Errorf("image = %s; want its cmd and env", got)
	}
}

func TestFakeViewContainersAndExecs(t *testing.T) {
	f := docker.NewFake()
	f.AddImage("app:1", docker.Image{})
	ctx := context.Background()
	if _, err := f.ContainerCreate(ctx, docker.ContainerSpec{
		Name: "app", Image: "app:1", Env: []string{"A=1"},
		Mounts: []docker.Mount{{Type: "bind", Source: "/srv/x", Target: "/x", ReadOnly: true}},
		Ports:  []docker.Port{{HostIP: "127.0.0.1", HostPort: 8080, ContainerPort: 80, Protocol: "tcp"}},
	}); err != nil {
		t.Fatal(err)
	}
	if err := f.ContainerStart(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	execView(t, f, `fake.on_exec("app", ["check", "it"], exit_code = 3, stdout = "no")`)
	res, err := f.Exec(ctx, "app", docker.ExecSpec{Cmd: []string{"check", "it", "now"}, User: "nobody"})
	if err != nil || res.ExitCode != 3 || res.Stdout != "no" {
		t.Fatalf("Exec = %+v, %v; want exit code 3 and stdout no from on_exec", res, err)
	}

	g := execView(t, f, `
c = fake.containers["app"]
mount = c.mounts[0]
summary = [c.env, c.ports, c.running, c.network, mount.type, mount.source, mount.target, mount.read_only]
execs = [(e.container, e.cmd, e.user) for e in fake.execs]
`)
	if got, want := g["summary"].String(), `[{"A": "1"}, ["127.0.0.1:8080:80"], True, "bridge", "bind", "/srv/x", "/x", True]`; got != want {
		t.Errorf("container summary = %s\nwant %s", got, want)
	}
	if got, want := g["execs"].String(), `[("app", ["check", "it", "now"], "nobody")]`; got != want {
		t.Errorf("execs = %s\nwant %s", got, want)
	}
}

func TestFakeViewRejectsUnknownOwner(t *testing.T) {
	view, _ := docker.NewFake().Inspect(nil)
	thread := &starlark.Thread{Name: "test"}
	_, err := starlark.ExecFileOptions(&syntax.FileOptions{}, thread, "view.star",
		`fake.add_image("x:1", files = {"/f": {"content": "", "owner": "postgres"}})`, starlark.StringDict{"fake": view})
	if err == nil || !strings.Contains(err.Error(), `"postgres" is not in the /etc/passwd given in files`) {
		t.Errorf("error = %v; want the missing user named", err)
	}
}
