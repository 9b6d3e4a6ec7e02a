package dashboard

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/drover-run/drover/internal/auth"
	"github.com/drover-run/drover/internal/dispatch"
	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/httpapi"
	"github.com/drover-run/drover/internal/insight"
	"github.com/drover-run/drover/internal/queue"
)

// chart is a uPlot chart's data, drawn by app.js: x values in Unix
// seconds, one named series per y.
type chart struct {
	X      []int64     `json:"x"`
	Series []chartLine `json:"series"`
	Unit   string      `json:"unit,omitempty"`
}

type chartLine struct {
	Label string    `json:"label"`
	Y     []float64 `json:"y"`
}

type overviewData struct {
	Status          *insight.Status
	Completed       int64 // over the last hour
	Failed          int64
	Cancelled       int64
	PerMinute       float64
	FailureRate     float64 // failed / (completed + failed), percent
	Queues          []insight.QueueLoad
	Failures        []*domain.Task
	Throughput      chart
	ThroughputEmpty bool
}

func (d *Dashboard) overview(w http.ResponseWriter, r *http.Request, v *viewer) error {
	ctx := r.Context()
	st, err := cachedAs[*insight.Status](d, ctx, "status", func(ctx context.Context) (any, error) { return d.opts.Insight.Status(ctx) })
	if err != nil {
		return err
	}
	hour, err := d.opts.Insight.ParsePeriod("1h", "")
	if err != nil {
		return err
	}
	tp, err := d.opts.Insight.TaskThroughput(ctx, hour)
	if err != nil {
		return err
	}
	qs, err := cachedAs[[]insight.QueueLoad](d, ctx, "queues", func(ctx context.Context) (any, error) { return d.opts.Insight.BusiestQueues(ctx, 5) })
	if err != nil {
		return err
	}
	fails, err := d.opts.Engine.TaskList(ctx, dispatch.TaskFilter{State: domain.TaskFailed, Limit: 8})
	if err != nil {
		return err
	}
	od := overviewData{Status: st, Queues: qs, Failures: fails}
	done := chartLine{Label: "completed"}
	failed := chartLine{Label: "failed"}
	for i, t := range tp.Times {
		od.Completed += tp.Completed[i]
		od.Failed += tp.Failed[i]
		od.Cancelled += tp.Cancelled[i]
		od.Throughput.X = append(od.Throughput.X, t.Unix())
		done.Y = append(done.Y, float64(tp.Completed[i]))
		failed.Y = append(failed.Y, float64(tp.Failed[i]))
	}
	od.Throughput.Series = []chartLine{done, failed}
	od.ThroughputEmpty = len(tp.Times) == 0
	od.PerMinute = float64(od.Completed+od.Failed) / 60
	if n := od.Completed + od.Failed; n > 0 {
		od.FailureRate = 100 * float64(od.Failed) / float64(n)
	}
	return d.render(w, r, "overview", v, od)
}

const taskPageSize = 50

type tasksData struct {
	Tasks        []*domain.Task
	Counts       map[domain.TaskState]int
	Total        int // matching the filter, in every state
	Matching     int // matching the filter and its state
	Offset, Next int
	Prev         int
	HasPrev      bool
	HasNext      bool
}

var sinceChoices = map[string]time.Duration{"1h": time.Hour, "24h": 24 * time.Hour, "7d": 7 * 24 * time.Hour}

