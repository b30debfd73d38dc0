package main

import (
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/spf13/pflag"

	"github.com/cocalcctl/cocalcctl/builtins/all"
	"github.com/cocalcctl/cocalcctl/builtins/runtime"
	"github.com/cocalcctl/cocalcctl/stdlib"
)

const docUsage = `Usage: cocalcctl doc [MODULE[.NAME]] [flags]

Prints the reference of the builtins: every module with no argument, one
module (cocalcctl doc pki) or one builtin (cocalcctl doc pki.ca). The same
text is in docs/builtins.md. "cocalcctl doc stdlib" lists the Starlark modules
that scripts load with load("@stdlib//NAME.star", ...).

Flags:
`

func docCommand(args []string, std IO) error {
	fs := pflag.NewFlagSet("doc", pflag.ContinueOnError)
	markdown := fs.Bool("markdown", false, "print the whole reference as Markdown, as in docs/builtins.md")
	if err := parseFlags(fs, docUsage, args, std); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return &runtime.UsageError{Msg: "doc takes at most one MODULE or MODULE.NAME"}
	}

	modules := all.DocModules()
	if *markdown {
		fmt.Fprint(std.Stdout, runtime.Markdown(modules))
		return nil
	}
	if fs.NArg() == 0 {
		for _, m := range modules {
			fmt.Fprint(std.Stdout, runtime.ModuleText(m, false))
		}
		return nil
	}

	want := fs.Arg(0)
	if want == "stdlib" {
		text, err := runtime.StdlibDoc(stdlib.FS)
		if err != nil {
			return err
		}
		fmt.Fprint(std.Stdout, text)
		return nil
	}
	for _, m := range modules {
		if m.Name == want {
			fmt.Fprint(std.Stdout, runtime.ModuleText(m, false))
			return nil
		}
		if b, ok := m.Find(want); ok {
			fmt.Fprint(std.Stdout, runtime.BuiltinText(b, false))
			return nil
		}
	}
	var names []string
	for _, m := range modules {
		names = append(names, m.Name)
	}
	return &runtime.UsageError{Msg: fmt.Sprintf("no module or builtin %q; the modules are: %s (methods such as ca.issue and session.query are listed under their module; stdlib lists the Starlark modules)", want, strings.Join(names, ", "))}
}

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func versionCommand(args []string, std IO) error {
	fs := pflag.NewFlagSet("version", pflag.ContinueOnError)
	if err := parseFlags(fs, "Usage: cocalcctl version\n\nPrints the version of cocalcctl and the Go toolchain that built it.\n", args, std); err != nil {
		return err
	}

	line := "cocalcctl " + version
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				line += " (" + s.Value[:12] + ")"
			}
		}
		line += " " + info.GoVersion
	}
	fmt.Fprintln(std.Stdout, line)
	return nil
}
