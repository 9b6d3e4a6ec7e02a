package postgres

import (
	"context"
	"fmt"
	"iter"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

// twoServers opens two stores on one fresh schema, as two servers would.
func twoServers(t *testing.T) (a, b *Store) {
	t.Helper()
	url := testURL(t)
	schema := testSchema(t, url)
	open := func() *Store {
		s, err := Open(t.Context(), url, Options{Schema: schema})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	return open(), open()
}

// wakes records a listener's wake calls: the queues of each.
type wakes chan []string

func (w wakes) wake(queues []string) {
	select {
	case w <- queues:
	default:
		panic("wake buffer full")
	}
}

// listen runs s.ListenWork until the test ends and waits until it listens.
func listen(t *testing.T, s *Store) wakes {
	t.Helper()
	return listenWith(t, "ListenWork", func(ctx context.Context, w wakes) error { return s.ListenWork(ctx, w.wake) })
}

// listenWith runs a listener (named what) until the test ends and waits
// until it listens.
func listenWith(t *testing.T, what string, run func(ctx context.Context, w wakes) error) wakes {
	t.Helper()
	w := make(wakes, 100)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- run(ctx, w) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("%s() = %v after its context ended, want nil", what, err)
		}
	})
	w.expect(t, "listening", 1)
	return w
}

// expect waits for n more wakes; then, if the caller is sure every
// notification has arrived, it may call none to assert no more came.
func (w wakes) expect(t *testing.T, after string, n int) [][]string {
	t.Helper()
	timeout := time.After(10 * time.Second)
	var got [][]string
	for i := range n {
		select {
		case q := <-w:
			got = append(got, q)
		case <-timeout:
			t.Fatalf("after %s: %d of %d wakes came", after, i, n)
		}
	}
	return got
}

// expectQueues waits for one wake and checks the queues it names (nil: any).
func (w wakes) expectQueues(t *testing.T, after string, want []string) {
	t.Helper()
	got := w.expect(t, after, 1)[0]
	slices.Sort(got)
	if !slices.Equal(got, want) || (got == nil) != (want == nil) {
		t.Errorf("after %s: woken for queues %q, want %q", after, got, want)
	}
}

func (w wakes) none(t *testing.T, after string) {
	t.Helper()
	if n := len(w); n > 0 {
		t.Fatalf("after %s: %d more wakes, want none", after, n)
	}
}

