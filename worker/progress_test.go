package worker

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

func TestParseProgressDirective(t *testing.T) {
	t.Parallel()
	tests := []struct {
		line     string
		ok       bool
		fraction float64
		message  string
	}{
		{"::progress 0.4 copying files", true, 0.4, "copying files"},
		{"::progress 40% copying", true, 0.4, "copying"},
		{"::progress 1", true, 1, ""},
		{"::progress 0", true, 0, ""},
		{"::progress\t0.5   half  ", true, 0.5, "half"},
		{"::progress 100%", true, 1, ""},
		{"::progress 1.5 too far", false, 0, ""},
		{"::progress 101%", false, 0, ""},
		{"::progress -0.1", false, 0, ""},
		{"::progress NaN", false, 0, ""},
		{"::progress", false, 0, ""},
		{"::progressive 0.5", false, 0, ""},
		{"  ::progress 0.5", false, 0, ""},
		{"copying ::progress 0.5", false, 0, ""},
	}
	for _, tc := range tests {
		f, msg, ok := parseProgressDirective(tc.line)
		if ok != tc.ok || f != tc.fraction || msg != tc.message {
			t.Errorf("parseProgressDirective(%q) = %v, %q, %v; want %v, %q, %v", tc.line, f, msg, ok, tc.fraction, tc.message, tc.ok)
		}
	}
}

// TestDirectiveFilter: progress lines leave the output however the
// stream is cut into writes; every other byte passes unchanged.
func TestDirectiveFilter(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"a\n::progress 0.5 half\nb\n", "a\nb\n"},
		{"::progress 0.1\n::progress 20%\r\n", ""},
		{"::progress oops\n", "::progress oops\n"},
		{"::prog\n", "::prog\n"},
		{":: progress 0.5\n", ":: progress 0.5\n"},
		{"no newline at end", "no newline at end"},
		{"x ::progress 0.5\n", "x ::progress 0.5\n"},
		{"a\n::progress 0.9 last, unterminated", "a\n"},
		{"", ""},
	}
	for _, tc := range tests {
		for _, size := range []int{1, 2, 3, 7, 1 << 10} {
			var out strings.Builder
			f := &directiveFilter{w: &out, atStart: true}
			for in := tc.in; in != ""; {
				n := min(size, len(in))
				f.Write([]byte(in[:n]))
				in = in[n:]
			}
			f.Close()
			if out.String() != tc.want {
				t.Errorf("filter(%q) in writes of %d = %q, want %q", tc.in, size, out.String(), tc.want)
			}
		}
	}
	// A line that starts like a directive but goes on past maxDirective
	// before it ends is not held for ever: it passes as output.
	long := "::progress 0.5 " + strings.Repeat("x", 2*maxDirective)
	var out strings.Builder
	f := &directiveFilter{w: &out, atStart: true}
	f.Write([]byte(long))
	f.Write([]byte("\n"))
	if long += "\n"; out.String() != long {
		t.Errorf("filter(long directive-like line) passed %d bytes, want %d", out.Len(), len(long))
	}
}

// TestShellProgress runs a command that reports progress on both streams:
// the reports reach Task.Progress, and neither the log nor the output holds
// them.
func TestShellProgress(t *testing.T) {
	t.Parallel()
	requireUnix(t)
	var (
		mu  sync.Mutex
		got []string
	)
	task := newTask("shell", `{"command": "echo one; echo '::progress 0.5 half'; echo '::progress 75%' >&2; echo two"}`)
	task.progress = func(f float64, msg string) {
		mu.Lock()
		got = append(got, strings.TrimSpace(strconv.FormatFloat(f, 'g', -1, 64)+" "+msg))
		mu.Unlock()
	}
	res, err := shellFor().run(context.Background(), task)
	if err != nil {
		t.Fatalf("shell error = %v", err)
	}
	if res.Output != "one\ntwo\n" {
		t.Errorf("output = %q, want %q", res.Output, "one\ntwo\n")
	}
	if log := task.Log.(*lines).String(); log != "one\ntwo\n" {
		t.Errorf("log = %q, want %q", log, "one\ntwo\n")
	}
	mu.Lock()
	defer mu.Unlock()
	// stdout and stderr are separate pipes read side by side: the order of
	// two lines on different streams is not defined, so compare as a set.
	slices.Sort(got)
	if len(got) != 2 || got[0] != "0.5 half" || got[1] != "0.75" {
		t.Errorf("progress reports = %q, want \"0.5 half\" and \"0.75\"", got)
	}
}
