package assert_test

import (
	"strings"
	"testing"

	"github.com/cocalcctl/cocalcctl/builtins/assert"
	"github.com/cocalcctl/cocalcctl/builtins/runtime/runtimetest"
)

func TestAssertionsPassAndFail(t *testing.T) {
	cases := []struct {
		src, want string // want is "" when the assertion passes
	}{
		{`assert.eq(1 + 1, 2)`, ""},
		{`assert.eq([1], [2], "lists")`, `/work/test.star:1:10: assert.eq: lists: got [1], want [2]`},
		{`assert.ne("a", "b")`, ""},
		{`assert.ne("a", "a")`, `assert.ne: got "a", want any other value`},
		{`assert.true([0])`, ""},
		{`assert.true({})`, `assert.true: got {}, want a true value`},
		{`assert.false("")`, ""},
		{`assert.false(3)`, `assert.false: got 3, want a false value`},
		{`assert.contains({"k": 1}, "k")`, ""},
		{`assert.contains("abc", "x")`, `assert.contains: "x" is not in "abc"`},
		{`assert.not_contains([1, 2], 3)`, ""},
		{`assert.not_contains([1, 2], 2)`, `assert.not_contains: 2 is in [1, 2], want it absent`},
		{`assert.contains(1, 2)`, `assert.contains: unknown binary op: int in int`},
		{`assert.fails(lambda: fail("boom"), "bo+m")`, ""},
		{`assert.fails(lambda: None, "x")`, `assert.fails: the call succeeded, want an error matching "x"`},
		{`assert.fails(lambda: fail("boom"), "bang")`, `assert.fails: the error does not match "bang"`},
	}
	for _, c := range cases {
		f := runtimetest.New(t, assert.Module)
		err := f.Run(c.src)
		got := f.ErrorText(err)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s failed: %s", c.src, got)
		case c.want != "" && !strings.Contains(got, c.want):
			t.Errorf("%s: error %q does not contain %q", c.src, got, c.want)
		}
	}
}
