#!/usr/bin/env bash
# Release build: static drover binaries (CGO_ENABLED=0, pure-Go SQLite) for
# every platform Drover runs on, stamped with version, commit and date, and
# their SHA256SUMS. Usage: scripts/release.sh [VERSION] (default: git describe).
# Output: dist/drover_VERSION_OS_ARCH[.exe] and dist/SHA256SUMS.
set -euo pipefail
cd "$(dirname "$0")/.."

version=${1:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
pkg=github.com/drover-run/drover/internal/version
ldflags="-s -w -X $pkg.Version=$version -X $pkg.Commit=$commit -X $pkg.Date=$date"

# os/arch[/arm]: Raspberry Pi and old phones are armv7; android/arm64 is Termux.
targets=(linux/amd64 linux/arm64 linux/arm/7 darwin/arm64 darwin/amd64 windows/amd64 android/arm64)

dist=${DIST:-dist}
rm -rf "$dist"
mkdir -p "$dist"
for t in "${targets[@]}"; do
	IFS=/ read -r os arch arm <<<"$t"
	name="drover_${version}_${os}_${arch}${arm:+v$arm}"
	[ "$os" = windows ] && name+=.exe
	echo "building $name"
	CGO_ENABLED=0 GOOS=$os GOARCH=$arch GOARM=$arm \
		go build -trimpath -ldflags "$ldflags" -o "$dist/$name" ./cmd/drover
done
(cd "$dist" && sha256sum drover_* >SHA256SUMS)
cat "$dist/SHA256SUMS"
