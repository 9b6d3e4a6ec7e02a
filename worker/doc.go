// Package worker is Drover's worker agent: the process that runs on each
// machine, joins a server over the worker protocol (package api, paths
// /agent/v1/...) and runs the tasks it leases.
//
// A program embeds it much as it would run an http.Server:
//
//	w, err := worker.New(worker.Config{Server: "http://127.0.0.1:8080"})
//	w.Handle("resize-image", resize)
//	err = w.Run(ctx) // until ctx is done, then a soft, then hard, shutdown
//
// # Built-in task types
//
// echo, sleep and http are always available; shell runs commands and is
// refused unless Config.AllowShell is set, since it is code execution on the
// machine. Handlers registered with Handle add to or replace them.
//
// # Protocol loop
//
// Run registers, then keeps four activities going:
//
//   - leasing: one long-poll outstanding whenever a slot is free, asking for
//     as many tasks as there are free slots;
//   - running: one goroutine per running task;
//   - reporting: one flusher posts log lines, progress reports and
//     results, in that order. A result that arrives while a post is in
//     flight rides in the next post, so batches form under load without
//     adding latency when idle. Of each task's progress reports
//     (Task.Progress, or "::progress 0.4 msg" lines of a command) only the
//     latest is kept, posted about once a second, and an attempt's last one
//     just before its result;
//   - heartbeating: every interval (±10% stagger) with the host's resources
//     and every lease still held, which renews them all. The answer may order
//     tasks stopped (cancelled, or the lease was lost): their processes are
//     killed at once and no result is sent for them.
//
// Failed calls are retried with exponential backoff and full jitter, capped
// at a few seconds, while running tasks carry on: a server restart shorter
// than the lease TTL costs no work. A 401 means the server forgot the worker;
// it registers again presenting its previous id and credential, so the
// server can give the same id back.
//
// # Leases held
//
// A lease is held from the moment it is leased until the server has answered
// the post of its result (accepted or STALE_LEASE). Heartbeats report all of
// them, so a result waiting out a server outage keeps its lease alive.
//
// # Shutdown order
//
// When ctx is done (or the server orders a drain): stop leasing; let running
// tasks finish within Config.DrainTimeout; kill the rest, sending no result
// for them; flush pending results and logs; stop heartbeats; deregister,
// which hands the killed tasks' leases back; return.
//
// # Processes
//
// Commands run in their own process group. On timeout or stop the group gets
// SIGTERM, then SIGKILL after a grace period; when the command exits, what is
// left of its group is killed too, so no process outlives its task. On Linux
// each command runs under a small supervising shell started from one locked
// OS thread with a parent-death signal (golang/go#27505): if the worker dies,
// even by SIGKILL, the supervisor takes the whole group down with it,
// grandchildren included. A worker running as root
// runs commands as an unprivileged user (Config.ShellUser). Task
// environments never contain the worker's credential or DROVER_* settings.
package worker
