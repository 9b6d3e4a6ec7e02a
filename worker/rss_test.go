package worker

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// maxIdleRSSKiB is the target for an idle worker (docs/benchmarks.md).
const maxIdleRSSKiB = 20 << 10

// TestIdleRSS builds a bare worker (testdata/idleworker), lets it register,
// heartbeat and park a lease long-poll against the fake server, then reads
// its resident set from /proc, as `ps -o rss` would.
func TestIdleRSS(t *testing.T) {
	requireLinux(t)
	if testing.Short() {
		t.Skip("builds a binary")
	}
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "idleworker")
	build := exec.Command("go", "build", "-o", bin, "./testdata/idleworker")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	f := newFakeServer(t)
	cmd := exec.Command(bin, f.srv.URL)
	cmd.Stderr = t.Output()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	})
	recv(t, f.registers, "register")
	// A few heartbeats: resources sampled, connections warm, poll parked.
	for range 5 {
		recv(t, f.heartbeats, "heartbeat")
	}
	rss := statusKiB(t, cmd.Process.Pid, "VmRSS")
	t.Logf("idle worker RSS: %d KiB (%.1f MiB)", rss, float64(rss)/1024)
	if rss > maxIdleRSSKiB {
		t.Errorf("idle worker RSS = %d KiB, want < %d KiB", rss, maxIdleRSSKiB)
	}

	// And it leaves cleanly on SIGTERM.
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("worker exited with %v after SIGTERM, want 0", err)
	}
	recv(t, f.deregister, "deregister")
}

// statusKiB reads one "Name: N kB" field of /proc/<pid>/status.
func statusKiB(t *testing.T, pid int, field string) int {
	t.Helper()
	fh, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}
