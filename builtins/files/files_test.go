package files_test

import (
	"strings"
	"testing"

	"github.com/cocalcctl/cocalcctl/builtins/files"
	"github.com/cocalcctl/cocalcctl/builtins/runtime/runtimetest"
	"github.com/cocalcctl/cocalcctl/builtins/secret"
)

func TestDirWriteRerunUnchanged(t *testing.T) {
	f := runtimetest.New(t, files.Module, secret.Module)
	src := `
files.dir("data", mode = 0o700)
files.write("data/a.txt", "hello\n", mode = 0o640)
`
	f.MustRun(src)
	f.ResetOutput()
	f.MustRun(src)
	if got := strings.Join(f.Statuses(), ","); got != "unchanged,unchanged" {
		t.Errorf("rerun statuses %s, want unchanged,unchanged", got)
	}
	info, err := f.FS.Stat("/work/data/a.txt")
	if err != nil || info.Mode().Perm() != 0o640 {
		t.Errorf("a.txt mode %v (%v), want 0640", info.Mode().Perm(), err)
	}
}

func TestModeChangeReported(t *testing.T) {
	f := runtimetest.New(t, files.Module)
	f.MustRun(`files.dir("data", mode = 0o755)`)
	f.ResetOutput()
	f.MustRun(`files.dir("data", mode = 0o700)`)
	if got := strings.Join(f.Statuses(), ","); got != "changed" {
		t.Errorf("statuses %s, want changed", got)
	}
	if !strings.Contains(f.Stderr.String(), "mode 0755 -> 0700") {
		t.Errorf("the change does not say which mode:\n%s", f.Stderr.String())
	}
}

func TestWriteSecretViaFormat(t *testing.T) {
	f := runtimetest.New(t, files.Module, secret.Module)
	f.MustRun(`
pw = secret.file("pw")
files.write("pgpass", secret.format("*:5432:*:cocalc:{}", pw), mode = 0o600)
again = files.read("pgpass")
if type(again) != "secret":
    fail("files.read of a secret file returned " + type(again))
`)
	pw, _ := f.FS.ReadFile("/work/pw")
	got, _ := f.FS.ReadFile("/work/pgpass")
	if string(got) != "*:5432:*:cocalc:"+string(pw) {
		t.Errorf("pgpass holds %q, want the line with the password", got)
	}
	if strings.Contains(f.Stderr.String(), string(pw)) {
		t.Errorf("the password appears in the output:\n%s", f.Stderr.String())
	}
}

func TestWriteRejects(t *testing.T) {
	cases := []struct {
		name, src, want string
	}{
		{"stringified secret", `files.write("x", "pw=" + str(secret.random()))`, `/work/test.star:1:12: files.write: content contains the text <secret>`},
		{"missing folder", `files.write("no/such/x", "a")`, `the folder /work/no/such does not exist; create it first with files.dir`},
		{"folder as file", "files.dir(\"d\")\nfiles.write(\"d\", \"a\")", `/work/d is a folder`},
		{"bad mode", `files.dir("d", mode = 0o7777)`, `mode must be a permission such as 0o755, got 0o7777`},
		{"empty path", `files.dir("")`, `path is empty`},
		{"dir over file", "files.write(\"f\", \"a\")\nfiles.dir(\"f\")", `/work/f is a file, not a folder`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := runtimetest.New(t, files.Module, secret.Module)
			err := f.Run(c.src)
			if got := f.ErrorText(err); !strings.Contains(got, c.want) {
				t.Errorf("error %q does not contain %q", got, c.want)
			}
		})
	}
}

func TestRemoveGuards(t *testing.T) {
	for _, path := range []string{".", "/", "~", "/work/.."} {
		f := runtimetest.New(t, files.Module)
		f.Env.Yes = true
		err := f.Run(`files.remove("` + path + `")`)
		if got := f.ErrorText(err); !strings.Contains(got, "refusing to delete") {
			t.Errorf("files.remove(%q): got %q, want a refusal", path, got)
		}
	}
}

func TestRemoveNeedsConsent(t *testing.T) {
	f := runtimetest.New(t, files.Module)
	f.MustRun(`files.dir("data")`)
	err := f.Run(`files.remove("data")`)
	if got := f.ErrorText(err); !strings.Contains(got, "run again with --yes") {
		t.Errorf("got %q", got)
	}
	if _, err := f.FS.Stat("/work/data"); err != nil {
		t.Errorf("a refused remove deleted the folder")
	}

	f.Env.Yes = true
	f.ResetOutput()
	f.MustRun(`files.remove("data")`)
	if got := strings.Join(f.Statuses(), ","); got != "removed" {
		t.Errorf("statuses %s, want removed", got)
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	f := runtimetest.New(t, files.Module, secret.Module)
	f.Env.DryRun = true
	f.MustRun(`
files.dir("data", mode = 0o700)
pw = secret.file("data/pw")
files.write("data/conf", secret.format("{}", pw))
`)
	if got := strings.Join(f.Statuses(), ","); got != "would create,would create,would create" {
		t.Errorf("statuses %s", got)
	}
	if _, err := f.FS.Stat("/work/data"); err == nil {
		t.Errorf("dry run created /work/data")
	}
}
