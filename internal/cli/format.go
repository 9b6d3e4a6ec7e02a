package cli

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Helpers that turn API values into table cells for people. A missing value
// prints as "-", so columns stay aligned and nothing looks like a blank.

const none = "-"

func orNone(s string) string {
	if s == "" {
		return none
	}
	return s
}

func ptrOrNone(s *string) string {
	if s == nil {
		return none
	}
	return orNone(*s)
}

// ago says how long before now t was: "45s ago", "3m ago", "2h ago", "4d ago".
func (m *meta) ago(t time.Time) string {
	if t.IsZero() {
		return none
	}
	d := m.now().Sub(t)
	if d < 0 {
		return "in " + roughly(-d)
	}
	return roughly(d) + " ago"
}

func roughly(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d/time.Hour))
	default:
		return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
	}
}

// when prints a time in full and how long ago it was.
func (m *meta) when(t *time.Time) string {
	if t == nil || t.IsZero() {
		return none
	}
	return t.Format(time.RFC3339) + " (" + m.ago(*t) + ")"
}

// seconds prints a duration given in seconds: "350ms", "1.2s", "3m20s".
func seconds(s *float64) string {
	if s == nil {
		return none
	}
	d := time.Duration(*s * float64(time.Second))
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	default:
		return d.Round(time.Second).String()
	}
}

// counts prints a map of counts in a stable order: the keys in order first
// (those present), then the rest sorted. "pending 3, running 1".
func counts(m map[string]int, order ...string) string {
	if len(m) == 0 {
		return none
	}
	keys := slices.Collect(maps.Keys(m))
	slices.SortFunc(keys, func(x, y string) int {
		ix, iy := slices.Index(order, x), slices.Index(order, y)
		switch {
		case ix >= 0 && iy >= 0:
			return ix - iy
		case ix >= 0:
			return -1
		case iy >= 0:
			return 1
		}
		return strings.Compare(x, y)
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

// labels prints k=v pairs sorted by key, or "" for none.
func labels(m map[string]string) string {
	parts := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, ",")
}

func list(s []string) string {
	if len(s) == 0 {
		return none
	}
	return strings.Join(s, ", ")
}

// taskStates is the lifecycle order of task states, for counts.
var taskStates = []string{"pending", "running", "completed", "failed", "cancelled"}
