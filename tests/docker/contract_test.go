package docker

import (
	"context"
	"strings"
	"testing"

	cerrdefs "github.com/containerd/errdefs"

	"github.com/cocalcctl/cocalcctl/builtins/docker"
	"github.com/cocalcctl/cocalcctl/builtins/docker/dockertest"
	"github.com/cocalcctl/cocalcctl/tests/images"
)

func isNotFound(err error) bool { return cerrdefs.IsNotFound(err) }

func TestRealContract(t *testing.T) {
	engine := openEngine(t)
	prefix := runPrefix(t)
	dockertest.RunContract(t, &dockertest.Harness{
		Engine: engine,
		Prefix: prefix,
		Labels: testLabels,
		Image:  images.DebianTrixie,
		PullableImage: func(t *testing.T) (string, string) {
			reg := dockertest.ServeRegistry(t)
			ref := reg.AddImage(t, strings.TrimSuffix(prefix, "-")+"/pulled", "1",
				map[string]string{"hello.txt": "hello\n"}, 3<<20, []string{"/hello"}, testLabels)
			removeImageLater(t, engine, ref)
			return ref, reg.Host + "/" + strings.TrimSuffix(prefix, "-") + "/pulled:missing"
		},
		ExpectExec:  func(string, []string, docker.ExecResult) {},
		Printed:     func(string, string) {},
		Listening:   func(string, int) {},
		RemoveImage: func(ref string) { removeImageLater(t, engine, ref) },
	})
}

func TestOpenRealUnreachable(t *testing.T) {
	t.Setenv("DOCKER_HOST", "tcp://127.0.0.1:1")
	_, err := docker.OpenReal(context.Background())
	if err == nil || !strings.Contains(err.Error(), "tcp://127.0.0.1:1") {
		t.Errorf("OpenReal with nothing listening = %v, want an error naming tcp://127.0.0.1:1", err)
	}
}
