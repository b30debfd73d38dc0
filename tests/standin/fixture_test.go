package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cocalcctl/cocalcctl/tests/images"
)

// testLabel marks every container and network the tests create.
const testLabel = "cocalcctl.test=1"

// ---- docker CLI --------------------------------------------------------------

func docker(t testing.TB, args ...string) string {
	t.Helper()
	output, err := dockerOutput(args...)
	if err != nil {
		t.Fatal(err)
	}
	return output
}

func dockerOutput(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	command := exec.CommandContext(ctx, "docker", args...)
	command.Stdout = &stdout
	command.Stderr = &stderr
	if err := command.Run(); err != nil {
		return stdout.String(), fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(stdout.String()), nil
}

// requireImages skips or fails (in CI) without the engine or the images, and
// when the stand-in image was built from other sources than these.
func requireImages(t *testing.T, tags ...string) {
	t.Helper()
	images.Require(t, tags...)
	if err := standinFreshness(); err != nil {
		if images.InCI() {
			t.Fatalf("CI=true and %v", err)
		}
		t.Skipf("SKIPPED, NOT PASSED: %v", err)
	}
}

var (
	freshnessOnce sync.Once
	freshnessErr  error
)

// standinFreshness rebuilds the stand-in binary with the flags of
// tests/images/build and compares it with the image label cocalcctl.binary.
func standinFreshness() error {
	freshnessOnce.Do(func() {
		binary := filepath.Join(os.TempDir(), fmt.Sprintf("cocalc-standin-check-%d", os.Getpid()))
		defer os.Remove(binary)
		command := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", binary, ".")
		command.Env = append(os.Environ(), "CGO_ENABLED=0")
		if output, err := command.CombinedOutput(); err != nil {
			freshnessErr = fmt.Errorf("go build of the stand-in failed: %v: %s", err, output)
			return
		}
		content, err := os.ReadFile(binary)
		if err != nil {
			freshnessErr = err
			return
		}
		sum := sha256.Sum256(content)
		label, err := dockerOutput("image", "inspect", "--format", `{{index .Config.Labels "cocalcctl.binary"}}`, images.CoCalcStandin)
		if err != nil {
			freshnessErr = err
			return
		}
		if label != hex.EncodeToString(sum[:]) {
			freshnessErr = fmt.Errorf("image %s is older than the sources in tests/standin: rebuild it with `sudo %s cocalc-standin`",
				images.CoCalcStandin, images.BuildCommand)
		}
	})
	return freshnessErr
}

// testEnv is one test's Docker network and the names in it, all removed when
// the test ends.
type testEnv struct {
	t       *testing.T
	prefix  string
	network string
	dir     string
}

func newTestEnv(t *testing.T, tags ...string) *testEnv {
	t.Helper()
	requireImages(t, append(tags, images.CoCalcStandin)...)
	suffix := make([]byte, 3)
	rand.Read(suffix) //nolint:errcheck
	name := regexp.MustCompile(`[^a-z0-9]+`).ReplaceAllString(strings.ToLower(t.Name()), "-")
	if len(name) > 30 {
		name = name[:30]
	}
	env := &testEnv{
		t:      t,
		prefix: fmt.Sprintf("cocalcctl-test-%s-%s", strings.Trim(name, "-"), hex.EncodeToString(suffix)),
		dir:    t.TempDir(),
	}
	env.network = env.prefix + "-net"
	docker(t, "network", "create", "--label", testLabel, env.network)
	t.Cleanup(func() {
		if _, err := dockerOutput("network", "rm", env.network); err != nil {
			t.Errorf("remove network: %v", err)
		}
	})
	return env
}

// run starts a labelled container on the test network and registers its
// removal, printing its log first when the test failed or runs with -v.
func (e *testEnv) run(name string, args ...string) string {
	e.t.Helper()
	container := e.prefix + "-" + name
	e.t.Cleanup(func() {
		if e.t.Failed() || testing.Verbose() {
			logs, _ := dockerOutput("logs", container)
			e.t.Logf("log of %s:\n%s", container, logs)
		}
		if _, err := dockerOutput("rm", "--force", "--volumes", container); err != nil {
			e.t.Errorf("remove container: %v", err)
		}
	})
	full := append([]string{"run", "--detach", "--name", container, "--label", testLabel, "--network", e.network}, args...)
	docker(e.t, full...)
	return container
}

func (e *testEnv) writeFile(relative string, content []byte, mode os.FileMode) string {
	e.t.Helper()
	path := filepath.Join(e.dir, relative)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(path, content, mode); err != nil {
		e.t.Fatal(err)
	}
	// WriteFile applies the umask, and the tests need exact modes.
	if err := os.Chmod(path, mode); err != nil {
		e.t.Fatal(err)
	}
	return path
}

// ---- certificates ---------------------------------------------------------------

type testCA struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	certPEM []byte
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	template := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "cocalcctl test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key, certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns a PEM certificate and PKCS #8 key signed by the CA.
func (ca *testCA) issue(t *testing.T, commonName string, dnsNames []string, usage x509.ExtKeyUsage) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	template := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: commonName},
		DNSNames:     dnsNames,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
	}
	der, err := x509.CreateCertificate(rand.Reader, template, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
}

