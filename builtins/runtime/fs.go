package runtime

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// FS is the file system that builtins read and write through. The real
// implementation is OSFS; tests and `cocalcctl test` use MemFS.
type FS interface {
	// ReadFile returns the contents of the named file.
	ReadFile(name string) ([]byte, error)

	// WriteFile replaces the named file with data and sets its mode to perm.
	// The replacement is atomic: a reader sees the old or the new contents.
	WriteFile(name string, data []byte, perm fs.FileMode) error

	// MkdirAll creates a folder and its parents with mode perm.
	MkdirAll(path string, perm fs.FileMode) error

	// Stat describes the named file.
	Stat(name string) (fs.FileInfo, error)

	// Chmod changes the mode of the named file.
	Chmod(name string, mode fs.FileMode) error

	// Remove deletes the named file or empty folder.
	Remove(name string) error

	// RemoveAll deletes a path and everything below it.
	RemoveAll(path string) error

	// ReadDir lists a folder, sorted by name.
	ReadDir(name string) ([]fs.DirEntry, error)
}

// OSFS is the FS of the machine cocalcctl runs on.
type OSFS struct{}

// ReadFile implements FS.
func (OSFS) ReadFile(name string) ([]byte, error) { return os.ReadFile(name) }

// WriteFile implements FS by writing a temporary file in the same folder with
// mode perm and renaming it over name, so a key file never exists with a wider
// mode, not even for a moment.
func (OSFS) WriteFile(name string, data []byte, perm fs.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())

	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), name)
}

// MkdirAll implements FS. The mode of the last folder is set to perm even
// when the umask would narrow it.
func (OSFS) MkdirAll(path string, perm fs.FileMode) error {
	_, statErr := os.Stat(path)
	if err := os.MkdirAll(path, perm); err != nil {
		return err
	}
	if errors.Is(statErr, fs.ErrNotExist) {
		return os.Chmod(path, perm)
	}
	return nil
}

// Stat implements FS.
func (OSFS) Stat(name string) (fs.FileInfo, error) { return os.Stat(name) }

// Chmod implements FS.
func (OSFS) Chmod(name string, mode fs.FileMode) error { return os.Chmod(name, mode) }

// Remove implements FS.
func (OSFS) Remove(name string) error { return os.Remove(name) }

// RemoveAll implements FS.
func (OSFS) RemoveAll(path string) error { return os.RemoveAll(path) }

// ReadDir implements FS.
func (OSFS) ReadDir(name string) ([]fs.DirEntry, error) { return os.ReadDir(name) }

// MemFS is an in-memory FS for tests. Paths are cleaned and compared as
// strings; relative paths are relative to "/".
type MemFS struct {
	mu    sync.Mutex
	files map[string]*memFile
	clock Clock
}

type memFile struct {
	data  []byte
	mode  fs.FileMode
	dir   bool
	mtime time.Time
}

// NewMemFS returns an empty MemFS whose root folder exists. File times come
// from clock, or are zero when clock is nil.
func NewMemFS(clock Clock) *MemFS {
	m := &MemFS{files: map[string]*memFile{}, clock: clock}
	m.files["/"] = &memFile{dir: true, mode: fs.ModeDir | 0o755}
	return m
}

func memClean(name string) string {
	if !filepath.IsAbs(name) {
		name = "/" + name
	}
	return filepath.Clean(name)
}

func (m *MemFS) now() time.Time {
	if m.clock == nil {
		return time.Time{}
	}
	return m.clock.Now()
}

func pathErr(op, name string, err error) error {
	return &fs.PathError{Op: op, Path: name, Err: err}
}

// ReadFile implements FS.
func (m *MemFS) ReadFile(name string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()

	f, ok := m.files[memClean(name)]
	if !ok {
		return nil, pathErr("open", name, fs.ErrNotExist)
	}
	if f.dir {
		return nil, pathErr("read", name, errors.New("is a directory"))
	}
	return bytes.Clone(f.data), nil
}

