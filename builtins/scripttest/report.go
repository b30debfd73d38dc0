package scripttest

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// Report runs every selected test in files and writes the results in the
// style of go test: with verbose a line per test, otherwise only failures,
// then a line per file and a closing count. It returns the number of failed
// tests and files that could not be loaded.
func Report(files []string, opts Options, out io.Writer, verbose, jsonOut bool) int {
	var passed, failed int
	for _, file := range files {
		start := time.Now()
		results, err := RunFile(file, opts)
		if err != nil {
			failed++
			if jsonOut {
				writeJSON(out, map[string]any{"file": file, "action": "fail", "error": err.Error()})
			} else {
				fmt.Fprintf(out, "FAIL\t%s\t(cannot load)\n%s\n", file, indentText(err.Error()))
			}
			continue
		}

		fileFailed := 0
		for _, r := range results {
			if r.Passed {
				passed++
			} else {
				failed++
				fileFailed++
			}
			if jsonOut {
				ev := map[string]any{"file": r.File, "test": r.Name, "action": "pass", "elapsed_ms": r.Elapsed.Milliseconds()}
				if !r.Passed {
					ev["action"] = "fail"
					ev["error"] = r.Error
					ev["output"] = r.Output
				}
				writeJSON(out, ev)
				continue
			}
			if verbose {
				fmt.Fprintf(out, "=== RUN   %s::%s\n", r.File, r.Name)
				if r.Output != "" {
					fmt.Fprint(out, indentText(strings.TrimRight(r.Output, "\n"))+"\n")
				}
			}
			switch {
			case !r.Passed:
				fmt.Fprintf(out, "--- FAIL: %s::%s (%.2fs)\n%s\n", r.File, r.Name, r.Elapsed.Seconds(), indentText(r.Error))
			case verbose:
				fmt.Fprintf(out, "--- PASS: %s::%s (%.2fs)\n", r.File, r.Name, r.Elapsed.Seconds())
			}
		}
		if jsonOut {
			continue
		}
		status := "ok  "
		if fileFailed > 0 {
			status = "FAIL"
		}
		fmt.Fprintf(out, "%s\t%s\t%.3fs\t(%d tests)\n", status, file, time.Since(start).Seconds(), len(results))
	}
	if !jsonOut {
		if passed+failed == 0 {
			fmt.Fprintln(out, "warning: no test matches; check --run")
		}
		fmt.Fprintf(out, "%d passed, %d failed\n", passed, failed)
	}
	return failed
}

func writeJSON(out io.Writer, v any) {
	data, _ := json.Marshal(v)
	fmt.Fprintf(out, "%s\n", data)
}

func indentText(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = "    " + l
	}
	return strings.Join(lines, "\n")
}
