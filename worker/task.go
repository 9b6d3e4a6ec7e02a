package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/drover-run/drover/api"
)

// A HandlerFunc runs one task. It returns the task's result; a non-nil error
// means the task failed: result.error is err.Error() and result.exit_code is
// 1 unless the returned result sets another non-zero code. ctx is done when
// the task times out, is cancelled, or its lease is lost; a handler must
// return promptly then, as an http.Handler must when its request ends.
type HandlerFunc func(ctx context.Context, t *Task) (*api.TaskResult, error)

// Task is one attempt of a task, as a handler sees it.
type Task struct {
	ID      string          // task id, e.g. "task-0192..."
	Type    string          // task type, e.g. "echo"
	Payload json.RawMessage // the task's payload, as submitted
	Attempt int             // 1 for the first attempt
	Epoch   int64           // the lease's fencing token
	Queue   string          // the queue it was leased from
	Timeout time.Duration   // 0 when the task has none
	// Log receives the task's log: each line written (up to '\n') becomes
	// one line of the task log. Safe for concurrent use.
	Log io.Writer

	// usage is filled by executors that can measure what they consumed.
	usage *api.ResourceUsage
	// progress receives Progress reports; nil outside a worker.
	progress func(fraction float64, message string)
}

// IdempotencyKey is "task_id:attempt": a key a handler can hand to an
// external system so that a re-run of the same attempt is recognised.
func (t *Task) IdempotencyKey() string {
	return t.ID + ":" + strconv.Itoa(t.Attempt)
}

// maxLogLine caps one log line; longer lines are split. It keeps any one
// post well under the server's body limit.
const maxLogLine = 16 << 10

// lineSink receives complete log lines.
type lineSink interface {
	logLine(taskID string, epoch int64, stream, msg string)
}

// taskLog turns writes into log lines of one task and stream.
type taskLog struct {
	sink   lineSink
	taskID string
	epoch  int64
	stream string

	mu      sync.Mutex // handlers may log from several goroutines
	partial []byte     // an unterminated line
}

func newTaskLog(sink lineSink, taskID string, epoch int64, stream string) *taskLog {
	return &taskLog{sink: sink, taskID: taskID, epoch: epoch, stream: stream}
}

// Write emits every complete line in p and keeps the rest for later.
func (l *taskLog) Write(p []byte) (int, error) {
	n := len(p)
	l.mu.Lock()
	defer l.mu.Unlock()
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			l.partial = append(l.partial, p...)
			for len(l.partial) >= maxLogLine {
				l.emit(l.partial[:maxLogLine])
				l.partial = append(l.partial[:0], l.partial[maxLogLine:]...)
			}
			break
		}
		line := p[:i]
		if len(l.partial) > 0 {
			l.partial = append(l.partial, line...)
			line = l.partial
		}
		for len(line) > maxLogLine {
			l.emit(line[:maxLogLine])
			line = line[maxLogLine:]
		}
		l.emit(bytes.TrimSuffix(line, []byte{'\r'}))
		l.partial = l.partial[:0]
		p = p[i+1:]
	}
	return n, nil
}

// writeLine emits s as one line, without scanning for newlines: the fast
// path of built-in executors that know their lines.
func (l *taskLog) writeLine(s string) {
	l.mu.Lock()
	l.sink.logLine(l.taskID, l.epoch, l.stream, s)
	l.mu.Unlock()
}

// Close emits the unterminated last line, if any.
func (l *taskLog) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.partial) > 0 {
		l.emit(l.partial)
		l.partial = nil
	}
	return nil
}

func (l *taskLog) emit(b []byte) { l.sink.logLine(l.taskID, l.epoch, l.stream, string(b)) }

// discardLines is a lineSink for tasks run outside a worker (tests, tools).
type discardLines struct{}

func (discardLines) logLine(string, int64, string, string) {}

// writerLines is a lineSink writing lines to an io.Writer.
type writerLines struct{ w io.Writer }

func (s writerLines) logLine(_ string, _ int64, _ string, msg string) {
	io.WriteString(s.w, msg+"\n")
}

// lineLog returns the task log of stream for t: t.Log itself when it is a
// worker's task log, or one splitting lines onto whatever writer t.Log is.
func lineLog(t *Task, stream string) *taskLog {
	switch l := t.Log.(type) {
	case *taskLog:
		if l.stream == stream {
			return l
		}
		return newTaskLog(l.sink, l.taskID, l.epoch, stream)
	case nil:
		return newTaskLog(discardLines{}, t.ID, t.Epoch, stream)
	default:
		return newTaskLog(writerLines{l}, t.ID, t.Epoch, stream)
	}
}
