package workflow

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/drover-run/drover/internal/domain"
)

// TestRandomDAGs drives random DAGs (2-50 steps) with random failures to the
// end, then repairs them with an EXCEPTIONAL restart (RELIABILITY R8): no
// step starts before all its parents completed; below a failure nothing
// runs; the restart reruns no completed step and completes the run.
func TestRandomDAGs(t *testing.T) {
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 9))
		n := 2 + rng.IntN(49)
		var steps []domain.Step
		for i := range n {
			s := domain.Step{Name: fmt.Sprintf("s%d", i), TaskType: "echo"}
			for j := range i {
				if rng.Float64() < 3.0/float64(i+1) {
					s.DependsOn = append(s.DependsOn, fmt.Sprintf("s%d", j))
				}
			}
			steps = append(steps, s)
		}
		g, err := NewGraph(steps)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		failing := map[string]bool{}
		for _, s := range steps {
			if rng.Float64() < 0.15 {
				failing[s.Name] = true
			}
		}
		states := map[string]domain.ActionState{}
		runs := map[string]int{}
		drive := func() domain.RunState {
			for range 2 * n {
				p := g.Advance(states)
				for _, name := range p.UpstreamFailed {
					states[name] = domain.ActionUpstreamFailed
				}
				if p.State != domain.RunRunning {
					return p.State
				}
				for _, name := range p.Ready {
					st, _ := g.Step(name)
					for _, parent := range st.DependsOn {
						if states[parent] != domain.ActionCompleted {
							t.Fatalf("seed %d: %s started before its parent %s completed (%s)", seed, name, parent, states[parent])
						}
					}
					runs[name]++
					states[name] = domain.ActionCompleted
					if failing[name] {
						states[name] = domain.ActionFailed
					}
				}
			}
			t.Fatalf("seed %d: the run does not settle", seed)
			return ""
		}
		end := drive()
		if (end == domain.RunFailed) != (len(failing) > 0 && slices.ContainsFunc(steps, func(s domain.Step) bool { return failing[s.Name] && runs[s.Name] > 0 })) {
			t.Fatalf("seed %d: run %s with failing steps %v", seed, end, failing)
		}
		var failed []string
		for name, st := range states {
			if st == domain.ActionFailed {
				failed = append(failed, name)
			}
		}
		for _, below := range g.Descendants(failed) {
			if !slices.Contains(failed, below) && runs[below] > 0 {
				t.Fatalf("seed %d: %s ran below a failed step", seed, below)
			}
		}
		completedBefore := map[string]bool{}
		for name, st := range states {
			completedBefore[name] = st == domain.ActionCompleted
		}
		rerun, err := g.RestartSet(RestartExceptional, states, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range rerun {
			if completedBefore[name] && !slices.Contains(g.Descendants(failed), name) {
				t.Fatalf("seed %d: EXCEPTIONAL reruns %s, which completed and is not below a failure", seed, name)
			}
			states[name] = domain.ActionWaiting
		}
		clear(failing)
		before := maps.Clone(runs)
		if end := drive(); end != domain.RunCompleted {
			t.Fatalf("seed %d: after the restart the run is %s", seed, end)
		}
		for name, was := range completedBefore {
			if was && !slices.Contains(rerun, name) && runs[name] != before[name] {
				t.Fatalf("seed %d: completed step %s ran again", seed, name)
			}
		}
	}
}
