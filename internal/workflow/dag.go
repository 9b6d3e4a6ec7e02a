package workflow

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/drover-run/drover/internal/domain"
)

// Graph is a validated workflow's steps with their edges, by index.
type Graph struct {
	Steps    []domain.Step
	index    map[string]int
	parents  [][]int
	children [][]int
}

var stepName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$`)

// MaxSteps bounds a workflow's size.
const MaxSteps = 10000

// NewGraph validates steps as a DAG: names unique and well formed, every
// dependency known, no cycle. The error names the step at fault.
func NewGraph(steps []domain.Step) (*Graph, error) {
	if len(steps) == 0 {
		return nil, invalid("a workflow needs at least one step")
	}
	if len(steps) > MaxSteps {
		return nil, invalid("a workflow has at most %d steps, not %d", MaxSteps, len(steps))
	}
	g := &Graph{Steps: steps, index: make(map[string]int, len(steps)),
		parents: make([][]int, len(steps)), children: make([][]int, len(steps))}
	for i, s := range steps {
		if !stepName.MatchString(s.Name) {
			return nil, invalid("step %d: name %q must be 1-100 letters, digits, '_', '-' or '.'", i, s.Name).With("step", s.Name)
		}
		if _, dup := g.index[s.Name]; dup {
			return nil, invalid("step '%s' is defined twice", s.Name).With("step", s.Name)
		}
		g.index[s.Name] = i
	}
	for i, s := range steps {
		seen := map[string]bool{}
		for _, d := range s.DependsOn {
			j, ok := g.index[d]
			switch {
			case !ok:
				return nil, invalid("step '%s' depends on '%s', which is not a step of this workflow", s.Name, d).With("step", s.Name).With("depends_on", d)
			case j == i:
				return nil, invalid("step '%s' depends on itself", s.Name).With("step", s.Name)
			case seen[d]:
				continue
			}
			seen[d] = true
			g.parents[i] = append(g.parents[i], j)
			g.children[j] = append(g.children[j], i)
		}
	}
	if cycle := g.findCycle(); cycle != nil {
		names := make([]string, len(cycle))
		for k, i := range cycle {
			names[k] = steps[i].Name
		}
		return nil, invalid("steps form a cycle: %s", strings.Join(names, " -> ")).With("step", names[0]).With("cycle", names)
	}
	return g, nil
}

func invalid(format string, args ...any) *domain.Error {
	return domain.Errorf(domain.CodeValidation, format, args...)
}

// findCycle returns the steps of one cycle (first repeated at the end), or nil.
func (g *Graph) findCycle() []int {
	const (
		white = iota
		grey
		black
	)
	color := make([]int, len(g.Steps))
	stack := []int{}
	var visit func(i int) []int
	visit = func(i int) []int {
		color[i] = grey
		stack = append(stack, i)
		for _, c := range g.children[i] {
			switch color[c] {
			case grey:
				at := slices.Index(stack, c)
				return append(slices.Clone(stack[at:]), c)
			case white:
				if cyc := visit(c); cyc != nil {
					return cyc
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[i] = black
		return nil
	}
	for i := range g.Steps {
		if color[i] == white {
			if cyc := visit(i); cyc != nil {
				return cyc
			}
		}
	}
	return nil
}

// Has reports whether name is a step.
func (g *Graph) Has(name string) bool { _, ok := g.index[name]; return ok }

// Step returns the named step.
func (g *Graph) Step(name string) (domain.Step, bool) {
	i, ok := g.index[name]
	if !ok {
		return domain.Step{}, false
	}
	return g.Steps[i], true
}

// Descendants returns names and everything downstream of them, in step order.
func (g *Graph) Descendants(names []string) []string {
	mark := make([]bool, len(g.Steps))
	var walk func(i int)
	walk = func(i int) {
		if mark[i] {
			return
		}
		mark[i] = true
		for _, c := range g.children[i] {
			walk(c)
		}
	}
	for _, n := range names {
		if i, ok := g.index[n]; ok {
			walk(i)
		}
	}
	var out []string
	for i, m := range mark {
		if m {
			out = append(out, g.Steps[i].Name)
		}
	}
	return out
}

// Plan is what a run should do next, given each step's state.
type Plan struct {
	Ready          []string // waiting steps whose parents all completed: create their tasks
	UpstreamFailed []string // waiting steps below a failed, cancelled or upstream-failed parent
	State          domain.RunState
}

// Advance decides the next moves of a running run: which waiting steps are
// ready, which can never run, and the run's state once those moves are
// made. A step missing from states counts as waiting.
func (g *Graph) Advance(states map[string]domain.ActionState) Plan {
	st := make([]domain.ActionState, len(g.Steps))
	for i, s := range g.Steps {
		st[i] = states[s.Name]
		if st[i] == "" {
			st[i] = domain.ActionWaiting
		}
	}
	var p Plan
	// Steps are visited in topological order so an upstream failure
	// propagates through a whole chain in one pass.
	for _, i := range g.topo() {
		if st[i] != domain.ActionWaiting {
			continue
		}
		ready := true
		for _, pa := range g.parents[i] {
			switch st[pa] {
			case domain.ActionCompleted:
			case domain.ActionFailed, domain.ActionCancelled, domain.ActionUpstreamFailed:
				st[i] = domain.ActionUpstreamFailed
				ready = false
			default:
				ready = false
			}
			if st[i] == domain.ActionUpstreamFailed {
				break
			}
		}
		switch {
		case st[i] == domain.ActionUpstreamFailed:
			p.UpstreamFailed = append(p.UpstreamFailed, g.Steps[i].Name)
		case ready:
			st[i] = domain.ActionPending
			p.Ready = append(p.Ready, g.Steps[i].Name)
		}
	}
	p.State = DeriveState(st)
	return p
}

// DeriveState is a run's state from its steps' states: running while any
// step may still change, completed when all completed, else failed.
func DeriveState(states []domain.ActionState) domain.RunState {
	done := true
	for _, s := range states {
		switch s {
		case domain.ActionCompleted:
		case domain.ActionFailed, domain.ActionCancelled, domain.ActionUpstreamFailed:
			done = false
		default:
			return domain.RunRunning
		}
	}
	if done {
		return domain.RunCompleted
	}
	return domain.RunFailed
}

// Depths is each step's depth, by index: 0 for a step without parents,
// else one more than its deepest parent's (the column a drawing of the DAG
// puts it in).
func (g *Graph) Depths() []int {
	d := make([]int, len(g.Steps))
	for _, i := range g.topo() {
		for _, p := range g.parents[i] {
			d[i] = max(d[i], d[p]+1)
		}
	}
	return d
}

// topo is the steps in a topological order (parents first), stable by index.
func (g *Graph) topo() []int {
	indeg := make([]int, len(g.Steps))
	for i := range g.Steps {
		indeg[i] = len(g.parents[i])
	}
	var queue, out []int
	for i, d := range indeg {
		if d == 0 {
			queue = append(queue, i)
		}
	}
	for len(queue) > 0 {
		i := queue[0]
		queue = queue[1:]
		out = append(out, i)
		for _, c := range g.children[i] {
			if indeg[c]--; indeg[c] == 0 {
				queue = append(queue, c)
			}
		}
	}
	return out
}

// Restart modes (document 002's `more`).
const (
	RestartWhole       = "whole"       // a new run record
	RestartExceptional = "exceptional" // failed steps and their descendants, same record
	RestartSteps       = "steps"       // the given steps and their descendants, same record
)

// RestartSet is the steps a same-record restart reruns: for
// RestartExceptional, every step that did not complete or is below one that
// did not (completed steps upstream of the failure are kept); for
// RestartSteps, from and their descendants, whatever their state.
func (g *Graph) RestartSet(mode string, states map[string]domain.ActionState, from []string) ([]string, error) {
	switch mode {
	case RestartExceptional:
		var bad []string
		for _, s := range g.Steps {
			switch states[s.Name] {
			case domain.ActionFailed, domain.ActionCancelled, domain.ActionUpstreamFailed:
				bad = append(bad, s.Name)
			}
		}
		return g.Descendants(bad), nil
	case RestartSteps:
		if len(from) == 0 {
			return nil, invalid("name at least one action to restart from")
		}
		for _, n := range from {
			if !g.Has(n) {
				return nil, invalid("'%s' is not a step of this workflow", n).With("step", n)
			}
		}
		return g.Descendants(from), nil
	}
	return nil, invalid("restart mode %q is not one of whole, exceptional (failed), steps", mode)
}

// String renders a plan for test failures.
func (p Plan) String() string {
	return fmt.Sprintf("{ready %v, upstream_failed %v, state %s}", p.Ready, p.UpstreamFailed, p.State)
}
