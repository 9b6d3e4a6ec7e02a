package worker

import (
	"bytes"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/drover-run/drover/api"
)

// progressEvery is the least time between two progress posts of one task:
// twice the server's ProgressInterval, so the server never throttles this
// worker. Between posts only a task's latest report is kept.
const progressEvery = time.Second

// Progress reports how far the task got: fraction of the work done, from
// 0 to 1 (clamped), and a short message (one line; the server keeps 200
// bytes of it). Reports are coalesced: the server sees the latest one
// about once a second, so calling it for every item of a long loop is
// cheap. It shows in the task's API answer, the event stream
// (task_progress), drover tasks get and drover tasks wait.
func (t *Task) Progress(fraction float64, message string) {
	if t.progress == nil {
		return
	}
	t.progress(min(max(fraction, 0), 1), message)
}

// ProgressDirective starts a line of a command's output that reports
// progress instead of being logged: "::progress 0.4 copying files" or
// "::progress 40% copying files". A line that starts with it but does not
// parse is logged as it is, so a typo shows.
const ProgressDirective = "::progress"

// parseProgressDirective reads a progress line: the directive, a fraction
// (0 to 1, or a percentage 0% to 100%) and an optional message.
func parseProgressDirective(line string) (fraction float64, message string, ok bool) {
	rest, ok := strings.CutPrefix(line, ProgressDirective)
	if !ok || (rest != "" && rest[0] != ' ' && rest[0] != '\t') {
		return 0, "", false
	}
	rest = strings.TrimSpace(rest)
	num, message, _ := strings.Cut(rest, " ")
	scale := 1.0
	if p, isPercent := strings.CutSuffix(num, "%"); isPercent {
		num, scale = p, 100
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f < 0 || f > scale || f != f {
		return 0, "", false
	}
	return f / scale, strings.TrimSpace(message), true
}

// directiveLines is a lineSink that takes progress lines out of a
// command's output and passes the rest on to the task log.
type directiveLines struct {
	next lineSink
	task *Task
}

func (d directiveLines) logLine(taskID string, epoch int64, stream, msg string) {
	if f, m, ok := parseProgressDirective(msg); ok {
		d.task.Progress(f, m)
		return
	}
	d.next.logLine(taskID, epoch, stream, msg)
}

// commandLog is the task log of a command's stream: lines go to the task
// log, progress directives to Task.Progress.
func commandLog(t *Task, stream string) *taskLog {
	l := lineLog(t, stream)
	return newTaskLog(directiveLines{next: l.sink, task: t}, l.taskID, l.epoch, stream)
}

// setProgress keeps a task's latest report until the flusher posts it.
func (r *reporter) setProgress(l api.Lease, fraction float64, message string) {
	r.mu.Lock()
	if r.progress == nil {
		r.progress = map[api.Lease]api.AgentProgress{}
		r.progressSent = map[api.Lease]time.Time{}
		r.progressEnded = map[api.Lease]bool{}
	}
	r.progress[l] = api.AgentProgress{TaskID: l.TaskID, Epoch: l.Epoch, Fraction: fraction, Message: message, Time: time.Now()}
	r.mu.Unlock()
	r.poke()
}

// endProgress is called when a lease's attempt is over, before its result
// is queued: a report still held is due at once, so it is posted ahead of
// the result and the task's last word on its progress is kept; then the
// lease is forgotten.
func (r *reporter) endProgress(l api.Lease) {
	r.mu.Lock()
	if _, held := r.progress[l]; held {
		r.progressSent[l] = time.Time{}
		r.progressEnded[l] = true
	} else {
		delete(r.progressSent, l)
	}
	r.mu.Unlock()
}

// takeProgress moves the reports that are due (none posted for their task
// in the last progressEvery) into a batch, and arms a poke for the first of
// the others.
func (r *reporter) takeProgress() []api.AgentProgress {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	var (
		batch []api.AgentProgress
		next  time.Duration
	)
	for l, p := range r.progress {
		if wait := progressEvery - now.Sub(r.progressSent[l]); wait > 0 {
			if next == 0 || wait < next {
				next = wait
			}
			continue
		}
		batch = append(batch, p)
		r.progressSent[l] = now
		delete(r.progress, l)
		if r.progressEnded[l] {
			delete(r.progressSent, l)
			delete(r.progressEnded, l)
		}
	}
	if next > 0 && r.progressTimer == nil {
		r.progressTimer = time.AfterFunc(next, func() {
			r.mu.Lock()
			r.progressTimer = nil
			r.mu.Unlock()
			r.poke()
		})
	}
	return batch
}

// progressAnswered puts back the reports the server throttled, unless a
// newer one of their task is waiting already.
func (r *reporter) progressAnswered(sent []api.AgentProgress, resp *api.ProgressBatchResponse) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, o := range resp.Outcomes {
		if i >= len(sent) || o.Outcome != "throttled" {
			continue
		}
		l := api.Lease{TaskID: sent[i].TaskID, Epoch: sent[i].Epoch}
		if _, newer := r.progress[l]; !newer {
			if _, live := r.progressSent[l]; live {
				r.progress[l] = sent[i]
			}
		}
	}
}

