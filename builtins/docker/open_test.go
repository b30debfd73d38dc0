package docker_test

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/cocalcctl/cocalcctl/builtins/docker"
	"github.com/cocalcctl/cocalcctl/builtins/runtime/runtimetest"
)

// TestUnreachableEngineFailsFast points DOCKER_HOST at a listener that
// accepts connections and never replies, the worst case for a client.
func TestUnreachableEngineFailsFast(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	host := "tcp://" + l.Addr().String()
	t.Setenv("DOCKER_HOST", host)
	t.Setenv("DOCKER_TLS_VERIFY", "")

	f := runtimetest.New(t, docker.Module)
	start := time.Now()
	err = f.Run(`docker.network("n")`)
	elapsed := time.Since(start)

	text := f.ErrorText(err)
	want := "test.star:1:15: docker.network: cannot reach the Docker Engine at " + host + ": no answer within 2s"
	if !strings.Contains(text, want) {
		t.Errorf("error = %s\nwant it to contain %q", text, want)
	}
	if elapsed > 3*time.Second {
		t.Errorf("the error took %s, want about 2s", elapsed)
	}
}
