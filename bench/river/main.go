// Command riverbench measures River (github.com/riverqueue/river) the way
// `drover bench` measures Drover, so scripts/bench-river.sh can run both
// interleaved on the same database server and compare them in one table.
//
// It is its own Go module: River is never a dependency of Drover.
//
// Modes (no-op jobs, one queue, River's client in this process):
//
//	burndown  insert --jobs first with no client running, then start the
//	          client; the clock runs from Start to the last completion.
//	insert    start the client, then insert --jobs in batches of --batch
//	          from --submitters loops while it works; the clock runs from
//	          the first insert to the last completion (drover bench's
//	          throughput run).
//
// Completions are counted from River's own event subscription, as River's
// riverbench does, so a job counts once its completion is committed.
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	_ "modernc.org/sqlite"
)

type config struct {
	store      string // postgres://… or a SQLite file path
	sync       string // SQLite's synchronous pragma
	schema     string // PostgreSQL schema, recreated per run
	mode       string
	jobs       int
	batch      int
	submitters int
	maxWorkers int
	asJSON     bool
}

type report struct {
	System        string  `json:"system"`
	Store         string  `json:"store"`
	Mode          string  `json:"mode"`
	Jobs          int     `json:"jobs"`
	Seconds       float64 `json:"seconds"`
	JobsPerSecond float64 `json:"jobs_per_second"`
}

func main() {
	var c config
	flag.StringVar(&c.store, "store", "", "postgres://… URL, or a SQLite file path (created afresh)")
	flag.StringVar(&c.sync, "sqlite-sync", "NORMAL", "SQLite synchronous pragma: NORMAL or FULL")
	flag.StringVar(&c.schema, "schema", "river_bench", "PostgreSQL schema for River's tables (dropped and recreated)")
	flag.StringVar(&c.mode, "mode", "burndown", "burndown or insert")
	flag.IntVar(&c.jobs, "jobs", 100_000, "jobs to work")
	flag.IntVar(&c.batch, "batch", 500, "jobs per InsertMany in insert mode (burndown inserts 5,000 at a time)")
	flag.IntVar(&c.submitters, "submitters", 2, "concurrent insert loops in insert mode")
	flag.IntVar(&c.maxWorkers, "max-workers", 2000, "River's MaxWorkers for the queue (riverbench's own choice)")
	flag.BoolVar(&c.asJSON, "json", false, "print the report as JSON")
	flag.Parse()
	if c.store == "" || (c.mode != "burndown" && c.mode != "insert") {
		flag.Usage()
		os.Exit(2)
	}
	ctx := context.Background()
	var (
		rep *report
		err error
	)
	if strings.HasPrefix(c.store, "postgres://") || strings.HasPrefix(c.store, "postgresql://") {
		rep, err = runPostgres(ctx, c)
	} else {
		rep, err = runSQLite(ctx, c)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "riverbench:", err)
		os.Exit(1)
	}
	if c.asJSON {
		json.NewEncoder(os.Stdout).Encode(rep)
		return
	}
	fmt.Printf("river %s %s: %d jobs in %.2f s = %.0f jobs/s\n", rep.Store, rep.Mode, rep.Jobs, rep.Seconds, rep.JobsPerSecond)
}

func runPostgres(ctx context.Context, c config) (*report, error) {
	admin, err := pgx.Connect(ctx, c.store)
	if err != nil {
		return nil, err
	}
	ident := pgx.Identifier{c.schema}.Sanitize()
	_, err = admin.Exec(ctx, "DROP SCHEMA IF EXISTS "+ident+" CASCADE; CREATE SCHEMA "+ident)
	admin.Close(ctx)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.New(ctx, c.store)
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	rep, err := run(ctx, c, riverpgxv5.New(pool))
	if err == nil {
		rep.Store = "postgres"
	}
	return rep, err
}

