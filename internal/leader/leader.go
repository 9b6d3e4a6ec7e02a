package leader

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/drover-run/drover/internal/store"
)

// Config tunes an Elector. Zero fields take the defaults shown.
type Config struct {
	// Name is the leadership's name in the store; default "maintenance".
	Name string
	// Holder names this server in the leadership row; it must be unique
	// among the servers. Default: NewHolder().
	Holder string
	// TTL is how long a leadership lasts without renewal; default 5s.
	TTL time.Duration
	// Interval is how often the leader renews and followers try to take
	// over; default TTL/3.
	Interval time.Duration
	Logger   *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Name == "" {
		c.Name = "maintenance"
	}
	if c.Holder == "" {
		c.Holder = NewHolder()
	}
	if c.TTL <= 0 {
		c.TTL = 5 * time.Second
	}
	if c.Interval <= 0 || c.Interval >= c.TTL {
		c.Interval = c.TTL / 3
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// NewHolder is a name for this process unique among servers: its host, its
// pid and a random suffix (a restarted process on the same host and pid is
// still someone new).
func NewHolder() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown"
	}
	var b [4]byte
	rand.Read(b[:])
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// Elector campaigns for one leadership and keeps it while it can. It
// implements dispatch.Leader. It is safe for concurrent use.
type Elector struct {
	store store.LeaderStore
	cfg   Config
	log   *slog.Logger

	mu         sync.Mutex
	validUntil time.Time // leader until then; zero when following
	term       int64     // the term held, when leading
	since      time.Time // when this server began leading, when leading
}

// New makes an elector over st; Run campaigns.
func New(st store.LeaderStore, cfg Config) *Elector {
	cfg = cfg.withDefaults()
	return &Elector{store: st, cfg: cfg, log: cfg.Logger.With("leadership", cfg.Name, "holder", cfg.Holder)}
}

// Holder is the name this server holds the leadership under.
func (e *Elector) Holder() string { return e.cfg.Holder }

// IsLeader reports whether this server leads now.
func (e *Elector) IsLeader() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return !e.validUntil.IsZero() && time.Now().Before(e.validUntil)
}

// Term is the term this server leads under, or 0 when it does not lead.
func (e *Elector) Term() int64 {
	if !e.IsLeader() {
		return 0
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.term
}

// Since is when this server's current leadership began (its first
// successful attempt of the term), or zero when it does not lead. Duties
// that wait out a grace after election count from here.
func (e *Elector) Since() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.validUntil.IsZero() || !time.Now().Before(e.validUntil) {
		return time.Time{}
	}
	return e.since
}

// Run attempts at once and then every Interval until ctx ends; then, if it
// leads, it resigns, so another server can take over without waiting out
// the TTL. It returns nil.
func (e *Elector) Run(ctx context.Context) error {
	tick := time.NewTicker(e.cfg.Interval)
	defer tick.Stop()
	for {
		e.attempt(ctx)
		select {
		case <-tick.C:
		case <-ctx.Done():
			e.resign(ctx)
			return nil
		}
	}
}

// attempt takes or renews the leadership once and updates the state.
func (e *Elector) attempt(ctx context.Context) {
	sent := time.Now()
	// An attempt that outlives the TTL is worthless: give up on it then.
	actx, cancel := context.WithTimeout(ctx, e.cfg.TTL)
	defer cancel()
	l, err := e.store.LeaderAttempt(actx, &store.LeaderAttemptParams{Name: e.cfg.Name, Holder: e.cfg.Holder, TTL: e.cfg.TTL})
	if ctx.Err() != nil {
		return // stopping; Run resigns
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	leading := !e.validUntil.IsZero() && sent.Before(e.validUntil)
	switch {
	case err != nil:
		if leading {
			e.log.Warn("leadership lost: renewal failed", "term", e.term, "err", err)
		} else {
			e.log.Warn("leadership attempt failed", "err", err)
		}
		e.validUntil, e.term = time.Time{}, 0
	case l.Holder == e.cfg.Holder:
		if !leading || l.Term != e.term {
			e.log.Info("elected leader", "term", l.Term)
			e.since = sent
		}
		e.validUntil, e.term = sent.Add(e.cfg.TTL), l.Term
	default:
		if leading {
			e.log.Warn("leadership lost", "term", e.term, "new_holder", l.Holder, "new_term", l.Term)
		}
		e.validUntil, e.term = time.Time{}, 0
	}
}

// resign steps down, first locally (so no duty starts after it), then in
// the store.
func (e *Elector) resign(ctx context.Context) {
	e.mu.Lock()
	leading := !e.validUntil.IsZero() && time.Now().Before(e.validUntil)
	term := e.term
	e.validUntil, e.term = time.Time{}, 0
	e.mu.Unlock()
	if !leading {
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.cfg.TTL)
	defer cancel()
	if err := e.store.LeaderResign(rctx, &store.LeaderResignParams{Name: e.cfg.Name, Holder: e.cfg.Holder}); err != nil {
		e.log.Warn("resigning leadership failed; it expires on its own", "term", term, "err", err)
		return
	}
	e.log.Info("resigned leadership", "term", term)
}
