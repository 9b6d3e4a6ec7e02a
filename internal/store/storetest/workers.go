package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

var workerTests = []test{
	{"RegisterGet", testWorkerRegisterGet},
	{"GetUnknown", testWorkerGetUnknown},
	{"ReRegister", testWorkerReRegister},
	{"GetByCredential", testWorkerGetByCredential},
	{"Heartbeat", testWorkerHeartbeat},
	{"HeartbeatKeepsDraining", testWorkerHeartbeatKeepsDraining},
	{"HeartbeatUnknownOrRemoved", testWorkerHeartbeatUnknownOrRemoved},
	{"List", testWorkerList},
	{"MarkOffline", testWorkerMarkOffline},
	{"SetState", testWorkerSetState},
	{"Delete", testWorkerDelete},
	{"TasksActive", testWorkerTasksActive},
	{"JoinPicksID", testWorkerJoinPicksID},
	{"JoinKeepsCounters", testWorkerJoinKeepsCounters},
	{"JoinReturning", testWorkerJoinReturning},
	{"JoinConcurrent", testWorkerJoinConcurrent},
}

func (b *bundle) workerGet(t *testing.T, id string) *domain.Worker {
	t.Helper()
	w, err := b.s.WorkerGet(b.ctx, id)
	if err != nil {
		t.Fatalf("WorkerGet(%s) error = %v", id, err)
	}
	return w
}

