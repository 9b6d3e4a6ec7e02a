package auth

import (
	"fmt"
	"slices"
	"strings"
)

// Scope is a permission a key carries.
type Scope string

// The scopes.
const (
	ScopeRead      Scope = "read"
	ScopeWrite     Scope = "write"
	ScopeAdmin     Scope = "admin"
	ScopeAgent     Scope = "agent"
	ScopeExecShell Scope = "exec:shell"
)

// AllScopes lists every scope.
var AllScopes = []Scope{ScopeRead, ScopeWrite, ScopeAdmin, ScopeAgent, ScopeExecShell}

// ParseScopes reads a comma-separated or listed set of scopes, sorted and
// without duplicates; an unknown scope is an error.
func ParseScopes(list ...string) ([]Scope, error) {
	var out []Scope
	for _, item := range list {
		for s := range strings.SplitSeq(item, ",") {
			s = strings.TrimSpace(s)
			if s == "" {
				continue
			}
			if !slices.Contains(AllScopes, Scope(s)) {
				return nil, fmt.Errorf("unknown scope %q (scopes: read, write, admin, agent, exec:shell)", s)
			}
			if !slices.Contains(out, Scope(s)) {
				out = append(out, Scope(s))
			}
		}
	}
	slices.Sort(out)
	return out, nil
}

// grants reports whether holding have grants want: admin implies write and
// read, write implies read; agent and exec:shell are implied by nothing.
func grants(have []Scope, want Scope) bool {
	for _, h := range have {
		switch {
		case h == want:
			return true
		case h == ScopeAdmin && (want == ScopeWrite || want == ScopeRead):
			return true
		case h == ScopeWrite && want == ScopeRead:
			return true
		}
	}
	return false
}

func scopeStrings(ss []Scope) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = string(s)
	}
	return out
}
