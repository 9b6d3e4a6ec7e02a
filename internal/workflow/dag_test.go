package workflow

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-run/drover/internal/domain"
)

// steps builds steps from "name:parent,parent" specs.
func steps(specs ...string) []domain.Step {
	var out []domain.Step
	for _, s := range specs {
		name, deps, _ := strings.Cut(s, ":")
		st := domain.Step{Name: name, TaskType: "echo"}
		if deps != "" {
			st.DependsOn = strings.Split(deps, ",")
		}
		out = append(out, st)
	}
	return out
}

func TestNewGraphRejects(t *testing.T) {
	tests := []struct {
		name  string
		steps []domain.Step
		want  string // a substring of the error
	}{
		{"empty", nil, "at least one step"},
		{"unknown dependency", steps("a", "b:zz"), "step 'b' depends on 'zz'"},
		{"self", steps("a:a"), "step 'a' depends on itself"},
		{"duplicate", steps("a", "a"), "step 'a' is defined twice"},
		{"bad name", steps("a b"), `name "a b"`},
		{"cycle", steps("a", "b:a,d", "c:b", "d:c"), "cycle: b -> c -> d -> b"},
		{"two-cycle", steps("x:y", "y:x"), "cycle: x -> y -> x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewGraph(tc.steps)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("NewGraph = %v, want an error containing %q", err, tc.want)
			}
			if domain.CodeOf(err) != domain.CodeValidation {
				t.Errorf("code %s, want VALIDATION_ERROR", domain.CodeOf(err))
			}
		})
	}
}

func TestAdvance(t *testing.T) {
	diamond := steps("a", "b:a", "c:a", "d:b,c")
	type S = map[string]domain.ActionState
	tests := []struct {
		name   string
		steps  []domain.Step
		states S
		want   Plan
	}{
		{"start: roots ready", diamond, S{}, Plan{Ready: []string{"a"}, State: domain.RunRunning}},
		{"fan-out", diamond, S{"a": "completed"}, Plan{Ready: []string{"b", "c"}, State: domain.RunRunning}},
		{"fan-in waits for all parents", diamond, S{"a": "completed", "b": "completed", "c": "running"},
			Plan{State: domain.RunRunning}},
		{"fan-in", diamond, S{"a": "completed", "b": "completed", "c": "completed"},
			Plan{Ready: []string{"d"}, State: domain.RunRunning}},
		{"all done", diamond, S{"a": "completed", "b": "completed", "c": "completed", "d": "completed"},
			Plan{State: domain.RunCompleted}},
		{"failed branch stops descendants, sibling goes on", diamond, S{"a": "completed", "b": "failed", "c": "running"},
			Plan{UpstreamFailed: []string{"d"}, State: domain.RunRunning}},
		{"failure settles the run", diamond, S{"a": "completed", "b": "failed", "c": "completed"},
			Plan{UpstreamFailed: []string{"d"}, State: domain.RunFailed}},
		{"chain propagates in one pass", steps("a", "b:a", "c:b", "d:c"), S{"a": "failed"},
			Plan{UpstreamFailed: []string{"b", "c", "d"}, State: domain.RunFailed}},
		{"killed step", steps("a", "b:a"), S{"a": "cancelled"},
			Plan{UpstreamFailed: []string{"b"}, State: domain.RunFailed}},
		{"independent roots", steps("a", "b", "c:a"), S{"b": "failed"},
			Plan{Ready: []string{"a"}, State: domain.RunRunning}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, err := NewGraph(tc.steps)
			if err != nil {
				t.Fatal(err)
			}
			if got := g.Advance(tc.states); !cmp.Equal(got, tc.want) {
				t.Errorf("Advance(%v) = %v, want %v", tc.states, got, tc.want)
			}
		})
	}
}

func TestRestartSet(t *testing.T) {
	g, err := NewGraph(steps("a", "b:a", "c:a", "d:b,c", "e"))
	if err != nil {
		t.Fatal(err)
	}
	type S = map[string]domain.ActionState
	failed := S{"a": "completed", "b": "failed", "c": "completed", "d": "upstream_failed", "e": "completed"}
	tests := []struct {
		name    string
		mode    string
		states  S
		from    []string
		want    []string
		wantErr string
	}{
		{"exceptional reruns failed and below", RestartExceptional, failed, nil, []string{"b", "d"}, ""},
		{"exceptional of a clean run reruns nothing", RestartExceptional, S{"a": "completed", "b": "completed", "c": "completed", "d": "completed", "e": "completed"}, nil, nil, ""},
		{"exceptional with a killed step", RestartExceptional, S{"a": "cancelled", "b": "upstream_failed"}, nil, []string{"a", "b", "c", "d"}, ""},
		{"steps whatever their state", RestartSteps, failed, []string{"c"}, []string{"c", "d"}, ""},
		{"steps from a root", RestartSteps, failed, []string{"a", "e"}, []string{"a", "b", "c", "d", "e"}, ""},
		{"unknown step", RestartSteps, failed, []string{"zz"}, nil, "'zz' is not a step"},
		{"no steps", RestartSteps, failed, nil, nil, "at least one action"},
		{"bad mode", "sideways", failed, nil, nil, "restart mode"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := g.RestartSet(tc.mode, tc.states, tc.from)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("RestartSet = %v, %v; want error %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || !cmp.Equal(got, tc.want) {
				t.Errorf("RestartSet(%s, %v) = %v, %v; want %v", tc.mode, tc.from, got, err, tc.want)
			}
		})
	}
}

func TestDepths(t *testing.T) {
	t.Parallel()
	// d's parents are at depths 0 and 1: it sits below the deeper one.
	g, err := NewGraph(steps("d:a,b", "a", "b:a", "c", "e:d,c"))
	if err != nil {
		t.Fatal(err)
	}
	want := []int{2, 0, 1, 0, 3}
	if got := g.Depths(); !cmp.Equal(got, want) {
		t.Errorf("Depths() = %v, want %v", got, want)
	}
}
