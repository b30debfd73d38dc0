package docker_test

import (
	"io/fs"
	"strings"
	"testing"

	"github.com/cocalcctl/cocalcctl/builtins/docker"
)

func readFake(t *testing.T, fake *docker.Fake, p string) docker.File {
	t.Helper()
	files, err := fake.CopyFrom(t.Context(), "db", p)
	if err != nil {
		t.Fatalf("reading %s: %v", p, err)
	}
	return files[0]
}

func TestCopyFileOwnerMode(t *testing.T) {
	f, fake := newFixture(t)
	if err := f.FS.WriteFile("/work/server.key", []byte("KEY"), 0o644); err != nil {
		t.Fatal(err)
	}
	script := runningDB + `docker.copy("db", "server.key", "/etc/ssl/server.key", owner="postgres", mode=0o600)`
	f.MustRun(script)
	wantStatuses(t, f, "created", "created")
	got := readFake(t, fake, "/etc/ssl/server.key")
	if string(got.Data) != "KEY" || got.Mode != 0o600 || got.UID != 100 || got.GID != 102 {
		t.Errorf("copied file = %q %v %d:%d, want KEY 0600 100:102", got.Data, got.Mode, got.UID, got.GID)
	}
	if !strings.Contains(f.Stderr.String(), "mode=0o600") {
		t.Errorf("the step line does not show the mode in octal:\n%s", f.Stderr.String())
	}

	f.ResetOutput()
	f.MustRun(script)
	wantStatuses(t, f, "unchanged", "unchanged")

	f.ResetOutput()
	f.MustRun(strings.Replace(script, `owner="postgres"`, `owner="root:ssl-cert"`, 1))
	wantStatuses(t, f, "unchanged", "changed")
	if got := readFake(t, fake, "/etc/ssl/server.key"); got.UID != 0 || got.GID != 101 {
		t.Errorf("owner = %d:%d, want 0:101", got.UID, got.GID)
	}
	if !strings.Contains(f.Stderr.String(), "owner 100:102, request is 0:101") {
		t.Errorf("the change does not say what differed:\n%s", f.Stderr.String())
	}
}

func TestCopyFolder(t *testing.T) {
	f, fake := newFixture(t)
	f.FS.MkdirAll("/work/certs/sub", 0o755)
	f.FS.WriteFile("/work/certs/ca.crt", []byte("CA"), 0o644)
	f.FS.WriteFile("/work/certs/sub/x", []byte("X"), 0o644)
	f.MustRun(runningDB + `docker.copy("db", "certs", "/opt/", owner="999:999", mode="0640")`)
	want := map[string]fs.FileMode{"/opt/certs": fs.ModeDir | 0o750, "/opt/certs/sub": fs.ModeDir | 0o750, "/opt/certs/ca.crt": 0o640, "/opt/certs/sub/x": 0o640}
	for p, mode := range want {
		if got := readFake(t, fake, p); got.Mode != mode || got.UID != 999 || got.GID != 999 {
			t.Errorf("%s: mode %v owner %d:%d, want %v 999:999", p, got.Mode, got.UID, got.GID, mode)
		}
	}

	f.FS.WriteFile("/work/certs/sub/x", []byte("Y"), 0o644)
	f.ResetOutput()
	f.MustRun(`docker.copy("db", "certs", "/opt/certs", owner="999:999", mode="0640")`)
	wantStatuses(t, f, "changed")
	if !strings.Contains(f.Stderr.String(), "/opt/certs/sub/x: content differs") {
		t.Errorf("the change does not name the file:\n%s", f.Stderr.String())
	}
}

func TestCopyErrors(t *testing.T) {
	f, _ := newFixture(t)
	f.FS.WriteFile("/work/a", []byte("A"), 0o644)
	f.MustRun(runningDB)
	tests := []struct{ call, want string }{
		{`docker.copy("db", "a", "/x", owner="nosuchuser")`, `user "nosuchuser" is not in /etc/passwd of container "db": create it in the image first, or give a number`},
		{`docker.copy("db", "a", "/x", owner="root:nosuchgroup")`, `group "nosuchgroup" is not in /etc/group`},
		{`docker.copy("db", "a", "/x", owner="root:")`, `owner "root:", want "user"`},
		{`docker.copy("db", "missing", "/x")`, `/work/missing does not exist on this machine`},
		{`docker.copy("db", "a", "x")`, `dest "x" must be an absolute path`},
		{`docker.copy("db", "a", "/x", mode="rw")`, `got "rw", want an octal mode`},
		{`docker.copy("nope", "a", "/x")`, `container "nope" not found`},
	}
	for _, tt := range tests {
		err := f.Run(tt.call)
		wantError(t, f, err, "test.star:1:12: docker.copy: ", tt.want)
	}
}

