// Package agentserver serves the worker protocol (/agent/v1, on the agent
// port): registration, heartbeats, long-poll leasing, logs and results. The
// protocol is plain HTTP+JSON, documented in docs/worker-protocol.md, so a
// worker in any language is a page of code.
//
// Every call but register authenticates with the worker credential issued
// at registration; the credential names exactly one worker, so a worker can
// only renew, report and log on its own leases.
package agentserver

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/internal/dispatch"
	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/envelope"
	"github.com/drover-run/drover/internal/httpapi"
)

// Options configure a Server.
type Options struct {
	Engine *dispatch.Service
	Logger *slog.Logger
	// AuthorizeRegister decides whether a registration may proceed (a join
	// token or agent key check); nil admits every registration. It sees the
	// validated request and may set labels on it (a join token's pool).
	AuthorizeRegister func(r *http.Request, req *api.RegisterRequest) error
	// Middleware wraps every route: rate limits plug in here.
	Middleware func(http.Handler) http.Handler
	// Instrument wraps the router itself (it sees the matched route
	// pattern): request metrics plug in here.
	Instrument func(http.Handler) http.Handler
	// CredentialCacheTTL is how long a worker's credential, once looked up,
	// is trusted here without asking the store again; default 5 minutes.
	// Each heartbeat, which the store checks, starts it afresh. A removed or
	// re-registered worker's credentials are dropped at once (Control.Forget,
	// and the relay for other servers); see credentials.go.
	CredentialCacheTTL time.Duration
	// Control is the control channel's mailboxes (control.go); nil makes one.
	Control *Control
}

// Server serves the worker protocol.
type Server struct {
	engine   *dispatch.Service
	log      *slog.Logger
	authReg  func(r *http.Request, req *api.RegisterRequest) error
	cache    *credentialCache
	handler  http.Handler
	maxLease int
	ctl      *Control
}

// New builds the protocol's routes.
func New(opts Options) *Server {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ttl := opts.CredentialCacheTTL
	if ttl <= 0 {
		ttl = 5 * time.Minute
	}
	s := &Server{
		engine: opts.Engine, log: log, authReg: opts.AuthorizeRegister,
		cache: newCredentialCache(ttl), maxLease: 1000, ctl: opts.Control,
	}
	if s.ctl == nil {
		s.ctl = NewControl()
	}
	s.ctl.onRevoke(s.cache.forget)
	s.handler, _ = httpapi.Build(s.Routes(), envelope.Error, log, opts.Instrument, opts.Middleware)
	return s
}

// Routes is the worker protocol's route table. A worker authenticates with
// its own credential inside the protocol (authed), not with an API key.
func (s *Server) Routes() []httpapi.Route {
	route := func(path, summary string, h func(http.ResponseWriter, *http.Request) error) httpapi.Route {
		return httpapi.Route{Method: "POST", Path: path, Tag: "agent", Summary: summary, Handler: h}
	}
	return []httpapi.Route{
		route(api.AgentRegisterPath, "Register a worker (join token or agent key when auth is on)", s.register),
		route(api.AgentHeartbeatPath, "Report resources and renew every lease held", s.authed(s.heartbeat)),
		route(api.AgentLeasePath, "Long-poll for a batch of tasks", s.authed(s.lease)),
		route(api.AgentLogsPath, "Append log lines of leased tasks", s.authed(s.logs)),
		route(api.AgentProgressPath, "Report how far running tasks got", s.authed(s.progress)),
		route(api.AgentResultsPath, "Report attempt results", s.authed(s.results)),
		route(api.AgentDeregisterPath, "Leave the cluster, handing leases back", s.authed(s.deregister)),
		route(api.AgentControlPath, "Long-poll for control messages (kills, pings)", s.authed(s.control)),
		route(api.AgentPongPath, "Answer pings", s.authed(s.pong)),
		{Method: "GET", Path: "/health", Access: httpapi.Public, Tag: "agent", Summary: "The worker protocol's health",
			Handler: func(w http.ResponseWriter, r *http.Request) error {
				envelope.OK(w, r, map[string]string{"status": "healthy"}, "")
				return nil
			}},
	}
}

// Handler is the protocol as an http.Handler.
func (s *Server) Handler() http.Handler { return s.handler }

type workerHandler func(w http.ResponseWriter, r *http.Request, wk *domain.Worker) error

