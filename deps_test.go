package drover_test

import (
	"go/build"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/drover-run/drover/"

// layers place every package of the module, lowest first. A package may
// import the module's packages of lower layers only, plus what sameLayer
// allows; a package in no layer fails the test, so a new package must be
// placed. (The standard library's go/build/deps_test.go does the same for
// Go.) README.md, "The code", draws the same picture.
var layers = [][]string{
	// The vocabulary and the public wire types: the standard library only.
	{"api", "internal/domain", "internal/version"},
	// The persistence interface, and plumbing that knows no dialect.
	{"internal/store", "internal/httpapi", "internal/ratelimit", "internal/settings"},
	// The store's backends and its conformance suite.
	{"internal/store/sqlite", "internal/store/postgres", "internal/store/storetest"},
	// The engine: every rule and every query, over the store.
	{"internal/dispatch", "internal/insight", "internal/event", "internal/leader", "internal/auth", "internal/telemetry",
		"internal/scale", "internal/scale/local", "internal/scale/command", "internal/workflow", "internal/queue"},
	// Leader duties over the engine.
	{"internal/maintenance"},
	// HTTP: dialects that translate requests into engine calls.
	{"internal/envelope", "internal/server", "internal/agentserver", "internal/dialect/elastic", "internal/dialect/keeper", "internal/dialect/netpulse", "internal/dashboard"},
	// The public SDK: a client of the API, never of the server's insides.
	{"client", "worker"},
	// Starting and signalling drover processes.
	{"internal/procs"},
	// The composition root, and what starts processes.
	{"internal/app", "internal/bench", "internal/chaos"},
	{"drovertest", "internal/cli"},
	{"cmd/drover", "."},
}

// sameLayer lists imports allowed within a layer.
var sameLayer = map[string][]string{
	"internal/telemetry":        {"internal/dispatch", "internal/event"},
	"internal/server":           {"internal/envelope"},
	"internal/agentserver":      {"internal/envelope"},
	"internal/scale/local":      {"internal/scale"},
	"internal/scale/command":    {"internal/scale"},
	"internal/workflow":         {"internal/dispatch"},
	"internal/dialect/keeper":   {"internal/envelope"},
	"internal/queue":            {"internal/dispatch"},
	"internal/dialect/netpulse": {"internal/envelope"},
	"internal/dashboard":        {"internal/envelope"},
}

// Only these may import a store backend; the rest of the tree sees the
// store interface (and HTTP packages not even that).
var backendImporters = []string{"internal/app"}

var (
	backends  = []string{"internal/store/sqlite", "internal/store/postgres", "internal/store/storetest"}
	httpLayer = []string{"internal/dashboard", "internal/envelope", "internal/server", "internal/agentserver", "internal/dialect/elastic", "internal/dialect/keeper", "internal/dialect/netpulse"}
	// stdlibOnly packages import nothing outside the standard library, so
	// that anyone can vendor the wire types, and the vocabulary stays plain.
	stdlibOnly = []string{"api", "internal/domain", "internal/version", "client"}
	// publicSDK packages see only the wire types of this module.
	publicSDK = map[string][]string{"client": {"api"}, "worker": {"api"}}
)

func TestDependencyPolicy(t *testing.T) {
	layerOf := map[string]int{}
	for i, l := range layers {
		for _, p := range l {
			layerOf[p] = i
		}
	}
	for _, pkg := range modulePackages(t) {
		li, placed := layerOf[pkg]
		if !placed {
			t.Errorf("package %s is in no layer of deps_test.go: place it", pkg)
			continue
		}
		p, err := build.ImportDir(pkg, 0)
		if err != nil {
			t.Fatalf("%s: %v", pkg, err)
		}
		for _, imp := range p.Imports {
			own, isOurs := strings.CutPrefix(imp, module)
			if !isOurs {
				if slices.Contains(stdlibOnly, pkg) && strings.Contains(strings.SplitN(imp, "/", 2)[0], ".") {
					t.Errorf("%s imports %s; it must stay on the standard library", pkg, imp)
				}
				continue
			}
			if ok, public := publicSDK[pkg]; public && !slices.Contains(ok, own) {
				t.Errorf("%s imports %s; the public SDK may import only %v of this module", pkg, own, ok)
			}
			if slices.Contains(backends, own) && !slices.Contains(backendImporters, pkg) {
				t.Errorf("%s imports the store backend %s; only %v may", pkg, own, backendImporters)
			}
			if slices.Contains(httpLayer, pkg) && (own == "internal/store" || slices.Contains(backends, own)) {
				t.Errorf("%s imports %s; HTTP packages translate to engine calls and hold no store", pkg, own)
			}
			lj, known := layerOf[own]
			switch {
			case !known:
				t.Errorf("%s imports %s, which is in no layer", pkg, own)
			case lj > li:
				t.Errorf("%s (layer %d) imports %s (layer %d): imports point down", pkg, li, own, lj)
			case lj == li && !slices.Contains(sameLayer[pkg], own):
				t.Errorf("%s imports %s of its own layer; allow it in sameLayer if it is right", pkg, own)
			}
		}
	}
}

// modulePackages lists the directories of the module that hold a non-test
// Go package, as import paths relative to the module ("." for the root).
func modulePackages(t *testing.T) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		name := d.Name()
		if path != "." && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "node_modules") {
			return filepath.SkipDir
		}
		if path != "." && fileExists(filepath.Join(path, "go.mod")) {
			return filepath.SkipDir // another module (a benchmark harness)
		}
		p, err := build.ImportDir(path, 0)
		if err != nil {
			if _, none := err.(*build.NoGoError); none {
				return nil
			}
			return err
		}
		if len(p.GoFiles) > 0 {
			out = append(out, filepath.ToSlash(path))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
