package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSecretNeverPrinted runs a script that tries every ordinary way to turn
// a secret into text, and checks that its value appears in no output.
func TestSecretNeverPrinted(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "leak.star")
	src := `
def main(step = 0):
    pw = secret.file("pw")
    print(pw, str(pw), repr(pw), "%s" % pw, "%r" % pw, "{}".format(pw), [pw], {"k": pw})
    files.write("out.txt", secret.format("line: {}", pw), mode = 0o600)
    attempts = [
        lambda: pw + "x",
        lambda: "x" + pw,
        lambda: json.encode(pw),
        lambda: json.encode({"password": pw}),
        lambda: pw[0],
        lambda: len(pw),
        lambda: {pw: 1},
        lambda: "%d" % pw,
        lambda: files.write("leak.txt", str(pw)),
    ]
    if step < len(attempts):
        attempts[step]()
    fail("the secret is", pw)
`
	if err := os.WriteFile(script, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}

	var plain string
	for step := 0; step <= 9; step++ {
		code, stdout, stderr := run(t, "run", script, "--json", "--arg", "step="+string(rune('0'+step)))
		if code != 1 {
			t.Errorf("attempt %d exited %d, want 1 (a failed script)", step, code)
		}
		if plain == "" {
			data, err := os.ReadFile(filepath.Join(dir, "pw"))
			if err != nil {
				t.Fatal(err)
			}
			plain = strings.TrimSpace(string(data))
		}
		for name, out := range map[string]string{"stdout": stdout, "stderr": stderr} {
			if strings.Contains(out, plain) {
				t.Errorf("attempt %d: the secret's value appears in %s:\n%s", step, name, out)
			}
		}
		if !strings.Contains(stderr, "<secret>") {
			t.Errorf("attempt %d: stderr never shows <secret>:\n%s", step, stderr)
		}
	}

	written, err := os.ReadFile(filepath.Join(dir, "out.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if string(written) != "line: "+plain {
		t.Errorf("files.write of secret.format wrote %q, want the secret's value in the line", written)
	}
	if _, err := os.Stat(filepath.Join(dir, "leak.txt")); err == nil {
		t.Errorf("files.write of str(secret) wrote a file; it must fail")
	}
}