// authed resolves the caller's credential to its worker.
func (s *Server) authed(h workerHandler) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		cred, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || cred == "" {
			return domain.Errorf(domain.CodeAuthenticationNeeded, "the worker credential is missing (Authorization: Bearer <credential>)")
		}
		hash := hashCredential(cred)
		wk, ok := s.cache.get(hash)
		if !ok {
			var err error
			wk, err = s.engine.WorkerByCredential(r.Context(), hash)
			if errors.Is(err, domain.ErrNotFound) {
				return domain.Errorf(domain.CodeWorkerUnknown, "no registered worker has this credential; register again")
			}
			if err != nil {
				return err
			}
			s.cache.put(hash, wk)
		}
		return h(w, r, wk)
	}
}

func (s *Server) register(w http.ResponseWriter, r *http.Request) error {
	var req api.RegisterRequest
	if err := httpapi.Decode(w, r, &req, false); err != nil {
		return err
	}
	// The engine's rules, before a join token is spent on the request.
	check := workerFromRequest("", &req)
	if err := dispatch.CheckWorker(check); err != nil {
		return err
	}
	req.Name, req.Queues, req.Role = check.Name, check.Queues, check.Role
	if s.authReg != nil {
		if err := s.authReg(r, &req); err != nil {
			return err
		}
	}
	if err := bindPool(&req); err != nil {
		return err
	}
	// The store picks the id (the one the worker proves it had, else the
	// first free of name, name-2, …) in the transaction that registers it.
	cred := domain.NewSecret(32)
	wk := workerFromRequest("", &req)
	wk.CredentialHash = hashCredential(cred)
	var returningHash string
	if req.WorkerID != "" && req.Credential != "" {
		returningHash = hashCredential(req.Credential)
	}
	wk, err := s.engine.Register(r.Context(), wk, req.WorkerID, returningHash)
	if err != nil {
		return err
	}
	id := wk.ID
	s.ctl.revoke(id) // an earlier session's credential, here and on the other servers
	// Its first calls need no store read: a crowd registering at once would
	// otherwise queue 10,000 lookups on the read pool behind its first polls.
	s.cache.put(wk.CredentialHash, wk)
	s.log.Info("worker registered", "worker_id", id, "hostname", req.Hostname, "queues", req.Queues, "task_types", req.TaskTypes)
	cfg := s.engine.Config()
	envelope.OK(w, r, api.RegisterResponse{
		WorkerID: wk.ID, Credential: cred,
		HeartbeatInterval: api.MillisOf(cfg.HeartbeatInterval), LeaseTTL: api.MillisOf(cfg.LeaseTTL),
	}, "")
	return nil
}

func workerFromRequest(id string, req *api.RegisterRequest) *domain.Worker {
	res := resourcesFromAPI(req.Resources)
	if res.Battery == nil && req.DetailedInfo.Battery != nil {
		res.Battery = &domain.Battery{Level: req.DetailedInfo.Battery.Level, Charging: req.DetailedInfo.Battery.Charging}
	}
	return &domain.Worker{
		ID: id, Name: req.Name, Hostname: req.Hostname, Role: req.Role,
		Platform:  domain.Platform{OS: strings.ToLower(req.Platform.OS), Arch: req.Platform.Arch, PythonVersion: req.Platform.PythonVersion, GoVersion: req.Platform.GoVersion, Kernel: req.Platform.Kernel},
		Resources: res,
		Info: domain.WorkerInfo{
			Capabilities: req.DetailedInfo.Capabilities, NetworkInterfaces: req.DetailedInfo.NetworkInterfaces, Sensors: req.DetailedInfo.Sensors,
		},
		Queues: req.Queues, Labels: req.Labels, TaskTypes: req.TaskTypes, Concurrency: req.Concurrency,
		PID: req.PID, Version: req.Version, PoolID: req.PoolID,
	}
}

func resourcesFromAPI(r api.Resources) domain.Resources {
	out := domain.Resources{
		CPUCores: r.CPUCores, CPUUsage: r.CPUUsage, MemoryTotalGB: r.MemoryTotalGB, MemoryUsedGB: r.MemoryUsedGB,
		StorageTotalGB: r.StorageTotalGB, StorageUsedGB: r.StorageUsedGB,
	}
	if r.Battery != nil {
		out.Battery = &domain.Battery{Level: r.Battery.Level, Charging: r.Battery.Charging}
	}
	return out
}

