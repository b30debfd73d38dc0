package postgres_test

import (
	"crypto/tls"
	"testing"

	"github.com/cocalcctl/cocalcctl/builtins/postgres"
	"github.com/cocalcctl/cocalcctl/builtins/postgres/postgrestest"
)

// TestFakeContract runs the session contract against the fake.
func TestFakeContract(t *testing.T) {
	fake := postgres.NewFake()
	server := fake.Server("db.test:5432")
	server.Roles["postgres"].Password, _ = postgres.ScramVerifier("admin pass")
	server.HBA = []postgres.FakeHBA{{Type: "hostssl", Database: "all", User: "all", Method: "scram-sha-256"}}
	postgrestest.Run(t, postgrestest.Target{
		Fake:     server,
		Password: "admin pass",
		Open: func(t *testing.T) postgres.Session {
			s, err := fake.Connect(t.Context(), &postgres.ConnSpec{Host: "db.test", Port: 5432, User: "postgres",
				Database: "postgres", Password: "admin pass", SSLMode: "require", TLS: fakeTLS})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
	})
}

// fakeTLS stands for a TLS connection in a ConnSpec given to the fake.
var fakeTLS = []*tls.Config{{}}