// ---- PostgreSQL ------------------------------------------------------------------

// postgresSetup describes one PostgreSQL server for a test.
type postgresSetup struct {
	image   string
	version string
	// serverCertPEM and serverKeyPEM turn on TLS, with caPEM for client
	// certificates.
	serverCertPEM, serverKeyPEM, caPEM []byte
	// hba lines follow "local all all trust".
	hba []string
	// initSQL runs as the superuser postgres once the server is up.
	initSQL []string
}

// postgresServer is a running PostgreSQL container reachable as "db" on the
// test network.
type postgresServer struct {
	env       *testEnv
	container string
	binDir    string
}

const postgresStartScript = `set -eu
bin=/usr/lib/postgresql/$PG_VERSION/bin
data=/var/lib/postgresql/data
install -d -o postgres -g postgres -m 0700 "$data"
su postgres -s /bin/sh -c "$bin/initdb -D $data -U postgres --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >/dev/null"
cat >>"$data/postgresql.conf" <<EOF
listen_addresses = '*'
unix_socket_directories = '/tmp'
password_encryption = 'scram-sha-256'
EOF
if [ -f /setup/server.crt ]; then
	install -o postgres -g postgres -m 0600 /setup/server.crt /setup/server.key /setup/ca.crt "$data/"
	cat >>"$data/postgresql.conf" <<EOF
ssl = on
ssl_cert_file = 'server.crt'
ssl_key_file = 'server.key'
ssl_ca_file = 'ca.crt'
EOF
fi
install -o postgres -g postgres -m 0600 /setup/pg_hba.conf "$data/pg_hba.conf"
exec su postgres -s /bin/sh -c "exec $bin/postgres -D $data"
`

