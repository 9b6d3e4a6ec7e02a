package version

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestFillFromBuildInfo(t *testing.T) {
	saved := [...]string{Version, Commit, Date, GoVersion}
	t.Cleanup(func() { Version, Commit, Date, GoVersion = saved[0], saved[1], saved[2], saved[3] })
	Version, Commit, Date = "dev", "", ""
	fill(&debug.BuildInfo{
		GoVersion: "go1.26.0",
		Main:      debug.Module{Version: "v1.2.3"},
		Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123456789abcdef0123"},
			{Key: "vcs.time", Value: "2026-11-30T12:00:00Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}, true)
	want := "v1.2.3 (commit 0123456789ab-dirty, built 2026-11-30T12:00:00Z, go1.26.0)"
	if got := String(); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestLinkTimeValuesWin(t *testing.T) {
	saved := [...]string{Version, Commit, Date, GoVersion}
	t.Cleanup(func() { Version, Commit, Date, GoVersion = saved[0], saved[1], saved[2], saved[3] })
	Version, Commit, Date = "v2.0.0", "feed", "2026-01-01"
	fill(&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "beef"}}}, true)
	if got := String(); !strings.HasPrefix(got, "v2.0.0 (commit feed, built 2026-01-01, ") {
		t.Errorf("String() = %q", got)
	}
}