// progressRetry puts back reports whose post failed, due at once, unless
// a newer one of their task is waiting already.
func (r *reporter) progressRetry(sent []api.AgentProgress) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range sent {
		l := api.Lease{TaskID: p.TaskID, Epoch: p.Epoch}
		if _, live := r.progressSent[l]; !live {
			continue // its attempt ended meanwhile
		}
		if _, newer := r.progress[l]; !newer {
			r.progress[l] = p
		}
		r.progressSent[l] = time.Time{}
	}
}

// maxDirective bounds a held line that might be a progress directive; a
// longer one is passed on as output.
const maxDirective = 4 << 10

// directiveFilter passes a command's output on to w without the lines that
// are progress directives (which go to Task.Progress through the log).
// A line that could still become one is held until its end.
type directiveFilter struct {
	w       io.Writer
	atStart bool   // the next byte starts a line
	held    []byte // the start of a line that may be a directive
}

func (f *directiveFilter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if !f.atStart && len(f.held) == 0 {
			// Inside an ordinary line: pass it on to its end.
			i := bytes.IndexByte(p, '\n')
			if i < 0 {
				f.w.Write(p)
				break
			}
			f.w.Write(p[:i+1])
			p, f.atStart = p[i+1:], true
			continue
		}
		seg := p
		if i := bytes.IndexByte(p, '\n'); i >= 0 {
			seg = p[:i+1]
		}
		p = p[len(seg):]
		f.held = append(f.held, seg...)
		f.atStart = false
		ended := f.held[len(f.held)-1] == '\n'
		switch {
		case !maybeDirective(f.held) || (!ended && len(f.held) > maxDirective):
			f.w.Write(f.held)
		case !ended:
			continue // hold on: the line goes on in a later write
		default:
			line := bytes.TrimSuffix(bytes.TrimSuffix(f.held, []byte{'\n'}), []byte{'\r'})
			if _, _, ok := parseProgressDirective(string(line)); !ok {
				f.w.Write(f.held)
			}
		}
		f.held, f.atStart = f.held[:0], ended
	}
	return n, nil
}

// Close passes on a held last line that never ended, unless it is a
// directive.
func (f *directiveFilter) Close() error {
	if len(f.held) > 0 {
		if _, _, ok := parseProgressDirective(string(f.held)); !ok {
			f.w.Write(f.held)
		}
		f.held = nil
	}
	return nil
}

// maybeDirective reports whether a line starting with b is or may become
// a progress directive.
func maybeDirective(b []byte) bool {
	d := []byte(ProgressDirective)
	if len(b) <= len(d) {
		return bytes.HasPrefix(d, b)
	}
	return bytes.HasPrefix(b, d) && (b[len(d)] == ' ' || b[len(d)] == '\t' || b[len(d)] == '\n' || b[len(d)] == '\r')
}
