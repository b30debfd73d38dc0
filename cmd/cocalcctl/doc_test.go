package main

import (
	"os"
	"strings"
	"testing"

	"github.com/cocalcctl/cocalcctl/builtins/all"
	"github.com/cocalcctl/cocalcctl/builtins/runtime"
)

func TestEveryBuiltinDocumented(t *testing.T) {
	for _, m := range all.DocModules() {
		if strings.TrimSpace(m.Doc) == "" {
			t.Errorf("module %s has no doc", m.Name)
		}
		for _, b := range m.Builtins {
			sig, body, _ := strings.Cut(strings.TrimSpace(b.Doc), "\n")
			if !strings.HasPrefix(sig, b.Name+"(") && !strings.HasPrefix(sig, b.Name) {
				t.Errorf("%s: the doc's first line %q is not its signature", b.Name, sig)
			}
			if strings.TrimSpace(body) == "" {
				t.Errorf("%s: the doc has a signature but no description", b.Name)
			}
			if !strings.HasPrefix(b.Name, m.Name+".") && b.Fn != nil {
				t.Errorf("%s is registered in module %s without its qualified name", b.Name, m.Name)
			}
		}
	}

	// Every member of every module value must come from a documented entry.
	for _, m := range all.DocModules() {
		for short := range m.Value().Members {
			if _, ok := m.Find(m.Name + "." + short); !ok {
				t.Errorf("%s.%s is registered but not documented", m.Name, short)
			}
		}
	}
}

func TestBuiltinsMarkdownFresh(t *testing.T) {
	want := runtime.Markdown(all.DocModules())
	got, err := os.ReadFile("../../docs/builtins.md")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("docs/builtins.md is stale; run: go run ./cmd/cocalcctl doc --markdown > docs/builtins.md")
	}
}
