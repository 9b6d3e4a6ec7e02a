//go:build unix

package worker

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// signalGroup sends SIGTERM, or SIGKILL when kill is set, to the process
// group led by pid: the command and everything it started.
func signalGroup(pid int, kill bool) {
	sig := syscall.SIGTERM
	if kill {
		sig = syscall.SIGKILL
	}
	_ = syscall.Kill(-pid, sig) // ESRCH: the group is already gone
}

// exitCode is the command's exit code; a command killed by a signal
// reports 128+signal, as shells do.
func exitCode(ps *os.ProcessState) int {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

// baseSysProcAttr puts the command in a process group of its own, as the
// given user if id is set.
func baseSysProcAttr(id *identity) *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Setpgid: true}
	if id != nil {
		a.Credential = &syscall.Credential{Uid: id.uid, Gid: id.gid}
	}
	return a
}

// resolveIdentity picks the user shell tasks run as. A root worker drops to
// name (default "nobody"); any other worker runs tasks as itself, and can
// only be asked for itself.
func resolveIdentity(name string) (*identity, error) {
	if os.Geteuid() != 0 {
		if name == "" {
			return nil, nil
		}
		if cur, err := user.Current(); err == nil && (cur.Username == name || cur.Uid == name) {
			return nil, nil
		}
		return nil, fmt.Errorf("cannot run shell tasks as user %q: the worker is not root", name)
	}
	if name == "" {
		name = "nobody"
	}
	u, err := user.Lookup(name)
	if err != nil {
		u, err = user.LookupId(name)
	}
	if err != nil {
		if name == "nobody" {
			return &identity{uid: fallbackNobody, gid: fallbackNobody, name: name, home: "/"}, nil
		}
		return nil, fmt.Errorf("cannot run shell tasks as user %q: %w", name, err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("cannot run shell tasks as user %q: %w", name, err)
	}
	if uid == 0 {
		return nil, nil // root asked for explicitly
	}
	home := u.HomeDir
	if home == "" {
		home = "/"
	}
	return &identity{uid: uint32(uid), gid: uint32(gid), name: u.Username, home: home}, nil
}
