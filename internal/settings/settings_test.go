package settings

import (
	"slices"
	"testing"
	"time"
)

func TestUpdate(t *testing.T) {
	t.Parallel()
	cur := Defaults()
	tests := []struct {
		body    string
		fields  []string
		restart bool
		check   func(Settings) bool
	}{
		{`{"cluster": {"heartbeat_interval": 30, "offline_threshold": 180}}`,
			[]string{"cluster.heartbeat_interval", "cluster.offline_threshold"}, false,
			func(s Settings) bool { return s.Cluster.HeartbeatInterval == 30 && s.Cluster.OfflineThreshold == 180 }},
		{`{"server": {"max_connections": 100}}`, []string{"server.max_connections"}, true,
			func(s Settings) bool { return s.Server.MaxConnections == 100 }},
		{`{"logging": {"level": "warn", "max_size": "10MB", "retention": "7d"}, "metrics": {"retention": "90d"}}`,
			[]string{"logging.level", "logging.max_size", "logging.retention", "metrics.retention"}, false,
			func(s Settings) bool {
				return s.Logging.MaxEvents() == 10<<20/EventBytes && s.Logging.RetentionDuration() == 7*24*time.Hour &&
					s.Metrics.RetentionDuration() == 90*24*time.Hour
			}},
	}
	for _, tc := range tests {
		ch, err := Update(cur, []byte(tc.body))
		if err != nil {
			t.Errorf("Update(%s) error = %v", tc.body, err)
			continue
		}
		if !slices.Equal(ch.UpdatedFields, tc.fields) || ch.RestartRequired != tc.restart || !tc.check(ch.Next) {
			t.Errorf("Update(%s) = %+v", tc.body, ch)
		}
	}
	for _, bad := range []string{
		`[]`, `{"cluster": {"heartbeat_interval": null}}`, `{"cluster": {"task_timeout": 1.5}}`,
		`{"cluster": {"heartbeat_interval": 0.01}}`, `{"metrics": {"retention": "1h"}}`, `{}`,
		`{"logging": {"max_size": "512KB"}}`,
		`{"server": {"max_connections": 1}}`, `{"server": {"max_connections": 0}}`, // one open stream would lock the API out
	} {
		if _, err := Update(cur, []byte(bad)); err == nil {
			t.Errorf("Update(%s) succeeded, want an error", bad)
		}
	}
}

func TestParseSizeAndDuration(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int64{"10MB": 10 << 20, "1GB": 1 << 30, "512kb": 512 << 10, "100": 100, " 2 MB ": 2 << 20} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "MB", "-1MB", "1TB"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) succeeded", bad)
		}
	}
	for in, want := range map[string]time.Duration{"72h": 72 * time.Hour, "7d": 7 * 24 * time.Hour, "90m": 90 * time.Minute} {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %s, %v; want %s", in, got, err, want)
		}
	}
}
