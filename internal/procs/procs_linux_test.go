package procs

import (
	"bufio"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDescendants finds a shell's child and grandchild, and sees the
// grandchild end.
func TestDescendants(t *testing.T) {
	cmd := exec.Command("sh", "-c", `sh -c 'sleep 30 & echo $!; wait' & wait`)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	sleeper, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatal(err)
	}
	children := Children(cmd.Process.Pid)
	if len(children) != 1 {
		t.Fatalf("Children(shell) = %v, want the inner shell alone", children)
	}
	all := Descendants(cmd.Process.Pid)
	if !slices.Contains(all, children[0]) || !slices.Contains(all, sleeper) || len(all) != 2 {
		t.Fatalf("Descendants(shell) = %v, want the inner shell %d and sleep %d", all, children[0], sleeper)
	}
	if !Alive(sleeper) {
		t.Fatalf("Alive(%d) = false for a running sleep", sleeper)
	}
	syscall.Kill(sleeper, syscall.SIGKILL)
	if err := WaitFor(t.Context(), 10*time.Second, func() bool { return !Alive(sleeper) }); err != nil {
		t.Errorf("Alive(%d) still true after SIGKILL", sleeper)
	}
}
