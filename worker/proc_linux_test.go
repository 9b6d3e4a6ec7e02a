package worker

import (
	"os"
	"syscall"
	"testing"
	"time"
)

func TestScanProcsFindsOurGroup(t *testing.T) {
	t.Parallel()
	pgid, _ := syscall.Getpgid(os.Getpid())
	// The kernel counts CPU time in 10 ms ticks: a fresh test binary may
	// not have used one yet. Burn at least one.
	for start := time.Now(); time.Since(start) < 50*time.Millisecond; {
	}
	for _, p := range scanProcs(nil) {
		if p.pid == os.Getpid() {
			if p.pgid != pgid || p.rss == 0 || p.cpu <= 0 {
				t.Errorf("our process = %+v, want pgid %d, some RSS and CPU time", p, pgid)
			}
			return
		}
	}
	t.Error("scan did not list this process")
}