func (d *Dashboard) tasks(w http.ResponseWriter, r *http.Request, v *viewer) error {
	q := r.URL.Query()
	f := dispatch.TaskFilter{Type: q.Get("type"), Queue: q.Get("queue"), DeviceID: q.Get("device"), Limit: taskPageSize + 1}
	if s := q.Get("state"); s != "" {
		f.State = domain.TaskState(s)
		if !f.State.Valid() {
			return domain.Errorf(domain.CodeValidation, "state must be one of pending, running, completed, failed, cancelled")
		}
	}
	if s := q.Get("since"); s != "" {
		span, ok := sinceChoices[s]
		if !ok {
			return domain.Errorf(domain.CodeValidation, "since must be one of 1h, 24h, 7d")
		}
		f.Since = time.Now().Add(-span)
	}
	var err error
	if f.Offset, err = httpapi.IntParam(q.Get("offset"), "offset", 0, 0, 1<<30); err != nil {
		return err
	}
	list, err := d.opts.Engine.TaskList(r.Context(), f)
	if err != nil {
		return err
	}
	// The counts ignore the state, the page and the clock (since is
	// rounded to the minute), so that one count serves every tab on them.
	cf := dispatch.TaskFilter{Type: f.Type, Queue: f.Queue, DeviceID: f.DeviceID, Since: f.Since.Truncate(time.Minute)}
	counts, err := cachedAs[map[domain.TaskState]int](d, r.Context(), fmt.Sprintf("counts %q %q %q %d", cf.Type, cf.Queue, cf.DeviceID, cf.Since.Unix()),
		func(ctx context.Context) (any, error) {
			page, err := d.opts.Engine.Tasks(ctx, dispatch.TaskFilter{Type: cf.Type, Queue: cf.Queue, DeviceID: cf.DeviceID, Since: cf.Since, Limit: 1})
			if err != nil {
				return nil, err
			}
			return page.Counts, nil
		})
	if err != nil {
		return err
	}
	td := tasksData{Tasks: list, Counts: counts, Offset: f.Offset}
	for _, n := range counts {
		td.Total += n
	}
	td.Matching = td.Total
	if f.State != "" {
		td.Matching = counts[f.State]
	}
	td.HasPrev = f.Offset > 0
	td.Prev = max(0, f.Offset-taskPageSize)
	// One more than a page was read: whether another page exists does not
	// rest on the (possibly a second old) counts.
	if td.HasNext = len(list) > taskPageSize; td.HasNext {
		td.Tasks = list[:taskPageSize]
	}
	td.Matching = max(td.Matching, f.Offset+len(td.Tasks))
	td.Next = f.Offset + taskPageSize
	return d.render(w, r, "tasks", v, td)
}

type taskData struct {
	Task     *domain.Task
	Progress *domain.Progress // the current attempt's last report, if any
	Lines    []domain.LogLine
	After    int64 // the last log line's seq
	Duration time.Duration
	Waited   time.Duration
}

func (td taskData) stream() string {
	return "/ui/tasks/" + url.PathEscape(td.Task.ID) + "/live?after=" + strconv.FormatInt(td.After, 10) + "&state=" + string(td.Task.State)
}

// maxPageLines bounds the log lines a task's page shows at first.
const maxPageLines = 2000

func (d *Dashboard) task(w http.ResponseWriter, r *http.Request, v *viewer) error {
	t, lines, err := d.opts.Engine.TaskLog(r.Context(), r.PathValue("id"), 0, maxPageLines)
	if err != nil {
		return err
	}
	td := taskData{Task: t, Lines: lines, Duration: t.ExecutionTime()}
	if td.Progress, err = d.opts.Engine.TaskProgress(r.Context(), t); err != nil {
		return err
	}
	if n := len(lines); n > 0 {
		td.After = lines[n-1].Seq
	}
	if !t.StartedAt.IsZero() {
		td.Waited = t.StartedAt.Sub(t.CreatedAt)
	}
	return d.render(w, r, "task", v, td)
}

type submitData struct {
	Error string
	Form  url.Values
}

func (d *Dashboard) newTask(w http.ResponseWriter, r *http.Request, v *viewer) error {
	form := url.Values{"type": {"echo"}, "payload": {`{"message": "Hello World"}`}, "queue": {""}, "priority": {"normal"}}
	if t := r.URL.Query().Get("from"); t != "" {
		// "Submit again with changes": start from an existing task's spec.
		if orig, err := d.opts.Engine.Task(r.Context(), t); err == nil {
			form.Set("type", orig.Type)
			form.Set("payload", pretty(orig.Payload))
			form.Set("queue", orig.Queue)
		}
	}
	return d.render(w, r, "submit", v, submitData{Form: form})
}

