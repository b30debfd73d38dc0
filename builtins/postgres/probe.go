package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"go.starlark.net/starlark"

	"github.com/cocalcctl/cocalcctl/builtins/runtime"
	"github.com/cocalcctl/cocalcctl/builtins/secret"
)

const docListenNotify = `postgres.listen_notify(session, timeout=10)

Checks that the server behind session delivers notifications as CoCalc needs them: one
connection runs LISTEN and then another statement in a later transaction, a second connection
sends NOTIFY with a random payload, and the first connection must receive it within timeout
seconds. A pooler in transaction mode (PgBouncer's pool_mode=transaction, Supabase's port 6543)
gives the listener's server connection to other clients between transactions, so the
notification does not arrive there and the check fails.

Both connections use the session's host, port, user, database, password and TLS settings and are
closed before it returns; the session itself runs nothing. Reports unchanged with the time the
round trip took. Runs under --dry-run too, because LISTEN and NOTIFY change no data. Needs a
session from postgres.connect.`

const docCanLogin = `postgres.can_login(session, user, password)

Reports whether user can log in with password (a secret or a string) over the session's host,
port, database and TLS settings: it opens a second connection and closes it at once. Returns False
when the server rejects the password or the user: SQLSTATE 28P01, 28000 for a role that does not
exist, or a pooler's message that authentication failed or that the user does not exist
(PgBouncer and Supavisor use other codes). Any other failure is an error with its hint. A
password that is (known after apply) under --dry-run gives False.

postgres.role checks an existing role's password by logging in as that role, under its own name.
Behind a pooler whose user names differ from the role names (Supabase's "ROLE.PROJECTREF"),
check with can_login under the pooler's name first and pass the password to postgres.role only
when it returns False. Not a step.`

// notifier is a Session that can check a LISTEN/NOTIFY round trip.
type notifier interface {
	// NotifyRoundTrip listens on channel with one new connection, sends
	// payload on it with another, and waits up to wait for the first to
	// receive it. It returns errNoNotification when nothing arrives.
	NotifyRoundTrip(ctx context.Context, channel, payload string, wait time.Duration) error
}

var errNoNotification = errors.New("no notification arrived")

func listenNotify(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		sv      *SessionValue
		timeout = 10
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "session", &sv, "timeout?", &timeout); err != nil {
		return nil, err
	}
	if timeout < 1 {
		return nil, fmt.Errorf("%s: timeout %d is not positive: give seconds, such as 10", b.Name(), timeout)
	}

	env := runtime.EnvOf(thread)
	step := runtime.Begin(thread, b, args, kwargs)
	info := sv.Session.Info()
	if info.Kind == "fake" {
		// The fake servers of `cocalcctl test` model no pooler, so a
		// notification always arrives.
		step.Report(runtime.Unchanged, "the fake server delivers notifications")
		return starlark.None, nil
	}
	n, ok := sv.Session.(notifier)
	if !ok {
		return nil, step.Fail(fmt.Errorf("%s: session %s runs psql in a container, which cannot wait for notifications: "+
			"open the session with postgres.connect", b.Name(), info))
	}

	channel, payload := "cocalcctl_check_"+randomHex(6), randomHex(16)
	start := env.Clock.Now()
	err := n.NotifyRoundTrip(env.Ctx, channel, payload, time.Duration(timeout)*time.Second)
	switch {
	case errors.Is(err, errNoNotification):
		return nil, step.Fail(fmt.Errorf("%s: a NOTIFY sent to %s did not reach a connection that ran LISTEN there within %ds; "+
			"CoCalc needs LISTEN/NOTIFY across transactions of one session, which a pooler in transaction mode does not keep: "+
			"connect to the server directly or through a pooler in session mode (Supabase: the session pooler on port 5432, not 6543)",
			b.Name(), info.Where, timeout))
	case err != nil:
		return nil, step.Fail(fmt.Errorf("%s: %w", b.Name(), explainSQL(err)))
	}
	step.Report(runtime.Unchanged, fmt.Sprintf("a notification arrived after %s", env.Clock.Now().Sub(start).Round(time.Millisecond)))
	return starlark.None, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// NotifyRoundTrip implements notifier with two new connections made from the
