// Package bench holds benchmarks of cocalcctl; the measured numbers and how
// to repeat them are in docs/benchmarks.md.
package bench

import (
	"path/filepath"
	"testing"

	"github.com/cocalcctl/cocalcctl/builtins/all"
	"github.com/cocalcctl/cocalcctl/builtins/scripttest"
	"github.com/cocalcctl/cocalcctl/stdlib"
)

// BenchmarkScriptTests measures one run of every script test under
// scripts/, in process: what `cocalcctl test scripts/` does after start-up.
func BenchmarkScriptTests(b *testing.B) {
	files, err := scripttest.Discover([]string{filepath.Join("..", "scripts")})
	if err != nil {
		b.Fatal(err)
	}
	opts := scripttest.Options{Predeclared: all.Predeclared, Stdlib: stdlib.FS, Fakes: all.Fakes}
	tests := 0
	for b.Loop() {
		tests = 0
		for _, file := range files {
			results, err := scripttest.RunFile(file, opts)
			if err != nil {
				b.Fatal(err)
			}
			for _, r := range results {
				if !r.Passed {
					b.Fatalf("%s::%s failed:\n%s", r.File, r.Name, r.Error)
				}
			}
			tests += len(results)
		}
	}
	b.ReportMetric(float64(tests), "tests/op")
}
