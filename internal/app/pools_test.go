package app

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/internal/auth"
	"github.com/drover-run/drover/internal/dialect/elastic"
	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

// changePoints posts document 000's request with its headers; hdr
// overrides or (with an empty value) removes them.
func changePoints(t *testing.T, s *testServer, token, body string, hdr map[string]string) (int, elastic.Answer) {
	t.Helper()
	h := map[string]string{"token": token, "timestamp": strconv.FormatInt(time.Now().UnixMilli(), 10), "version": "1.0.0", "sign_str": ""}
	for k, v := range hdr {
		h[k] = v
	}
	var pairs []string
	for k, v := range h {
		if v != "" {
			pairs = append(pairs, k, v)
		}
	}
	status, _, raw := call(t, "POST", s.APIURL()+elastic.ChangePointsPath, "", body, pairs...)
	var ans elastic.Answer
	if err := json.Unmarshal(raw, &ans); err != nil {
		t.Fatalf("change_points answer %s is not the document's envelope: %v", raw, err)
	}
	var keys map[string]any
	json.Unmarshal(raw, &keys)
	if _, ok := keys["data"]; !ok || len(keys) != 3 {
		t.Errorf("change_points answer %s: want exactly code, message and data", raw)
	}
	return status, ans
}

// signed is the headers of a request signed with secret (DESIGN.md §6).
func signed(t *testing.T, token, secret, body string) map[string]string {
	t.Helper()
	ts := strconv.FormatInt(time.Now().UnixMilli(), 10)
	canonical, err := api.Canonical("POST", elastic.ChangePointsPath, "", ts, "1.0.0", []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{"token": token, "timestamp": ts, "version": "1.0.0", "sign_str": api.Sign(secret, canonical)}
}

// poolState is a pool's size and number of events.
func poolState(t *testing.T, s *testServer, id int64) string {
	t.Helper()
	p, err := s.pools.svc.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := s.pools.svc.Events(context.Background(), id, 0)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("points %d, %d events", p.Points, len(evs))
}

// TestChangePointsWithAuth is document 000's endpoint with --auth: simple
// and signature mode, and every refusal in the document's envelope with
// SEED-CHECKLIST's code, changing nothing.
func TestChangePointsWithAuth(t *testing.T) {
	t.Parallel()
	s := start(t, authOn())
	calls := filepath.Join(s.dir, "calls.log")
	cfg := fmt.Sprintf(`{"scale_up": "echo up >> %s", "scale_down": "echo down >> %s"}`, calls, calls)
	status, _, body := call(t, "POST", s.APIURL()+"/api/v1/pools", seedKey,
		`{"id": 388, "name": "doc", "points": 1, "min_points": 1, "max_points": 3, "provider": "command", "provider_config": `+cfg+`}`)
	if status != http.StatusCreated {
		t.Fatalf("POST /api/v1/pools = %d %s", status, body)
	}
	signedKey := s.newKey(t, auth.CreateParams{Scopes: []auth.Scope{auth.ScopeWrite}, Signed: true})
	simpleKey := s.newKey(t, auth.CreateParams{Scopes: []auth.Scope{auth.ScopeWrite}})
	readKey := s.newKey(t, auth.CreateParams{Scopes: []auth.Scope{auth.ScopeRead}})

	// Signature mode, good.
	good := `{"task_id": 388, "points": 2}`
	goodHdr := signed(t, signedKey.Token, signedKey.Secret, good)
	if st, ans := changePoints(t, s, "", good, goodHdr); st != 200 || ans.Code != "0000" || ans.Message != "success" {
		t.Fatalf("signed change_points = %d %+v, want 200 0000 success", st, ans)
	}
	if got := poolState(t, s, 388); got != "points 2, 2 events" {
		t.Fatalf("after a signed change: %s", got)
	}
	// Simple mode: the key in token, sign_str empty.
	if st, ans := changePoints(t, s, simpleKey.Token, `{"task_id": 388, "points": 3}`, nil); st != 200 || ans.Code != "0000" {
		t.Fatalf("simple-mode change_points = %d %+v", st, ans)
	}
	// The same size again: success, and no event.
	if st, ans := changePoints(t, s, simpleKey.Token, `{"task_id": 388, "points": 3}`, nil); st != 200 || ans.Code != "0000" {
		t.Fatalf("repeated change_points = %d %+v", st, ans)
	}
	before := poolState(t, s, 388)
	if before != "points 3, 3 events" {
		t.Fatalf("after simple-mode changes: %s, want points 3, 3 events", before)
	}

	tampered := signed(t, signedKey.Token, signedKey.Secret, `{"task_id": 388, "points": 1}`)
	for _, tc := range []struct {
		name   string
		token  string
		body   string
		hdr    map[string]string
		status int
		code   string
	}{
		{"replayed signature", "", good, goodHdr, 401, "4001"},
		{"tampered body", "", `{"task_id": 388, "points": 2}`, tampered, 401, "4001"},
		{"signed key without sign_str", signedKey.Token, good, nil, 401, "4001"},
		{"stale timestamp", "", good, func() map[string]string {
			h := signed(t, signedKey.Token, signedKey.Secret, good)
			h["timestamp"] = "1747379023000"
			return h
		}(), 401, "4001"},
		{"no token", "", good, nil, 401, "4001"},
		{"unknown token", "not-a-key", good, nil, 401, "4001"},
		{"read-only key", readKey.Token, good, nil, 403, "4003"},
		{"unknown task_id", simpleKey.Token, `{"task_id": 999999, "points": 1}`, nil, 404, "4004"},
		{"points over max", simpleKey.Token, `{"task_id": 388, "points": 4}`, nil, 400, "4000"},
		{"points under min", simpleKey.Token, `{"task_id": 388, "points": 0}`, nil, 400, "4000"},
		{"negative points", simpleKey.Token, `{"task_id": 388, "points": -1}`, nil, 400, "4000"},
		{"fractional points", simpleKey.Token, `{"task_id": 388, "points": 1.5}`, nil, 400, "4000"},
		{"points as a string", simpleKey.Token, `{"task_id": 388, "points": "2"}`, nil, 400, "4000"},
		{"task_id as a string", simpleKey.Token, `{"task_id": "388", "points": 2}`, nil, 400, "4000"},
		{"points missing", simpleKey.Token, `{"task_id": 388}`, nil, 400, "4000"},
		{"task_id missing", simpleKey.Token, `{"points": 2}`, nil, 400, "4000"},
		{"not JSON", simpleKey.Token, `task_id=388`, nil, 400, "4000"},
		{"timestamp missing", simpleKey.Token, good, map[string]string{"timestamp": ""}, 400, "4000"},
		{"timestamp not a number", simpleKey.Token, good, map[string]string{"timestamp": "yesterday"}, 400, "4000"},
		{"version missing", simpleKey.Token, good, map[string]string{"version": ""}, 400, "4000"},
	} {
		st, ans := changePoints(t, s, tc.token, tc.body, tc.hdr)
		if st != tc.status || ans.Code != tc.code || ans.Message == "" || ans.Data != nil {
			t.Errorf("%s: change_points = %d %+v, want %d code %s", tc.name, st, ans, tc.status, tc.code)
		}
		if got := poolState(t, s, 388); got != before {
			t.Errorf("%s changed the pool: %s, want %s", tc.name, got, before)
		}
	}
}

// TestChangePointsWithoutAuth: as in drover dev, the document's
// placeholder token is accepted; the headers are still required.
func TestChangePointsWithoutAuth(t *testing.T) {
	t.Parallel()
	s := start(t, Security{})
	calls := filepath.Join(s.dir, "calls.log")
	cfg := fmt.Sprintf(`{"scale_up": "echo up >> %s", "scale_down": "echo down >> %s"}`, calls, calls)
	if status, _, body := call(t, "POST", s.APIURL()+"/api/v1/pools", "",
		`{"id": 3000, "name": "doc", "points": 1, "max_points": 3, "provider": "command", "provider_config": `+cfg+`}`); status != http.StatusCreated {
		t.Fatalf("POST /api/v1/pools = %d %s", status, body)
	}
	if st, ans := changePoints(t, s, "YOUR_API_TOKEN", `{"task_id": 3000, "points": 2}`, map[string]string{"timestamp": "1747379023000"}); st != 200 || ans.Code != "0000" {
		t.Fatalf("placeholder token: %d %+v", st, ans)
	}
	if st, ans := changePoints(t, s, "", `{"task_id": 3000, "points": 1}`, nil); st != 401 || ans.Code != "4001" {
		t.Errorf("no token header: %d %+v, want 401 4001", st, ans)
	}
	if got := poolState(t, s, 3000); got != "points 2, 2 events" {
		t.Errorf("pool after: %s", got)
	}

	// The native view: data.pool with its workers, each with id and status.
	if _, err := s.store.WorkerRegister(context.Background(), &store.WorkerRegisterParams{Worker: &domain.Worker{
		ID: "pool-w1", Name: "pool-w1", TaskTypes: []string{"echo"}, Concurrency: 1, PoolID: 3000}}); err != nil {
		t.Fatal(err)
	}
	status, _, raw := call(t, "GET", s.APIURL()+"/api/v1/pools/3000", "", "")
	var got struct {
		Status string `json:"status"`
		Data   struct {
			Pool struct {
				ID      int64            `json:"id"`
				Points  int              `json:"points"`
				Workers []map[string]any `json:"workers"`
			} `json:"pool"`
		} `json:"data"`
	}
	if err := json.Unmarshal(raw, &got); err != nil || status != 200 || got.Data.Pool.ID != 3000 || got.Data.Pool.Points != 2 ||
		len(got.Data.Pool.Workers) != 1 || got.Data.Pool.Workers[0]["id"] != "pool-w1" || got.Data.Pool.Workers[0]["status"] != "online" {
		t.Errorf("GET /api/v1/pools/3000 = %d %s; want data.pool with workers[{id, status}]", status, raw)
	}
	for path, want := range map[string]int{"/api/v1/pools/9999": 404, "/api/v1/pools/abc": 400, "/api/v1/pools/3000/events": 200, "/api/v1/pools": 200} {
		if status, _, raw := call(t, "GET", s.APIURL()+path, "", ""); status != want {
			t.Errorf("GET %s = %d %s, want %d", path, status, raw, want)
		}
	}
}
