package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/drover-run/drover/worker"
)

// DevConfig is `drover dev`: a server on SQLite in DataDir and Workers local
// workers, all in this process, on loopback only. It is just another
// configuration of the same server; nothing in the server knows it is in dev.
type DevConfig struct {
	DataDir   string // default ./drover-data
	Port      int    // default 8081
	AgentPort int    // default 8080
	// KeeperPort and NetPulsePort as in ServerConfig: 0 off, -1 a free port.
	KeeperPort   int
	NetPulsePort int
	Workers      int // default 2
	Concurrency  int // per worker; default 4
	// Labels are given to every local worker, for trying placement by
	// label (the README's fuller submit asks for disk=ssd).
	Labels  map[string]string
	Version string
	Logger  *slog.Logger
	Out     io.Writer // where the welcome text goes; default stdout
}

// RunDev runs a dev cluster until ctx ends, then stops the workers (they
// hand back what they run) and the server.
func RunDev(ctx context.Context, cfg DevConfig) error {
	if cfg.DataDir == "" {
		cfg.DataDir = DefaultDataDir
	}
	if cfg.Workers == 0 {
		cfg.Workers = 2
	}
	if cfg.Workers < 0 || cfg.Workers > 64 {
		return fmt.Errorf("--workers %d: use 0 to 64", cfg.Workers)
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 4
	}
	if cfg.Out == nil {
		cfg.Out = os.Stdout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return err
	}
	abs, err := filepath.Abs(filepath.Join(cfg.DataDir, "drover.db"))
	if err != nil {
		return err
	}
	srv, err := NewServer(ctx, ServerConfig{
		Host: DefaultHost, Port: cfg.Port, AgentPort: cfg.AgentPort, KeeperPort: cfg.KeeperPort, NetPulsePort: cfg.NetPulsePort,
		Store: "sqlite://" + abs, Version: cfg.Version, Logger: cfg.Logger,
	})
	if err != nil {
		return err
	}
	if err := srv.seedDevPool(ctx, cfg.Concurrency); err != nil {
		return err
	}
	srvCtx, stopServer := context.WithCancel(context.WithoutCancel(ctx))
	defer stopServer()
	srvDone := make(chan error, 1)
	go func() { srvDone <- srv.Run(srvCtx) }()

	host, _ := os.Hostname()
	if host == "" {
		host = "local"
	}
	var wg sync.WaitGroup
	workerErrs := make([]error, cfg.Workers)
	for i := range cfg.Workers {
		w, err := worker.New(worker.Config{
			Server:      srv.AgentURL(),
			Name:        fmt.Sprintf("%s-%d", host, i+1),
			Concurrency: cfg.Concurrency,
			Labels:      cfg.Labels,
			Version:     cfg.Version,
			AllowShell:  true, // loopback only, and the newcomer is the operator
			HTTPAllow:   []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")},
			StateFile:   filepath.Join(cfg.DataDir, fmt.Sprintf("worker-%d.json", i+1)),
			Logger:      cfg.Logger.With("component", "worker", "n", i+1),
		})
		if err != nil {
			stopServer()
			<-srvDone
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			workerErrs[i] = w.Run(ctx)
		}()
	}
	printWelcome(cfg.Out, srv, cfg.Workers, cfg.DataDir)

	select {
	case <-ctx.Done():
	case err := <-srvDone:
		// The server stopped on its own: stop the workers too.
		return errors.Join(err, errors.New("the server stopped"))
	}
	wg.Wait() // workers drain first, while the server still takes their hand-backs
	stopServer()
	return errors.Join(append(workerErrs, <-srvDone)...)
}

// printWelcome says where everything is. The CLI line names the API with
// --api-url, so it reaches this cluster whatever --port is, and not another
// one on 8081 or in the CLI's configuration.
func printWelcome(out io.Writer, srv *Server, workers int, dataDir string) {
	api := srv.APIURL()
	cliFlag := " --api-url " + api
	lines := []string{
		"",
		"  Drover dev cluster is running.",
		"",
		"  Dashboard  " + api + "/",
		"  API        " + api + "/api/v1",
		"  Health     " + api + "/health",
		"  Workers    " + srv.AgentURL() + fmt.Sprintf("  (%d local, shell allowed)", workers),
		"  Pools      " + fmt.Sprintf("%d (1 local worker) and 388 (none): scale them with document 000's change_points", DevPoolID),
		"  Data       " + dataDir + " (SQLite)",
	}
	if k := srv.URL("keeper"); k != "" {
		lines = append(lines, "  Keeper     "+k+"  (document 002; see docs/workflows.md)")
	}
	if u := srv.URL("netpulse"); u != "" {
		lines = append(lines, "  NetPulse   "+u+"/job, /worker, /health  (document 003)")
	}
	lines = append(lines,
		"",
		"  Try it:",
		"    curl "+api+"/api/v1/cluster/status",
		"    curl "+api+"/api/v1/devices",
		"    curl -X POST "+api+`/api/v1/tasks -H "Content-Type: application/json" \`,
		`         -d '{"task_type": "echo", "payload": {"message": "Hello World"}}'`,
		"    drover"+cliFlag+` tasks submit echo --payload '{"message": "test"}' --wait`,
		"",
		"  Ctrl-C stops everything.",
		"",
	)
	fmt.Fprintln(out, strings.Join(lines, "\n"))
}
