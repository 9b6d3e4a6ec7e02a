package chaos

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestScheduleIsDeterministic(t *testing.T) {
	kinds := []string{FaultWorkerKill, FaultWorkerStop, FaultBlackHole, FaultServerKill}
	draw := func(seed uint64) []string {
		s := newSchedule(seed, kinds)
		var out []string
		for range 3 * len(kinds) {
			out = append(out, s.next())
		}
		return out
	}
	a, b := draw(7), draw(7)
	if !slices.Equal(a, b) {
		t.Fatalf("seed 7 drew %v, then %v", a, b)
	}
	// Each cycle injects every kind once.
	for c := 0; c < len(a); c += len(kinds) {
		cycle := slices.Clone(a[c : c+len(kinds)])
		slices.Sort(cycle)
		want := slices.Clone(kinds)
		slices.Sort(want)
		if !slices.Equal(cycle, want) {
			t.Errorf("cycle %v is not a permutation of %v", a[c:c+len(kinds)], kinds)
		}
	}
	if slices.Equal(a, draw(8)) {
		t.Errorf("seeds 7 and 8 drew the same order %v", a)
	}
}

func TestRequestIsStableAcrossRetries(t *testing.T) {
	r1, k1 := request(3, "n", 42, "/l")
	r2, k2 := request(3, "n", 42, "/l")
	if k1 != k2 || r1.IdempotencyKey != r2.IdempotencyKey || string(r1.Payload) != string(r2.Payload) {
		t.Errorf("submit 42 differs between tries: %s %s / %s %s", k1, r1.Payload, k2, r2.Payload)
	}
	kinds := map[string]int{}
	for n := range 1000 {
		_, k := request(3, "n", n, "/l")
		kinds[k]++
	}
	for _, m := range mix {
		if got := kinds[m.kind]; got < m.weight*10/2 || got > m.weight*10*2 {
			t.Errorf("%d of 1000 submits are %s, want about %d", got, m.kind, m.weight*10)
		}
	}
}

func TestReadLedger(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger")
	lines := "task-a 1 start\ntask-a 1 done\ntask-b 1 start\ntask-a 2 start\nbroken line\ntask-a 2 done\n"
	if err := os.WriteFile(path, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := readLedger(path)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got["task-a"], []int{1, 2}) || !slices.Equal(got["task-b"], []int{1}) || len(got) != 2 {
		t.Errorf("readLedger() = %v, want task-a [1 2], task-b [1]", got)
	}
}

func TestResourcesAfterWarmup(t *testing.T) {
	r := &Report{}
	for i := range 40 { // one sample every 5 s for 200 s; RSS grows 10 %, goroutines flat
		r.Samples = append(r.Samples, Sample{Seconds: float64(i * 5), RSSMB: 100 + float64(i)/4, Goroutines: 50})
	}
	r.resources(60e9) // 60 s
	if r.RSSWarmMB >= r.RSSEndMB || r.RSSGrowthPct <= 0 || r.RSSGrowthPct > 10 {
		t.Errorf("RSS %v → %v (%v %%), want growth in (0, 10]", r.RSSWarmMB, r.RSSEndMB, r.RSSGrowthPct)
	}
	if r.GoroutinesMin != 50 || r.GoroutinesMax != 50 {
		t.Errorf("goroutines %d..%d, want 50", r.GoroutinesMin, r.GoroutinesMax)
	}
}