func (d *Dashboard) submit(w http.ResponseWriter, r *http.Request, v *viewer) error {
	form := r.PostForm
	req := dispatch.TaskRequest{Type: strings.TrimSpace(form.Get("type")), Queue: strings.TrimSpace(form.Get("queue")),
		Priority: form.Get("priority"), DeviceID: strings.TrimSpace(form.Get("device"))}
	bad := func(err error) error {
		msg := err.Error()
		if de, ok := err.(*domain.Error); ok {
			msg = de.Message
		}
		return d.renderStatus(w, r, http.StatusBadRequest, "submit", v, submitData{Error: msg, Form: form})
	}
	if p := strings.TrimSpace(form.Get("payload")); p != "" {
		if !json.Valid([]byte(p)) {
			return bad(fmt.Errorf("the payload is not valid JSON"))
		}
		req.Payload = json.RawMessage(p)
	}
	for field, dst := range map[string]**int{"timeout": &req.Timeout, "max_retries": &req.MaxRetries} {
		if s := strings.TrimSpace(form.Get(field)); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil {
				return bad(fmt.Errorf("%s must be a whole number", strings.ReplaceAll(field, "_", " ")))
			}
			*dst = &n
		}
	}
	if s := strings.TrimSpace(form.Get("delay")); s != "" {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return bad(fmt.Errorf("delay must be a number of seconds"))
		}
		req.Delay = &f
	}
	out, err := d.opts.Engine.SubmitRequests(r.Context(), auth.ActorOf(r), []dispatch.TaskRequest{req})
	if err != nil {
		if _, ok := err.(*domain.Error); ok {
			return bad(err)
		}
		return err
	}
	http.Redirect(w, r, "/ui/tasks/"+url.PathEscape(out[0].Task.ID), http.StatusSeeOther)
	return nil
}

