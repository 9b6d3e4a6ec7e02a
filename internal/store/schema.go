package store

import (
	"fmt"
	"strings"
	"time"
)

// Migration is one schema change, as this binary and the database know it
// (`drover migrate status`).
type Migration struct {
	Version int
	Name    string    // NNNN_name
	Applied time.Time // zero: not applied yet
	Known   bool      // this binary has it; false: applied by a newer drover
}

// SchemaTooNewError is the refusal to open a database that migrations
// unknown to this binary have changed: a newer drover upgraded it, and this
// one would misread it.
type SchemaTooNewError struct {
	Unknown []Migration
}

func (e *SchemaTooNewError) Error() string {
	names := make([]string, len(e.Unknown))
	for i, m := range e.Unknown {
		names[i] = m.Name
	}
	return fmt.Sprintf("the database's schema is newer than this drover: it has migrations this binary does not know (%s), "+
		"applied by a newer drover. Run that version (drover version shows this one's), or restore a backup taken before the upgrade",
		strings.Join(names, ", "))
}

// SchemaVersion is the highest known migration applied: the schema version
// /health reports.
func SchemaVersion(ms []Migration) int {
	v := 0
	for _, m := range ms {
		if m.Known && !m.Applied.IsZero() && m.Version > v {
			v = m.Version
		}
	}
	return v
}

// MergeMigrations joins the migrations a binary knows with those a database
// recorded (version -> name, applied time), in version order, and returns
// the applied ones the binary does not know.
func MergeMigrations(known []Migration, applied map[int]Migration) (all, unknown []Migration) {
	seen := map[int]bool{}
	for _, k := range known {
		k.Known = true
		if a, ok := applied[k.Version]; ok {
			k.Applied = a.Applied
		}
		seen[k.Version] = true
		all = append(all, k)
	}
	for v, a := range applied {
		if !seen[v] {
			a.Known = false
			all = append(all, a)
			unknown = append(unknown, a)
		}
	}
	sortMigrations(all)
	sortMigrations(unknown)
	return all, unknown
}

func sortMigrations(ms []Migration) {
	for i := 1; i < len(ms); i++ {
		for j := i; j > 0 && ms[j].Version < ms[j-1].Version; j-- {
			ms[j], ms[j-1] = ms[j-1], ms[j]
		}
	}
}
