package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestConfigSetGet(t *testing.T) {
	t.Parallel()
	env := testEnv(t, nil)
	dir := env[envConfigDir]
	path := filepath.Join(dir, "config.json")

	if got := mustRun(t, env, "config", "path"); got != path+"\n" {
		t.Errorf("config path = %q, want %q", got, path+"\n")
	}
	if got := mustRun(t, env, "config", "set", "api_url", "http://192.168.1.100:8081"); got != "Set api_url in "+path+"\n" {
		t.Errorf("config set api_url printed %q", got)
	}
	mustRun(t, env, "config", "set", "api_key", "your-secret-key")

	if got := mustRun(t, env, "config", "get", "api_url"); got != "http://192.168.1.100:8081\n" {
		t.Errorf("config get api_url = %q", got)
	}
	if got := mustRun(t, env, "config", "get", "api_key"); got != "your-secret-key\n" {
		t.Errorf("config get api_key = %q", got)
	}
	wantAll := "api_url  http://192.168.1.100:8081\napi_key  ********-key\n"
	if got := mustRun(t, env, "config", "get"); got != wantAll {
		t.Errorf("config get =\n%s\nwant\n%s", got, wantAll)
	}
	wantJSON := "{\n  \"api_url\": \"http://192.168.1.100:8081\",\n  \"api_key\": \"your-secret-key\"\n}\n"
	if got := mustRun(t, env, "config", "get", "-o", "json"); got != wantJSON {
		t.Errorf("config get -o json =\n%s\nwant\n%s", got, wantJSON)
	}

	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := info.Mode().Perm(); mode != 0o600 {
		t.Errorf("config file mode %v, want 0600: it holds the API key", mode)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("config dir holds %d entries, want only config.json (no temporary files)", len(entries))
	}
}

func TestConfigClear(t *testing.T) {
	t.Parallel()
	env := testEnv(t, nil)
	mustRun(t, env, "config", "set", "api_key", "k")
	if got := mustRun(t, env, "config", "set", "api_key", ""); !strings.HasPrefix(got, "Cleared api_key") {
		t.Errorf("config set api_key \"\" printed %q", got)
	}
	if got := mustRun(t, env, "config", "get"); got != "api_url  -\napi_key  -\n" {
		t.Errorf("config get after clearing =\n%s", got)
	}
}

func TestConfigGetWithoutFile(t *testing.T) {
	t.Parallel()
	env := testEnv(t, nil)
	if got := mustRun(t, env, "config", "get", "api_url"); got != "\n" {
		t.Errorf("config get api_url without a file = %q, want an empty line", got)
	}
}

func TestConfigRejects(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"config", "set", "colour", "blue"},
		{"config", "get", "colour"},
		{"config", "set", "api_url", "127.0.0.1:8081"},
		{"config", "set", "api_url"},
	} {
		env := testEnv(t, nil)
		if r := drover(t, env, args...); r.code != exitUsage {
			t.Errorf("drover %s = exit %d, stderr %q; want exit 2", strings.Join(args, " "), r.code, r.stderr)
		}
		if _, err := os.Stat(filepath.Join(env[envConfigDir], "config.json")); err == nil {
			t.Errorf("drover %s wrote a config file", strings.Join(args, " "))
		}
	}
}

func TestConfigMalformed(t *testing.T) {
	t.Parallel()
	env := testEnv(t, nil)
	path := filepath.Join(env[envConfigDir], "config.json")
	if err := os.WriteFile(path, []byte("api_url = oops"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := drover(t, env, "cluster", "status")
	if r.code != exitError || !strings.Contains(r.stderr, "is not valid JSON") {
		t.Errorf("cluster status with a bad config = exit %d, stderr %q; want exit 1 naming the file", r.code, r.stderr)
	}
}
