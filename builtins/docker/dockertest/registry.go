package dockertest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// Registry is a read-only image registry for tests, speaking the part of
// the OCI distribution protocol that `docker pull` uses: the version check,
// manifests by tag or digest, and blobs. It listens on 127.0.0.1, which the
// Docker Engine trusts as an insecure registry by default, so no TLS is
// needed.
type Registry struct {
	// Host is the registry's address, 127.0.0.1:PORT, which starts the
	// references of its images.
	Host string

	mu        sync.Mutex
	manifests map[string][]byte // "repo:tag" and "repo@digest"
	blobs     map[string][]byte // by digest
}

// ServeRegistry starts a Registry that stops when the test ends.
func ServeRegistry(t testing.TB) *Registry {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("starting the test registry: %v", err)
	}
	r := &Registry{Host: l.Addr().String(), manifests: map[string][]byte{}, blobs: map[string][]byte{}}
	srv := &http.Server{Handler: r}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return r
}

func digestOf(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// AddImage publishes an image of one layer under repo:tag and returns its
// reference. The layer holds the given files (name to content, mode 0644)
// and, when filler is positive, a file /filler of that many random bytes, so
// a pull has something to show progress on. The image's command is cmd and
// it carries labels.
func (r *Registry) AddImage(t testing.TB, repo, tag string, files map[string]string, filler int, cmd []string, labels map[string]string) string {
	t.Helper()
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	add := func(name string, data []byte) {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	for name, content := range files {
		add(strings.TrimPrefix(name, "/"), []byte(content))
	}
	if filler > 0 {
		data := make([]byte, filler)
		rand.Read(data)
		add("filler", data)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	diffID := digestOf(layer.Bytes())

	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	zw.Write(layer.Bytes())
	zw.Close()

	config, err := json.Marshal(map[string]any{
		"architecture": "amd64",
		"os":           "linux",
		"config":       map[string]any{"Cmd": cmd, "Labels": labels, "Env": []string{"PATH=/usr/bin:/bin"}},
		"rootfs":       map[string]any{"type": "layers", "diff_ids": []string{diffID}},
		"history":      []map[string]string{{"created_by": "cocalcctl test registry"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	manifest, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.docker.distribution.manifest.v2+json",
		"config": map[string]any{
			"mediaType": "application/vnd.docker.container.image.v1+json",
			"size":      len(config),
			"digest":    digestOf(config),
		},
		"layers": []map[string]any{{
			"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
			"size":      zipped.Len(),
			"digest":    digestOf(zipped.Bytes()),
		}},
	})
	if err != nil {
		t.Fatal(err)
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	r.blobs[digestOf(config)] = config
	r.blobs[digestOf(zipped.Bytes())] = zipped.Bytes()
	r.manifests[repo+":"+tag] = manifest
	r.manifests[repo+"@"+digestOf(manifest)] = manifest
	return fmt.Sprintf("%s/%s:%s", r.Host, repo, tag)
}

// ServeHTTP implements http.Handler.
func (r *Registry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		registryError(w, http.StatusMethodNotAllowed, "UNSUPPORTED", "this test registry is read-only")
		return
	}
	p := strings.TrimPrefix(req.URL.Path, "/v2/")
	if p == "" || p == req.URL.Path {
		w.WriteHeader(http.StatusOK)
		return
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	if repo, ref, ok := strings.Cut(p, "/manifests/"); ok {
		key := repo + ":" + ref
		if strings.HasPrefix(ref, "sha256:") {
			key = repo + "@" + ref
		}
		data, found := r.manifests[key]
		if !found {
			registryError(w, http.StatusNotFound, "MANIFEST_UNKNOWN", "manifest unknown")
			return
		}
		serveBlob(w, req, "application/vnd.docker.distribution.manifest.v2+json", data)
		return
	}
	if _, digest, ok := strings.Cut(p, "/blobs/"); ok {
		data, found := r.blobs[digest]
		if !found {
			registryError(w, http.StatusNotFound, "BLOB_UNKNOWN", "blob unknown")
			return
		}
		serveBlob(w, req, "application/octet-stream", data)
		return
	}
	registryError(w, http.StatusNotFound, "NAME_UNKNOWN", "unknown path")
}

func serveBlob(w http.ResponseWriter, req *http.Request, contentType string, data []byte) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", fmt.Sprint(len(data)))
	w.Header().Set("Docker-Content-Digest", digestOf(data))
	w.WriteHeader(http.StatusOK)
	if req.Method == http.MethodGet {
		w.Write(data)
	}
}

func registryError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]string{{"code": code, "message": message}}})
}
