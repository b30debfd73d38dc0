package pki

import (
	"fmt"
	"net"
	"slices"
	"strings"

	"go.starlark.net/starlark"
)

// isDNSName reports whether s can be a DNS subject alternative name. That is
// dot-separated labels of 1 to 63 letters, digits, hyphens and underscores
// that do not start or end with a hyphen, at most 253 characters in all. A
// leading "*" label makes a wildcard. Underscores are outside the host name
// rules of RFC 1123, but Docker container names may contain them, and Go's
// crypto/tls and OpenSSL 3 match such names (TestUnderscoreNameVerifies).
func isDNSName(s string) bool {
	if s == "" || len(s) > 253 || net.ParseIP(s) != nil {
		return false
	}
	labels := strings.Split(strings.TrimPrefix(s, "*."), ".")
	for _, label := range labels {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
			if !ok {
				return false
			}
		}
	}
	return true
}

// checkFileName checks the NAME of NAME.crt and NAME.key.
func checkFileName(name string) error {
	if name == "" {
		return fmt.Errorf("name is empty; give the base name of the files, such as \"server\" for server.crt and server.key")
	}
	if name == "ca" {
		return fmt.Errorf("name \"ca\" is taken by the CA's own ca.crt and ca.key; choose another name")
	}
	if name[0] == '.' || name[0] == '-' {
		return fmt.Errorf("name %q must start with a letter, digit or underscore", name)
	}
	for _, c := range name {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
		if !ok {
			return fmt.Errorf("name %q may contain only letters, digits, '.', '-' and '_'; it names the files NAME.crt and NAME.key", name)
		}
	}
	return nil
}

// stringList converts a list or tuple of strings. Errors name the parameter
// and the index of the bad element.
func stringList(param string, v starlark.Value) ([]string, error) {
	iter, ok := v.(starlark.Iterable)
	if !ok || v.Type() == "string" {
		return nil, fmt.Errorf("%s must be a list of strings, got %s", param, v.Type())
	}
	var out []string
	it := iter.Iterate()
	defer it.Done()
	var x starlark.Value
	for i := 0; it.Next(&x); i++ {
		s, ok := starlark.AsString(x)
		if !ok {
			return nil, fmt.Errorf("%s[%d] must be a string, got %s", param, i, x.Type())
		}
		out = append(out, s)
	}
	return out, nil
}

// subjectNames is the validated set of subject alternative names of a
// certificate.
type subjectNames struct {
	DNS []string
	IPs []net.IP
}

// checkNames validates the dns and ips arguments and removes duplicates,
// keeping the order. With no names at all, the common name becomes the only
// SAN: as an IP address when it is one, as a DNS name when it is a valid DNS
// name, and otherwise the result is an error, because clients that verify
// host names ignore the common name.
func checkNames(commonName string, dns, ips []string) (subjectNames, error) {
	var names subjectNames
	for i, d := range dns {
		if net.ParseIP(d) != nil {
			return names, fmt.Errorf("dns[%d] %q is an IP address; pass it in ips", i, d)
		}
		if !isDNSName(d) {
			return names, fmt.Errorf("dns[%d] %q is neither a DNS name nor an IP address: a DNS name is dot-separated "+
				"labels of letters, digits, '-' and '_' (an optional leading \"*.\" makes a wildcard)", i, d)
		}
		if !slices.ContainsFunc(names.DNS, func(s string) bool { return strings.EqualFold(s, d) }) {
			names.DNS = append(names.DNS, d)
		}
	}
	for i, s := range ips {
		ip := net.ParseIP(s)
		if ip == nil {
			if isDNSName(s) {
				return names, fmt.Errorf("ips[%d] %q is a DNS name, not an IP address; pass it in dns", i, s)
			}
			return names, fmt.Errorf("ips[%d] %q is neither a DNS name nor an IP address; give an IPv4 or IPv6 address", i, s)
		}
		if !slices.ContainsFunc(names.IPs, ip.Equal) {
			names.IPs = append(names.IPs, ip)
		}
	}

	if len(names.DNS) == 0 && len(names.IPs) == 0 {
		switch {
		case net.ParseIP(commonName) != nil:
			names.IPs = []net.IP{net.ParseIP(commonName)}
		case isDNSName(commonName):
			names.DNS = []string{commonName}
		default:
			return names, fmt.Errorf("a certificate needs a subject alternative name (SAN), and the common name %q "+
				"is not a DNS name that could serve as one; pass dns=[...] or ips=[...]", commonName)
		}
	}
	return names, nil
}

// ipStrings formats ips in their canonical text form.
func ipStrings(ips []net.IP) []string {
	out := make([]string, len(ips))
	for i, ip := range ips {
		out[i] = ip.String()
	}
	return out
}

// sameDNSNames reports whether a and b hold the same DNS names, in any order
// and case.
func sameDNSNames(a, b []string) bool {
	norm := func(names []string) []string {
		out := make([]string, len(names))
		for i, n := range names {
			out[i] = strings.ToLower(n)
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	return slices.Equal(norm(a), norm(b))
}

// sameIPs reports whether a and b hold the same addresses, in any order.
func sameIPs(a, b []net.IP) bool {
	norm := func(ips []net.IP) []string {
		out := ipStrings(ips)
		slices.Sort(out)
		return slices.Compact(out)
	}
	return slices.Equal(norm(a), norm(b))
}
