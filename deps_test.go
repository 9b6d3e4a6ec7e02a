package drover_test

import (
	"go/build"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/drover-run/drover/"

// TestDependencyPolicy holds the layering README.md describes: the
// vocabulary and the wire types depend on nothing of ours, the public SDK
// sees only the wire types, and the engine sees only the vocabulary and
// the store interface. (The standard library's go/build/deps_test.go does
// the same for Go.)
func TestDependencyPolicy(t *testing.T) {
	allowed := map[string][]string{ // package -> the module's packages it may import
		"api":               {},
		"client":            {"api"},
		"worker":            {"api"},
		"internal/domain":   {},
		"internal/store":    {"internal/domain"},
		"internal/dispatch": {"internal/domain", "internal/store"},
		"internal/web":      {"api", "internal/domain"},
	}
	for pkg, ok := range allowed {
		p, err := build.Import(module+pkg, ".", 0)
		if err != nil {
			t.Fatalf("%s: %v", pkg, err)
		}
		for _, imp := range p.Imports {
			own, isOurs := strings.CutPrefix(imp, module)
			if isOurs && !slices.Contains(ok, own) {
				t.Errorf("%s imports %s; it may import only %v of this module", pkg, own, ok)
			}
			if pkg == "api" || pkg == "internal/domain" || pkg == "client" {
				if !isOurs && strings.Contains(strings.SplitN(imp, "/", 2)[0], ".") {
					t.Errorf("%s imports %s; it must stay on the standard library", pkg, imp)
				}
			}
		}
	}
}
