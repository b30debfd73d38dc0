package docker_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/cocalcctl/cocalcctl/builtins/docker"
	"github.com/cocalcctl/cocalcctl/builtins/docker/dockertest"
)

// fakeBaseImage is the fake's stand-in for the Debian test image.
const fakeBaseImage = "cocalcctl-test/debian:trixie"

// newFakeWithBase returns a Fake holding fakeBaseImage, with the users and
// groups of a Debian image.
func newFakeWithBase() *docker.Fake {
	fake := docker.NewFake()
	fake.AddImage(fakeBaseImage, docker.Image{
		Cmd:    []string{"bash"},
		Env:    []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		Labels: map[string]string{"cocalcctl.test": "1"},
	},
		docker.File{Path: "/etc/passwd", Mode: 0o644, Data: []byte("root:x:0:0:root:/root:/bin/bash\n" +
			"postgres:x:100:102:PostgreSQL administrator:/var/lib/postgresql:/bin/bash\n" +
			"nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n")},
		docker.File{Path: "/etc/group", Mode: 0o644, Data: []byte("root:x:0:\nssl-cert:x:101:postgres\npostgres:x:102:\nnogroup:x:65534:\n")},
		docker.File{Path: "/tmp", Mode: 0o1777 | 0o20000000000},
	)
	return fake
}

func TestFakeContract(t *testing.T) {
	fake := newFakeWithBase()
	dockertest.RunContract(t, &dockertest.Harness{
		Engine: fake,
		Prefix: "cctl-fake-",
		Labels: map[string]string{"cocalcctl.test": "1"},
		Image:  fakeBaseImage,
		PullableImage: func(t *testing.T) (string, string) {
			fake.AddRemoteImage("registry.test/pulled:1", docker.Image{Cmd: []string{"/hello"}},
				docker.File{Path: "/hello", Mode: 0o755, Data: []byte(strings.Repeat("x", 4096))},
				docker.File{Path: "/filler", Mode: 0o644, Data: []byte(strings.Repeat("y", 8192))})
			return "registry.test/pulled:1", "registry.test/pulled:missing"
		},
		ExpectExec: func(container string, cmd []string, result docker.ExecResult) {
			fake.OnExec(container, strings.Join(cmd, " "), result)
		},
		Printed:     func(container, text string) { fake.AppendLog(container, text) },
		Listening:   func(container string, port int) { fake.Listen(container, port, true) },
		RemoveImage: func(string) {},
	})
}

// TestContractCoversEngine fails when an Engine method has no case in the
// contract suite, so a new method cannot reach the fake untested.
func TestContractCoversEngine(t *testing.T) {
	covered := dockertest.CoveredMethods()
	engine := reflect.TypeFor[docker.Engine]()
	for i := range engine.NumMethod() {
		name := engine.Method(i).Name
		if !covered[name] {
			t.Errorf("Engine.%s has no case in the contract suite (builtins/docker/dockertest)", name)
		}
		delete(covered, name)
	}
	for name := range covered {
		t.Errorf("the contract suite names %s, which is no method of Engine", name)
	}
}
