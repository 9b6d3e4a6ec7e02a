package worker

import (
	"bytes"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// sysProcAttr adds a parent-death signal: if the worker dies, even by
// SIGKILL, the kernel sends the command SIGTERM. The command is the
// supervising shell of supervised, which passes it on to the whole group.
func sysProcAttr(id *identity) *syscall.SysProcAttr {
	a := baseSysProcAttr(id)
	a.Pdeathsig = syscall.SIGTERM // set after the credentials, so it survives them
	return a
}

// supervised wraps a command so that its whole process group dies with the
// worker. The kernel's parent-death signal reaches only the worker's direct
// child, and a task's grandchildren would outlive a kill -9'd worker; so the
// direct child is a small shell whose TERM trap sends TERM to the group,
// then SIGKILL to what is left of it as soon as the command has ended, or
// after the grace if it will not (a background timer does the kill then).
// Nothing of the task outlives its command's end, and the shell itself
// does not linger for the grace. The command runs as its child, its exit
// status passed through (128+n for a signal, as before; the shell's own
// "Killed" notice is silenced, so the task's stderr is only its own). The
// worker's own stop — SIGTERM to the group, SIGKILL after the grace — works
// through it unchanged.
//
// Without a shell to supervise with (an Android without /bin/sh), the
// command runs as it is, and only its direct process hears of the worker's death.
func supervised(name string, args []string, grace time.Duration) (string, []string) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		return name, args
	}
	secs := strconv.Itoa(max(1, int((grace+time.Second-1)/time.Second)))
	script := `trap 'trap "" TERM; kill -TERM 0; (sleep ` + secs + `; kill -KILL 0) & wait $t; kill -KILL 0' TERM; "$@" & t=$!; wait $t 2>/dev/null`
	return sh, append([]string{"-c", script, "drover-task", name}, args...)
}

// spawner forks every command from one goroutine locked to its OS thread
// for the life of the process. Pdeathsig fires when the *thread* that forked
// the child ends, not the process (golang/go#27505); forking from a thread
// that never ends makes it mean "when the worker dies".
var spawner struct {
	once sync.Once
	reqs chan spawnReq
}

type spawnReq struct {
	cmd *exec.Cmd
	err chan<- error
}

func startCmd(cmd *exec.Cmd) error {
	spawner.once.Do(func() {
		spawner.reqs = make(chan spawnReq)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread must outlive every child
			for r := range spawner.reqs {
				r.err <- r.cmd.Start()
			}
		}()
	})
	errc := make(chan error, 1)
	spawner.reqs <- spawnReq{cmd, errc}
	return <-errc
}

const canScanProcs = true

// clockTicks is USER_HZ, the unit of CPU times in /proc: 100 on every
// architecture Linux ships.
const clockTicks = 100

var pageSize = uint64(os.Getpagesize())

// scanProcs appends every process of the system to dst.
func scanProcs(dst []procSample) []procSample {
	d, err := os.Open("/proc")
	if err != nil {
		return dst
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	buf := make([]byte, 0, 1024)
	for _, name := range names {
		pid, err := strconv.Atoi(name)
		if err != nil {
			continue
		}
		if p, ok := readStat(pid, buf); ok {
			dst = append(dst, p)
		}
	}
	return dst
}

// readStat parses /proc/<pid>/stat: pid (comm) state ppid pgrp ... with
// utime, stime at fields 14, 15 and rss at 24. comm may hold spaces and
// parentheses, so fields are counted from the last ')'.
func readStat(pid int, buf []byte) (procSample, bool) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procSample{}, false
	}
	n, _ := f.Read(buf[:cap(buf)])
	f.Close()
	b := buf[:n]
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procSample{}, false
	}
	fields := bytes.Fields(b[i+1:])
	if len(fields) < 22 {
		return procSample{}, false
	}
	num := func(i int) uint64 { v, _ := strconv.ParseUint(string(fields[i]), 10, 64); return v }
	pgid, _ := strconv.Atoi(string(fields[2]))
	return procSample{
		pid:  pid,
		pgid: pgid,
		cpu:  float64(num(11)+num(12)) / clockTicks,
		rss:  num(21) * pageSize,
	}, true
}