func (e *testEnv) startPostgres(setup postgresSetup) *postgresServer {
	e.t.Helper()
	e.writeFile("postgres/start.sh", []byte(postgresStartScript), 0o755)
	hba := append([]string{"local all all trust"}, setup.hba...)
	e.writeFile("postgres/pg_hba.conf", []byte(strings.Join(hba, "\n")+"\n"), 0o644)
	if setup.serverCertPEM != nil {
		e.writeFile("postgres/server.crt", setup.serverCertPEM, 0o644)
		e.writeFile("postgres/server.key", setup.serverKeyPEM, 0o600)
		e.writeFile("postgres/ca.crt", setup.caPEM, 0o644)
	}

	container := e.run("db", "--network-alias", "db", "--env", "PG_VERSION="+setup.version,
		"--volume", filepath.Join(e.dir, "postgres")+":/setup:ro", setup.image, "sh", "/setup/start.sh")
	server := &postgresServer{env: e, container: container, binDir: "/usr/lib/postgresql/" + setup.version + "/bin"}

	deadline := time.Now().Add(60 * time.Second)
	for {
		_, err := dockerOutput("exec", container, server.binDir+"/pg_isready", "-q", "-h", "/tmp", "-U", "postgres")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			logs, _ := dockerOutput("logs", container)
			e.t.Fatalf("PostgreSQL in %s not ready after 60 s: %v\n%s", container, err, logs)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, statement := range setup.initSQL {
		server.psql("postgres", statement)
	}
	return server
}

// psql runs SQL as the superuser over the socket and returns the unaligned,
// tuples-only output.
func (s *postgresServer) psql(database, sql string) string {
	s.env.t.Helper()
	return docker(s.env.t, "exec", s.container, s.binDir+"/psql", "-h", "/tmp", "-U", "postgres", "-d", database,
		"-v", "ON_ERROR_STOP=1", "-X", "-q", "-A", "-t", "-c", sql)
}

// ---- stand-in ----------------------------------------------------------------------

// standinSetup describes the stand-in's environment and mounted files.
type standinSetup struct {
	env map[string]string
	// password, when not nil, is written to /projects/secrets/postgres.
	password *string
	// tlsFiles are mounted read-only under /root/pgtls, with their modes.
	tlsFiles map[string]tlsFile
}

type tlsFile struct {
	content []byte
	mode    os.FileMode
}

type standin struct {
	env       *testEnv
	container string
	httpsPort string
}

func (e *testEnv) startStandin(setup standinSetup) *standin {
	e.t.Helper()
	args := []string{"--publish", "127.0.0.1::443"}
	if setup.password != nil {
		e.writeFile("standin/secrets/postgres", []byte(*setup.password+"\n"), 0o600)
		if err := os.Chmod(filepath.Join(e.dir, "standin/secrets"), 0o700); err != nil {
			e.t.Fatal(err)
		}
		args = append(args, "--volume", filepath.Join(e.dir, "standin/secrets")+":/projects/secrets:ro")
	}
	if len(setup.tlsFiles) > 0 {
		for name, file := range setup.tlsFiles {
			e.writeFile("standin/pgtls/"+name, file.content, file.mode)
		}
		args = append(args, "--volume", filepath.Join(e.dir, "standin/pgtls")+":/root/pgtls:ro")
	}
	for name, value := range setup.env {
		args = append(args, "--env", name+"="+value)
	}
	container := e.run("cocalc", append(args, images.CoCalcStandin)...)

	published := docker(e.t, "port", container, "443/tcp")
	_, port, found := strings.Cut(strings.Split(published, "\n")[0], "127.0.0.1:")
	if !found {
		e.t.Fatalf("no port published on 127.0.0.1 for %s: %q", container, published)
	}
	return &standin{env: e, container: container, httpsPort: port}
}

func (s *standin) logs() string {
	output, _ := dockerOutput("logs", s.container)
	return output
}

func (s *standin) running() (bool, string) {
	state := docker(s.env.t, "inspect", "--format", "{{.State.Running}} {{.State.ExitCode}}", s.container)
	running, exitCode, _ := strings.Cut(state, " ")
	return running == "true", exitCode
}

var insecureClient = &http.Client{
	Timeout:   5 * time.Second,
	Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, // the stand-in's certificate is self-signed
}

// health returns the status code of GET /health, or 0 when the request failed.
func (s *standin) health() int {
	response, err := insecureClient.Get("https://127.0.0.1:" + s.httpsPort + "/health")
	if err != nil {
		return 0
	}
	response.Body.Close()
	return response.StatusCode
}

// waitHealthy waits until /health returns 200, failing early when the
// container exits.
func (s *standin) waitHealthy(timeout time.Duration) {
	s.env.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if s.health() == http.StatusOK {
			return
		}
		if running, exitCode := s.running(); !running {
			s.env.t.Fatalf("stand-in exited with status %s before it was healthy", exitCode)
		}
		time.Sleep(250 * time.Millisecond)
	}
	s.env.t.Fatalf("stand-in not healthy after %s", timeout)
}

// waitLog waits until the log matches pattern at least count times and
// returns the log.
func (s *standin) waitLog(pattern string, count int, timeout time.Duration) string {
	s.env.t.Helper()
	expression := regexp.MustCompile(pattern)
	deadline := time.Now().Add(timeout)
	for {
		logs := s.logs()
		if len(expression.FindAllStringIndex(logs, -1)) >= count {
			return logs
		}
		if time.Now().After(deadline) {
			s.env.t.Fatalf("log did not match %q %d times within %s", pattern, count, timeout)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// waitExit waits for the container to stop and returns its exit code.
func (s *standin) waitExit(timeout time.Duration) string {
	s.env.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if running, exitCode := s.running(); !running {
			return exitCode
		}
		time.Sleep(250 * time.Millisecond)
	}
	s.env.t.Fatalf("stand-in still running after %s", timeout)
	return ""
}

// signup posts to /api/signup and returns the status code and JSON body.
func (s *standin) signup(email, firstName, lastName string) (int, map[string]string) {
	s.env.t.Helper()
	body, _ := json.Marshal(map[string]string{"email": email, "first_name": firstName, "last_name": lastName})
	response, err := insecureClient.Post("https://127.0.0.1:"+s.httpsPort+"/api/signup", "application/json", bytes.NewReader(body))
	if err != nil {
		s.env.t.Fatalf("POST /api/signup: %v", err)
	}
	defer response.Body.Close()
	var decoded map[string]string
	if err := json.NewDecoder(response.Body).Decode(&decoded); err != nil {
		s.env.t.Fatalf("POST /api/signup returned status %d and no JSON: %v", response.StatusCode, err)
	}
	return response.StatusCode, decoded
}
