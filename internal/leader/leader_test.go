package leader_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/drover-run/drover/internal/leader"
	"github.com/drover-run/drover/internal/maintenance"
	"github.com/drover-run/drover/internal/store"
)

var _ maintenance.Leader = (*leader.Elector)(nil)

// memStore is store.LeaderStore in memory, with the semantics the
// conformance suite holds the real stores to, on the (fake) clock. down
// makes every call from a holder fail; hang makes them block until their
// context ends.
type memStore struct {
	mu       sync.Mutex
	rows     map[string]store.Leadership
	down     map[string]bool
	hang     map[string]bool
	attempts map[string]int
	resigned []string
}

func newMemStore() *memStore {
	return &memStore{rows: map[string]store.Leadership{}, down: map[string]bool{}, hang: map[string]bool{}, attempts: map[string]int{}}
}

var errDown = errors.New("database unreachable")

func (m *memStore) fault(ctx context.Context, holder string) error {
	m.mu.Lock()
	down, hang := m.down[holder], m.hang[holder]
	m.mu.Unlock()
	if hang {
		<-ctx.Done()
		return ctx.Err()
	}
	if down {
		return errDown
	}
	return nil
}

func (m *memStore) LeaderAttempt(ctx context.Context, p *store.LeaderAttemptParams) (*store.Leadership, error) {
	if err := m.fault(ctx, p.Holder); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.attempts[p.Holder]++
	now := time.Now()
	l, ok := m.rows[p.Name]
	switch {
	case !ok:
		l = store.Leadership{Name: p.Name, Holder: p.Holder, Term: 1, ElectedAt: now}
	case l.Holder == p.Holder && l.ExpiresAt.After(now):
	case l.Holder == p.Holder || !l.ExpiresAt.After(now):
		l.Holder, l.Term, l.ElectedAt = p.Holder, l.Term+1, now
	default:
		return &l, nil
	}
	l.ExpiresAt = now.Add(p.TTL)
	m.rows[p.Name] = l
	return &l, nil
}

func (m *memStore) LeaderResign(ctx context.Context, p *store.LeaderResignParams) error {
	if err := m.fault(ctx, p.Holder); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if l, ok := m.rows[p.Name]; ok && l.Holder == p.Holder {
		l.Holder, l.ExpiresAt = "", time.Now()
		m.rows[p.Name] = l
		m.resigned = append(m.resigned, p.Holder)
	}
	return nil
}

func (m *memStore) set(field map[string]bool, holder string, on bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	field[holder] = on
}

const ttl = 5 * time.Second

// server is one elector running in the test's bubble.
type server struct {
	e    *leader.Elector
	stop context.CancelFunc
	done chan struct{}
}

func startServer(t *testing.T, st *memStore, holder string) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	s := &server{e: leader.New(st, leader.Config{Holder: holder, TTL: ttl}), stop: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		s.e.Run(ctx)
	}()
	return s
}

func (s *server) shutdown() {
	s.stop()
	<-s.done
}

// leaders names the servers that believe they lead.
func leaders(servers map[string]*server) []string {
	var out []string
	for name, s := range servers {
		if s.e.IsLeader() {
			out = append(out, name)
		}
	}
	return out
}

func TestElectedAtOnceAndRenews(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newMemStore()
		began := time.Now()
		a := startServer(t, st, "a")
		synctest.Wait()
		if !a.e.IsLeader() || a.e.Term() != 1 {
			t.Fatalf("alone: IsLeader() = %v, Term() = %d, want true, 1", a.e.IsLeader(), a.e.Term())
		}
		time.Sleep(10 * ttl)
		synctest.Wait()
		if !a.e.IsLeader() || a.e.Term() != 1 {
			t.Errorf("after 10 TTLs: IsLeader() = %v, Term() = %d, want still leader under term 1", a.e.IsLeader(), a.e.Term())
		}
		// Renewals do not move the start of the term.
		if got := a.e.Since(); !got.Equal(began) {
			t.Errorf("Since() after 10 TTLs = %v, want the first attempt's %v", got, began)
		}
		// One attempt at start, then one every TTL/3.
		if got, want := st.attempts["a"], 1+30; got != want {
			t.Errorf("attempts over 10 TTLs = %d, want %d", got, want)
		}
		a.shutdown()
		if a.e.IsLeader() || !a.e.Since().IsZero() {
			t.Errorf("after Run returned: IsLeader() = %v, Since() = %v, want false and zero", a.e.IsLeader(), a.e.Since())
		}
		if len(st.resigned) != 1 {
			t.Errorf("resignations on shutdown = %v, want [a]", st.resigned)
		}
	})
}

