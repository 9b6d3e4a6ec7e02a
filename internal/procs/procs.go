// Package procs starts, signals and measures the drover processes that
// drover bench and drover chaos run: a server and workers as separate
// processes talking HTTP, as users run them.
package procs

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Proc is a started child process. It is reaped in the background, so
// Exited tells at once whether it died.
type Proc struct {
	Cmd  *exec.Cmd
	Log  string // the file its stdout and stderr go to
	done chan struct{}
}

// Pid is the process id.
func (p *Proc) Pid() int { return p.Cmd.Process.Pid }

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Kill sends SIGKILL and waits until the process is gone.
func (p *Proc) Kill() {
	p.Cmd.Process.Kill()
	<-p.done
}

// Stop asks the process to end (SIGINT: workers hand their tasks back) and
// kills it if it has not within limit.
func (p *Proc) Stop(limit time.Duration) {
	p.Cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(limit):
		p.Kill()
	}
}

// Pause stops the process where it stands (SIGSTOP); Resume lets it go on.
func (p *Proc) Pause() error  { return pause(p.Cmd.Process) }
func (p *Proc) Resume() error { return resume(p.Cmd.Process) }

// RSSMB reads a memory figure of the process (VmRSS, VmHWM) in MB.
func (p *Proc) RSSMB(field string) float64 { return RSSMB(p.Pid(), field) }

// Group starts child processes and stops them all at the end.
type Group struct {
	mu    sync.Mutex
	procs []*Proc
}

// Start runs bin with args, its output going to logPath (appended to, so
// a restarted process keeps its predecessor's log). The child dies with
// this process where the system allows.
func (g *Group) Start(bin, logPath string, args ...string) (*Proc, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	p := &Proc{Cmd: cmd, Log: logPath, done: make(chan struct{})}
	go func() {
		cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	g.mu.Lock()
	g.procs = append(g.procs, p)
	g.mu.Unlock()
	return p, nil
}

// Stop ends the processes still running, last started first (workers
// before their server, so they can hand back).
func (g *Group) Stop() {
	g.mu.Lock()
	ps := g.procs
	g.procs = nil
	g.mu.Unlock()
	for i := len(ps) - 1; i >= 0; i-- {
		if !ps[i].Exited() {
			ps[i].Resume() // a paused process cannot hear SIGINT
			ps[i].Stop(10 * time.Second)
		}
	}
}

// RSSMB reads a memory figure (VmRSS, VmHWM) of a process, in MB; 0 where
// /proc does not tell.
func RSSMB(pid int, field string) float64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

// FreePorts finds n loopback TCP ports no one listens on.
func FreePorts(n int) ([]int, error) {
	ports := make([]int, n)
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, l)
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports, nil
}

// WaitFor polls ok every 20 ms until it holds, limit passes or ctx ends.
func WaitFor(ctx context.Context, limit time.Duration, ok func() bool) error {
	return WaitEvery(ctx, limit, 20*time.Millisecond, ok)
}

// WaitEvery polls ok every interval until it holds, limit passes or ctx ends.
func WaitEvery(ctx context.Context, limit, every time.Duration, ok func() bool) error {
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			return errors.New("timed out")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(every):
		}
	}
	return nil
}

// Tail is the end of a log file, for error messages.
func Tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// CPUSeconds is the CPU time (user and system) a process has used; 0 where
// /proc does not tell.
func CPUSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The fields after the command name (which may hold spaces and
	// parentheses) start at field 3; utime and stime are fields 14 and 15,
	// in clock ticks (100 a second on Linux).
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseFloat(f[11], 64)
	s, _ := strconv.ParseFloat(f[12], 64)
	return (u + s) / 100
}

// OpenFDs counts a process's open file descriptors; -1 where /proc does
// not tell.
func OpenFDs(pid int) int {
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return -1
	}
	return len(fds)
}

// Cmdline is a process's command line, its arguments joined by spaces; ""
// where /proc does not tell.
func Cmdline(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
}

// Children lists the processes whose parent is pid, from /proc; none where
// /proc does not tell.
func Children(pid int) []int { return tree()[pid] }

// Descendants lists the processes below pid (children, their children, …)
// from /proc; none where /proc does not tell.
func Descendants(pid int) []int {
	children := tree()
	var out []int
	for queue := children[pid]; len(queue) > 0; queue = queue[1:] {
		out = append(out, queue[0])
		queue = append(queue, children[queue[0]]...)
	}
	return out
}

// tree maps each process to its children.
func tree() map[int][]int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if _, ppid, ok := stat(p); ok {
			children[ppid] = append(children[ppid], p)
		}
	}
	return children
}

// Alive reports whether pid is a process that has not ended: it exists
// and is not a zombie waiting to be reaped.
func Alive(pid int) bool {
	state, _, ok := stat(pid)
	return ok && state != 'Z' && state != 'X'
}

// stat reads a process's state letter and parent from /proc/pid/stat.
func stat(pid int) (state byte, ppid int, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, false
	}
	// After the command name (which may hold spaces and parentheses):
	// state, then the parent's pid.
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b[i+1:]))
	if i < 0 || len(f) < 2 || len(f[0]) != 1 {
		return 0, 0, false
	}
	ppid, err = strconv.Atoi(f[1])
	return f[0][0], ppid, err == nil
}
