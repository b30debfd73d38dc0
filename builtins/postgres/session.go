package postgres

import (
	"context"
	"errors"
	"fmt"
)

// Session is a connection to one database as one role. The pgx session
// (postgres.connect), the psql session inside a container (postgres.local)
// and the fake in package pgfake implement it, and one contract suite in
// package postgrestest runs against all three.
//
// Arguments are Go values: nil, string, bool, int64, float64, []byte and
// []any (an array). They are bound as parameters $1, $2, ... and never
// pasted into the SQL text. Result values have the same types.
type Session interface {
	// Exec runs sql, which may hold several statements when args is empty,
	// and returns the number of rows the last statement affected.
	Exec(ctx context.Context, sql string, args ...any) (int64, error)

	// Query runs one statement that returns rows and returns them.
	Query(ctx context.Context, sql string, args ...any) (*Result, error)

	// Login reports whether user can log in with password over the same
	// transport as this session (same host, port and TLS settings). It
	// returns nil when the login works, an error whose SQLSTATE is 28P01
	// (invalid_password) when the password is wrong, and another error when
	// the login cannot be tried.
	Login(ctx context.Context, user, password string) error

	// OpenDatabase opens a session like this one (same server, role and
	// transport) to another database.
	OpenDatabase(ctx context.Context, name string) (Session, error)

	// Info describes the session.
	Info() Info

	// Close ends the session.
	Close() error
}

// Info describes a session for messages and rendered calls.
type Info struct {
	// Kind is "connect", "local" or "fake".
	Kind string

	// User and Database are the role and database of the session.
	User, Database string

	// Where is the server's address (host:port) or the container's name.
	Where string
}

func (i Info) String() string {
	return fmt.Sprintf("%s@%s/%s", i.User, i.Where, i.Database)
}

// Result is the outcome of a query: the columns in order and one slice of
// values per row, in column order.
type Result struct {
	Columns []string
	Rows    [][]any
}

// ErrNoRows is returned by Query when the statement returns no row
// description, such as an INSERT without RETURNING.
var ErrNoRows = errors.New("the statement returns no rows; run it with exec")

// ErrNotAvailable is returned by Session.Login when the session cannot try a
// login, as inside a container where psql logs in over a Unix socket.
var ErrNotAvailable = errors.New("this kind of session cannot try a login")

// checkColumns rejects two columns with the same name, because rows become
// dicts keyed by column name.
func checkColumns(cols []string) error {
	seen := map[string]bool{}
	for _, c := range cols {
		if seen[c] {
			return fmt.Errorf("the query returns two columns named %q; give them different names with AS", c)
		}
		seen[c] = true
	}
	return nil
}
