// Package docker holds the integration tests of the docker module: the
// Engine contract on the real Docker Engine, and scripts that use the
// module's builtins against it. Everything a test creates carries a name
// prefix unique to the test run and the label cocalcctl.test=1, and is
// removed when the test ends, also when it fails.
package docker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"

	"github.com/docker/docker/api/types/image"

	"github.com/cocalcctl/cocalcctl/builtins/docker"
	"github.com/cocalcctl/cocalcctl/tests/images"
)

// testLabels go on everything the tests create.
var testLabels = map[string]string{"cocalcctl.test": "1"}

// runPrefix returns a name prefix unique to this test, such as
// "cctl-a1b2c3-".
func runPrefix(t *testing.T) string {
	var b [3]byte
	rand.Read(b[:])
	return "cctl-" + hex.EncodeToString(b[:]) + "-"
}

// openEngine returns the real engine, or skips the test (fails it under
// CI=true) when the engine or the Debian test image is missing.
func openEngine(t *testing.T) *docker.Real {
	t.Helper()
	images.Require(t, images.DebianTrixie)
	engine, err := docker.OpenReal(context.Background())
	if err != nil {
		t.Fatalf("the engine answers the docker command but not the client: %v", err)
	}
	t.Cleanup(func() { engine.Close() })
	return engine
}

// removeImageLater removes ref when the test ends.
func removeImageLater(t *testing.T, engine *docker.Real, ref string) {
	t.Cleanup(func() {
		_, err := engine.Client().ImageRemove(context.Background(), ref, image.RemoveOptions{Force: true, PruneChildren: true})
		if err != nil && !isNotFound(err) {
			t.Errorf("cleanup: removing image %s: %v", ref, err)
		}
	})
}
