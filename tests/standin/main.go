// Command cocalc-standin is a test fixture that behaves like the
// cocalc-docker hub towards its PostgreSQL database. It reads the same
// environment and connects along the hub's three code paths with the same
// TLS checks. It retries a failed connection forever, creates a schema the
// way the hub does and exits when that fails. It serves HTTPS with a health
// check and a sign-up endpoint. It is not CoCalc: users run the real image.
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	os.Exit(run())
}

func run() int {
	logger := log.New(os.Stdout, "cocalc-standin: ", log.LstdFlags|log.LUTC|log.Lmsgprefix)
	// pgx lists the errors of several connection attempts on separate
	// lines. The log keeps one line per event.
	oneLine := strings.NewReplacer(":\n\t", ": ", "\n\t", "; ", "\n", "; ")
	logf := func(format string, args ...any) {
		logger.Print(oneLine.Replace(fmt.Sprintf(format, args...)))
	}

	cfg, err := loadConfig(os.LookupEnv)
	if err != nil {
		logf("start-up failed: %v", err)
		return 1
	}
	logf("starting with %s", cfg.describe())
	if !cfg.RejectUnauthorized {
		logf("warning: NODE_TLS_REJECT_UNAUTHORIZED=0 turns off certificate verification for the hub's Node connections")
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	state := &hubState{phase: "connecting to the database"}
	address := os.Getenv("COCALC_STANDIN_LISTEN")
	if address == "" {
		address = ":443"
	}
	if err := startHTTPS(ctx, address, newHandler(cfg, state, logf), logf); err != nil {
		logf("start-up failed: %v", err)
		return 1
	}

	if !connectUntilSuccess(ctx, cfg, logf) {
		logf("stopped before the database was reached")
		return 0
	}

	state.setPhase("creating the schema")
	if err := syncSchema(ctx, cfg, logf); err != nil {
		// The hub logs the error and exits with status 1 here, and nothing
		// restarts it.
		logf("schema sync failed, exiting: %v", err)
		return 1
	}
	state.setReady()
	logf("ready")

	go watchAccounts(ctx, cfg, logf)
	<-ctx.Done()
	logf("stopping")
	return 0
}

// connectUntilSuccess runs one start-up connection round (the psql check,
// then the main connection) until it succeeds, waiting 1 s after the first
// failure and up to 10 s after later ones. It returns false when ctx ends.
func connectUntilSuccess(ctx context.Context, cfg config, logf func(string, ...any)) bool {
	delay := newBackoff()
	for attempt := 1; ; attempt++ {
		err := ensureDatabase(ctx, cfg, os.Getenv, logf)
		if err == nil {
			err = connectMain(ctx, cfg, logf)
		}
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		wait := delay.next()
		logf("database connection attempt %d failed, retrying in %s: %v", attempt, wait.Round(100*time.Millisecond), err)
		select {
		case <-ctx.Done():
			return false
		case <-time.After(wait):
		}
	}
}

// backoff yields delays that start at 1 s and grow by half each time up to
// 10 s, like the hub's retry of its database connection.
type backoff struct{ current time.Duration }

func newBackoff() *backoff { return &backoff{} }

func (b *backoff) next() time.Duration {
	switch {
	case b.current == 0:
		b.current = time.Second
	default:
		b.current = min(b.current*3/2, 10*time.Second)
	}
	return b.current
}

func (b *backoff) reset() { b.current = 0 }