func (s *Server) heartbeat(w http.ResponseWriter, r *http.Request, wk *domain.Worker) error {
	var req api.HeartbeatRequest
	if err := httpapi.Decode(w, r, &req, true); err != nil {
		return err
	}
	held := make([]domain.TaskRef, len(req.Running))
	for i, l := range req.Running {
		held[i] = domain.TaskRef{TaskID: l.TaskID, Epoch: l.Epoch}
	}
	res, err := s.engine.Heartbeat(r.Context(), wk, resourcesFromAPI(req.Resources), held)
	if errors.Is(err, domain.ErrNotFound) {
		s.cache.forget(wk.ID)
		return domain.Errorf(domain.CodeWorkerUnknown, "worker '%s' was removed, or registered again with another credential; register again", wk.ID)
	}
	if err != nil {
		return err
	}
	s.cache.refresh(res.Worker)
	cfg := s.engine.Config()
	out := api.HeartbeatResponse{
		Stop:              make([]api.StopOrder, len(res.Stop)),
		Drain:             res.Worker.State == domain.WorkerDraining,
		HeartbeatInterval: api.MillisOf(cfg.HeartbeatInterval),
		LeaseTTL:          api.MillisOf(cfg.LeaseTTL),
	}
	for i, st := range res.Stop {
		out.Stop[i] = api.StopOrder{TaskID: st.Ref.TaskID, Epoch: st.Ref.Epoch, Reason: st.Reason}
	}
	envelope.OK(w, r, out, "")
	return nil
}

func (s *Server) lease(w http.ResponseWriter, r *http.Request, wk *domain.Worker) error {
	var req api.LeaseRequest
	if err := httpapi.Decode(w, r, &req, true); err != nil {
		return err
	}
	if req.Max < 0 || req.Wait < 0 {
		return domain.Errorf(domain.CodeValidation, "max and wait_ms must not be negative")
	}
	limit := min(req.Max, s.maxLease)
	if limit == 0 {
		limit = 1
	}
	tasks, err := s.engine.Lease(r.Context(), wk, limit, req.Wait.Duration())
	if err != nil {
		return err
	}
	out := api.LeaseResponse{Tasks: make([]api.LeasedTask, len(tasks)), Drain: wk.State == domain.WorkerDraining}
	for i, t := range tasks {
		out.Tasks[i] = api.LeasedTask{
			TaskID: t.ID, Epoch: t.LeaseEpoch, Attempt: t.Attempt, TaskType: t.Type, Payload: t.Payload,
			Timeout: t.TimeoutSeconds, Deadline: t.LeaseExpiresAt.UTC(), Queue: t.Queue, Priority: t.Priority.String(),
			CreatedAt: t.CreatedAt.UTC(),
		}
	}
	envelope.OK(w, r, out, "")
	return nil
}

// Bounds on one report, so a single call cannot hold the store's writer for long.
const (
	maxLogLines     = 5000
	maxLogLineBytes = 16 << 10
	maxResults      = 2000
	maxProgress     = 2000
	maxOutputBytes  = 1 << 20
)

func (s *Server) logs(w http.ResponseWriter, r *http.Request, wk *domain.Worker) error {
	var req api.LogBatch
	if err := httpapi.Decode(w, r, &req, false); err != nil {
		return err
	}
	if len(req.Lines) > maxLogLines {
		return domain.Errorf(domain.CodeValidation, "at most %d lines per call", maxLogLines)
	}
	lines := make([]domain.LogLine, len(req.Lines))
	epochs := make([]int64, len(req.Lines))
	for i, l := range req.Lines {
		msg := l.Message
		if len(msg) > maxLogLineBytes {
			msg = msg[:maxLogLineBytes] + "…[truncated]"
		}
		stream, level := l.Stream, "info"
		if stream == "stderr" {
			level = "error"
		} else if stream != "stdout" {
			stream = "stdout"
		}
		at := l.Time
		if at.IsZero() {
			at = time.Now()
		}
		lines[i] = domain.LogLine{TaskID: l.TaskID, Time: at, Stream: stream, Level: level, Message: msg}
		epochs[i] = l.Epoch
	}
	if err := s.engine.AppendLogs(r.Context(), wk.ID, lines, epochs); err != nil {
		return err
	}
	envelope.OK(w, r, map[string]int{"accepted": len(lines)}, "")
	return nil
}

