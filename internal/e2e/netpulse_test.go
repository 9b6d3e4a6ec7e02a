package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/drover-run/drover/api"
)

// npResponse is document 003's envelope.
type npResponse struct {
	Code    int             `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
}

type npJob struct {
	ID         string  `json:"id"`
	Status     string  `json:"status"`
	Queue      string  `json:"queue"`
	CreatedAt  *string `json:"created_at"`
	EnqueuedAt *string `json:"enqueued_at"`
	StartedAt  *string `json:"started_at"`
	EndedAt    *string `json:"ended_at"`
	Worker     *string `json:"worker"`
	Result     *struct {
		Type   string  `json:"type"`
		Retval *string `json:"retval"`
		Error  *string `json:"error"`
	} `json:"result"`
	Duration  *float64 `json:"duration"`
	QueueTime *float64 `json:"queue_time"`
}

type npWorker struct {
	Name               string   `json:"name"`
	Status             string   `json:"status"`
	PID                int      `json:"pid"`
	Hostname           string   `json:"hostname"`
	Queues             []string `json:"queues"`
	LastHeartbeat      *string  `json:"last_heartbeat"`
	BirthAt            *string  `json:"birth_at"`
	SuccessfulJobCount int64    `json:"successful_job_count"`
	FailedJobCount     int64    `json:"failed_job_count"`
}

// np calls the NetPulse listener at base and decodes the envelope; out,
// when set, receives its data.
func np(t *testing.T, base, method, path string, out any) (int, npResponse) {
	t.Helper()
	req, err := http.NewRequest(method, base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-API-KEY", "your_key")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var env npResponse
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatalf("%s %s: %d answer is not the NetPulse envelope: %s", method, path, resp.StatusCode, body)
	}
	if env.Code != resp.StatusCode {
		t.Errorf("%s %s: envelope code %d, HTTP status %d; want them equal", method, path, env.Code, resp.StatusCode)
	}
	if out != nil && resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(env.Data, out); err != nil {
			t.Fatalf("%s %s: data %s: %v", method, path, env.Data, err)
		}
	}
	return resp.StatusCode, env
}

func npJobs(t *testing.T, base, query string) []npJob {
	t.Helper()
	var jobs []npJob
	if code, env := np(t, base, "GET", "/job?"+query, &jobs); code != http.StatusOK {
		t.Fatalf("GET /job?%s = %d %s", query, code, env.Message)
	}
	return jobs
}

func npJobByID(t *testing.T, base, id string) npJob {
	t.Helper()
	jobs := npJobs(t, base, "id="+id)
	if len(jobs) != 1 || jobs[0].ID != id {
		t.Fatalf("GET /job?id=%s = %v, want that one job", id, jobs)
	}
	return jobs[0]
}

func npWorkers(t *testing.T, base, query string) map[string]npWorker {
	t.Helper()
	var ws []npWorker
	if code, env := np(t, base, "GET", "/worker?"+query, &ws); code != http.StatusOK {
		t.Fatalf("GET /worker?%s = %d %s", query, code, env.Message)
	}
	m := map[string]npWorker{}
	for _, w := range ws {
		m[w.Name] = w
	}
	return m
}

func jobIDs(jobs []npJob) []string {
	out := make([]string, len(jobs))
	for i, j := range jobs {
		out[i] = j.ID
	}
	slices.Sort(out)
	return out
}

// TestNetPulseJobAPI runs document 003's endpoints and filters against a
// server process with real worker processes.
func TestNetPulseJobAPI(t *testing.T) {
	t.Parallel()
	port := freePort(t)
	cl := newCluster(t, "--netpulse-port", strconv.Itoa(port))
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	ctx := context.Background()
	node, _ := os.Hostname()
	const host = "10.0.0.5"
	submit := func(req api.SubmitTaskRequest) string {
		t.Helper()
		r, err := cl.c.Tasks.Submit(ctx, req)
		if err != nil {
			t.Fatalf("submit %+v: %v", req, err)
		}
		return r.TaskID
	}
	waitStatus := func(id, status string) npJob {
		t.Helper()
		var j npJob
		eventually(t, 20*time.Second, id+" to be "+status, func() bool {
			j = npJobByID(t, base, id)
			return j.Status == status
		})
		return j
	}

	// Pinned work waits for its host's worker: admitted with no worker at all.
	pinnedEarly := submit(api.SubmitTaskRequest{TaskType: "echo", Payload: json.RawMessage(`{"message":"show version"}`), Host: host})
	procs := map[string]*proc{"fifo-1": cl.startWorker(t, "fifo-1", 1), "fifo-2": cl.startWorker(t, "fifo-2", 1)}
	fifoJob := submit(api.SubmitTaskRequest{TaskType: "echo", Payload: json.RawMessage(`{"message":"hello"}`)})
	j := waitStatus(fifoJob, "finished")
	if j.Result == nil || j.Result.Type != "success" || j.Result.Retval == nil || *j.Result.Retval != "hello" || j.Result.Error != nil {
		t.Errorf("finished job result = %+v, want success with retval hello", j.Result)
	}
	if j.Duration == nil || j.QueueTime == nil || j.Worker == nil || j.Queue != "FifoQ" || j.CreatedAt == nil || j.EndedAt == nil {
		t.Errorf("finished job = %+v, want queue FifoQ, a worker, times, duration and queue_time", j)
	}
	if ts := *j.CreatedAt; len(ts) < 25 || (ts[len(ts)-6] != '+' && ts[len(ts)-6] != '-') {
		t.Errorf("created_at %q carries no UTC offset", ts)
	}
	if got := npJobByID(t, base, pinnedEarly); got.Status != "queued" || got.Worker != nil || got.Result != nil {
		t.Errorf("pinned job with no pinned worker = %+v, want queued on no worker", got)
	}

	t.Run("PinnedQueue", func(t *testing.T) {
		pinned := cl.startWorker(t, "pinned-1", 2, "--pin-host", host)
		j := waitStatus(pinnedEarly, "finished")
		if j.Worker == nil || *j.Worker != "pinned-1" || j.Queue != "pinned_"+host {
			t.Errorf("pinned job ran on %v in %s, want pinned-1 in pinned_%s", j.Worker, j.Queue, host)
		}
		var more []string
		for range 4 {
			more = append(more, submit(api.SubmitTaskRequest{TaskType: "echo", Payload: json.RawMessage(`{"message":"x"}`), Host: host}))
		}
		for _, id := range more {
			if j := waitStatus(id, "finished"); j.Worker == nil || *j.Worker != "pinned-1" {
				t.Errorf("job %s for host %s ran on %v, want pinned-1", id, host, j.Worker)
			}
		}
		if ws := npWorkers(t, base, "host="+host); len(ws) != 1 || ws["pinned-1"].Name == "" {
			t.Errorf("GET /worker?host=%s = %v, want pinned-1", host, ws)
		}
		// With its worker gone, a host's job waits; FifoQ's idle workers leave it.
		pinned.kill()
		eventually(t, 20*time.Second, "pinned-1 to be dead", func() bool { return npWorkers(t, base, "")["pinned-1"].Status == "dead" })
		orphan := submit(api.SubmitTaskRequest{TaskType: "echo", Payload: json.RawMessage(`{"message":"y"}`), Host: host})
		time.Sleep(1500 * time.Millisecond) // several lease polls of the idle FifoQ workers
		if j := npJobByID(t, base, orphan); j.Status != "queued" {
			t.Errorf("job for a host whose worker is gone is %s, want queued", j.Status)
		}
		if got := jobIDs(npJobs(t, base, "host="+host+"&status=queued")); !slices.Equal(got, []string{orphan}) {
			t.Errorf("GET /job?host=&status=queued = %v, want %v", got, orphan)
		}
		if got := npJobs(t, base, "queue=pinned_"+host); len(got) != 6 {
			t.Errorf("GET /job?queue=pinned_%s gave %d jobs, want 6", host, len(got))
		}
		// DELETE /job by host cancels the waiting job only.
		var c struct {
			CancelledCount int      `json:"cancelled_count"`
			CancelledJobs  []string `json:"cancelled_jobs"`
		}
		if code, env := np(t, base, "DELETE", "/job?host="+host, &c); code != 200 || c.CancelledCount != 1 || !slices.Equal(c.CancelledJobs, []string{orphan}) {
			t.Errorf("DELETE /job?host= = %d %s %+v, want the one queued job", code, env.Message, c)
		}
		if j := npJobByID(t, base, orphan); j.Status != "cancelled" {
			t.Errorf("cancelled job shows %s", j.Status)
		}
	})

	t.Run("Precedence", func(t *testing.T) {
		// id over everything.
		if got := npJobs(t, base, "id="+fifoJob+"&queue=nowhere&status=failed"); len(got) != 1 || got[0].ID != fifoJob {
			t.Errorf("GET /job?id=&queue=&status= = %v, want the job by id", jobIDs(got))
		}
		// queue over node and host.
		byQueue := jobIDs(npJobs(t, base, "queue=FifoQ"))
		if got := jobIDs(npJobs(t, base, "queue=FifoQ&host="+host+"&node=elsewhere")); !slices.Equal(got, byQueue) || !slices.Contains(got, fifoJob) {
			t.Errorf("GET /job?queue=FifoQ&host&node = %v, want the FifoQ jobs %v", got, byQueue)
		}
		// node over host.
		if got := npJobs(t, base, "node=elsewhere&host="+host); len(got) != 0 {
			t.Errorf("GET /job?node=elsewhere&host= = %v, want none (node wins)", jobIDs(got))
		}
		if got := jobIDs(npJobs(t, base, "node="+node)); !slices.Contains(got, fifoJob) || !slices.Contains(got, pinnedEarly) {
			t.Errorf("GET /job?node=%s = %v, want the jobs run on this machine", node, got)
		}
		// status with a scope, and alone.
		for _, j := range npJobs(t, base, "status=finished") {
			if j.Status != "finished" {
				t.Errorf("GET /job?status=finished gave a %s job", j.Status)
			}
		}
		if got := npJobs(t, base, "queue=pinned_"+host+"&status=cancelled"); len(got) != 1 {
			t.Errorf("GET /job?queue=&status=cancelled gave %d jobs, want 1", len(got))
		}
		// paging: newest first, limit and offset.
		all := npJobs(t, base, "limit=1000")
		page := npJobs(t, base, "limit=2&offset=1")
		if len(page) != 2 || page[0].ID != all[1].ID || page[1].ID != all[2].ID {
			t.Errorf("GET /job?limit=2&offset=1 = %v, want %v", jobIDs(page), jobIDs(all[1:3]))
		}
		// workers: queue over node over host.
		if ws := npWorkers(t, base, "queue=FifoQ&host="+host); len(ws) != 2 {
			t.Errorf("GET /worker?queue=FifoQ&host= = %v, want the two FifoQ workers", ws)
		}
		if ws := npWorkers(t, base, "node="+node+"&host="+host); len(ws) != 3 {
			t.Errorf("GET /worker?node=&host= = %d workers, want all 3 of this node", len(ws))
		}
		w := npWorkers(t, base, "")["fifo-1"]
		if w.PID == 0 || w.Hostname != node || !slices.Equal(w.Queues, []string{"FifoQ"}) || w.BirthAt == nil || w.LastHeartbeat == nil {
			t.Errorf("GET /worker fifo-1 = %+v", w)
		}
	})

	t.Run("CancelQueuedNotStarted", func(t *testing.T) {
		queued := submit(api.SubmitTaskRequest{TaskType: "echo", Payload: json.RawMessage(`{"message":"later"}`), Queue: "unserved"})
		started := submit(sleepTask(30))
		waitStatus(started, "started")
		var c struct {
			CancelledCount int      `json:"cancelled_count"`
			CancelledJobs  []string `json:"cancelled_jobs"`
		}
		code, env := np(t, base, "DELETE", "/job?id="+started, nil)
		if code != http.StatusConflict || !strings.Contains(env.Message, "started") {
			t.Errorf("DELETE /job?id=<started> = %d %q, want 409 refusing", code, env.Message)
		}
		if j := npJobByID(t, base, started); j.Status != "started" {
			t.Errorf("refused cancel left the job %s, want started", j.Status)
		}
		if code, _ := np(t, base, "DELETE", "/job?id="+queued, &c); code != 200 || c.CancelledCount != 1 || c.CancelledJobs[0] != queued {
			t.Errorf("DELETE /job?id=<queued> = %d %+v", code, c)
		}
		// By queue: the started job in FifoQ stays.
		if code, _ := np(t, base, "DELETE", "/job?queue=FifoQ", &c); code != 200 || c.CancelledCount != 0 || c.CancelledJobs == nil {
			t.Errorf("DELETE /job?queue=FifoQ = %d %+v, want nothing cancelled (its job started)", code, c)
		}
		// Hand the sleeper back: stop its worker; it then runs elsewhere (the DeleteBusyWorker case).
		j := npJobByID(t, base, started)
		var d struct {
			Worker          string `json:"worker"`
			Status          string `json:"status"`
			InterruptedJobs int    `json:"interrupted_jobs"`
		}
		if code, env := np(t, base, "DELETE", "/worker?name="+*j.Worker, &d); code != 200 || d.Worker != *j.Worker || d.Status != "stopped" || d.InterruptedJobs != 1 {
			t.Fatalf("DELETE /worker?name=%s = %d %s %+v, want stopped with 1 interrupted job", *j.Worker, code, env.Message, d)
		}
		eventually(t, 20*time.Second, "the job to start elsewhere", func() bool {
			j2 := npJobByID(t, base, started)
			return j2.Status == "started" && j2.Worker != nil && *j2.Worker != *j.Worker
		})
		eventually(t, 20*time.Second, "the stopped worker to be dead", func() bool {
			return npWorkers(t, base, "")[*j.Worker].Status == "dead"
		})
		// Its process exits by itself, cleanly.
		exited := make(chan error, 1)
		go func() { exited <- procs[*j.Worker].cmd.Wait() }()
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("the stopped worker's process exited with %v, want a clean exit", err)
			}
		case <-time.After(20 * time.Second):
			t.Errorf("the stopped worker's process is still running")
		}
		other := map[string]string{"fifo-1": "fifo-2", "fifo-2": "fifo-1"}[*j.Worker]
		// GET /worker reads a fleet snapshot up to a second old.
		eventually(t, 5*time.Second, other+" to show busy", func() bool { return npWorkers(t, base, "")[other].Status == "busy" })
	})

	t.Run("PauseAndSuspend", func(t *testing.T) {
		// A paused queue admits but leases nothing; resumed, its job runs.
		if q, err := cl.c.Queues.Pause(ctx, "paused-q"); err != nil || !q.Paused {
			t.Fatalf("Queues.Pause = %+v, %v", q, err)
		}
		w := cl.startWorker(t, "paused-q-worker", 1, "--queues", "paused-q")
		id := submit(api.SubmitTaskRequest{TaskType: "echo", Payload: json.RawMessage(`{"message":"p"}`), Queue: "paused-q"})
		time.Sleep(time.Second) // several lease polls of its idle worker
		if j := npJobByID(t, base, id); j.Status != "queued" {
			t.Fatalf("job in a paused queue is %s, want queued", j.Status)
		}
		l, err := cl.c.Queues.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var found bool
		for _, q := range l.Queues {
			if q.Name == "paused-q" {
				found = true
				if !q.Paused || q.Counts["pending"] != 1 || q.LiveWorkers != 1 || q.OldestPendingAgeSeconds <= 0 {
					t.Errorf("GET /api/v1/queues paused-q = %+v", q)
				}
			}
		}
		if !found {
			t.Errorf("GET /api/v1/queues lacks paused-q: %+v", l.Queues)
		}
		// A suspended worker leases nothing either, and NetPulse shows it.
		if st, err := cl.c.Devices.Suspend(ctx, "paused-q-worker"); err != nil || st.Status != "suspended" {
			t.Fatalf("Devices.Suspend = %+v, %v", st, err)
		}
		if _, err := cl.c.Queues.Resume(ctx, "paused-q"); err != nil {
			t.Fatal(err)
		}
		if got := npWorkers(t, base, "queue=paused-q")["paused-q-worker"].Status; got != "suspended" {
			t.Errorf("GET /worker shows a suspended worker as %q", got)
		}
		time.Sleep(time.Second)
		if j := npJobByID(t, base, id); j.Status != "queued" {
			t.Fatalf("job for a suspended worker is %s, want queued", j.Status)
		}
		if _, err := cl.c.Devices.Resume(ctx, "paused-q-worker"); err != nil {
			t.Fatal(err)
		}
		waitStatus(id, "finished")
		w.kill()
	})

	t.Run("BadParameters", func(t *testing.T) {
		for _, tc := range []struct {
			method, path string
			want         int
		}{
			{"GET", "/job?status=bogus", 400},
			{"GET", "/job?queue=", 400},
			{"GET", "/job?id=", 400},
			{"GET", "/job?limit=0", 400},
			{"GET", "/job?limit=abc", 400},
			{"GET", "/job?id=task-doesnotexist", 404},
			{"DELETE", "/job", 400},
			{"DELETE", "/job?host=", 400},
			{"DELETE", "/job?id=task-doesnotexist", 404},
			{"GET", "/worker?node=", 400},
			{"DELETE", "/worker", 400},
			{"DELETE", "/worker?name=nobody", 404},
			{"GET", "/nope", 404},
			{"POST", "/job", 405},
		} {
			code, env := np(t, base, tc.method, tc.path, nil)
			if code != tc.want || env.Message == "" || env.Message == "success" {
				t.Errorf("%s %s = %d %q, want %d with an error message in the envelope", tc.method, tc.path, code, env.Message, tc.want)
			}
		}
	})

	t.Run("HealthAndMetrics", func(t *testing.T) {
		var h struct {
			Status     string `json:"status"`
			Components map[string]struct {
				Status  string         `json:"status"`
				Details map[string]any `json:"details"`
			} `json:"components"`
		}
		if code, env := np(t, base, "GET", "/health", &h); code != 200 || env.Message != "success" {
			t.Fatalf("GET /health = %d %s", code, env.Message)
		}
		for _, c := range []string{"api", "store", "workers", "queues"} {
			if h.Components[c].Status == "" {
				t.Errorf("GET /health has no %s check: %+v", c, h)
			}
		}
		if h.Components["store"].Status != "ok" || h.Components["workers"].Details["dead"] == nil {
			t.Errorf("GET /health = %+v", h)
		}
		resp, err := http.Get(base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		text := string(body)
		if resp.StatusCode != 200 || !strings.Contains(text, `drover_queue_depth{queue="pinned_*"}`) || strings.Contains(text, `queue="pinned_`+host) {
			t.Errorf("GET /metrics: %d; want pinned queues folded into pinned_*:\n%.2000s", resp.StatusCode, text)
		}
	})
}

// TestNetPulseAuth: with --auth, the key goes in X-API-KEY (any case) and
// refusals come in the NetPulse envelope.
func TestNetPulseAuth(t *testing.T) {
	t.Parallel()
	port := freePort(t)
	const key = "np-test-admin-key-0123456789abcdef"
	newCluster(t, "--netpulse-port", strconv.Itoa(port), "--auth", "--api-key", key)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	for _, tc := range []struct {
		header, value string
		want          int
	}{
		{"", "", 401},
		{"X-API-KEY", "wrong", 401},
		{"X-API-KEY", key, 200},
		{"x-api-key", key, 200},
		{"X-Api-Key", key, 200},
	} {
		req, _ := http.NewRequest("GET", base+"/worker", nil)
		if tc.header != "" {
			req.Header[tc.header] = []string{tc.value} // as sent, not canonicalized
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var env npResponse
		err = json.NewDecoder(resp.Body).Decode(&env)
		resp.Body.Close()
		if resp.StatusCode != tc.want || err != nil || env.Code != tc.want {
			t.Errorf("GET /worker with %s: %d, envelope %+v (%v); want %d in the envelope", tc.header, resp.StatusCode, env, err, tc.want)
		}
	}
}