const confScript = runningDB + `
docker.file("db", "/etc/pg.conf", line="listen_addresses = '*'", regexp="^#?listen_addresses\\s*=")
docker.file("db", "/etc/pg.conf", line="ssl = on", after="^# SSL")
`

func TestFileLineEnsuredOnce(t *testing.T) {
	f, fake := newFixture(t)
	f.MustRun(runningDB)
	fake.CopyTo(t.Context(), "db", []docker.File{{Path: "/etc/pg.conf", Mode: 0o640, UID: 100, GID: 102,
		Data: []byte("#listen_addresses = 'localhost'\nport = 5432\n# SSL\nmax_connections = 100\n")}})
	f.ResetOutput()
	f.MustRun(confScript)
	wantStatuses(t, f, "unchanged", "changed", "changed")
	got := readFake(t, fake, "/etc/pg.conf")
	want := "listen_addresses = '*'\nport = 5432\n# SSL\nssl = on\nmax_connections = 100\n"
	if string(got.Data) != want || got.Mode != 0o640 || got.UID != 100 {
		t.Errorf("file = %q mode %v uid %d, want %q with mode and owner kept", got.Data, got.Mode, got.UID, want)
	}

	f.ResetOutput()
	f.MustRun(confScript)
	wantStatuses(t, f, "unchanged", "unchanged", "unchanged")
	if again := readFake(t, fake, "/etc/pg.conf"); string(again.Data) != want {
		t.Errorf("second run changed the file to %q", again.Data)
	}

	f.ResetOutput()
	f.MustRun(`print(docker.file("db", "/etc/pg.conf"))`)
	if !strings.Contains(f.Stderr.String(), "ssl = on") || len(f.Statuses()) != 0 {
		t.Errorf("reading the file printed %q with statuses %v, want the content and no step", f.Stderr.String(), f.Statuses())
	}
}

func TestFileAbsentAndCreate(t *testing.T) {
	f, fake := newFixture(t)
	f.MustRun(runningDB + `
docker.file("db", "/etc/hba", line="local all all peer", create=True, owner="postgres", mode=0o600)
docker.file("db", "/etc/hba", line="host all all 0.0.0.0/0 md5")
docker.file("db", "/etc/hba", line="hostssl all all 0.0.0.0/0 cert", before="^host ")
docker.file("db", "/etc/hba", regexp="md5$", state="absent")
docker.file("db", "/etc/missing", line="x", state="absent")
`)
	wantStatuses(t, f, "created", "created", "changed", "changed", "changed", "unchanged")
	got := readFake(t, fake, "/etc/hba")
	if want := "local all all peer\nhostssl all all 0.0.0.0/0 cert\n"; string(got.Data) != want || got.UID != 100 || got.Mode != 0o600 {
		t.Errorf("file = %q mode %v uid %d, want %q 0600 100", got.Data, got.Mode, got.UID, want)
	}

	err := f.Run(`docker.file("db", "/etc/missing", line="x")`)
	wantError(t, f, err, `docker.file: /etc/missing does not exist in container "db": pass create=True to create it`)
	err = f.Run(`docker.file("db", "/etc/missing")`)
	wantError(t, f, err, `docker.file: /etc/missing does not exist in container "db"`)
	err = f.Run(`docker.file("db", "/etc/hba", regexp="(")`)
	wantError(t, f, err, `docker.file: regexp "(" is not a valid regular expression`)
	err = f.Run(`docker.file("db", "/etc/hba", regexp="x")`)
	wantError(t, f, err, `docker.file: regexp= needs line=`)
	err = f.Run(`docker.file("db", "/etc/hba", state="gone", line="x")`)
	wantError(t, f, err, `docker.file: state "gone", want "present" or "absent"`)
}

func TestFileDryRun(t *testing.T) {
	f, fake := newFixture(t)
	f.MustRun(runningDB + `docker.file("db", "/etc/a", line="x", create=True)`)
	f.ResetOutput()
	f.Env.DryRun = true
	f.MustRun(`
docker.file("db", "/etc/a", line="y")
docker.file("later", "/etc/a", line="y")
print("content", docker.file("later", "/etc/a"))
`)
	wantStatuses(t, f, "would change", "would change")
	if got := readFake(t, fake, "/etc/a"); string(got.Data) != "x\n" {
		t.Errorf("dry run changed the file to %q", got.Data)
	}
	if !strings.Contains(f.Stderr.String(), "content (known after apply)") {
		t.Errorf("reading a file of a missing container in a dry run:\n%s", f.Stderr.String())
	}
}
