package cli

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/internal/app"
	"github.com/drover-run/drover/internal/dispatch"
	"github.com/drover-run/drover/internal/version"
)

func newServerCommand() *cobra.Command {
	var cfg app.ServerConfig
	var logLevel, pprofAddr string
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the control plane: REST API, worker protocol, scheduler",
		Long: `Run the control plane.

The native API (document 001) listens on --port, the worker protocol on
--agent-port, the Keeper interface (002) on --keeper-port and the NetPulse
job API (003) on --netpulse-port. Every flag can also be set as DROVER_<FLAG> in the environment,
e.g. DROVER_STORE=postgres://… .`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := settle(cmd, logLevel)
			if err != nil {
				return err
			}
			cfg.Logger, cfg.Version = log, version.String()
			if !cmd.Flags().Changed("rate-limit") && os.Getenv("DROVER_RATE_LIMIT") == "" {
				cfg.RateLimit = cfg.Auth // on with --auth unless told otherwise
			}
			if cfg.SecretKeyFile == "" {
				cfg.SecretKey = os.Getenv("DROVER_SECRET_KEY")
			}
			if pprofAddr != "" {
				go servePprof(pprofAddr, log)
			}
			srv, err := app.NewServer(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			return srv.Run(cmd.Context())
		},
	}
	addConfigFlag(cmd)
	f := cmd.Flags()
	f.StringVar(&cfg.Host, "host", app.DefaultHost, "address to listen on (0.0.0.0 serves other machines)")
	f.IntVar(&cfg.Port, "port", api.DefaultPort, "port of the REST API")
	f.IntVar(&cfg.AgentPort, "agent-port", api.DefaultAgentPort, "port of the worker protocol")
	f.IntVar(&cfg.KeeperPort, "keeper-port", api.DefaultKeeperPort, "port of the Keeper interface (document 002); 0 turns it off")
	f.IntVar(&cfg.NetPulsePort, "netpulse-port", api.DefaultNetPulsePort, "port of the NetPulse job API (document 003); 0 turns it off")
	f.StringVar(&cfg.Store, "store", app.DefaultStore, "sqlite:///path/drover.db or postgres://user:pass@host/db")
	f.StringVar(&cfg.SQLiteSync, "sqlite-sync", "NORMAL", "SQLite durability: NORMAL survives kill -9, FULL also power loss")
	f.DurationVar(&cfg.Engine.HeartbeatInterval, "heartbeat-interval", dispatch.DefaultHeartbeatInterval, "how often workers heartbeat")
	f.DurationVar(&cfg.Engine.LeaseTTL, "lease-ttl", 0, fmt.Sprintf("how long a task's lease outlives its worker's last heartbeat (default %d heartbeats)", dispatch.DefaultLeaseHeartbeats))
	f.DurationVar(&cfg.Engine.OfflineThreshold, "offline-threshold", 0, fmt.Sprintf("silence after which a worker is offline (default %d heartbeats)", dispatch.DefaultOfflineHeartbeats))
	f.BoolVar(&cfg.Auth, "auth", false, "require API keys on every listener (see drover keys)")
	f.StringVar(&cfg.APIKey, "api-key", "", "seed an admin key with this token (with --auth)")
	f.StringVar(&cfg.SecretKeyFile, "secret-key-file", "", "file holding the server key that seals signed-mode secrets (else $DROVER_SECRET_KEY)")
	f.BoolVar(&cfg.RateLimit, "rate-limit", false, "rate-limit requests per key, per address without --auth (default: on with --auth)")
	f.IntVar(&cfg.RateLimits.Reads, "rate-reads", 1000, "read requests per key per --rate-window")
	f.IntVar(&cfg.RateLimits.Writes, "rate-writes", 100, "write requests per key per --rate-window")
	f.IntVar(&cfg.RateLimits.Streams, "rate-streams", 10, "concurrent event streams per key")
	f.DurationVar(&cfg.RateLimits.Window, "rate-window", 15*time.Minute, "the rate-limit window")
	f.StringVar(&cfg.TLSCert, "tls-cert", "", "PEM certificate: serve every listener over TLS")
	f.StringVar(&cfg.TLSKey, "tls-key", "", "PEM private key of --tls-cert")
	f.BoolVar(&cfg.Insecure, "insecure", false, "allow plain HTTP on a non-loopback --host")
	f.DurationVar(&cfg.Pools.ReconcileInterval, "pool-reconcile-interval", 2*time.Second, "how often pools are brought to their size when nothing changes")
	f.DurationVar(&cfg.Pools.AutoscaleInterval, "pool-autoscale-interval", 5*time.Second, "how often autoscaled pools are sized from their queues")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	f.StringVar(&pprofAddr, "pprof-addr", "", "serve Go profiles (net/http/pprof) on this address, e.g. 127.0.0.1:6060")
	return cmd
}

// servePprof serves the runtime profiles on their own listener, never on
// the API port.
func servePprof(addr string, log *slog.Logger) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	if err := srv.ListenAndServe(); err != nil {
		log.Error("pprof listener", "err", err)
	}
}
