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

var leaderTests = []test{
	{"ElectRenew", testLeaderElectRenew},
	{"Contend", testLeaderContend},
	{"Race", testLeaderRace},
	{"ExpiryHandsOver", testLeaderExpiryHandsOver},
	{"RetakeAfterLapse", testLeaderRetakeAfterLapse},
	{"Resign", testLeaderResign},
	{"NamesAreIndependent", testLeaderNamesAreIndependent},
	{"Invalid", testLeaderInvalid},
}

// leaderTTL is the leaderships' TTL throughout.
const leaderTTL = 5 * time.Second

// attempt has holder attempt the leadership name at the current time.
func (b *bundle) attempt(t *testing.T, name, holder string) *store.Leadership {
	t.Helper()
	l, err := b.s.LeaderAttempt(b.ctx, &store.LeaderAttemptParams{Name: name, Holder: holder, TTL: leaderTTL, Now: b.now})
	if err != nil {
		t.Fatalf("LeaderAttempt(%s, %s) error = %v", name, holder, err)
	}
	return l
}

func (b *bundle) resign(t *testing.T, name, holder string) {
	t.Helper()
	if err := b.s.LeaderResign(b.ctx, &store.LeaderResignParams{Name: name, Holder: holder, Now: b.now}); err != nil {
		t.Fatalf("LeaderResign(%s, %s) error = %v", name, holder, err)
	}
}

func wantLeadership(t *testing.T, call string, got *store.Leadership, want store.Leadership) {
	t.Helper()
	if diff := cmp.Diff(&want, got); diff != "" {
		t.Errorf("%s = (-want +got)\n%s", call, diff)
	}
}

func testLeaderElectRenew(t *testing.T, b *bundle) {
	first := b.now
	wantLeadership(t, "LeaderAttempt(a) on no row", b.attempt(t, "reaper", "a"),
		store.Leadership{Name: "reaper", Holder: "a", Term: 1, ElectedAt: first, ExpiresAt: first.Add(leaderTTL)})
	// Renewing before expiry keeps the term and its start, and moves the expiry.
	b.step(leaderTTL - time.Microsecond)
	wantLeadership(t, "LeaderAttempt(a) renewing", b.attempt(t, "reaper", "a"),
		store.Leadership{Name: "reaper", Holder: "a", Term: 1, ElectedAt: first, ExpiresAt: b.now.Add(leaderTTL)})
}

func testLeaderContend(t *testing.T, b *bundle) {
	first := b.now
	held := store.Leadership{Name: "reaper", Holder: "a", Term: 1, ElectedAt: first, ExpiresAt: first.Add(leaderTTL)}
	wantLeadership(t, "LeaderAttempt(a)", b.attempt(t, "reaper", "a"), held)
	for _, d := range []time.Duration{0, time.Second, leaderTTL - time.Microsecond} {
		b.now = first.Add(d)
		// b does not take it while a's term runs, and learns who holds it.
		wantLeadership(t, "LeaderAttempt(b) at +"+d.String(), b.attempt(t, "reaper", "b"), held)
	}
}

// testLeaderRace has servers attempt at once, on no row and then on an
// expired one: each time, exactly one is elected and all agree on whom.
func testLeaderRace(t *testing.T, b *bundle) {
	for round := range 2 {
		var (
			wg  sync.WaitGroup
			got = make([]*store.Leadership, 8)
		)
		for i := range got {
			wg.Go(func() {
				l, err := b.s.LeaderAttempt(b.ctx, &store.LeaderAttemptParams{
					Name: "reaper", Holder: fmt.Sprintf("s%d-%d", round, i), TTL: leaderTTL, Now: b.now})
				if err != nil {
					t.Errorf("LeaderAttempt(s%d-%d) error = %v", round, i, err)
				}
				got[i] = l
			})
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		for i, l := range got {
			if l.Holder != got[0].Holder || l.Term != int64(round+1) {
				t.Errorf("round %d: attempt %d saw holder %q term %d; attempt 0 saw %q, want one holder, term %d",
					round, i, l.Holder, l.Term, got[0].Holder, round+1)
			}
		}
		b.step(leaderTTL)
	}
}

func testLeaderExpiryHandsOver(t *testing.T, b *bundle) {
	b.attempt(t, "reaper", "a")
	b.step(leaderTTL) // a's term ends now: expiry is inclusive
	handed := store.Leadership{Name: "reaper", Holder: "b", Term: 2, ElectedAt: b.now, ExpiresAt: b.now.Add(leaderTTL)}
	wantLeadership(t, "LeaderAttempt(b) after a expired", b.attempt(t, "reaper", "b"), handed)
	// a comes back (a zombie): it does not get the leadership back.
	wantLeadership(t, "LeaderAttempt(a) after b took over", b.attempt(t, "reaper", "a"), handed)
}

func testLeaderRetakeAfterLapse(t *testing.T, b *bundle) {
	b.attempt(t, "reaper", "a")
	b.step(2 * leaderTTL)
	// No one took it meanwhile, but a's leadership lapsed: taking it again
	// is a new term, since a may have stopped leading in between.
	wantLeadership(t, "LeaderAttempt(a) after its own expiry", b.attempt(t, "reaper", "a"),
		store.Leadership{Name: "reaper", Holder: "a", Term: 2, ElectedAt: b.now, ExpiresAt: b.now.Add(leaderTTL)})
}

func testLeaderResign(t *testing.T, b *bundle) {
	b.attempt(t, "reaper", "a")
	b.step(time.Second)
	b.resign(t, "reaper", "b") // not b's to give up: nothing changes
	if l := b.attempt(t, "reaper", "b"); l.Holder != "a" {
		t.Fatalf("after a non-holder resigned, LeaderAttempt(b) = holder %q, want a", l.Holder)
	}
	b.resign(t, "reaper", "a")
	// b takes over at once, without waiting for a's term to run out.
	wantLeadership(t, "LeaderAttempt(b) after a resigned", b.attempt(t, "reaper", "b"),
		store.Leadership{Name: "reaper", Holder: "b", Term: 2, ElectedAt: b.now, ExpiresAt: b.now.Add(leaderTTL)})
	b.resign(t, "reaper", "a") // again, and not holding it: not an error
	b.resign(t, "nothing", "a")
}

func testLeaderNamesAreIndependent(t *testing.T, b *bundle) {
	if l := b.attempt(t, "reaper", "a"); l.Holder != "a" {
		t.Fatalf("LeaderAttempt(reaper, a) holder = %q, want a", l.Holder)
	}
	if l := b.attempt(t, "cron", "b"); l.Holder != "b" || l.Term != 1 {
		t.Fatalf("LeaderAttempt(cron, b) = holder %q term %d, want b term 1", l.Holder, l.Term)
	}
}

func testLeaderInvalid(t *testing.T, b *bundle) {
	for _, p := range []store.LeaderAttemptParams{
		{Name: "", Holder: "a", TTL: leaderTTL},
		{Name: "reaper", Holder: "", TTL: leaderTTL},
		{Name: "reaper", Holder: "a", TTL: 0},
	} {
		_, err := b.s.LeaderAttempt(b.ctx, &p)
		wantCode(t, "LeaderAttempt("+p.Name+", "+p.Holder+", "+p.TTL.String()+")", err, domain.CodeValidation)
	}
	err := b.s.LeaderResign(b.ctx, &store.LeaderResignParams{Name: "reaper"})
	wantCode(t, "LeaderResign(no holder)", err, domain.CodeValidation)
}
