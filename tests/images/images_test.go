package images

import (
	"strings"
	"testing"
)

func TestTagsFromTagsEnv(t *testing.T) {
	want := map[string]string{
		"DebianTrixie":  "cocalcctl-test/debian:trixie",
		"Postgres17":    "cocalcctl-test/postgres:17",
		"Postgres15":    "cocalcctl-test/postgres:15",
		"CoCalcStandin": "cocalcctl-test/cocalc-standin:latest",
	}
	got := map[string]string{
		"DebianTrixie":  DebianTrixie,
		"Postgres17":    Postgres17,
		"Postgres15":    Postgres15,
		"CoCalcStandin": CoCalcStandin,
	}
	for name, tag := range want {
		if got[name] != tag {
			t.Errorf("%s = %q, want %q", name, got[name], tag)
		}
	}
	if len(All()) != 4 {
		t.Errorf("All() has %d tags, want 4", len(All()))
	}
}

func TestParseTagsRejectsBadLine(t *testing.T) {
	_, err := parseTags("# comment\n\nPOSTGRES_17\n")
	if err == nil {
		t.Fatal("parseTags accepted a line without '='")
	}
	if !strings.Contains(err.Error(), "line 3") {
		t.Errorf("error %q does not name line 3", err)
	}
}

func TestRequireFindsBuiltImages(t *testing.T) {
	Require(t, DebianTrixie, Postgres17, Postgres15)
}
