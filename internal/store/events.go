package store

import (
	"context"
	"time"

	"github.com/drover-run/drover/internal/domain"
)

// ObservabilityStore keeps what the cluster says about itself: its event
// log (logs, the live stream and its resumption) and the history of every
// worker's resources and of task outcomes (metrics, statistics).
type ObservabilityStore interface {
	EventStore
	MetricStore
}

// EventStore is the cluster's event log.
//
// Ids grow in commit order and are never reused, even after pruning: an
// event committed after another has a larger id, so a reader that has seen
// every event up to id n and asks for those after n misses none. (On
// PostgreSQL, appends take a transaction-scoped advisory lock so that
// several servers' appends commit in id order.)
type EventStore interface {
	// EventAppend stores events in one transaction, in order, giving each
	// its ID (written back into events[i].ID) and, where zero, its Time.
	EventAppend(ctx context.Context, events []domain.Event) error
	// EventCount counts the events the filter matches (AfterID, BeforeID
	// and Limit are ignored).
	EventCount(ctx context.Context, p *EventListParams) (int, error)
	// EventLastID is the largest id ever given, 0 if none.
	EventLastID(ctx context.Context) (int64, error)
	// EventList lists events matching the filter, by id: ascending, or
	// descending when Descending is set.
	EventList(ctx context.Context, p *EventListParams) ([]domain.Event, error)
	// EventPrune deletes events older than Before, and then the oldest
	// beyond the newest MaxEvents (0: no cap). It returns how many went.
	EventPrune(ctx context.Context, p *EventPruneParams) (int64, error)
}

// EventNotifier is implemented by stores that several servers may share
// (PostgreSQL). Every EventAppend notifies in its transaction; ListenEvents
// calls wake whenever another server may have appended events (and after
// each reconnect), until ctx ends. wake must not block.
type EventNotifier interface {
	ListenEvents(ctx context.Context, wake func()) error
}

// MetricStore keeps per-worker resource samples and task outcome counts in
// time buckets of three widths: minutes (kept for a day), hours and days
// (kept for the metrics retention): a query over a period reads the
// coarsest buckets that resolve it, so 30 days of 100 workers is a few
// thousand rows. Writes merge: recording into a bucket that
// exists adds sums and counts and keeps maxima, so several servers may
// record the same worker's bucket and the result is their union.
type MetricStore interface {
	// MetricPrune deletes samples and task counts of width Width in
	// buckets that start before Before.
	MetricPrune(ctx context.Context, p *MetricPruneParams) error
	// MetricRecord merges samples into their buckets, in one transaction.
	MetricRecord(ctx context.Context, samples []MetricSample) error
	// MetricList returns one worker's buckets of width Width from Since on,
	// oldest first.
	MetricList(ctx context.Context, p *MetricListParams) ([]MetricSample, error)
	// MetricSummary merges every bucket of width Width from Since on into
	// one sample per worker (Bucket is zero), by worker id.
	MetricSummary(ctx context.Context, p *MetricSummaryParams) ([]MetricSample, error)
	// TaskQueueStats counts tasks by queue and state, with the oldest
	// AvailableAt of each queue's pending tasks (pinned ones included).
	TaskQueueStats(ctx context.Context) ([]QueueStat, error)
	// TaskStatRecord merges task outcome counts into their buckets.
	TaskStatRecord(ctx context.Context, stats []TaskStat) error
	// TaskStatSummary merges task counts of width Width from Since on,
	// grouped as GroupBy says, sorted by key then bucket.
	TaskStatSummary(ctx context.Context, p *TaskStatSummaryParams) ([]TaskStat, error)
}

// The bucket widths MetricStore keeps.
const (
	MetricMinute = time.Minute
	MetricHour   = time.Hour
	MetricDay    = 24 * time.Hour
)

// EventListParams filters events. Empty fields do not filter.
type EventListParams struct {
	AfterID    int64 // id > AfterID
	BeforeID   int64 // id < BeforeID
	MinLevel   domain.Level
	Types      []string // exact types
	DeviceID   string
	Component  string
	TaskID     string
	Since      time.Time // Time >= Since
	Limit      int       // 0 means no limit
	Descending bool
}

// EventPruneParams bounds the event log.
type EventPruneParams struct {
	Before    time.Time
	MaxEvents int64
}

// MetricSample is one worker's resource use over one bucket. Percentages
// are 0–100; sums divided by N are averages.
type MetricSample struct {
	WorkerID      string
	Bucket        time.Time // the bucket's start, a multiple of Width
	Width         time.Duration
	N             int64 // heartbeats folded in
	CPUSum        float64
	CPUMax        float64
	MemSum        float64
	MemMax        float64
	DiskSum       float64
	DiskMax       float64
	ActiveSum     float64 // running tasks, summed over heartbeats
	UpSeconds     float64 // seconds the worker was seen online in the bucket
	CPUCores      int     // the largest reported
	MemoryTotalGB float64 // the largest reported
}

// MetricListParams selects one worker's buckets.
type MetricListParams struct {
	WorkerID string
	Width    time.Duration
	Since    time.Time
}

// MetricSummaryParams selects the buckets to merge per worker.
type MetricSummaryParams struct {
	Width time.Duration
	Since time.Time
}

// MetricPruneParams selects the buckets to delete.
type MetricPruneParams struct {
	Width  time.Duration
	Before time.Time
}

// TaskStat counts the tasks of one type that ended on one device in one
// bucket. DeviceID is "" for tasks cancelled before they ever ran.
type TaskStat struct {
	Bucket      time.Time
	Width       time.Duration
	DeviceID    string
	TaskType    string
	Completed   int64
	Failed      int64
	Cancelled   int64
	DurationSum float64 // seconds, over completed and failed attempts that ran
	DurationN   int64
}

// The groupings of TaskStatSummary.
const (
	GroupNone     = ""
	GroupDevice   = "device"
	GroupTaskType = "task_type"
	GroupHour     = "hour" // by bucket
)

// TaskStatSummaryParams selects and groups task counts. In the result, the
// grouped-by field is set (DeviceID, TaskType or Bucket), the others zero.
type TaskStatSummaryParams struct {
	Width    time.Duration
	Since    time.Time
	DeviceID string // only this device's counts
	GroupBy  string
}

// QueueStat is the count of one queue's tasks in one state.
type QueueStat struct {
	Queue         string
	State         domain.TaskState
	Count         int64
	OldestPending time.Time // pending only: the earliest AvailableAt
}
