package postgres_test

import (
	"math/rand/v2"
	"strconv"
	"strings"
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

// TestQuotingOnServer sends literals and identifiers made by QuoteLiteral
// and QuoteIdent to the server and compares what it reads with the values
// bound as parameters.
func TestQuotingOnServer(t *testing.T) {
	s := mainServer(t)
	port, _ := strconv.Atoi(s.Port)
	sess, err := postgres.Open(t.Context(), &postgres.ConnectOptions{Host: s.Socket, Port: port, User: "postgres", Database: "postgres"})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	values := []string{"", "'", "''", `\`, `\'`, `E'\x41'`, "$1", "$$", "--", "/*", ";", "\"", "a'; drop table x; --",
		"ünï\tcødé\n密码", `%s:'x'`, strings.Repeat(`'\`, 50)}
	for i := 0; i < 200; i++ {
		b := make([]rune, rand.IntN(12))
		for j := range b {
			b[j] = []rune("'\"\\$;-/* \nab€")[rand.IntN(13)]
		}
		values = append(values, string(b))
	}
	for _, v := range values {
		lit, err := postgres.QuoteLiteral(v)
		if err != nil {
			t.Fatal(err)
		}
		res, err := sess.Query(t.Context(), "select "+lit+" = $1::text as same", v)
		if err != nil || res.Rows[0][0] != true {
			t.Errorf("literal %s for %q: %v %v", lit, v, res, err)
		}
		ident, err := postgres.QuoteIdent(v)
		if v == "" || len(v) > 63 {
			if err == nil {
				t.Errorf("QuoteIdent(%q) accepted a name PostgreSQL cannot hold", v)
			}
			continue
		}
		res, err = sess.Query(t.Context(), "select 1 as "+ident)
		if err != nil || res.Columns[0] != v {
			t.Errorf("identifier %s for %q: %v %v", ident, v, res, err)
		}
	}
}