// session's configuration.
func (s *pgxSession) NotifyRoundTrip(ctx context.Context, channel, payload string, wait time.Duration) error {
	received := make(chan *pgconn.Notification, 16)
	listenConfig := s.checkConfig()
	listenConfig.OnNotification = func(_ *pgconn.PgConn, n *pgconn.Notification) {
		select {
		case received <- n:
		default:
		}
	}
	listener, err := pgconn.ConnectConfig(ctx, listenConfig)
	if err != nil {
		return fmt.Errorf("cannot open the listening connection: %w", err)
	}
	defer listener.Close(context.Background())

	ident, err := QuoteIdent(channel)
	if err != nil {
		return err
	}
	// The second statement runs in a transaction of its own, after which
	// a transaction-mode pooler gives the server connection to others.
	for _, sql := range []string{"LISTEN " + ident, "SELECT 1"} {
		if _, err := listener.Exec(ctx, sql).ReadAll(); err != nil {
			return fmt.Errorf("%s on the listening connection: %w", strings.Fields(sql)[0], err)
		}
	}

	sender, err := pgconn.ConnectConfig(ctx, s.checkConfig())
	if err != nil {
		return fmt.Errorf("cannot open the sending connection: %w", err)
	}
	defer sender.Close(context.Background())
	res := sender.ExecParams(ctx, "SELECT pg_notify($1, $2)", [][]byte{[]byte(channel), []byte(payload)}, nil, nil, nil).Read()
	if res.Err != nil {
		return fmt.Errorf("NOTIFY on the sending connection: %w", res.Err)
	}

	waitCtx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	for {
		select {
		case n := <-received:
			if n.Channel == channel && n.Payload == payload {
				return nil
			}
			continue
		default:
		}
		if err := listener.WaitForNotification(waitCtx); err != nil {
			if waitCtx.Err() != nil {
				return errNoNotification
			}
			return fmt.Errorf("waiting for the notification: %w", err)
		}
	}
}

// checkConfig returns a copy of the session's configuration without the
// dry run's read-only setting: LISTEN and NOTIFY are refused in read-only
// transactions but change no data.
func (s *pgxSession) checkConfig() *pgconn.Config {
	config := s.config.Copy()
	config.AfterConnect = nil
	return config
}

func canLogin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		sv       *SessionValue
		user     string
		password secret.Value
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "session", &sv, "user", &user, "password", &password); err != nil {
		return nil, err
	}
	if user == "" {
		return nil, fmt.Errorf("%s: user is empty: name the role to log in as", b.Name())
	}
	if password.Unknown != nil {
		return starlark.False, nil
	}
	if password.Secret == nil {
		return nil, fmt.Errorf("%s: password is None: give the password to try, a secret or a string", b.Name())
	}

	env := runtime.EnvOf(thread)
	err := sv.Session.Login(env.Ctx, user, password.Secret.Reveal())
	switch {
	case err == nil:
		return starlark.True, nil
	case errors.Is(err, ErrNotAvailable):
		return nil, fmt.Errorf("%s: session %s cannot try a login: open it with postgres.connect", b.Name(), sv.Session.Info())
	case authenticationFailed(err):
		return starlark.False, nil
	}
	return nil, fmt.Errorf("%s: cannot try a login as %q on %s: %w", b.Name(), user, sv.Session.Info().Where, explainSQL(err))
}

// authenticationFailed reports whether err is a server's or a pooler's
// rejection of the password or the user. PostgreSQL uses SQLSTATE 28P01,
// or 28000 for a role that does not exist when it requests no password.
// Poolers use other codes, so their messages decide there: PgBouncer 1.24
// sends 08P01 with "SASL authentication failed" or "no such user", and
// Supavisor reports an unknown user as "Tenant or user not found".
func authenticationFailed(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	switch {
	case pgErr.Code == "28P01":
		return true
	case pgErr.Code == "28000" && strings.Contains(pgErr.Message, "does not exist"):
		// A role that does not exist, where the server requests no password.
		return true
	}
	message := strings.ToLower(pgErr.Message)
	for _, rejection := range []string{"authentication failed", "no such user", "user not found"} {
		if strings.Contains(message, rejection) {
			return true
		}
	}
	return false
}
