package cli

import (
	"regexp"
	"strings"
	"testing"

	"github.com/drover-run/drover/client"
	"github.com/drover-run/drover/drovertest"
)

// created reads the id, token and secret printCreated shows.
var (
	createdID     = regexp.MustCompile(`(?m)^(?:API key|Join token) (\S+) \(`)
	createdToken  = regexp.MustCompile(`(?m)^  token +(\S+)$`)
	createdSecret = regexp.MustCompile(`(?m)^  secret +(\S+)$`)
)

func match(t *testing.T, re *regexp.Regexp, out string) string {
	t.Helper()
	m := re.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("output lacks %s:\n%s", re, out)
	}
	return m[1]
}

// minute matches the expiry times keys list prints.
var minute = regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d`)

func TestKeys(t *testing.T) {
	t.Parallel()
	srv := newServer(t, drovertest.Options{Auth: true})
	admin := testEnv(t, srv)

	out := mustRun(t, admin, "keys", "create", "--name", "ci", "--scopes", "read", "--expires", "30d")
	id, token := match(t, createdID, out), match(t, createdToken, out)
	if !regexp.MustCompile(`(?m)^  scopes +read$`).MatchString(out) || !strings.Contains(out, "Store it now: it is not shown again.") {
		t.Errorf("keys create =\n%s", out)
	}
	join := mustRun(t, admin, "keys", "create", "--join", "--pool", "gpu", "--uses", "2", "--ttl", "1h")
	joinID := match(t, createdID, join)
	if !strings.Contains(join, "Start a worker with: drover worker --server URL --token ") {
		t.Errorf("keys create --join =\n%s", join)
	}
	var seed string
	for _, k := range must(srv.Client.Keys.List(t.Context(), keyListAll)).Keys {
		if k.Name == "seed (--api-key)" {
			seed = k.ID
		}
	}
	list := mustRun(t, admin, "keys", "list")
	checkGolden(t, minute.ReplaceAllString(scrub(list, []string{seed, id, joinID}), "YYYY-MM-DD hh:mm"))

	// The key works within its scope.
	ci := testEnv(t, srv)
	ci[envAPIKey] = token
	mustRun(t, ci, "tasks", "list")
	if r := drover(t, ci, "tasks", "submit", "echo"); r.code != exitError || !strings.HasPrefix(r.stderr, "Error: PERMISSION_DENIED: ") {
		t.Errorf("a read key: tasks submit = exit %d, stderr %q; want PERMISSION_DENIED", r.code, r.stderr)
	}

	rotated := mustRun(t, admin, "keys", "rotate", id, "--grace", "0")
	newID, newToken := match(t, createdID, rotated), match(t, createdToken, rotated)
	if newID == id || !regexp.MustCompile(`(?m)^  old key +`+id+` stops working at `).MatchString(rotated) {
		t.Errorf("keys rotate =\n%s", rotated)
	}
	if r := drover(t, ci, "tasks", "list"); r.code != exitError || !strings.Contains(r.stderr, "Error: AUTHENTICATION") {
		t.Errorf("the rotated-out key: tasks list = exit %d, stderr %q", r.code, r.stderr)
	}
	ci[envAPIKey] = newToken
	mustRun(t, ci, "tasks", "list")

	if got := mustRun(t, admin, "keys", "revoke", newID); got != "Revoked key "+newID+"\n" {
		t.Errorf("keys revoke = %q", got)
	}
	if r := drover(t, ci, "tasks", "list"); r.code != exitError {
		t.Errorf("a revoked key: tasks list = exit %d, want 1", r.code)
	}
	all := mustRun(t, admin, "keys", "list", "--kind", "api", "--all")
	if n := strings.Count(all, "\n"); n != 4 || !strings.Contains(all, newID) {
		t.Errorf("keys list --kind api --all =\n%s\nwant the seed, the rotated and the revoked key", all)
	}
}

// --api-key and --api-secret sign every request with a signed-mode key.
func TestSignedMode(t *testing.T) {
	t.Parallel()
	srv := newServer(t, drovertest.Options{Auth: true})
	out := mustRun(t, testEnv(t, srv), "keys", "create", "--name", "scaler", "--scopes", "write", "--signed")
	token, secret := match(t, createdToken, out), match(t, createdSecret, out)
	if !strings.Contains(out, "Signed mode: sign every request") {
		t.Errorf("keys create --signed =\n%s", out)
	}
	env := testEnv(t, nil)
	env[envAPIURL] = srv.APIURL()

	r := mustRunR(t, env, "--api-key", token, "--api-secret", secret, "tasks", "submit", "echo", "--delay", "60")
	if h := r.last(t).Header; h.Get("sign_str") == "" || h.Get("token") != token || strings.Contains(strings.Join(h.Values("sign_str"), ""), secret) {
		t.Errorf("signed request headers %v", h)
	}
	if r := drover(t, env, "--api-key", token, "--api-secret", "wrong", "tasks", "list"); r.code != exitError || !strings.HasPrefix(r.stderr, "Error: BAD_SIGNATURE: ") {
		t.Errorf("a wrong secret: exit %d, stderr %q", r.code, r.stderr)
	}
}

// keyListAll lists every key but revoked ones.
var keyListAll = client.KeyListOptions{}

// must returns v, panicking on err: for set-up calls whose failure would
// make the test meaningless.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
