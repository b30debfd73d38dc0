// Package all registers every Starlark module of cocalcctl in one list.
package all

import (
	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/cocalcctl/cocalcctl/builtins/cocalc"
	"github.com/cocalcctl/cocalcctl/builtins/docker"
	"github.com/cocalcctl/cocalcctl/builtins/files"
	"github.com/cocalcctl/cocalcctl/builtins/pki"
	"github.com/cocalcctl/cocalcctl/builtins/postgres"
	"github.com/cocalcctl/cocalcctl/builtins/runtime"
	"github.com/cocalcctl/cocalcctl/builtins/scripttest"
	"github.com/cocalcctl/cocalcctl/builtins/secret"
)

// Modules lists the modules in the order the reference documents them.
func Modules() []runtime.Module {
	return []runtime.Module{
		secret.Module,
		files.Module,
		pki.Module,
		docker.Module,
		postgres.Module,
		cocalc.Module,
	}
}

// DocModules lists every documented module: the script modules, the core
// names and the modules that only script tests see.
func DocModules() []runtime.Module {
	mods := append([]runtime.Module{runtime.CoreModule}, Modules()...)
	return append(mods, scripttest.Modules(scripttest.Options{})...)
}

// Both fakes can be looked into with testing.fake.
var (
	_ scripttest.Inspector = (*docker.Fake)(nil)
	_ scripttest.Inspector = (*postgres.Fake)(nil)
)

// Fakes installs fresh fake backends into env, for `cocalcctl test`. The
// PostgreSQL fake is linked to the Docker fake, so a server in a container
// reads the pg_hba.conf and postgresql.conf that postgres.hba and
// postgres.conf write there.
func Fakes(env *runtime.Env) {
	engine := docker.NewFake()
	db := postgres.NewFake()
	db.Engine = engine
	env.SetBackend(docker.BackendKey, engine)
	env.SetBackend(postgres.BackendKey, db)
	env.SetBackend(cocalc.ProberKey, &cocalc.FakeProber{Status: 200})
}

// Predeclared returns the names every script starts with: the modules and
// the core helpers of the runtime.
func Predeclared() starlark.StringDict {
	d := runtime.Core()
	for _, m := range Modules() {
		d[m.Name] = m.Value()
	}
	cocalc.Modules["docker"] = d["docker"].(*starlarkstruct.Module)
	cocalc.Modules["postgres"] = d["postgres"].(*starlarkstruct.Module)
	return d
}