// back redirects to the page the action was taken on (a path of this
// site, from the form), with a message.
func (d *Dashboard) back(w http.ResponseWriter, r *http.Request, def, flash string) {
	to := def
	if b := r.PostFormValue("back"); strings.HasPrefix(b, "/ui/") && !strings.HasPrefix(b, "//") {
		to = b
	}
	if u, err := url.Parse(to); err == nil {
		q := u.Query()
		q.Set("flash", flash)
		q.Set("fs", d.sessions.sign("flash:"+flash))
		u.RawQuery = q.Encode()
		to = u.String()
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

func (d *Dashboard) cancel(w http.ResponseWriter, r *http.Request, _ *viewer) error {
	id := r.PathValue("id")
	_, running, err := d.opts.Engine.Cancel(r.Context(), id, "cancelled from the dashboard")
	if err != nil {
		return err
	}
	msg := "Task cancelled."
	if running {
		msg = "Task cancelled; its worker stops it at its next heartbeat."
	}
	d.back(w, r, "/ui/tasks/"+url.PathEscape(id), msg)
	return nil
}

func (d *Dashboard) retry(w http.ResponseWriter, r *http.Request, _ *viewer) error {
	t, err := d.opts.Engine.Retry(r.Context(), auth.ActorOf(r), r.PathValue("id"), nil)
	if err != nil {
		return err
	}
	d.back(w, r, "/ui/tasks/"+url.PathEscape(t.ID), "Submitted again as "+t.ID+".")
	return nil
}

func (d *Dashboard) devices(w http.ResponseWriter, r *http.Request, v *viewer) error {
	role := r.URL.Query().Get("role")
	// Reading the workers counts each one's running tasks: an aggregate.
	all, err := cachedAs[[]*domain.Worker](d, r.Context(), "workers "+role, func(ctx context.Context) (any, error) { return d.opts.Engine.Workers(ctx, role) })
	if err != nil {
		return err
	}
	ws := slices.DeleteFunc(slices.Clone(all), func(w *domain.Worker) bool { return w.State == domain.WorkerRemoved })
	slices.SortStableFunc(ws, func(a, b *domain.Worker) int {
		return cmp.Or(-cmp.Compare(boolInt(a.State.Live()), boolInt(b.State.Live())), cmp.Compare(a.ID, b.ID))
	})
	dd := devicesData{Workers: ws, Suspended: map[string]bool{}}
	if d.opts.Queues != nil {
		// The queue engine's fleet snapshot: at most a second old, one read
		// however many tabs are open.
		views, err := d.opts.Queues.Workers(r.Context(), queue.WorkerQuery{})
		if err != nil {
			return err
		}
		for _, wv := range views {
			if wv.Suspended {
				dd.Suspended[wv.ID] = true
			}
		}
	}
	return d.render(w, r, "devices", v, dd)
}

type devicesData struct {
	Workers   []*domain.Worker
	Suspended map[string]bool // drained by hand
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

type deviceData struct {
	Worker *domain.Worker
	// Drains: this server can drain devices (it has a queue engine).
	Drains bool
	// Suspended: drained by hand; it finishes what it runs and leases
	// nothing new until resumed.
	Suspended   bool
	SuspendedAt time.Time
	Period      string
	Chart       chart
	Tasks       chart
	Recent      []domain.Event
	Empty       bool
}

func (d *Dashboard) device(w http.ResponseWriter, r *http.Request, v *viewer) error {
	ctx := r.Context()
	wk, err := d.opts.Engine.Worker(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	p, err := d.opts.Insight.ParsePeriod(r.URL.Query().Get("period"), "24h")
	if err != nil {
		return err
	}
	if p.Name == "30d" {
		return domain.Errorf(domain.CodeValidation, "period must be one of 1h, 24h, 7d").With("field", "period")
	}
	s, err := d.opts.Insight.DeviceSeries(ctx, wk.ID, p)
	if err != nil {
		return err
	}
	// Its recent activity from the cluster log, which is indexed by
	// device; its tasks are a click away (/ui/tasks?device=).
	recent, err := d.opts.Insight.Logs(ctx, insight.LogQuery{DeviceID: wk.ID, Limit: 10})
	if err != nil {
		return err
	}
	view, err := d.workerView(ctx, wk.ID)
	if err != nil {
		return err
	}
	dd := deviceData{Worker: wk, Drains: d.opts.Queues != nil, Suspended: view.Suspended, SuspendedAt: view.SuspendedAt,
		Period: p.Name, Recent: recent.Entries, Empty: len(s.Times) == 0,
		Chart: chart{Unit: "%", Series: []chartLine{{Label: "CPU", Y: s.CPU}, {Label: "memory", Y: s.Memory}}},
		Tasks: chart{Series: []chartLine{{Label: "tasks ended", Y: make([]float64, len(s.Tasks))}}}}
	for i, t := range s.Times {
		dd.Chart.X = append(dd.Chart.X, t.Unix())
		dd.Tasks.Series[0].Y[i] = float64(s.Tasks[i])
	}
	dd.Tasks.X = dd.Chart.X
	if dd.Chart.X == nil {
		dd.Chart.X, dd.Tasks.X = []int64{}, []int64{}
	}
	return d.render(w, r, "device", v, dd)
}

func (d *Dashboard) ping(w http.ResponseWriter, r *http.Request, _ *viewer) error {
	id := r.PathValue("id")
	if _, err := d.opts.Engine.Worker(r.Context(), id); err != nil {
		return err
	}
	if d.opts.Pinger == nil {
		return domain.Errorf(domain.CodeUnavailable, "pings are not available on this server")
	}
	ctx, cancel := context.WithTimeout(r.Context(), 6*time.Second)
	defer cancel()
	rtt, err := d.opts.Pinger.Ping(ctx, id, 5*time.Second)
	msg := "Ping answered in " + dur(rtt) + "."
	if err != nil {
		msg = "Ping lost: " + err.Error()
	}
	d.back(w, r, "/ui/devices/"+url.PathEscape(id), msg)
	return nil
}

func (d *Dashboard) remove(w http.ResponseWriter, r *http.Request, _ *viewer) error {
	n, err := d.opts.Engine.RemoveWorker(r.Context(), r.PathValue("id"), r.PostFormValue("force") == "on")
	if err != nil {
		return err
	}
	d.back(w, r, "/ui/devices", fmt.Sprintf("Device removed; %d task(s) cancelled.", n))
	return nil
}

type logsData struct {
	Page       *insight.LogPage
	Components []string
}

// components are the cluster log's usual speakers, offered as filters.
var components = []string{"server", "scheduler", "task_executor", "device_monitor", "worker", "maintenance", "auth", "config", "dashboard"}

func (d *Dashboard) logs(w http.ResponseWriter, r *http.Request, v *viewer) error {
	q := r.URL.Query()
	lq := insight.LogQuery{Component: q.Get("component"), DeviceID: q.Get("device"), TaskID: q.Get("task"), Limit: 100}
	if s := q.Get("level"); s != "" {
		l, ok := domain.ParseLevel(s)
		if !ok {
			return domain.Errorf(domain.CodeValidation, "level must be one of debug, info, warning, error")
		}
		lq.MinLevel = l
	}
	var err error
	if c := q.Get("before"); c != "" {
		n, err := strconv.ParseInt(c, 10, 64)
		if err != nil || n < 0 {
			return domain.Errorf(domain.CodeValidation, "before must be an event id")
		}
		lq.Cursor = n
	}
	page, err := d.opts.Insight.Logs(r.Context(), lq)
	if err != nil {
		return err
	}
	return d.render(w, r, "logs", v, logsData{Page: page, Components: components})
}

type keysData struct {
	Keys    []*domain.Key
	Created *auth.Created // shown once, right after create or rotate
	Error   string
}

func (d *Dashboard) keys(w http.ResponseWriter, r *http.Request, v *viewer) error {
	if d.opts.Keys == nil {
		return domain.Errorf(domain.CodeUnavailable, "keys are not managed by this server")
	}
	return d.keysPage(w, r, v, http.StatusOK, keysData{})
}

func (d *Dashboard) keysPage(w http.ResponseWriter, r *http.Request, v *viewer, status int, kd keysData) error {
	ks, err := d.opts.Keys.List(r.Context(), auth.ListParams{})
	if err != nil {
		return err
	}
	kd.Keys = ks
	return d.renderStatus(w, r, status, "keys", v, kd)
}

func (d *Dashboard) createKey(w http.ResponseWriter, r *http.Request, v *viewer) error {
	if d.opts.Keys == nil {
		return domain.Errorf(domain.CodeUnavailable, "keys are not managed by this server")
	}
	scopes, err := auth.ParseScopes(r.PostForm["scope"]...)
	if err == nil && len(scopes) == 0 {
		err = fmt.Errorf("choose at least one scope")
	}
	var created *auth.Created
	if err == nil {
		created, err = d.opts.Keys.Create(r.Context(), auth.CreateParams{Name: strings.TrimSpace(r.PostFormValue("name")), Scopes: scopes})
	}
	if err != nil {
		msg := err.Error()
		if de, ok := err.(*domain.Error); ok {
			msg = de.Message
		}
		return d.keysPage(w, r, v, http.StatusBadRequest, keysData{Error: msg})
	}
	return d.keysPage(w, r, v, http.StatusOK, keysData{Created: created})
}

func (d *Dashboard) rotateKey(w http.ResponseWriter, r *http.Request, v *viewer) error {
	if d.opts.Keys == nil {
		return domain.Errorf(domain.CodeUnavailable, "keys are not managed by this server")
	}
	created, _, err := d.opts.Keys.Rotate(r.Context(), r.PathValue("id"), 0)
	if err != nil {
		return err
	}
	return d.keysPage(w, r, v, http.StatusOK, keysData{Created: created})
}

func (d *Dashboard) revokeKey(w http.ResponseWriter, r *http.Request, _ *viewer) error {
	if d.opts.Keys == nil {
		return domain.Errorf(domain.CodeUnavailable, "keys are not managed by this server")
	}
	k, err := d.opts.Keys.Revoke(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	d.back(w, r, "/ui/keys", "Key "+k.ID+" revoked.")
	return nil
}

// cachedAs is d.aggs.get, typed.
func cachedAs[T any](d *Dashboard, ctx context.Context, key string, compute func(context.Context) (any, error)) (T, error) {
	v, err := d.aggs.get(ctx, key, compute)
	if err != nil {
		var zero T
		return zero, err
	}
	return v.(T), nil
}