func testWorkerRegisterGet(t *testing.T, b *bundle) {
	want := newWorker("w1", func(w *domain.Worker) {
		w.Platform = domain.Platform{OS: "android", Arch: "arm64", PythonVersion: "3.12", Kernel: "5.10"}
		w.Resources = domain.Resources{CPUCores: 8, CPUUsage: 12.5, MemoryTotalGB: 6, MemoryUsedGB: 2.5,
			StorageTotalGB: 128, StorageUsedGB: 64, Battery: &domain.Battery{Level: 80, Charging: true}}
		w.Info = domain.WorkerInfo{Capabilities: []string{"camera"}, NetworkInterfaces: []string{"wlan0"}, Sensors: []string{"gps"}}
		w.PID, w.Version = 4242, "1.2.3"
	})
	got, err := b.s.WorkerRegister(b.ctx, &store.WorkerRegisterParams{Worker: want, Now: b.now})
	if err != nil {
		t.Fatalf("WorkerRegister() error = %v", err)
	}
	w := *want
	w.RegisteredAt, w.LastSeen = b.now, b.now
	if diff := cmp.Diff(&w, got, cmpEmpty); diff != "" {
		t.Errorf("WorkerRegister() mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(&w, b.workerGet(t, "w1"), cmpEmpty); diff != "" {
		t.Errorf("WorkerGet() mismatch (-want +got):\n%s", diff)
	}
}

func testWorkerGetUnknown(t *testing.T, b *bundle) {
	_, err := b.s.WorkerGet(b.ctx, "nobody")
	wantErr(t, "WorkerGet(unknown)", err, domain.ErrNotFound)
	_, err = b.s.WorkerGetByCredential(b.ctx, "no-such-hash")
	wantErr(t, "WorkerGetByCredential(unknown)", err, domain.ErrNotFound)
}

func testWorkerReRegister(t *testing.T, b *bundle) {
	first := b.register(t, "w1")
	// Earn a counter, then come back with a new description and credential.
	b.insert(t, b.newTask())
	b.finish(t, first, refOf(b.leaseOne(t, first)), true)
	b.step(time.Minute)
	again := newWorker("w1", func(w *domain.Worker) {
		w.Queues, w.Role, w.CredentialHash, w.State = []string{"gpu"}, "gpu", "hash-new", domain.WorkerOnline
	})
	got, err := b.s.WorkerRegister(b.ctx, &store.WorkerRegisterParams{Worker: again, Now: b.now})
	if err != nil {
		t.Fatalf("WorkerRegister(again) error = %v", err)
	}
	want := *again
	want.RegisteredAt, want.LastSeen, want.TasksCompleted = first.RegisteredAt, b.now, 1
	if diff := cmp.Diff(&want, got, cmpEmpty); diff != "" {
		t.Errorf("WorkerRegister(again) mismatch: description replaced, counters and first registration kept (-want +got):\n%s", diff)
	}
	if _, err := b.s.WorkerGetByCredential(b.ctx, "hash-w1"); err == nil {
		t.Errorf("WorkerGetByCredential(old hash) found the worker; a re-registration replaces the credential")
	}
}

func testWorkerGetByCredential(t *testing.T, b *bundle) {
	b.register(t, "w1")
	b.register(t, "w2")
	got, err := b.s.WorkerGetByCredential(b.ctx, "hash-w2")
	if err != nil {
		t.Fatalf("WorkerGetByCredential() error = %v", err)
	}
	if got.ID != "w2" {
		t.Errorf("WorkerGetByCredential(hash-w2) = %s, want w2", got.ID)
	}
	if err := b.s.WorkerDelete(b.ctx, "w2"); err != nil {
		t.Fatalf("WorkerDelete() error = %v", err)
	}
	_, err = b.s.WorkerGetByCredential(b.ctx, "hash-w2")
	wantErr(t, "WorkerGetByCredential(removed worker)", err, domain.ErrNotFound)
}

func testWorkerHeartbeat(t *testing.T, b *bundle) {
	b.register(t, "w1")
	b.step(10 * time.Minute)
	if _, err := b.s.WorkerMarkOffline(b.ctx, &store.WorkerMarkOfflineParams{Before: b.now, Now: b.now}); err != nil {
		t.Fatalf("WorkerMarkOffline() error = %v", err)
	}
	b.step(time.Second)
	res := domain.Resources{CPUCores: 4, CPUUsage: 75, MemoryTotalGB: 8, MemoryUsedGB: 7}
	hb, err := b.heartbeatOne(store.Heartbeat{ID: "w1", Resources: res})
	if err != nil {
		t.Fatalf("WorkerHeartbeat() error = %v", err)
	}
	got := hb.Worker
	if got.State != domain.WorkerOnline || !got.LastSeen.Equal(b.now) || !cmp.Equal(got.Resources, res) {
		t.Errorf("WorkerHeartbeat() = (state %s, last seen %v, resources %+v), want (online, %v, %+v)",
			got.State, got.LastSeen, got.Resources, b.now, res)
	}
	if diff := cmp.Diff(got, b.workerGet(t, "w1"), cmpEmpty); diff != "" {
		t.Errorf("WorkerGet() differs from the heartbeat's answer (-heartbeat +get):\n%s", diff)
	}
}

func testWorkerHeartbeatKeepsDraining(t *testing.T, b *bundle) {
	b.register(t, "w1")
	if err := b.s.WorkerSetState(b.ctx, &store.WorkerSetStateParams{ID: "w1", State: domain.WorkerDraining, Now: b.now}); err != nil {
		t.Fatalf("WorkerSetState() error = %v", err)
	}
	got, err := b.heartbeatOne(store.Heartbeat{ID: "w1"})
	if err != nil {
		t.Fatalf("WorkerHeartbeat() error = %v", err)
	}
	if got.Worker.State != domain.WorkerDraining {
		t.Errorf("WorkerHeartbeat(draining worker).State = %s, want draining", got.Worker.State)
	}
}

func testWorkerHeartbeatUnknownOrRemoved(t *testing.T, b *bundle) {
	_, err := b.heartbeatOne(store.Heartbeat{ID: "nobody"})
	wantErr(t, "WorkerHeartbeat(unknown)", err, domain.ErrNotFound)
	b.register(t, "w1")
	if err := b.s.WorkerDelete(b.ctx, "w1"); err != nil {
		t.Fatalf("WorkerDelete() error = %v", err)
	}
	_, err = b.heartbeatOne(store.Heartbeat{ID: "w1"})
	wantErr(t, "WorkerHeartbeat(removed)", err, domain.ErrNotFound)
	if got := b.workerGet(t, "w1"); got.State != domain.WorkerRemoved {
		t.Errorf("WorkerGet(removed).State after a heartbeat = %s, want removed", got.State)
	}
}

func testWorkerList(t *testing.T, b *bundle) {
	b.register(t, "w3", func(w *domain.Worker) { w.Role = "gpu"; w.Queues = []string{"gpu", domain.DefaultQueue} })
	b.register(t, "w1")
	b.register(t, "w2", func(w *domain.Worker) { w.State = domain.WorkerDraining })
	b.register(t, "w4", func(w *domain.Worker) { w.Queues = []string{"gpu"} })
	b.register(t, "gone")
	if err := b.s.WorkerDelete(b.ctx, "gone"); err != nil {
		t.Fatalf("WorkerDelete() error = %v", err)
	}
	tests := []struct {
		name string
		p    store.WorkerListParams
		want []string
	}{
		{"all, by id, removed hidden", store.WorkerListParams{}, []string{"w1", "w2", "w3", "w4"}},
		{"state", store.WorkerListParams{State: domain.WorkerDraining}, []string{"w2"}},
		{"role", store.WorkerListParams{Role: "gpu"}, []string{"w3"}},
		{"queue", store.WorkerListParams{Queue: "gpu"}, []string{"w3", "w4"}},
		{"limit", store.WorkerListParams{Limit: 2}, []string{"w1", "w2"}},
		{"removed state", store.WorkerListParams{State: domain.WorkerRemoved}, nil},
	}
	for _, tt := range tests {
		got, err := b.s.WorkerList(b.ctx, &tt.p)
		if err != nil {
			t.Fatalf("WorkerList(%s) error = %v", tt.name, err)
		}
		var gotIDs []string
		for _, w := range got {
			gotIDs = append(gotIDs, w.ID)
		}
		if diff := cmp.Diff(tt.want, gotIDs, cmpEmpty); diff != "" {
			t.Errorf("WorkerList(%s) mismatch (-want +got):\n%s", tt.name, diff)
		}
	}
}

func testWorkerMarkOffline(t *testing.T, b *bundle) {
	b.register(t, "old")
	b.register(t, "old-draining", func(w *domain.Worker) { w.State = domain.WorkerDraining })
	b.step(time.Minute)
	cutoff := b.now
	b.register(t, "fresh")
	b.step(time.Minute)
	got, err := b.s.WorkerMarkOffline(b.ctx, &store.WorkerMarkOfflineParams{Before: cutoff, Now: b.now})
	if err != nil {
		t.Fatalf("WorkerMarkOffline() error = %v", err)
	}
	var gotIDs []string
	for _, w := range got {
		gotIDs = append(gotIDs, w.ID)
		if w.State != domain.WorkerOffline {
			t.Errorf("WorkerMarkOffline() returned %s in state %s, want offline", w.ID, w.State)
		}
	}
	if diff := cmp.Diff([]string{"old", "old-draining"}, sorted(gotIDs)); diff != "" {
		t.Errorf("WorkerMarkOffline() mismatch (-want +got):\n%s", diff)
	}
	if w := b.workerGet(t, "fresh"); w.State != domain.WorkerOnline {
		t.Errorf("WorkerGet(fresh).State = %s, want online", w.State)
	}
	// Already offline: not returned again.
	again, err := b.s.WorkerMarkOffline(b.ctx, &store.WorkerMarkOfflineParams{Before: cutoff, Now: b.now})
	if err != nil || len(again) != 0 {
		t.Errorf("WorkerMarkOffline() again = %d workers, %v; want none", len(again), err)
	}
}

func testWorkerSetState(t *testing.T, b *bundle) {
	b.register(t, "w1")
	for _, st := range []domain.WorkerState{domain.WorkerDraining, domain.WorkerOffline} {
		if err := b.s.WorkerSetState(b.ctx, &store.WorkerSetStateParams{ID: "w1", State: st, Now: b.now}); err != nil {
			t.Fatalf("WorkerSetState(%s) error = %v", st, err)
		}
		if got := b.workerGet(t, "w1"); got.State != st {
			t.Errorf("WorkerGet().State after WorkerSetState(%s) = %s", st, got.State)
		}
	}
	err := b.s.WorkerSetState(b.ctx, &store.WorkerSetStateParams{ID: "nobody", State: domain.WorkerDraining, Now: b.now})
	wantErr(t, "WorkerSetState(unknown)", err, domain.ErrNotFound)
}

func testWorkerDelete(t *testing.T, b *bundle) {
	b.register(t, "w1")
	if err := b.s.WorkerDelete(b.ctx, "w1"); err != nil {
		t.Fatalf("WorkerDelete() error = %v", err)
	}
	if got := b.workerGet(t, "w1"); got.State != domain.WorkerRemoved {
		t.Errorf("WorkerGet(deleted).State = %s, want removed", got.State)
	}
	list, err := b.s.WorkerList(b.ctx, &store.WorkerListParams{})
	if err != nil || len(list) != 0 {
		t.Errorf("WorkerList() after delete = %d workers, %v; want none", len(list), err)
	}
	wantErr(t, "WorkerDelete(unknown)", b.s.WorkerDelete(b.ctx, "nobody"), domain.ErrNotFound)
}

func testWorkerTasksActive(t *testing.T, b *bundle) {
	b.insertN(t, 3)
	w := b.register(t, "w1")
	held := b.lease(t, w, 3)
	b.finish(t, w, refOf(held[0]), true)
	if got := b.workerGet(t, "w1"); got.TasksActive != 2 {
		t.Errorf("WorkerGet().TasksActive = %d, want 2", got.TasksActive)
	}
	list, err := b.s.WorkerList(b.ctx, &store.WorkerListParams{})
	if err != nil {
		t.Fatalf("WorkerList() error = %v", err)
	}
	if len(list) != 1 || list[0].TasksActive != 2 {
		t.Errorf("WorkerList() = %d workers, want 1 with TasksActive 2", len(list))
	}
}

// join joins a worker named name with credential hash cred, claiming the
// registration (id, hash) in returning if given.
func (b *bundle) join(t *testing.T, name, cred string, returning ...string) *domain.Worker {
	t.Helper()
	p := &store.WorkerJoinParams{Worker: newWorker("", func(w *domain.Worker) { w.Name, w.CredentialHash = name, cred }), Now: b.now}
	if len(returning) == 2 {
		p.ReturningID, p.ReturningCredentialHash = returning[0], returning[1]
	}
	w, err := b.s.WorkerJoin(b.ctx, p)
	if err != nil {
		t.Fatalf("WorkerJoin(%s) error = %v", name, err)
	}
	return w
}

func testWorkerJoinPicksID(t *testing.T, b *bundle) {
	steps := []struct {
		do     func()
		cred   string
		wantID string
	}{
		{nil, "h1", "dev"},   // free
		{nil, "h2", "dev-2"}, // dev is online
		{func() { b.setState(t, "dev", domain.WorkerOffline) }, "h3", "dev"},    // offline: a device back after a restart
		{func() { b.delete(t, "dev-2") }, "h4", "dev-3"},                        // removed: dev-2 stays retired
		{func() { b.setState(t, "dev", domain.WorkerDraining) }, "h5", "dev-4"}, // draining is taken too
	}
	for i, st := range steps {
		if st.do != nil {
			st.do()
		}
		b.step(time.Second)
		got := b.join(t, "dev", st.cred)
		if got.ID != st.wantID || got.Name != "dev" || got.CredentialHash != st.cred || got.State != domain.WorkerOnline {
			t.Errorf("step %d: WorkerJoin(dev) = (id %s, name %s, cred %s, %s), want (%s, dev, %s, online)",
				i, got.ID, got.Name, got.CredentialHash, got.State, st.wantID, st.cred)
		}
	}
	if _, err := b.s.WorkerGetByCredential(b.ctx, "h1"); err == nil {
		t.Errorf("WorkerGetByCredential(h1) found a worker; taking over dev replaces its credential")
	}
}

func testWorkerJoinKeepsCounters(t *testing.T, b *bundle) {
	first := b.join(t, "dev", "h1")
	b.insert(t, b.newTask())
	b.finish(t, first, refOf(b.leaseOne(t, first)), true)
	b.setState(t, "dev", domain.WorkerOffline)
	b.step(time.Minute)
	again := b.join(t, "dev", "h2")
	if again.ID != "dev" || again.TasksCompleted != 1 || !again.RegisteredAt.Equal(first.RegisteredAt) || !again.LastSeen.Equal(b.now) {
		t.Errorf("WorkerJoin(dev, back) = (id %s, completed %d, registered %v, last seen %v), want (dev, 1, %v, %v)",
			again.ID, again.TasksCompleted, again.RegisteredAt, again.LastSeen, first.RegisteredAt, b.now)
	}
}

func testWorkerJoinReturning(t *testing.T, b *bundle) {
	b.join(t, "dev", "h1")
	b.join(t, "dev", "h2") // dev-2
	tests := []struct {
		name            string
		returnID, rcred string
		cred, wantID    string
		removeFirst     string
	}{
		{name: "proved, online", returnID: "dev", rcred: "h1", cred: "h1b", wantID: "dev"},
		{name: "wrong credential", returnID: "dev-2", rcred: "nope", cred: "h3", wantID: "dev-3"},
		{name: "unknown id", returnID: "ghost", rcred: "h1b", cred: "h4", wantID: "dev-4"},
		{name: "removed", returnID: "dev-2", rcred: "h2", cred: "h5", wantID: "dev-5", removeFirst: "dev-2"},
	}
	for _, tt := range tests {
		if tt.removeFirst != "" {
			b.delete(t, tt.removeFirst)
		}
		got := b.join(t, "dev", tt.cred, tt.returnID, tt.rcred)
		if got.ID != tt.wantID || got.CredentialHash != tt.cred {
			t.Errorf("WorkerJoin(%s) = (id %s, cred %s), want (%s, %s)", tt.name, got.ID, got.CredentialHash, tt.wantID, tt.cred)
		}
	}
	if _, err := b.s.WorkerGet(b.ctx, "ghost"); err == nil {
		t.Errorf("WorkerGet(ghost) found a worker; claiming an unknown id must not create it")
	}
}

// testWorkerJoinConcurrent: joins of one name racing each other get
// distinct ids, the first free ones.
func testWorkerJoinConcurrent(t *testing.T, b *bundle) {
	const n = 16
	ids := make([]string, n)
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			w, err := b.s.WorkerJoin(b.ctx, &store.WorkerJoinParams{
				Worker: newWorker("", func(w *domain.Worker) { w.Name, w.CredentialHash = "dev", fmt.Sprintf("h%d", i) }), Now: b.now})
			if err == nil {
				ids[i] = w.ID
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("WorkerJoin() error = %v", err)
		}
	}
	var want []string
	for i := 1; i <= n; i++ {
		want = append(want, store.JoinID("dev", i))
	}
	if diff := cmp.Diff(sorted(want), sorted(ids)); diff != "" {
		t.Errorf("concurrent WorkerJoin() ids mismatch (-want +got):\n%s", diff)
	}
	list, err := b.s.WorkerList(b.ctx, &store.WorkerListParams{})
	if err != nil || len(list) != n {
		t.Fatalf("WorkerList() = %d workers, %v; want %d", len(list), err, n)
	}
	for _, w := range list {
		got, err := b.s.WorkerGetByCredential(b.ctx, w.CredentialHash)
		if err != nil || got.ID != w.ID {
			t.Errorf("WorkerGetByCredential(%s) = %v, %v; want %s (each join kept its own credential)", w.CredentialHash, got, err, w.ID)
		}
	}
}

func (b *bundle) setState(t *testing.T, id string, st domain.WorkerState) {
	t.Helper()
	if err := b.s.WorkerSetState(b.ctx, &store.WorkerSetStateParams{ID: id, State: st, Now: b.now}); err != nil {
		t.Fatalf("WorkerSetState(%s, %s) error = %v", id, st, err)
	}
}

func (b *bundle) delete(t *testing.T, id string) {
	t.Helper()
	if err := b.s.WorkerDelete(b.ctx, id); err != nil {
		t.Fatalf("WorkerDelete(%s) error = %v", id, err)
	}
}