// TestListenWorkAcrossStores: work made available through one store wakes
// the other's listener, once per transaction however many tasks it holds;
// a store's own notifications do not wake it.
func TestListenWorkAcrossStores(t *testing.T) {
	t.Parallel()
	a, b := twoServers(t)
	wa, wb := listen(t, a), listen(t, b)
	ctx := t.Context()

	batch := make([]*domain.Task, 100)
	for i := range batch {
		batch[i] = newTask(fmt.Sprint(i))
	}
	insert(t, a, batch...)
	insert(t, a, newTask("single"))
	// Notifications arrive in commit order: once the second insert's is in,
	// the first's are all in.
	wb.expect(t, "two inserts through a", 2)
	wb.none(t, "two inserts through a")
	insert(t, b, newTask("from-b"))
	wa.expect(t, "an insert through b", 1)
	wa.none(t, "a's own inserts and one of b's") // a's own came before b's, and were ignored

	// Requeues: a failed attempt with retries left, an expired lease, a
	// released worker. Each is one transaction, one wake on b; a success
	// makes no work and notifies nothing.
	w := newWorker("w")
	if _, err := a.WorkerRegister(ctx, &store.WorkerRegisterParams{Worker: w, Now: t0}); err != nil {
		t.Fatal(err)
	}
	retry := func(t *domain.Task) { t.MaxRetries = 5 }
	insert(t, a, newTask("r1", retry), newTask("r2", retry), newTask("r3", retry))
	wb.expect(t, "inserting r1-r3", 1)
	leased := lease(t, a, w, 1000, t0) // r1 fails now; r2 and r3 are left to expire
	var results []store.TaskFinish
	for _, tk := range leased {
		if tk.ID == "task-r1" {
			results = append(results, store.TaskFinish{Ref: domain.TaskRef{TaskID: tk.ID, Epoch: tk.LeaseEpoch}, Result: &domain.Result{Error: "boom"}})
		}
	}
	if _, err := a.TaskFinishMany(ctx, &store.TaskFinishManyParams{WorkerID: w.ID, Now: t0, Results: results}); err != nil || len(results) != 1 {
		t.Fatalf("failing r1 (%d results): %v", len(results), err)
	}
	wb.expect(t, "a failed attempt with retries left", 1)
	if _, err := a.TaskRescueExpired(ctx, &store.TaskRescueExpiredParams{Now: t0.Add(2 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	wb.expect(t, "rescuing expired leases", 1)
	if _, err := a.TaskReleaseWorker(ctx, &store.TaskReleaseWorkerParams{WorkerID: w.ID, Now: t0}); err != nil {
		t.Fatal(err)
	}
	insert(t, a, newTask("fence"))
	wb.expect(t, "releasing a worker that held nothing, then an insert", 1) // the release had nothing to hand back
	wb.none(t, "the fence")

	// The notification names the queues that got work, or none (any queue)
	// for a task pinned to a worker, which may not listen on its queue.
	inQueue := func(q string) func(*domain.Task) { return func(t *domain.Task) { t.Queue = q } }
	insert(t, a, newTask("q1", inQueue("gpu")), newTask("q2", inQueue("cpu")), newTask("q3", inQueue("gpu")))
	wb.expectQueues(t, "inserting into gpu and cpu", []string{"cpu", "gpu"})
	insert(t, a, newTask("pinned", inQueue("gpu"), func(t *domain.Task) { t.DeviceID = w.ID }))
	wb.expectQueues(t, "inserting a pinned task", nil)
	leased = lease(t, a, w, 1000, t0.Add(time.Hour))
	if _, err := a.TaskReleaseWorker(ctx, &store.TaskReleaseWorkerParams{WorkerID: w.ID, Now: t0.Add(time.Hour)}); err != nil || len(leased) == 0 {
		t.Fatalf("releasing %d leases: %v", len(leased), err)
	}
	wb.expectQueues(t, "releasing a worker's leases", nil)
}

func TestWorkNotePayload(t *testing.T) {
	t.Parallel()
	s := &Store{origin: "me"}
	for _, tc := range []struct {
		name  string
		tasks []*domain.Task
		want  []string
	}{
		{"any", nil, nil},
		{"queues once each, pending only", []*domain.Task{
			{Queue: "a", State: domain.TaskPending}, {Queue: "b", State: domain.TaskPending},
			{Queue: "a", State: domain.TaskPending}, {Queue: "c", State: domain.TaskFailed}}, []string{"a", "b"}},
		{"pinned", []*domain.Task{{Queue: "a", State: domain.TaskPending}, {Queue: "b", DeviceID: "w", State: domain.TaskPending}}, nil},
		{"too long", []*domain.Task{{Queue: strings.Repeat("q", maxNotePayload), State: domain.TaskPending}}, nil},
	} {
		var seq iter.Seq[*domain.Task]
		if tc.tasks != nil {
			seq = slices.Values(tc.tasks)
		}
		got := parseWorkNote(s.workPayload(seq))
		if got.Origin != "me" || !slices.Equal(got.Queues, tc.want) || (got.Queues == nil) != (tc.want == nil) {
			t.Errorf("%s: payload read back as %+v, want origin me, queues %q", tc.name, got, tc.want)
		}
	}
	if got := parseWorkNote("0123abcd"); got.Origin != "0123abcd" || got.Queues != nil {
		t.Errorf("parseWorkNote(bare origin) = %+v, want that origin, any queue", got)
	}
}

// TestListenWorkReconnects: when the listener's connection dies, it
// reconnects, wakes once (it may have missed notifications) and hears
// later ones.
func TestListenWorkReconnects(t *testing.T) {
	t.Parallel()
	a, b := twoServers(t)
	wb := listen(t, b)
	var killed int
	err := a.pool.QueryRow(t.Context(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`,
		"drover listener "+b.origin).Scan(&killed)
	if err != nil || killed != 1 {
		t.Fatalf("terminating b's listener: %d terminated, error %v", killed, err)
	}
	wb.expect(t, "the listener's connection was killed", 1)
	insert(t, a, newTask("after"))
	wb.expect(t, "an insert after the reconnect", 1)
}

func TestWorkChannel(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ schema, want string }{
		{"", "drover_work"},
		{"public", "drover_work"},
		{"tenant_a", "drover_work.tenant_a"},
	} {
		if got := workChannel(tc.schema); got != tc.want {
			t.Errorf("workChannel(%q) = %q, want %q", tc.schema, got, tc.want)
		}
	}
	// Schema names up to 63 bytes: the channel, an identifier too, must fit
	// and must still tell schemas apart.
	long1, long2 := strings.Repeat("a", 63), strings.Repeat("a", 62)+"b"
	c1, c2 := workChannel(long1), workChannel(long2)
	if len(c1) > 63 || len(c2) > 63 || c1 == c2 {
		t.Errorf("workChannel of two long schemas = %q, %q: want distinct names of at most 63 bytes", c1, c2)
	}
}

// TestListenEventsAcrossStores: events appended through one store wake the
// other's event listener; a store's own appends do not wake it (its bus
// delivered them as it wrote them).
func TestListenEventsAcrossStores(t *testing.T) {
	t.Parallel()
	a, b := twoServers(t)
	listenEvents := func(s *Store) wakes {
		return listenWith(t, "ListenEvents", func(ctx context.Context, w wakes) error {
			return s.ListenEvents(ctx, func() { w.wake(nil) })
		})
	}
	wa, wb := listenEvents(a), listenEvents(b)
	appendOne := func(s *Store, msg string) {
		t.Helper()
		if err := s.EventAppend(t.Context(), []domain.Event{{Type: domain.EventConfigUpdated, Level: domain.LevelInfo, Message: msg}}); err != nil {
			t.Fatal(err)
		}
	}
	appendOne(a, "one")
	appendOne(a, "two")
	wb.expect(t, "two appends through a", 2)
	appendOne(b, "three")
	wa.expect(t, "an append through b", 1)
	// Notifications arrive in commit order: a's own came before b's.
	wa.none(t, "a's own appends and one of b's")
}
