package postgres_test

import (
	"strconv"
	"testing"

	"github.com/cocalcctl/cocalcctl/builtins/postgres"
	"github.com/cocalcctl/cocalcctl/builtins/postgres/postgrestest"
)

// TestPgxContract runs the session contract against a pgx session over TLS
// with a password, so that Login is tried for real.
func TestPgxContract(t *testing.T) {
	s := mainServer(t)
	f := fixture(t)
	mustRun(t, f, s, `postgres.connect(**ADMIN).exec("alter role postgres password 'contract admin pass'")`)
	port, _ := strconv.Atoi(s.Port)
	postgrestest.Run(t, postgrestest.Target{
		Password: "contract admin pass",
		Open: func(t *testing.T) postgres.Session {
			sess, err := postgres.Open(t.Context(), &postgres.ConnectOptions{
				Host: "localhost", Port: port, User: "postgres", Database: "postgres",
				Password: "contract admin pass", SSLMode: "verify-full", SSLRootCert: s.TLS.CA,
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { sess.Close() })
			return sess
		},
	})
}
