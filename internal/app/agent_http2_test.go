package app

import (
	"net/http"
	"strings"
	"testing"
)

// TestAgentSpeaksHTTP2InTheClear: a worker may speak HTTP/2 with prior
// knowledge on the worker port (its calls then share one connection), and
// HTTP/1.1 still works there.
func TestAgentSpeaksHTTP2InTheClear(t *testing.T) {
	t.Parallel()
	srv := start(t, Security{})
	h2c := new(http.Protocols)
	h2c.SetUnencryptedHTTP2(true)
	h1 := new(http.Protocols)
	h1.SetHTTP1(true)
	for name, p := range map[string]*http.Protocols{"HTTP/2.0": h2c, "HTTP/1.1": h1} {
		tr := &http.Transport{Protocols: p}
		defer tr.CloseIdleConnections()
		body := `{"name":"w1","hostname":"h","task_types":["sleep"],"concurrency":1}`
		resp, err := (&http.Client{Transport: tr}).Post(srv.AgentURL()+"/agent/v1/register", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatalf("register over %s: %v", name, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Proto != name {
			t.Errorf("register over %s = %d over %s, want 200 over %s", name, resp.StatusCode, resp.Proto, name)
		}
	}
}
