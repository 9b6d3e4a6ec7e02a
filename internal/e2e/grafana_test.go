package e2e

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
)

// grafanaPanel is what TestGrafanaDashboard reads of a panel: its
// queries, and the panels of a row.
type grafanaPanel struct {
	Title   string `json:"title"`
	Type    string `json:"type"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
	Panels []grafanaPanel `json:"panels"`
}

// TestGrafanaDashboard: every query of deploy/grafana/drover.json (its
// panels' and its variables') names only metrics a real server exports at
// /metrics once it has run a task, so the dashboard has no empty panel
// after a rename.
func TestGrafanaDashboard(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../deploy/grafana/drover.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels     []grafanaPanel `json:"panels"`
		Templating struct {
			List []struct {
				Name       string `json:"name"`
				Definition string `json:"definition"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("deploy/grafana/drover.json: %v", err)
	}
	queries := map[string][]string{} // where -> metric names
	var walk func([]grafanaPanel)
	walk = func(ps []grafanaPanel) {
		for _, p := range ps {
			walk(p.Panels)
			if p.Type == "row" {
				continue
			}
			if len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			for _, tg := range p.Targets {
				names, err := promqlMetrics(tg.Expr)
				if err != nil || len(names) == 0 {
					t.Errorf("panel %q: query %q: names no metric (%v)", p.Title, tg.Expr, err)
				}
				queries["panel "+p.Title+": "+tg.Expr] = names
			}
		}
	}
	walk(dash.Panels)
	for _, v := range dash.Templating.List {
		if v.Definition == "" {
			continue
		}
		// label_values(METRIC_SELECTOR, LABEL)
		selector, _, _ := strings.Cut(strings.TrimPrefix(v.Definition, "label_values("), ",")
		names, err := promqlMetrics(selector)
		if err != nil {
			t.Errorf("variable %s: %v", v.Name, err)
		}
		queries["variable "+v.Name+": "+v.Definition] = names
	}
	if len(queries) < 20 {
		t.Fatalf("read %d queries from the dashboard: is the parser broken?", len(queries))
	}

	// A real server, a worker and a finished task: every kind of series
	// the dashboard graphs has appeared.
	cl := newCluster(t)
	cl.startWorker(t, "w1", 2)
	sub, err := cl.c.Tasks.Submit(t.Context(), sleepTask(0.1))
	if err != nil {
		t.Fatal(err)
	}
	if task, err := cl.c.Tasks.Wait(t.Context(), sub.TaskID, 0); err != nil || task.Status != "completed" {
		t.Fatalf("task = %+v, %v; want completed", task, err)
	}
	exported := scrapeMetricNames(t, cl.api+"/metrics")
	for where, names := range queries {
		for _, n := range names {
			if !exported[n] {
				t.Errorf("%s: metric %s is not exported by the server", where, n)
			}
		}
	}
}

// scrapeMetricNames reads the names of the series a /metrics answer holds.
func scrapeMetricNames(t *testing.T, url string) map[string]bool {
	t.Helper()
	var names map[string]bool
	eventually(t, 10*time.Second, "the worker protocol's metrics", func() bool {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		names = map[string]bool{}
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if line == "" || line[0] == '#' {
				continue
			}
			if i := strings.IndexAny(line, "{ "); i > 0 {
				names[line[:i]] = true
			}
		}
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
		return names["drover_agent_http_requests_total"]
	})
	return names
}

// promqlKeywords are words of PromQL that are not metric names: keywords,
// and aggregations (which may be followed by by/without before their
// parenthesis).
var promqlKeywords = []string{"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset",
	"and", "or", "unless", "inf", "nan", "atan2",
	"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk", "quantile",
	"limitk", "limit_ratio"}

// promqlMetrics returns the metric names a PromQL expression reads: the
// identifiers that are not functions, aggregations, keywords, label names
// (in braces and in by/without/on/ignoring lists) or parts of numbers and
// durations, and not inside strings or range brackets.
func promqlMetrics(expr string) ([]string, error) {
	var (
		names []string
		rs    = []rune(expr)
	)
	skipTo := func(i int, open, close rune) int { // i at open; returns the index after the matching close
		depth := 0
		for ; i < len(rs); i++ {
			switch rs[i] {
			case open:
				depth++
			case close:
				depth--
				if depth == 0 {
					return i + 1
				}
			case '"', '\'', '`':
				q := rs[i]
				for i++; i < len(rs) && rs[i] != q; i++ {
					if rs[i] == '\\' {
						i++
					}
				}
			}
		}
		return i
	}
	ident := func(r rune) bool { return r == '_' || r == ':' || unicode.IsLetter(r) || unicode.IsDigit(r) }
	for i := 0; i < len(rs); {
		r := rs[i]
		switch {
		case r == '{':
			i = skipTo(i, '{', '}')
		case r == '[':
			i = skipTo(i, '[', ']')
		case r == '"' || r == '\'' || r == '`':
			for i++; i < len(rs) && rs[i] != r; i++ {
				if rs[i] == '\\' {
					i++
				}
			}
			i++
		case unicode.IsDigit(r) || (r == '.' && i+1 < len(rs) && unicode.IsDigit(rs[i+1])):
			for i < len(rs) && (ident(rs[i]) || rs[i] == '.' || ((rs[i] == '+' || rs[i] == '-') && (rs[i-1] == 'e' || rs[i-1] == 'E'))) {
				i++
			}
		case r == '$':
			for i++; i < len(rs) && (ident(rs[i]) || rs[i] == '{' || rs[i] == '}'); i++ {
			}
		case unicode.IsLetter(r) || r == '_' || r == ':':
			j := i
			for j < len(rs) && ident(rs[j]) {
				j++
			}
			word := string(rs[i:j])
			k := j
			for k < len(rs) && unicode.IsSpace(rs[k]) {
				k++
			}
			i = j
			switch {
			case slices.Contains([]string{"by", "without", "on", "ignoring", "group_left", "group_right"}, word):
				if k < len(rs) && rs[k] == '(' {
					i = skipTo(k, '(', ')') // a list of label names
				}
			case slices.Contains(promqlKeywords, strings.ToLower(word)):
			case k < len(rs) && rs[k] == '(':
				// a function or an aggregation
			default:
				names = append(names, word)
			}
		default:
			i++
		}
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

func TestPromQLMetrics(t *testing.T) {
	t.Parallel()
	tests := []struct {
		expr string
		want []string
	}{
		{`sum by (state) (drover_tasks)`, []string{"drover_tasks"}},
		{`histogram_quantile(0.95, sum by (le, type) (rate(drover_task_run_seconds_bucket{outcome="completed"}[$__rate_interval])))`, []string{"drover_task_run_seconds_bucket"}},
		{`sum(rate(a_total{state="failed"}[5m])) / clamp_min(sum(rate(b_total{code=~"4..|5.."}[5m])), 1e-9)`, []string{"a_total", "b_total"}},
		{`drover_device_cpu_usage_percent{device=~"$device"} offset 1h`, []string{"drover_device_cpu_usage_percent"}},
		{`sum(x) without (instance) + on(job) group_left(version) y > bool 0.5`, []string{"x", "y"}},
		{`rate(x[5m:30s])`, []string{"x"}},
	}
	for _, tc := range tests {
		got, err := promqlMetrics(tc.expr)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("promqlMetrics(%q) = %v, %v; want %v", tc.expr, got, err, tc.want)
		}
	}
}
