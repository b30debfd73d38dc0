package pki

import (
	"errors"
	"fmt"
	"path/filepath"

	"go.starlark.net/starlark"

	"github.com/cocalcctl/cocalcctl/builtins/runtime"
	"github.com/cocalcctl/cocalcctl/builtins/secret"
)

// Certificate is the value ca.issue returns: the paths and facts of an issued
// certificate and its key.
type Certificate struct {
	name  string
	attrs starlark.StringDict
}

var _ starlark.HasAttrs = (*Certificate)(nil)

func (c *Certificate) String() string {
	path, _ := starlark.AsString(c.attrs["cert_file"])
	return fmt.Sprintf("<pki.certificate %q %s>", c.name, path)
}
func (c *Certificate) Type() string         { return "pki.certificate" }
func (c *Certificate) Freeze()              {}
func (c *Certificate) Truth() starlark.Bool { return starlark.True }
func (c *Certificate) Hash() (uint32, error) {
	return 0, errors.New("unhashable type: pki.certificate")
}

// Attr implements starlark.HasAttrs.
func (c *Certificate) Attr(name string) (starlark.Value, error) { return c.attrs[name], nil }

// AttrNames implements starlark.HasAttrs.
func (c *Certificate) AttrNames() []string { return c.attrs.Keys() }

func issue(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	ca := b.Receiver().(*CA)
	var (
		name, commonName string
		dnsArg           starlark.Value = starlark.NewList(nil)
		ipsArg           starlark.Value = starlark.NewList(nil)
		usage                           = roleServer
		days                            = 1825
		passphrase       secret.Value
		keyType          = ca.keyType
		force            = false
		renewBefore      = ca.renewBefore
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name", &name, "common_name", &commonName,
		"dns?", &dnsArg, "ips?", &ipsArg, "usage?", &usage, "days?", &days, "passphrase??", &passphrase,
		"key_type??", &keyType, "force?", &force, "renew_before_days?", &renewBefore); err != nil {
		return nil, err
	}

	req, err := issueRequest(ca, name, commonName, dnsArg, ipsArg, usage, days, keyType, renewBefore)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	env := runtime.EnvOf(thread)
	if passphrase.IsSet {
		if err := setPassphrase(env, req, passphrase); err != nil {
			return nil, fmt.Errorf("%s: %w", b.Name(), err)
		}
	}

	step := runtime.Begin(thread, b, args, kwargs)
	out, err := ensure(thread, step, b.Name(), req, force, nil, replacement{
		what:    fmt.Sprintf("certificate %q in %s", name, ca.dir),
		fix:     fmt.Sprintf("the files were left unchanged; pass force=True to replace %s and %s", req.certName(), req.keyName()),
		confirm: fmt.Sprintf("replace the existing certificate and key %s and %s", req.certPath, req.keyName()),
	})
	if err != nil {
		return nil, err
	}

	dns := make([]starlark.Value, len(req.names.DNS))
	for i, d := range req.names.DNS {
		dns[i] = starlark.String(d)
	}
	ips := make([]starlark.Value, len(req.names.IPs))
	for i, ip := range req.names.IPs {
		ips[i] = starlark.String(ip.String())
	}
	dnsList, ipList := starlark.NewList(dns), starlark.NewList(ips)
	dnsList.Freeze()
	ipList.Freeze()

	c := &Certificate{name: name, attrs: starlark.StringDict{
		"name":        starlark.String(name),
		"cert_file":   starlark.String(req.certPath),
		"key_file":    starlark.String(req.keyPath),
		"ca_file":     ca.attrs["cert_file"],
		"common_name": starlark.String(commonName),
		"dns":         dnsList,
		"ips":         ipList,
		"usage":       starlark.String(usage),
		"key_type":    starlark.String(keyType),
		"encrypted":   starlark.Bool(passphrase.IsSet),
	}}
	setCertAttrs(thread, c.attrs, out, step.Call())
	return c, nil
}

// issueRequest checks the arguments of ca.issue and builds its request.
func issueRequest(ca *CA, name, commonName string, dnsArg, ipsArg starlark.Value, usage string, days int, keyType string, renewBefore int) (*request, error) {
	if err := checkFileName(name); err != nil {
		return nil, err
	}
	if commonName == "" {
		return nil, errors.New("common_name is empty; give the host name of a server or the user name of a client")
	}
	if usage != roleServer && usage != roleClient {
		return nil, fmt.Errorf("usage must be \"server\" or \"client\", got %q", usage)
	}
	if err := checkKeyType(keyType); err != nil {
		return nil, err
	}
	if err := checkDays(days, renewBefore); err != nil {
		return nil, err
	}
	dns, err := stringList("dns", dnsArg)
	if err != nil {
		return nil, err
	}
	ips, err := stringList("ips", ipsArg)
	if err != nil {
		return nil, err
	}
	names, err := checkNames(commonName, dns, ips)
	if err != nil {
		return nil, err
	}

	return &request{
		certPath:    filepath.Join(ca.dir, name+".crt"),
		keyPath:     filepath.Join(ca.dir, name+".key"),
		commonName:  commonName,
		names:       names,
		role:        usage,
		keyType:     keyType,
		days:        days,
		renewBefore: renewBefore,
		issuer:      ca,
	}, nil
}

// setPassphrase puts the passphrase on req and registers it for redaction.
func setPassphrase(env *runtime.Env, req *request, passphrase secret.Value) error {
	if passphrase.Unknown != nil {
		req.passphraseUnknown = true
		return nil
	}
	plain := passphrase.Secret.Reveal()
	if len(plain) < 4 {
		return errors.New("passphrase must have at least 4 characters; pass None for a key without encryption")
	}
	env.AddSecret(plain)
	req.passphrase = []byte(plain)
	return nil
}
