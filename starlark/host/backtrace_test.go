package host

import (
	"strings"
	"testing"
)

func TestFoldRepeats(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"a b c", "a b c"},
		{"a a b", "a a b"}, // twice is not folded
		{"t a a a a b", "t a [Previous line repeated 3 more times] b"},
		{"t f g f g f g f g u", "t f g [Previous 2 lines repeated 3 more times] u"},
		{"a a a b b b", "a [Previous line repeated 2 more times] b [Previous line repeated 2 more times]"},
	} {
		got := strings.Join(foldRepeats(strings.Fields(c.in)), " ")
		if got != c.want {
			t.Errorf("foldRepeats(%s) = %s, want %s", c.in, got, c.want)
		}
	}
}

func TestErrorMessageFoldsARecursion(t *testing.T) {
	h, main, _ := project(t, map[string]string{"Kilnfile": "def f(n):\n    if n == 0:\n        fail('bottom')\n    f(n - 1)\n\nf(50)\n"})
	msg := exec(t, h, main)
	want := "Traceback (most recent call last):\n" +
		"  Kilnfile:6:2: in <toplevel>\n" +
		"  Kilnfile:4:6: in f\n" +
		"  [Previous line repeated 49 more times]\n" +
		"  Kilnfile:3:13: in f\n" +
		"Error in fail: bottom"
	if msg != want {
		t.Fatalf("got:\n%s\nwant:\n%s", msg, want)
	}
}
