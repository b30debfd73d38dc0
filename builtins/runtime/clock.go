package runtime

import (
	"context"
	"sync"
	"time"
)

// Clock tells the time. Builtins read the time through the Clock on the
// thread so that tests can fix it.
type Clock interface {
	Now() time.Time
}

// SystemClock is the machine's clock.
type SystemClock struct{}

// Now implements Clock.
func (SystemClock) Now() time.Time { return time.Now() }

// FixedClock is a Clock for tests that returns a set time until it is moved.
type FixedClock struct {
	mu sync.Mutex
	t  time.Time
}

// NewFixedClock returns a FixedClock set to t.
func NewFixedClock(t time.Time) *FixedClock { return &FixedClock{t: t} }

// Now implements Clock.
func (c *FixedClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *FixedClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Sleep waits for d or until ctx ends. A clock that can be advanced (such as
// FixedClock) is a test clock, so it is moved forward instead, which keeps
// waits and timeouts in tests and in `cocalcctl test` instant.
func Sleep(ctx context.Context, clock Clock, d time.Duration) error {
	if c, ok := clock.(interface{ Advance(time.Duration) }); ok {
		c.Advance(d)
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}
