package runtime

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Status is the outcome of one step.
type Status string

// The statuses a step reports. The "would" forms are reported under --dry-run.
const (
	Created     Status = "created"
	Changed     Status = "changed"
	Unchanged   Status = "unchanged"
	Removed     Status = "removed"
	Ran         Status = "ran"
	Drift       Status = "drift"
	Refused     Status = "refused"
	Warning     Status = "warning"
	Failed      Status = "failed"
	WouldCreate Status = "would create"
	WouldChange Status = "would change"
	WouldRemove Status = "would remove"
	WouldRun    Status = "would run"
)

// AllStatuses lists every status in the order the summary line prints them.
var AllStatuses = []Status{
	Created, Changed, Unchanged, Removed, Ran, Drift, Refused, Warning, Failed,
	WouldCreate, WouldChange, WouldRemove, WouldRun,
}

// Would returns the dry-run form of a status that changes something, and the
// status itself otherwise.
func Would(s Status) Status {
	switch s {
	case Created:
		return WouldCreate
	case Changed:
		return WouldChange
	case Removed:
		return WouldRemove
	case Ran:
		return WouldRun
	}
	return s
}

// Event is one line of --json output. Its fields are documented in
// docs/output.md; keep the two in step.
type Event struct {
	// Type is "step", "progress", "error" or "summary".
	Type string `json:"type"`

	// Call is the step rendered as the Starlark call that reproduces it.
	Call string `json:"call,omitempty"`

	// Status is the step's status.
	Status Status `json:"status,omitempty"`

	// Position is the script position of the call, as file:line:col.
	Position string `json:"position,omitempty"`

	// DurationMS is how long the step or the run took, in milliseconds.
	DurationMS int64 `json:"duration_ms"`

	// Detail explains the status: the differences of a drift, the reason of
	// a refusal or warning, a progress message, or the text of an error.
	Detail string `json:"detail,omitempty"`

	// Counts holds the number of steps per status, in a summary event.
	Counts map[Status]int `json:"counts,omitempty"`

	// OK is false in a summary event when the run failed.
	OK *bool `json:"ok,omitempty"`
}

// Reporter writes step events as text lines on stderr and, with JSON set, as
// JSON lines on stdout.
type Reporter struct {
	mu       sync.Mutex
	text     io.Writer
	json     io.Writer
	redact   func(string) string
	terminal bool
	counts   map[Status]int
	start    time.Time
	clock    Clock

	// Stable replaces durations with "<duration>" in text and 0 in JSON, for
	// golden tests.
	Stable bool
}

// NewReporter returns a Reporter that writes text lines to text and, when
// jsonOut is not nil, JSON lines to jsonOut. terminal enables progress lines
// that overwrite each other.
func NewReporter(text, jsonOut io.Writer, terminal bool) *Reporter {
	return &Reporter{text: text, json: jsonOut, terminal: terminal, counts: map[Status]int{}, clock: SystemClock{}}
}

func (r *Reporter) scrub(s string) string {
	if r.redact == nil {
		return s
	}
	return r.redact(s)
}

// Emit writes one event.
func (r *Reporter) Emit(ev Event) {
	r.mu.Lock()
	defer r.mu.Unlock()

	ev.Call = r.scrub(ev.Call)
	ev.Detail = r.scrub(ev.Detail)
	if r.Stable {
		ev.DurationMS = 0
	}
	if ev.Type == "step" {
		r.counts[ev.Status]++
	}

	if r.json != nil {
		var data []byte
		if ev.Type == "summary" {
			// A summary always carries its counts, even when there are none.
			data, _ = json.Marshal(struct {
				Type       string         `json:"type"`
				DurationMS int64          `json:"duration_ms"`
				Counts     map[Status]int `json:"counts"`
				OK         *bool          `json:"ok"`
			}{ev.Type, ev.DurationMS, ev.Counts, ev.OK})
		} else {
			data, _ = json.Marshal(ev)
		}
		fmt.Fprintf(r.json, "%s\n", data)
	}
	if r.text == nil {
		return
	}
	switch ev.Type {
	case "step":
		fmt.Fprintf(r.text, "%-13s %s  [%s]\n", ev.Status, ev.Call, r.duration(ev.DurationMS))
		if ev.Detail != "" {
			for _, line := range strings.Split(ev.Detail, "\n") {
				fmt.Fprintf(r.text, "              %s\n", line)
			}
		}
	case "progress":
		fmt.Fprintf(r.text, "%-13s %s: %s\n", "...", ev.Call, ev.Detail)
	case "error":
		// The command prints the error text itself; only JSON gets an event.
	case "summary":
		fmt.Fprintf(r.text, "%s\n", summaryLine(ev.Counts, ev.OK != nil && *ev.OK, r.duration(ev.DurationMS)))
	}
}

func (r *Reporter) duration(ms int64) string {
	if r.Stable {
		return "<duration>"
	}
	if ms < 1000 {
		return fmt.Sprintf("%dms", ms)
	}
	return fmt.Sprintf("%.1fs", float64(ms)/1000)
}

// Counts returns the number of steps per status so far.
func (r *Reporter) Counts() map[Status]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[Status]int{}
	for k, v := range r.counts {
		out[k] = v
	}
	return out
}

// Error emits the error that ended the run, as the user sees it.
func (r *Reporter) Error(text string) {
	r.Emit(Event{Type: "error", Detail: text})
}

// Summary emits the closing event of a run with the count per status.
func (r *Reporter) Summary(ok bool, d time.Duration) {
	r.Emit(Event{Type: "summary", Counts: r.Counts(), OK: &ok, DurationMS: d.Milliseconds()})
}

func summaryLine(counts map[Status]int, ok bool, dur string) string {
	var parts []string
	for _, s := range AllStatuses {
		if n := counts[s]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, s))
		}
	}
	if len(parts) == 0 {
		parts = append(parts, "no steps")
	}
	word := "done"
	if !ok {
		word = "failed"
	}
	return fmt.Sprintf("%s: %s in %s", word, strings.Join(parts, ", "), dur)
}
