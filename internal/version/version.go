// Package version holds what this build is: its version, commit, build date
// and Go version. Release builds set them at link time:
//
//	go build -ldflags "-X github.com/drover-run/drover/internal/version.Version=v1.2.3
//	  -X github.com/drover-run/drover/internal/version.Commit=abc1234
//	  -X github.com/drover-run/drover/internal/version.Date=2026-11-30T12:00:00Z" ./cmd/drover
//
// Other builds take them from the binary's build information (go install
// pkg@version, or the VCS stamp of a build in a clone). The server reports
// String in /health and drover_build_info, and workers at register, so one
// string names a build everywhere.
package version

import (
	"runtime"
	"runtime/debug"
)

// Set at link time; filled from build info when left empty.
var (
	Version = "dev" // a release tag such as v1.2.3
	Commit  = ""    // the VCS revision, short
	Date    = ""    // the build (or commit) time, RFC 3339
)

// GoVersion is the Go toolchain that built this binary.
var GoVersion = runtime.Version()

func init() { fill(debug.ReadBuildInfo()) }

func fill(bi *debug.BuildInfo, ok bool) {
	if !ok || bi == nil {
		return
	}
	if Version == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		Version = bi.Main.Version
	}
	if bi.GoVersion != "" {
		GoVersion = bi.GoVersion
	}
	dirty := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			if Commit == "" {
				Commit = s.Value
			}
		case "vcs.time":
			if Date == "" {
				Date = s.Value
			}
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if len(Commit) > 12 {
		Commit = Commit[:12]
	}
	if dirty && Commit != "" {
		Commit += "-dirty"
	}
}

// String is the one line that names this build, as `drover version` prints
// it and /health, devices and drover_build_info report it:
// "v1.2.3 (commit abc1234, built 2026-11-30T12:00:00Z, go1.26.0)".
func String() string {
	s := Version + " ("
	if Commit != "" {
		s += "commit " + Commit + ", "
	}
	if Date != "" {
		s += "built " + Date + ", "
	}
	return s + GoVersion + ")"
}