func (s *Server) progress(w http.ResponseWriter, r *http.Request, wk *domain.Worker) error {
	var req api.ProgressBatch
	if err := httpapi.Decode(w, r, &req, false); err != nil {
		return err
	}
	if len(req.Reports) == 0 || len(req.Reports) > maxProgress {
		return domain.Errorf(domain.CodeValidation, "reports must hold 1 to %d reports", maxProgress)
	}
	reports := make([]domain.Progress, len(req.Reports))
	for i, p := range req.Reports {
		reports[i] = domain.Progress{TaskID: p.TaskID, Epoch: p.Epoch, Fraction: p.Fraction, Message: p.Message, Time: p.Time}
	}
	outs, err := s.engine.ReportProgress(r.Context(), wk.ID, reports)
	if err != nil {
		return err
	}
	resp := api.ProgressBatchResponse{Outcomes: make([]api.ProgressOutcome, len(outs))}
	for i, o := range outs {
		resp.Outcomes[i] = api.ProgressOutcome{TaskID: reports[i].TaskID, Epoch: reports[i].Epoch, Outcome: string(o)}
	}
	envelope.OK(w, r, resp, "")
	return nil
}

func (s *Server) results(w http.ResponseWriter, r *http.Request, wk *domain.Worker) error {
	var req api.ResultBatch
	if err := httpapi.Decode(w, r, &req, false); err != nil {
		return err
	}
	if len(req.Results) == 0 || len(req.Results) > maxResults {
		return domain.Errorf(domain.CodeValidation, "results must hold 1 to %d results", maxResults)
	}
	fin := make([]domain.AttemptResult, len(req.Results))
	for i, res := range req.Results {
		if res.Status != string(domain.TaskCompleted) && res.Status != string(domain.TaskFailed) {
			return domain.Errorf(domain.CodeValidation, "results[%d].status must be completed or failed", i)
		}
		out := res.Result.Output
		if len(out) > maxOutputBytes {
			out = out[len(out)-maxOutputBytes:] // keep the tail: that is where errors are
		}
		fin[i] = domain.AttemptResult{
			Ref:       domain.TaskRef{TaskID: res.TaskID, Epoch: res.Epoch},
			Succeeded: res.Status == string(domain.TaskCompleted),
			Result:    &domain.Result{Output: out, ExitCode: res.Result.ExitCode, Error: res.Result.Error, Data: res.Result.Data},
		}
		if u := res.ResourceUsage; u != nil {
			fin[i].ResourceUsage = &domain.ResourceUsage{PeakCPUPercent: u.PeakCPUPercent, PeakMemoryMB: u.PeakMemoryMB, TotalCPUTimeSeconds: u.TotalCPUTimeSeconds}
		}
	}
	outs, err := s.engine.Finish(r.Context(), wk.ID, fin)
	if err != nil {
		return err
	}
	resp := api.ResultBatchResponse{Outcomes: make([]api.ResultOutcome, len(outs))}
	for i, o := range outs {
		resp.Outcomes[i] = api.ResultOutcome{TaskID: o.Ref.TaskID, Epoch: o.Ref.Epoch, Accepted: !o.StaleLease, Status: string(o.State)}
		if o.StaleLease {
			resp.Outcomes[i].Code = string(domain.CodeStaleLease)
			resp.Outcomes[i].Status = ""
		}
	}
	envelope.OK(w, r, resp, "")
	return nil
}

func (s *Server) deregister(w http.ResponseWriter, r *http.Request, wk *domain.Worker) error {
	if err := s.engine.Deregister(r.Context(), wk.ID); err != nil {
		return err
	}
	s.cache.forget(wk.ID)
	s.log.Info("worker deregistered", "worker_id", wk.ID)
	envelope.OK(w, r, map[string]string{"worker_id": wk.ID, "status": "offline"}, "")
	return nil
}

// HashCredential is how worker credentials are stored and looked up.
func HashCredential(c string) string { return hashCredential(c) }

func hashCredential(c string) string {
	sum := sha256.Sum256([]byte(c))
	return hex.EncodeToString(sum[:])
}

// bindPool settles the pool a worker joins: the one its join token is bound
// to (the "pool" label the token's check wrote, when it names a pool id), or
// the one it asks for with pool_id; both must agree.
func bindPool(req *api.RegisterRequest) error {
	if req.PoolID < 0 {
		return domain.Errorf(domain.CodeValidation, "pool_id must not be negative").With("field", "pool_id")
	}
	pool, err := strconv.ParseInt(req.Labels["pool"], 10, 64)
	if err != nil || pool <= 0 {
		return nil
	}
	if req.PoolID != 0 && req.PoolID != pool {
		return domain.Errorf(domain.CodePermissionDenied, "this worker asks for pool %d but is admitted to pool %d", req.PoolID, pool).With("field", "pool_id")
	}
	req.PoolID = pool
	return nil
}
