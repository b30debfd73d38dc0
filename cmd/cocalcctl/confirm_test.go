package main

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
)

// buildBinary builds cocalcctl once per test binary run.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "cocalcctl")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// answerAtTerminal runs `cocalcctl run hello.star clean` on a pseudo-terminal,
// waits for the question, types answer and returns the exit code and output.
func answerAtTerminal(t *testing.T, bin, dir, answer string) (int, string) {
	t.Helper()
	cmd := exec.Command(bin, "run", example, "clean", "--arg=workdir="+dir)
	ptmx, err := pty.Start(cmd)
	if err != nil {
		t.Fatalf("cannot start on a pseudo-terminal: %v", err)
	}
	defer ptmx.Close()

	var out bytes.Buffer
	seen := make(chan struct{})
	go func() {
		r := bufio.NewReader(ptmx)
		buf := make([]byte, 256)
		signalled := false
		for {
			n, err := r.Read(buf)
			out.Write(buf[:n])
			if !signalled && strings.Contains(out.String(), "Type yes to go ahead") {
				close(seen)
				signalled = true
			}
			if err != nil {
				if err != io.EOF && !signalled {
					close(seen)
				}
				return
			}
		}
	}()

	select {
	case <-seen:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("no confirmation question within 20s; output so far:\n%s", out.String())
	}
	if _, err := ptmx.Write([]byte(answer + "\n")); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	code := 0
	if exitErr, ok := err.(*exec.ExitError); ok {
		code = exitErr.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	return code, out.String()
}

func TestConfirmAtTerminal(t *testing.T) {
	bin := buildBinary(t)
	dir := filepath.Join(t.TempDir(), "hello")
	if code, _, stderr := run(t, "run", example, "--arg=workdir="+dir); code != 0 {
		t.Fatalf("set-up run exited %d:\n%s", code, stderr)
	}

	code, out := answerAtTerminal(t, bin, dir, "no")
	if code != 1 || !strings.Contains(out, "refused") {
		t.Errorf("answer no: exit %d, want 1 with a refused step:\n%s", code, out)
	}
	if !strings.Contains(out, "type yes at the prompt or run again with --yes") {
		t.Errorf("answer no: the message does not say how to proceed:\n%s", out)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Errorf("answer no deleted the folder: %v", err)
	}

	code, out = answerAtTerminal(t, bin, dir, "yes")
	if code != 0 || !strings.Contains(out, "removed ") {
		t.Errorf("answer yes: exit %d, want 0 with a removed step:\n%s", code, out)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("answer yes left %s", dir)
	}
}
