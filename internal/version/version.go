// Package version holds the build's version, set at link time with
// -ldflags "-X github.com/drover-run/drover/internal/version.Version=v1.2.3".
package version

import "runtime/debug"

// Version is the version of this build.
var Version = "dev"

func init() {
	if Version != "dev" {
		return
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		Version = bi.Main.Version
	}
}
