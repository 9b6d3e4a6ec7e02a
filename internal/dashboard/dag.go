package dashboard

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/workflow"
)

// A workflow's DAG, laid out on the server and drawn as SVG: each step in
// the column of its depth (workflow.Graph.Depths), left to right, so an
// edge always points right; within a column, steps are ordered by the mean
// row of their parents (fewer crossings), then by their order in the
// workflow. No script draws it: the page is the picture.

type dagView struct {
	Width, Height int
	Nodes         []dagNode
	Edges         []dagEdge
}

type dagNode struct {
	Name  string
	Label string // Name, cut to fit the box
	State string // a run's action state, or ""
	Href  string // the step's task, or ""
	X, Y  int
	TextX int
	TextY int
	W, H  int
	Depth int
}

type dagEdge struct {
	Path  string // the SVG path data
	State string // the parent's state: an edge is as far as its source got
}

// Layout sizes, in SVG user units (CSS pixels at scale 1).
const (
	dagNodeW    = 150
	dagNodeH    = 34
	dagGapX     = 48
	dagGapY     = 12
	dagPad      = 4
	dagLabelMax = 19
	// maxDrawnSteps bounds the drawing: a larger workflow is listed, not drawn.
	maxDrawnSteps = 400
)

// layoutDAG lays out w's steps; states, when a run's, colours them and
// links each to its task. It returns nil for a workflow too large to draw.
func layoutDAG(w *domain.Workflow, actions []*domain.Action) (*dagView, error) {
	if len(w.Steps) > maxDrawnSteps {
		return nil, nil
	}
	g, err := workflow.NewGraph(w.Steps)
	if err != nil {
		return nil, err
	}
	depths := g.Depths()
	index := make(map[string]int, len(w.Steps))
	for i, s := range w.Steps {
		index[s.Name] = i
	}
	byStep := map[string]*domain.Action{}
	for _, a := range actions {
		byStep[a.Step] = a
	}
	var columns [][]int
	for i, dp := range depths {
		for len(columns) <= dp {
			columns = append(columns, nil)
		}
		columns[dp] = append(columns[dp], i)
	}
	row := make([]float64, len(w.Steps))
	for _, col := range columns {
		// The mean row of a step's parents: all sit in earlier columns,
		// already placed.
		mean := func(i int) float64 {
			ps := w.Steps[i].DependsOn
			if len(ps) == 0 {
				return float64(i) // roots keep the workflow's order
			}
			var sum float64
			for _, p := range ps {
				sum += row[index[p]]
			}
			return sum / float64(len(ps))
		}
		keys := make(map[int]float64, len(col))
		for _, i := range col {
			keys[i] = mean(i)
		}
		slices.SortStableFunc(col, func(a, b int) int { return cmp.Or(cmp.Compare(keys[a], keys[b]), cmp.Compare(a, b)) })
		for r, i := range col {
			row[i] = float64(r)
		}
	}
	v := &dagView{}
	nodes := make([]dagNode, len(w.Steps))
	rows := 0
	for _, col := range columns {
		rows = max(rows, len(col))
	}
	for i, s := range w.Steps {
		n := dagNode{Name: s.Name, Label: s.Name, Depth: depths[i], W: dagNodeW, H: dagNodeH,
			X: dagPad + depths[i]*(dagNodeW+dagGapX), Y: dagPad + int(row[i])*(dagNodeH+dagGapY)}
		if r := []rune(s.Name); len(r) > dagLabelMax {
			n.Label = string(r[:dagLabelMax-1]) + "…"
		}
		n.TextX, n.TextY = n.X+10, n.Y+dagNodeH/2+5
		if actions != nil {
			n.State = string(domain.ActionWaiting)
			if a := byStep[s.Name]; a != nil {
				n.State = string(a.State)
				if a.TaskID != "" {
					n.Href = "/ui/tasks/" + a.TaskID
				}
			}
		}
		nodes[i] = n
	}
	for i, s := range w.Steps {
		to := nodes[i]
		for _, p := range s.DependsOn {
			from := nodes[index[p]]
			x1, y1 := from.X+from.W, from.Y+from.H/2
			x2, y2 := to.X-2, to.Y+to.H/2
			mx := (x1 + x2) / 2
			v.Edges = append(v.Edges, dagEdge{State: from.State,
				Path: fmt.Sprintf("M%d %d C%d %d, %d %d, %d %d", x1, y1, mx, y1, mx, y2, x2, y2)})
		}
	}
	v.Nodes = nodes
	v.Width = 2*dagPad + len(columns)*(dagNodeW+dagGapX) - dagGapX
	v.Height = 2*dagPad + rows*(dagNodeH+dagGapY) - dagGapY
	return v, nil
}
