package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/drover-run/drover/client"
)

// One version line names a build everywhere: drover version, /health,
// the devices a drover worker registers and drover_build_info. drover dev
// counts its one machine once, however many workers it runs.
func TestBuildIdentityAndOneMachine(t *testing.T) {
	out, err := exec.Command(droverBin, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	line := strings.TrimSpace(string(out))
	ver, ok := strings.CutPrefix(line, "drover ")
	if !ok || !strings.Contains(ver, runtime.Version()) {
		t.Fatalf("drover version = %q, want \"drover VERSION (… %s)\"", line, runtime.Version())
	}
	if out, _ := exec.Command(droverBin, "--version").Output(); strings.TrimSpace(string(out)) != line {
		t.Errorf("drover --version = %q, want %q", out, line)
	}

	port, agent := freePort(t), freePort(t)
	start(t, "dev", "dev", "--data", filepath.Join(t.TempDir(), "data"), "--workers", "3",
		"--port", strconv.Itoa(port), "--agent-port", strconv.Itoa(agent), "--keeper-port", "0", "--netpulse-port", "0")
	apiURL := fmt.Sprintf("http://127.0.0.1:%d", port)
	c, err := client.New(apiURL)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	eventually(t, 30*time.Second, "three dev workers", func() bool {
		l, err := c.Devices.List(ctx, client.DeviceListOptions{})
		return err == nil && l.Online == 3
	})
	h, err := c.Health(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if h.Version != ver || h.SchemaVersion == 0 {
		t.Errorf("/health version %q, schema_version %d; want %q and the store's schema", h.Version, h.SchemaVersion, ver)
	}
	l, _ := c.Devices.List(ctx, client.DeviceListOptions{})
	for _, d := range l.Devices {
		dd, err := c.Devices.Get(ctx, d.ID)
		if err != nil || dd.Version != ver {
			t.Errorf("device %s reports version %q (%v), want %q", d.ID, dd.Version, err, ver)
		}
	}
	st, err := c.Cluster.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.TotalResources.CPUCores != runtime.NumCPU() {
		t.Errorf("cluster status counts %d cores for three workers on one %d-core machine", st.TotalResources.CPUCores, runtime.NumCPU())
	}
	resp, err := http.Get(apiURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "drover_build_info{") || !strings.Contains(string(body), runtime.Version()) {
		t.Errorf("/metrics has no drover_build_info with the Go version")
	}
}
