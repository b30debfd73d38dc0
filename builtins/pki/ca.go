package pki

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"go.starlark.net/starlark"

	"github.com/cocalcctl/cocalcctl/builtins/runtime"
)

// CA is the value pki.ca returns: a certificate authority whose files are in
// a folder, and which signs the certificates of ca.issue.
type CA struct {
	dir         string
	commonName  string
	keyType     string
	renewBefore int

	// cert and key sign issued certificates. Both are nil when pending.
	cert *x509.Certificate
	key  crypto.Signer

	// pending is set under --dry-run when the CA would be created or
	// replaced, so its fingerprint is not known yet.
	pending bool

	attrs starlark.StringDict
}

var _ starlark.HasAttrs = (*CA)(nil)

func (c *CA) String() string {
	return fmt.Sprintf("<pki.ca %q in %s>", c.commonName, c.dir)
}
func (c *CA) Type() string          { return "pki.ca" }
func (c *CA) Freeze()               {}
func (c *CA) Truth() starlark.Bool  { return starlark.True }
func (c *CA) Hash() (uint32, error) { return 0, errors.New("unhashable type: pki.ca") }

// Attr implements starlark.HasAttrs.
func (c *CA) Attr(name string) (starlark.Value, error) {
	if name == "issue" {
		return starlark.NewBuiltin("ca.issue", runtime.Guard(issue)).BindReceiver(c), nil
	}
	return c.attrs[name], nil
}

// AttrNames implements starlark.HasAttrs.
func (c *CA) AttrNames() []string { return append(c.attrs.Keys(), "issue") }

func ca(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		dir         string
		commonName  = "cocalcctl CA"
		days        = 3650
		keyType     = KeyTypes[0]
		renewBefore = 30
		force       = false
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "dir", &dir, "common_name?", &commonName, "days?", &days,
		"key_type?", &keyType, "renew_before_days?", &renewBefore, "force?", &force); err != nil {
		return nil, err
	}

	if dir == "" {
		return nil, fmt.Errorf("%s: dir is empty; name the folder for ca.crt, ca.key and the certificates the CA issues", b.Name())
	}
	if commonName == "" {
		return nil, fmt.Errorf("%s: common_name is empty; give the CA a name, such as \"cocalcctl CA\"", b.Name())
	}
	if err := checkKeyType(keyType); err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	if err := checkDays(days, renewBefore); err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}

	env := runtime.EnvOf(thread)
	dir = runtime.ResolvePath(env, dir)
	step := runtime.Begin(thread, b, args, kwargs)

	folderWarnings, err := checkFolder(env.FS, dir)
	if err != nil {
		return nil, step.Fail(fmt.Errorf("%s: %w", b.Name(), err))
	}
	req := &request{
		certPath:    filepath.Join(dir, "ca.crt"),
		keyPath:     filepath.Join(dir, "ca.key"),
		commonName:  commonName,
		role:        roleCA,
		keyType:     keyType,
		days:        days,
		renewBefore: renewBefore,
	}
	out, err := ensure(thread, step, b.Name(), req, force, folderWarnings, replacement{
		what: "CA in " + dir,
		fix: "the files were left unchanged; pass force=True to replace ca.crt and ca.key, then reissue every " +
			"certificate the old CA signed with force=True",
		confirm: fmt.Sprintf("replace the CA certificate and key in %s, so that certificates the old CA signed no longer verify", dir),
	})
	if err != nil {
		return nil, err
	}

	c := &CA{dir: dir, commonName: commonName, keyType: keyType, renewBefore: renewBefore,
		cert: out.cert, key: out.key, pending: out.pending}
	c.attrs = starlark.StringDict{
		"dir":         starlark.String(dir),
		"cert_file":   starlark.String(req.certPath),
		"key_file":    starlark.String(req.keyPath),
		"common_name": starlark.String(commonName),
		"key_type":    starlark.String(keyType),
	}
	setCertAttrs(thread, c.attrs, out, step.Call())
	return c, nil
}

// checkDays checks the lifetime and renewal window of a certificate.
func checkDays(days, renewBefore int) error {
	if days < 1 || days > maxDays {
		return fmt.Errorf("days must be between 1 and %d, got %d", maxDays, days)
	}
	if renewBefore < 0 {
		return fmt.Errorf("renew_before_days must be 0 or more, got %d", renewBefore)
	}
	if renewBefore >= days {
		return fmt.Errorf("days=%d is not more than renew_before_days=%d, so the certificate would be due for renewal "+
			"as soon as it is issued; raise days or pass a smaller renew_before_days", days, renewBefore)
	}
	return nil
}

// checkFolder checks the folder of the keys: it must be a folder if it
// exists, and it should be private. It returns warnings for a folder that
// other users can reach.
func checkFolder(fsys runtime.FS, dir string) ([]string, error) {
	info, err := fsys.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("%s is a file, not a folder; move the file away or choose another dir", dir)
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return []string{fmt.Sprintf("folder %s has mode %04o, so other users can reach it; the keys in it are 0600, "+
			"but run `chmod 700 %s` to keep their names and the certificates private too", dir, perm, dir)}, nil
	}
	return nil, nil
}

// setCertAttrs sets not_after and fingerprint from out, or to unknowns named
// after call when the certificate is pending.
func setCertAttrs(thread *starlark.Thread, attrs starlark.StringDict, out outcome, call string) {
	if out.pending {
		attrs["not_after"] = runtime.NewUnknown(thread, call+".not_after")
		attrs["fingerprint"] = runtime.NewUnknown(thread, call+".fingerprint")
		return
	}
	attrs["not_after"] = starlark.String(formatRFC3339(out.cert.NotAfter))
	attrs["fingerprint"] = starlark.String(fingerprint(out.cert))
}
