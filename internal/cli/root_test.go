package cli

import (
	"strings"
	"testing"

	"github.com/drover-run/drover/drovertest"
)

func TestUsageErrorsExit2(t *testing.T) {
	t.Parallel()
	srv := newServer(t, drovertest.Options{})
	for _, tc := range []struct {
		args       []string
		wantStderr string
	}{
		{[]string{"bogus"}, `Error: unknown command "bogus" for "drover"`},
		{[]string{"tasks", "bogus"}, `Error: unknown command "bogus" for "drover tasks"`},
		{[]string{"tasks", "lsit"}, `did you mean "list"?`},
		{[]string{"tasks", "get"}, "Error: drover tasks get takes 1 argument, ID; got 0"},
		{[]string{"cluster", "status", "extra"}, "takes no arguments"},
		{[]string{"tasks", "list", "--nope"}, "unknown flag: --nope"},
		{[]string{"tasks", "list", "--limit", "many"}, `invalid argument "many"`},
		{[]string{"-o", "yaml", "tasks", "list"}, `"yaml" is not table or json`},
		{[]string{"tasks", "submit", "echo", "--payload", "{bad"}, "--payload is not valid JSON"},
		{[]string{"tasks", "submit", "echo", "--payload", "@/nonexistent.json"}, "--payload: open /nonexistent.json"},
		{[]string{"tasks", "submit", "echo", "--timeout", "soon"}, "neither seconds nor a duration"},
		{[]string{"tasks", "submit", "echo", "--max-retries", "-1"}, "--max-retries -1 is negative"},
		{[]string{"tasks", "submit", "echo", "--label", "team"}, `"team" is not key=value`},
		{[]string{"--api-url", "localhost:8081", "cluster", "status"}, `API URL "localhost:8081"`},
		{[]string{"keys", "create", "--scopes", "read"}, "--name is required"},
		{[]string{"keys", "create", "--join", "--scopes", "read"}, "a join token's scope is agent"},
	} {
		r := drover(t, testEnv(t, srv), tc.args...)
		if r.code != exitUsage || !strings.Contains(r.stderr, tc.wantStderr) {
			t.Errorf("drover %s = exit %d, stderr:\n%s\nwant exit 2 and %q", strings.Join(tc.args, " "), r.code, r.stderr, tc.wantStderr)
		}
		if !strings.Contains(r.stderr, "--help' for usage.") {
			t.Errorf("drover %s: stderr lacks the usage hint:\n%s", strings.Join(tc.args, " "), r.stderr)
		}
		if n := len(r.reqs); n != 0 {
			t.Errorf("drover %s sent %d requests, want none", strings.Join(tc.args, " "), n)
		}
	}
}

func TestHelpExits0(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{}, {"tasks"}, {"tasks", "submit", "--help"}, {"help", "devices"}} {
		r := drover(t, testEnv(t, nil), args...)
		if r.code != exitOK || !strings.Contains(r.stdout, "Usage:") {
			t.Errorf("drover %s = exit %d, stdout:\n%s\nwant exit 0 and help", strings.Join(args, " "), r.code, r.stdout)
		}
	}
}

func TestAPIErrorExit1(t *testing.T) {
	t.Parallel()
	srv := newServer(t, drovertest.Options{})

	r := drover(t, testEnv(t, srv), "tasks", "get", "nope")

	want := "Error: TASK_NOT_FOUND: task 'nope' does not exist\n  task_id: \"nope\"\n"
	if r.code != exitError || r.stderr != want || r.stdout != "" {
		t.Errorf("tasks get nope = exit %d, stdout %q, stderr %q; want exit 1 and %q", r.code, r.stdout, r.stderr, want)
	}
}

// An error's details follow its message, one per line, sorted, as JSON.
func TestAPIErrorDetails(t *testing.T) {
	t.Parallel()
	srv := newServer(t, drovertest.Options{})
	twoDevices(t, srv)

	r := drover(t, testEnv(t, srv), "devices", "get", "android-999")

	want := `Error: DEVICE_NOT_FOUND: device 'android-999' does not exist
  available_devices: ["android-001","rpi-002"]
  device_id: "android-999"
`
	if r.code != exitError || r.stderr != want {
		t.Errorf("devices get = exit %d, stderr:\n%s\nwant exit 1, stderr:\n%s", r.code, r.stderr, want)
	}
}

func TestServerDown(t *testing.T) {
	t.Parallel()
	srv := newServer(t, drovertest.Options{})
	srv.Stop() // nothing listens at its address any more

	r := drover(t, testEnv(t, srv), "cluster", "status")

	if r.code != exitError || !strings.Contains(r.stderr, "connection refused") || !strings.Contains(r.stderr, "Is the server running?") {
		t.Errorf("cluster status with the server down = exit %d, stderr:\n%s", r.code, r.stderr)
	}
}

func TestUserAgent(t *testing.T) {
	t.Parallel()
	srv := newServer(t, drovertest.Options{})
	r := mustRunR(t, testEnv(t, srv), "cluster", "health")
	if got := r.last(t).Header.Get("User-Agent"); got != userAgent {
		t.Errorf("User-Agent = %q, want %q", got, userAgent)
	}
}

// The server address and key come from the flag, else the environment, else
// the config file.
func TestEndpointPrecedence(t *testing.T) {
	t.Parallel()
	srv := newServer(t, drovertest.Options{})
	for _, tc := range []struct {
		name      string
		flags     []string
		env       map[string]string
		configKey string
		wantKey   string
	}{
		{name: "none", wantKey: ""},
		{name: "config", configKey: "from-config", wantKey: "from-config"},
		{name: "env over config", env: map[string]string{envAPIKey: "from-env"}, configKey: "from-config", wantKey: "from-env"},
		{name: "flag over env", flags: []string{"--api-key", "from-flag"}, env: map[string]string{envAPIKey: "from-env"}, wantKey: "from-flag"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := testEnv(t, nil)
			mustRun(t, env, "config", "set", "api_url", srv.APIURL())
			if tc.configKey != "" {
				mustRun(t, env, "config", "set", "api_key", tc.configKey)
			}
			for k, v := range tc.env {
				env[k] = v
			}

			r := mustRunR(t, env, append(tc.flags, "cluster", "health")...)

			if got := r.last(t).Header.Get("X-API-Key"); got != tc.wantKey {
				t.Errorf("X-API-Key = %q, want %q", got, tc.wantKey)
			}
		})
	}
}

func TestAPIURLPrecedence(t *testing.T) {
	t.Parallel()
	flagSrv, envSrv, configSrv := newServer(t, drovertest.Options{}), newServer(t, drovertest.Options{}), newServer(t, drovertest.Options{})
	host := func(s *drovertest.Server) string { return strings.TrimPrefix(s.APIURL(), "http://") }
	env := testEnv(t, nil)
	mustRun(t, env, "config", "set", "api_url", configSrv.APIURL())

	var got []string
	got = append(got, mustRunR(t, env, "cluster", "health").last(t).Host)
	env[envAPIURL] = envSrv.APIURL()
	got = append(got, mustRunR(t, env, "cluster", "health").last(t).Host)
	got = append(got, mustRunR(t, env, "--api-url", flagSrv.APIURL(), "cluster", "health").last(t).Host)

	if want := []string{host(configSrv), host(envSrv), host(flagSrv)}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("config, then env, then flag: asked %q, want %q", got, want)
	}
}