// TestFailover runs three servers; the leader dies (its calls hang, as a
// partitioned or frozen server's would). A successor takes over within
// TTL + one interval, and at no instant do two servers believe they lead.
func TestFailover(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newMemStore()
		servers := map[string]*server{}
		for _, h := range []string{"a", "b", "c"} {
			servers[h] = startServer(t, st, h)
			synctest.Wait()
		}
		if got := leaders(servers); len(got) != 1 || got[0] != "a" {
			t.Fatalf("leaders = %v, want [a] (first to attempt)", got)
		}
		st.set(st.hang, "a", true)
		died := time.Now()
		var successor string
		for successor == "" {
			time.Sleep(50 * time.Millisecond)
			synctest.Wait()
			got := leaders(servers)
			if len(got) > 1 {
				t.Fatalf("at +%s leaders = %v: two at once", time.Since(died), got)
			}
			if len(got) == 1 && got[0] != "a" {
				successor = got[0]
			}
			if time.Since(died) > 2*ttl {
				t.Fatalf("no successor %s after the leader died", time.Since(died))
			}
		}
		if took := time.Since(died); took > ttl+ttl/3+50*time.Millisecond {
			t.Errorf("successor %s took over %s after the leader died, want within TTL + interval (%s)", successor, took, ttl+ttl/3)
		}
		if term := servers[successor].e.Term(); term != 2 {
			t.Errorf("successor's term = %d, want 2", term)
		}
		if since := servers[successor].e.Since(); since.Before(died) {
			t.Errorf("successor's Since() = %v, before the leader died (%v): it counts from its own election", since, died)
		}
		// The old leader comes back: it stays a follower.
		st.set(st.hang, "a", false)
		time.Sleep(ttl)
		synctest.Wait()
		if got := leaders(servers); len(got) != 1 || got[0] != successor {
			t.Errorf("after the old leader returned, leaders = %v, want [%s]", got, successor)
		}
		for _, s := range servers {
			s.shutdown()
		}
	})
}

// TestFailedRenewalStepsDown: a leader that cannot reach the store stops
// leading at its first failed renewal, not when the TTL runs out.
func TestFailedRenewalStepsDown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newMemStore()
		a := startServer(t, st, "a")
		synctest.Wait()
		st.set(st.down, "a", true)
		time.Sleep(ttl/3 + time.Millisecond)
		synctest.Wait()
		if a.e.IsLeader() {
			t.Fatal("IsLeader() after a failed renewal = true")
		}
		// The store comes back after the row lapsed, taken by no one: a wins
		// it back under a new term.
		time.Sleep(ttl)
		st.set(st.down, "a", false)
		time.Sleep(ttl)
		synctest.Wait()
		if !a.e.IsLeader() || a.e.Term() != 2 {
			t.Errorf("after the store came back: IsLeader() = %v, Term() = %d, want true, 2", a.e.IsLeader(), a.e.Term())
		}
		a.shutdown()
	})
}

// TestCleanHandover: a leader that stops resigns, and a follower takes
// over at its next attempt instead of waiting out the TTL.
func TestCleanHandover(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newMemStore()
		a := startServer(t, st, "a")
		synctest.Wait()
		b := startServer(t, st, "b")
		synctest.Wait()
		a.shutdown()
		stopped := time.Now()
		for !b.e.IsLeader() {
			time.Sleep(10 * time.Millisecond)
			synctest.Wait()
		}
		if took := time.Since(stopped); took > ttl/3+10*time.Millisecond {
			t.Errorf("b took over %s after a resigned, want within one interval (%s)", took, ttl/3)
		}
		b.shutdown()
	})
}