func runSQLite(ctx context.Context, c config) (*report, error) {
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(c.store + suffix)
	}
	db, err := sql.Open("sqlite", "file:"+c.store+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous("+c.sync+")")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	// River's SQLite driver asks for one connection: its maintenance and
	// work would otherwise meet SQLITE_BUSY.
	db.SetMaxOpenConns(1)
	c.schema = ""
	rep, err := run(ctx, c, riversqlite.New(db))
	if err == nil {
		rep.Store = "sqlite-" + strings.ToLower(c.sync)
	}
	return rep, err
}

// noop is the job: it does nothing, like drover bench's zero-second sleep.
type noop struct {
	Num int `json:"num"`
}

func (noop) Kind() string { return "noop" }

type noopWorker struct{ river.WorkerDefaults[noop] }

func (noopWorker) Work(context.Context, *river.Job[noop]) error { return nil }

func run[TTx any](ctx context.Context, c config, driver riverdriver.Driver[TTx]) (*report, error) {
	migrator, err := rivermigrate.New(driver, &rivermigrate.Config{Schema: c.schema, Logger: quiet()})
	if err != nil {
		return nil, err
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return nil, fmt.Errorf("migrating: %w", err)
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, &noopWorker{})
	client, err := river.NewClient(driver, &river.Config{
		// riverbench's tuning: a short cooldown and poll, many workers.
		FetchCooldown:     2 * time.Millisecond,
		FetchPollInterval: 20 * time.Millisecond,
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: c.maxWorkers}},
		Workers:           workers,
		Schema:            c.schema,
		Logger:            quiet(),
	})
	if err != nil {
		return nil, err
	}
	events, cancelSub := client.SubscribeConfig(&river.SubscribeConfig{
		ChanSize: c.jobs + 1000,
		Kinds:    []river.EventKind{river.EventKindJobCompleted, river.EventKindJobFailed, river.EventKindJobCancelled},
	})
	defer cancelSub()

	var done atomic.Int64
	var failed atomic.Int64
	allDone := make(chan time.Time, 1)
	go func() {
		for e := range events {
			if e.Kind != river.EventKindJobCompleted {
				failed.Add(1)
			}
			if done.Add(1) == int64(c.jobs) {
				allDone <- time.Now()
				return
			}
		}
	}()

	insert := func(n, batch int) error {
		params := make([]river.InsertManyParams, 0, batch)
		for n > 0 {
			params = params[:0]
			for i := range min(n, batch) {
				params = append(params, river.InsertManyParams{Args: noop{Num: i}})
			}
			if _, err := client.InsertMany(ctx, params); err != nil {
				return err
			}
			n -= len(params)
		}
		return nil
	}

	var start time.Time
	switch c.mode {
	case "burndown":
		if err := insert(c.jobs, 5000); err != nil {
			return nil, fmt.Errorf("prefilling: %w", err)
		}
		start = time.Now()
		if err := client.Start(ctx); err != nil {
			return nil, err
		}
	case "insert":
		if err := client.Start(ctx); err != nil {
			return nil, err
		}
		start = time.Now()
		var wg sync.WaitGroup
		errs := make(chan error, c.submitters)
		per := (c.jobs + c.submitters - 1) / c.submitters
		for s := range c.submitters {
			n := min(per, c.jobs-s*per)
			wg.Go(func() {
				if err := insert(n, c.batch); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		if err := <-errs; err != nil {
			return nil, fmt.Errorf("inserting: %w", err)
		}
	}
	var end time.Time
	select {
	case end = <-allDone:
	case <-time.After(30 * time.Minute):
		return nil, fmt.Errorf("timed out with %d of %d jobs done", done.Load(), c.jobs)
	}
	stopCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := client.Stop(stopCtx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return nil, err
	}
	if n := failed.Load(); n > 0 {
		return nil, fmt.Errorf("%d jobs did not complete", n)
	}
	secs := end.Sub(start).Seconds()
	return &report{System: "river", Mode: c.mode, Jobs: c.jobs, Seconds: secs, JobsPerSecond: float64(c.jobs) / secs}, nil
}

func quiet() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
}
