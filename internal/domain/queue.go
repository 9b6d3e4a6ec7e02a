package domain

import (
	"regexp"
	"strings"
	"time"
)

// Queues. A queue is a named line of tasks; it exists as soon as a task or a
// worker names it, and its only stored state is whether it is paused.
//
//	FifoQ             the default queue: any worker listening on it
//	pinned_{host}     work bound to one target host (NetPulse's device
//	                  queues): served by the worker(s) started with
//	                  --pin-host {host}
//
// A paused queue keeps its tasks and admits new ones, but none of them is
// leased until it is resumed. A task for a queue that no registered worker
// serves is admitted and waits (its workers may come later).

var queueNameRE = regexp.MustCompile(`^[A-Za-z0-9_.:@/-]{1,128}$`)

// ValidQueueName reports whether s may name a queue: 1 to 128 letters,
// digits or _.:@/- (an IPv4 or IPv6 host fits in a pinned queue's name).
func ValidQueueName(s string) bool { return queueNameRE.MatchString(s) }

// PinnedQueuePrefix starts the name of every per-host queue.
const PinnedQueuePrefix = "pinned_"

// PinnedQueue is the queue of the tasks bound to host.
func PinnedQueue(host string) string { return PinnedQueuePrefix + host }

// HostOfQueue is the host a pinned queue is bound to, or "" for any other queue.
func HostOfQueue(q string) string {
	h, ok := strings.CutPrefix(q, PinnedQueuePrefix)
	if !ok {
		return ""
	}
	return h
}

// QueueForHost is the queue of a task submitted with queue and host: the
// host's pinned queue when host is set, which queue must then be empty or
// name; otherwise queue.
func QueueForHost(queue, host string) (string, error) {
	if host == "" {
		return queue, nil
	}
	pinned := PinnedQueue(host)
	if !ValidQueueName(pinned) {
		return "", Errorf(CodeValidation, "host '%s' is not a valid host name or address", host).With("field", "host")
	}
	if queue != "" && queue != pinned {
		return "", Errorf(CodeValidation, "host '%s' places the task in queue '%s'; queue '%s' contradicts it", host, pinned, queue).
			With("field", "host")
	}
	return pinned, nil
}

// Queue is a queue as the engine reports it.
type Queue struct {
	Name     string
	Host     string // the target host of a pinned queue, else ""
	Paused   bool
	PausedAt time.Time
	Counts   map[TaskState]int64 // every state present, zero when none
	// OldestPending is the earliest AvailableAt among its pending tasks
	// (zero when none): how long the head of the line has waited.
	OldestPending time.Time
	Workers       int // registered (not removed) workers serving it
	LiveWorkers   int // of those, the online or draining ones
}

// WorkerStatus is a worker's activity as document 003 (NetPulse) names it,
// derived from its state, its suspension and its running leases.
type WorkerStatus string

// The worker statuses.
const (
	WorkerBusy      WorkerStatus = "busy"      // running at least one task
	WorkerIdle      WorkerStatus = "idle"      // live, running nothing, leasing
	WorkerSuspended WorkerStatus = "suspended" // live, finishing what it runs, leasing nothing new
	WorkerDead      WorkerStatus = "dead"      // offline: stopped, or silent past the offline threshold
)

// StatusOf derives a worker's NetPulse status. Suspension shows at once,
// even while the worker finishes what it was running: it is what the
// operator asked for, and the worker leases nothing from then on.
func StatusOf(w *Worker, suspended bool) WorkerStatus {
	switch {
	case !w.State.Live():
		return WorkerDead
	case suspended:
		return WorkerSuspended
	case w.TasksActive > 0:
		return WorkerBusy
	}
	return WorkerIdle
}
