package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/client"
)

// "More machines" with real certificates in three commands: drover tls ca
// create, drover tls cert create --server, a server with them and a worker
// trusting the CA; a task runs, and a client without the CA is refused.
func TestTLSHelperEndToEnd(t *testing.T) {
	dir := t.TempDir()
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command(droverBin, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("drover %v: %v\n%s", args, err, out)
		}
	}
	run("tls", "ca", "create")
	run("tls", "cert", "create", "--server", "--additional-dns", "drover.internal", "--additional-ip", "10.0.0.5")
	run("tls", "cert", "create", "--worker")
	if cmd := exec.Command(droverBin, "tls", "ca", "create"); true {
		cmd.Dir = dir
		if err := cmd.Run(); err == nil {
			t.Error("a second drover tls ca create overwrote the CA")
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, "ca-key.pem")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("ca-key.pem: %v, mode %v; want 0600", err, fi.Mode())
	}

	apiPort, agentPort := freePort(t), freePort(t)
	start(t, "server", "server", "--store", "sqlite://"+filepath.Join(dir, "drover.db"),
		"--port", strconv.Itoa(apiPort), "--agent-port", strconv.Itoa(agentPort), "--keeper-port", "0", "--netpulse-port", "0",
		"--tls-cert", filepath.Join(dir, "server.pem"), "--tls-key", filepath.Join(dir, "server-key.pem"), "--log-level", "warn")
	pool := x509.NewCertPool()
	caPEM, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if err != nil || !pool.AppendCertsFromPEM(caPEM) {
		t.Fatalf("ca.pem: %v", err)
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	c, err := client.New(fmt.Sprintf("https://127.0.0.1:%d", apiPort), client.WithHTTPClient(hc))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	eventually(t, 20*time.Second, "the TLS server to answer", func() bool {
		_, err := c.Health(ctx)
		return err == nil
	})
	start(t, "worker", "worker", "--server", fmt.Sprintf("https://127.0.0.1:%d", agentPort), "--ca", filepath.Join(dir, "ca.pem"),
		"--name", "tls-worker", "--log-level", "warn")
	eventually(t, 20*time.Second, "the worker to register over TLS", func() bool {
		d, err := c.Devices.Get(ctx, "tls-worker")
		return err == nil && d.Status == "online"
	})
	sub, err := c.Tasks.Submit(ctx, api.SubmitTaskRequest{TaskType: "echo", Payload: []byte(`{"message": "over TLS"}`)})
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	task, err := c.Tasks.Wait(wctx, sub.TaskID, 50*time.Millisecond)
	if err != nil || task.Status != "completed" {
		t.Fatalf("task over TLS: %v %+v", err, task)
	}

	// A client that does not trust the CA is refused.
	plain, _ := client.New(fmt.Sprintf("https://127.0.0.1:%d", apiPort))
	if _, err := plain.Health(ctx); err == nil {
		t.Error("a client without the CA reached the TLS server")
	}
}
