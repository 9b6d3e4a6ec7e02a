package app

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/drover-run/drover/internal/auth"
	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/maintenance"
	"github.com/drover-run/drover/internal/scale"
	"github.com/drover-run/drover/internal/scale/command"
	"github.com/drover-run/drover/internal/scale/local"
)

// PoolsConfig tunes the pools (issue 10). Zero fields take the defaults shown.
type PoolsConfig struct {
	ReconcileInterval time.Duration // between reconciliation passes when nothing changes; default 2s
	AutoscaleInterval time.Duration // between autoscaling passes; default 5s
	// WorkerBinary is the drover executable the local provider starts;
	// default this process's own.
	WorkerBinary string
	// LogDir receives the local workers' logs; default beside a SQLite
	// store (drover-data/pools), else none.
	LogDir string
}

// pools is the pool engine and its providers, as the server runs them.
type pools struct {
	svc   *scale.Service
	local *local.Provider
}

// newPools builds the pool engine. The providers reach the worker protocol
// at s's agent listener and, with --auth, hand workers one-use join tokens
// bound to their pool.
func newPools(s *Server, cfg ServerConfig) *pools {
	log := s.log.With("component", "pools")
	var token func(ctx context.Context, p *domain.Pool, uses int) (string, error)
	if cfg.Auth {
		token = func(ctx context.Context, p *domain.Pool, uses int) (string, error) {
			c, err := s.sec.keys.Create(ctx, auth.CreateParams{Join: true, Pool: strconv.FormatInt(p.ID, 10),
				MaxUses: uses, TTL: time.Hour, Name: "pool " + p.Name})
			if err != nil {
				return "", err
			}
			return c.Token, nil
		}
	}
	logDir := cfg.Pools.LogDir
	if path, ok := strings.CutPrefix(cfg.Store, "sqlite://"); ok && logDir == "" {
		logDir = filepath.Join(filepath.Dir(path), "pools")
	}
	p := &pools{}
	p.local = local.New(local.Options{Binary: cfg.Pools.WorkerBinary, Server: func() string { return loopbackURL(s.AgentURL()) }, Token: token, LogDir: logDir, Logger: log,
		Exited: func(name string, pid int) { p.svc.WorkerExited(context.Background(), name, pid) }})
	p.svc = scale.New(s.store, scale.Options{
		Providers: map[string]scale.Provider{
			local.Name:   p.local,
			command.Name: command.New(command.Options{Server: s.AgentURL, Token: token, Logger: log}),
		},
		Logger: log, Wake: s.engine.Wake,
		Scaled: func(pl *domain.Pool, e *domain.PoolEvent) {
			data, _ := json.Marshal(map[string]any{"pool_id": pl.ID, "pool": pl.Name, "from": e.From, "to": e.To, "actor": e.Actor, "reason": e.Reason})
			s.obs.bus.Publish(domain.Event{Type: domain.EventPoolScaled, Level: domain.LevelInfo, Component: "scheduler", Time: e.At,
				Message: fmt.Sprintf("pool %d (%s) scaled from %d to %d by %s", pl.ID, pl.Name, e.From, e.To, e.Actor), Data: data})
		},
	})
	s.engine.SetProspective(p.svc.Prospective)
	return p
}

// services are the pools' leader duties: reconciliation and autoscaling.
func (p *pools) services(s *Server, cfg ServerConfig) []maintenance.Service {
	return []maintenance.Service{
		&maintenance.Reconcile{Pools: p.svc, Log: s.log, Interval: cfg.Pools.ReconcileInterval},
		&maintenance.Autoscale{Pools: p.svc, Log: s.log, Interval: cfg.Pools.AutoscaleInterval},
	}
}

// stop stops reconciling, then the local workers: they drain while the
// agent listener still takes their results and hand-backs.
func (p *pools) stop(ctx context.Context) {
	p.svc.Stop()
	p.local.Close(ctx)
}

// DevPoolID is the id of drover dev's pool: document 000's full example
// scales task 3000 from 1 to 2 nodes, and works as written against it.
// Its first example sets task 388 to 1 node: dev has that pool too, empty.
const DevPoolID = 3000

// devPools are drover dev's pools: local workers, up to 4 each.
var devPools = []struct {
	id     int64
	name   string
	points int
}{{DevPoolID, "dev", 1}, {388, "dev-388", 0}}

// seedDevPool creates drover dev's pools unless they exist.
func (s *Server) seedDevPool(ctx context.Context, concurrency int) error {
	for _, d := range devPools {
		_, err := s.pools.svc.Get(ctx, d.id)
		if err == nil {
			continue
		}
		if domain.CodeOf(err) != domain.CodeNotFound {
			return err
		}
		if _, err = s.pools.svc.Create(ctx, &domain.Pool{ID: d.id, Name: d.name, Points: d.points, MinPoints: 0, MaxPoints: 4,
			Provider: local.Name, Worker: domain.WorkerTemplate{Concurrency: concurrency, AllowShell: true}}, "drover dev"); err != nil {
			return err
		}
	}
	return nil
}

// loopbackURL is how a worker on this machine reaches a listener bound to
// every address (--host 0.0.0.0): through loopback, which the worker
// accepts over plain HTTP.
func loopbackURL(u string) string {
	for _, wild := range []string{"://0.0.0.0:", "://[::]:"} {
		if strings.Contains(u, wild) {
			return strings.Replace(u, wild, "://127.0.0.1:", 1)
		}
	}
	return u
}
