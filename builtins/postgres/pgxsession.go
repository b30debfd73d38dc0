package postgres

import (
	"context"
	"fmt"
	"net"
	"strconv"

	"github.com/jackc/pgx/v5/pgconn"
)

// pgxSession is a Session over one pgconn connection. It uses the protocol
// level of pgx so that arguments go as text of unknown type and results come
// back as text, the same values a psql session returns.
type pgxSession struct {
	conn   *pgconn.PgConn
	config *pgconn.Config
	info   Info
}

// openPgx connects with config.
func openPgx(ctx context.Context, config *pgconn.Config) (*pgxSession, error) {
	conn, err := pgconn.ConnectConfig(ctx, config)
	if err != nil {
		return nil, err
	}
	return &pgxSession{conn: conn, config: config, info: Info{
		Kind: "connect", User: config.User, Database: config.Database,
		Where: net.JoinHostPort(config.Host, strconv.Itoa(int(config.Port))),
	}}, nil
}

// Exec implements Session. Statements run one by one, each in its own
// transaction unless the SQL text opens one, as psql runs a script.
func (s *pgxSession) Exec(ctx context.Context, sql string, args ...any) (int64, error) {
	stmts, err := splitSQL(sql)
	if err != nil {
		return 0, err
	}
	if err := checkArgs(stmts, len(args)); err != nil {
		return 0, err
	}

	if len(args) > 0 {
		params, err := encodeParams(args)
		if err != nil {
			return 0, err
		}
		res := s.conn.ExecParams(ctx, stmts[0].text, params, nil, nil, nil).Read()
		if res.Err != nil {
			return 0, res.Err
		}
		return res.CommandTag.RowsAffected(), nil
	}

	var affected int64
	for _, st := range stmts {
		results, err := s.conn.Exec(ctx, st.text).ReadAll()
		if err != nil {
			return 0, err
		}
		affected = 0
		if n := len(results); n > 0 {
			affected = results[n-1].CommandTag.RowsAffected()
		}
	}
	return affected, nil
}

// Query implements Session.
func (s *pgxSession) Query(ctx context.Context, sql string, args ...any) (*Result, error) {
	stmts, err := splitSQL(sql)
	if err != nil {
		return nil, err
	}
	if len(stmts) > 1 {
		return nil, fmt.Errorf("a query must be one statement, got %d statements", len(stmts))
	}
	if err := checkArgs(stmts, len(args)); err != nil {
		return nil, err
	}
	params, err := encodeParams(args)
	if err != nil {
		return nil, err
	}

	// Describe first, so that a statement without rows fails before it
	// runs, as it does in psql's \gdesc.
	sd, err := s.conn.Prepare(ctx, "", stmts[0].text, nil)
	if err != nil {
		return nil, err
	}
	if len(sd.Fields) == 0 {
		return nil, ErrNoRows
	}
	rr := s.conn.ExecStatement(ctx, sd, params, nil, nil)
	var raws [][][]byte
	for rr.NextRow() {
		row := make([][]byte, len(rr.Values()))
		for i, v := range rr.Values() {
			if v != nil {
				row[i] = append([]byte{}, v...)
			}
		}
		raws = append(raws, row)
	}
	fields := sd.Fields
	if _, err := rr.Close(); err != nil {
		return nil, err
	}
	out := &Result{}
	types := make([]ColumnType, len(fields))
	for i, fd := range fields {
		out.Columns = append(out.Columns, fd.Name)
		types[i] = typeOfOID(fd.DataTypeOID)
	}
	if err := checkColumns(out.Columns); err != nil {
		return nil, err
	}
	for _, raw := range raws {
		row := make([]any, len(raw))
		for i, v := range raw {
			if v == nil {
				continue
			}
			if row[i], err = decodeText(string(v), types[i]); err != nil {
				return nil, fmt.Errorf("column %q: %w", out.Columns[i], err)
			}
		}
		out.Rows = append(out.Rows, row)
	}
	return out, nil
}

// Login implements Session by opening a second connection with the same
// host, port, database and TLS settings.
func (s *pgxSession) Login(ctx context.Context, user, password string) error {
	config := s.config.Copy()
	config.User = user
	config.Password = password
	conn, err := pgconn.ConnectConfig(ctx, config)
	if err != nil {
		return err
	}
	return conn.Close(ctx)
}

// OpenDatabase implements Session.
func (s *pgxSession) OpenDatabase(ctx context.Context, name string) (Session, error) {
	config := s.config.Copy()
	config.Database = name
	other, err := openPgx(ctx, config)
	if err != nil {
		return nil, err
	}
	other.info.Where = s.info.Where
	return other, nil
}

// Info implements Session.
func (s *pgxSession) Info() Info { return s.info }

// Close implements Session.
func (s *pgxSession) Close() error {
	return s.conn.Close(context.Background())
}

func encodeParams(args []any) ([][]byte, error) {
	if len(args) == 0 {
		return nil, nil
	}
	out := make([][]byte, len(args))
	for i, a := range args {
		s, err := encodeParam(a)
		if err != nil {
			return nil, fmt.Errorf("argument %d: %w", i+1, err)
		}
		if s != nil {
			out[i] = []byte(*s)
		}
	}
	return out, nil
}