// WriteFile implements FS.
func (m *MemFS) WriteFile(name string, data []byte, perm fs.FileMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()

	p := memClean(name)
	parent, ok := m.files[filepath.Dir(p)]
	if !ok {
		return pathErr("open", name, fs.ErrNotExist)
	}
	if !parent.dir {
		return pathErr("open", name, errors.New("not a directory"))
	}
	if f, ok := m.files[p]; ok && f.dir {
		return pathErr("open", name, errors.New("is a directory"))
	}
	m.files[p] = &memFile{data: bytes.Clone(data), mode: perm.Perm(), mtime: m.now()}
	return nil
}

// MkdirAll implements FS.
func (m *MemFS) MkdirAll(path string, perm fs.FileMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()

	p := memClean(path)
	var missing []string
	for cur := p; ; cur = filepath.Dir(cur) {
		f, ok := m.files[cur]
		if ok {
			if !f.dir {
				return pathErr("mkdir", cur, errors.New("not a directory"))
			}
			break
		}
		missing = append(missing, cur)
		if cur == "/" {
			break
		}
	}
	for _, dir := range missing {
		m.files[dir] = &memFile{dir: true, mode: fs.ModeDir | perm.Perm(), mtime: m.now()}
	}
	return nil
}

// Stat implements FS.
func (m *MemFS) Stat(name string) (fs.FileInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()

	p := memClean(name)
	f, ok := m.files[p]
	if !ok {
		return nil, pathErr("stat", name, fs.ErrNotExist)
	}
	return memInfo{name: filepath.Base(p), f: *f}, nil
}

// Chmod implements FS.
func (m *MemFS) Chmod(name string, mode fs.FileMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()

	f, ok := m.files[memClean(name)]
	if !ok {
		return pathErr("chmod", name, fs.ErrNotExist)
	}
	f.mode = f.mode&fs.ModeDir | mode.Perm()
	return nil
}

// Remove implements FS.
func (m *MemFS) Remove(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()

	p := memClean(name)
	f, ok := m.files[p]
	if !ok {
		return pathErr("remove", name, fs.ErrNotExist)
	}
	if f.dir {
		for other := range m.files {
			if strings.HasPrefix(other, p+"/") {
				return pathErr("remove", name, errors.New("directory not empty"))
			}
		}
	}
	delete(m.files, p)
	return nil
}

// RemoveAll implements FS.
func (m *MemFS) RemoveAll(path string) error {
	m.mu.Lock()
	defer m.mu.Unlock()

	p := memClean(path)
	for other := range m.files {
		if other == p || strings.HasPrefix(other, p+"/") {
			delete(m.files, other)
		}
	}
	return nil
}

// ReadDir implements FS.
func (m *MemFS) ReadDir(name string) ([]fs.DirEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()

	p := memClean(name)
	f, ok := m.files[p]
	if !ok {
		return nil, pathErr("open", name, fs.ErrNotExist)
	}
	if !f.dir {
		return nil, pathErr("readdir", name, errors.New("not a directory"))
	}
	var out []fs.DirEntry
	for other, of := range m.files {
		if other != p && filepath.Dir(other) == p {
			out = append(out, fs.FileInfoToDirEntry(memInfo{name: filepath.Base(other), f: *of}))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out, nil
}

// Paths lists every file and folder in the MemFS, sorted, for test assertions.
func (m *MemFS) Paths() []string {
	m.mu.Lock()
	defer m.mu.Unlock()

	var out []string
	for p := range m.files {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

type memInfo struct {
	name string
	f    memFile
}

func (i memInfo) Name() string       { return i.name }
func (i memInfo) Size() int64        { return int64(len(i.f.data)) }
func (i memInfo) Mode() fs.FileMode  { return i.f.mode }
func (i memInfo) ModTime() time.Time { return i.f.mtime }
func (i memInfo) IsDir() bool        { return i.f.dir }
func (i memInfo) Sys() any           { return nil }
