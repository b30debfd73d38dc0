package postgres

import "testing"

func TestRemoveHBAByKey(t *testing.T) {
	content := "local all postgres peer\nhost cocalc cocalc samenet scram-sha-256\nhostssl cocalc cocalc samenet cert\nhost all all 127.0.0.1/32 scram-sha-256\n"

	got, detail := removeHBA(content, "host cocalc cocalc samenet cert")
	want := "local all postgres peer\nhostssl cocalc cocalc samenet cert\nhost all all 127.0.0.1/32 scram-sha-256\n"
	if got != want {
		t.Errorf("removeHBA:\n got %q\nwant %q", got, want)
	}
	if detail != "removed host cocalc cocalc samenet scram-sha-256" {
		t.Errorf("detail %q", detail)
	}

	again, detail := removeHBA(got, "host cocalc cocalc samenet cert")
	if again != got || detail != "" {
		t.Errorf("a second removal changed the file: %q (%q)", again, detail)
	}
}
