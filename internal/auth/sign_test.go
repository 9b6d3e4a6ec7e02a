package auth

import (
	"net/url"
	"strings"
	"testing"

	"github.com/drover-run/drover/api"
)

// The worked example of docs/signing.md: keep them in step.
const (
	exampleSecret    = "drvs_example-secret-do-not-use"
	exampleBody      = `{"task_id": 388, "points": 2}`
	exampleTimestamp = "1747379023000"
	exampleCanonical = "POST\n" +
		"/api/deployment/task/change_points\n" +
		"dry_run=true&note=scale%20up\n" +
		"1747379023000\n" +
		"1.0.0\n" +
		"e4f93c903eb1edab84a3ebab92ba95c5a8cc652f8a60ba188de2a691fff2e2ce"
	exampleSignStr = "e4cd38690694b1086c13c1ad1d0c1489c32612d30fa5bba7a99beb5aa08b9043"
)

func TestCanonicalQuery(t *testing.T) {
	t.Parallel()
	tests := []struct{ raw, want string }{
		{"", ""},
		{"b=2&a=1", "a=1&b=2"},
		{"a=2&a=1", "a=1&a=2"},
		{"note=scale+up&dry_run=true", "dry_run=true&note=scale%20up"},
		{"q=%E4%BB%BB%E5%8A%A1", "q=%E4%BB%BB%E5%8A%A1"},
		{"x=a%2Fb~c", "x=a%2Fb~c"},
		{"flag", "flag="},
		{"k=*'()!", "k=%2A%27%28%29%21"},
	}
	for _, tc := range tests {
		got, err := api.CanonicalQuery(tc.raw)
		if err != nil || got != tc.want {
			t.Errorf("api.CanonicalQuery(%q) = %q, %v; want %q", tc.raw, got, err, tc.want)
		}
	}
	if _, err := api.CanonicalQuery("a=%zz"); err == nil {
		t.Errorf("api.CanonicalQuery(bad escape) succeeded")
	}
}

// TestWorkedExample pins docs/signing.md's example: its canonical string
// and signature.
func TestWorkedExample(t *testing.T) {
	t.Parallel()
	c, err := api.Canonical("post", "/api/deployment/task/change_points", "note=scale+up&dry_run=true",
		exampleTimestamp, "1.0.0", []byte(exampleBody))
	if err != nil {
		t.Fatal(err)
	}
	if c != exampleCanonical {
		t.Fatalf("api.Canonical() =\n%s\nwant\n%s", c, exampleCanonical)
	}
	if got := api.Sign(exampleSecret, c); got != exampleSignStr {
		t.Errorf("api.Sign() = %s, want %s", got, exampleSignStr)
	}
	if !validSignature(exampleSecret, c, strings.ToUpper(exampleSignStr)) {
		t.Errorf("an upper-case sign_str does not verify")
	}
}

// FuzzCanonical: the canonicaliser never panics; its output is one line
// per field, the canonical query is stable under re-canonicalisation, and
// a signature verifies against what it signed and nothing else.
func FuzzCanonical(f *testing.F) {
	f.Add("POST", "/api/deployment/task/change_points", "b=2&a=1", "1747379023000", "1.0.0", []byte(`{"task_id":388,"points":2}`))
	f.Add("GET", "/task/logs", "jobId=1&taskId=2&cursor=0&token=abc", "1747379023000", "1.0.0", []byte{})
	f.Add("PUT", "/global/set", "name=QUIT_ON_NEXT_BEAT&value=yes", "1", "", []byte(nil))
	f.Add("DELETE", "/job", "id=a%20b&queue=FifoQ&queue=pinned_host", "0", "x", []byte("\x00\xff"))
	f.Fuzz(func(t *testing.T, method, path, rawQuery, ts, version string, body []byte) {
		c, err := api.Canonical(method, path, rawQuery, ts, version, body)
		if err != nil {
			if _, perr := url.ParseQuery(rawQuery); perr == nil {
				t.Fatalf("api.Canonical() error %v on a query that parses", err)
			}
			return
		}
		q, _ := api.CanonicalQuery(rawQuery)
		if q2, err := api.CanonicalQuery(q); err != nil || q2 != q {
			t.Fatalf("CanonicalQuery is not stable: %q -> %q -> %q (%v)", rawQuery, q, q2, err)
		}
		if strings.Contains(q, "\n") {
			t.Fatalf("canonical query %q holds a newline", q)
		}
		sig := api.Sign("secret", c)
		if !validSignature("secret", c, sig) {
			t.Fatalf("a signature does not verify against its own string")
		}
		if validSignature("secret", c+"x", sig) || validSignature("other", c, sig) {
			t.Fatalf("a signature verifies against another string or secret")
		}
	})
}
