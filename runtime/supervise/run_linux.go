package supervise

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"
)

// stopGrace is how long the program has to exit after SIGTERM on a restart, before SIGKILL.
const stopGrace = 5 * time.Second

// Main runs the supervisor with args (the program and its arguments, after "--") and
// returns the exit code. It logs its restarts to stderr.
func Main(args []string, stderr io.Writer) int {
	keepRunning := false
	if len(args) > 0 && args[0] == KeepRunningFlag {
		keepRunning, args = true, args[1:]
	}
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(stderr, "kiln supervise: no program to run")
		return 2
	}
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs)
	child, err := start(args)
	if err != nil {
		fmt.Fprintf(stderr, "kiln supervise: %v\n", err)
		return 127
	}
	restarting := false
	var killTimer <-chan time.Time
	for {
		select {
		case <-killTimer:
			_ = syscall.Kill(child, syscall.SIGKILL)
			killTimer = nil
		case s := <-sigs:
			sig, _ := s.(syscall.Signal)
			switch sig {
			case syscall.SIGCHLD:
				status, exited := reap(child)
				if !exited {
					continue
				}
				if !restarting && keepRunning {
					// exit_policy='continue': the container stays, so that the next live
					// update can start the program again.
					fmt.Fprintf(stderr, "kiln supervise: %s exited (%d); waiting for the next live update to start it again\n", args[0], exitCode(status))
					child = 0
					continue
				}
				if !restarting {
					return exitCode(status)
				}
				restarting, killTimer = false, nil
				if child, err = start(args); err != nil {
					fmt.Fprintf(stderr, "kiln supervise: %v\n", err)
					return 127
				}
				fmt.Fprintf(stderr, "kiln supervise: restarted %s (pid %d)\n", args[0], child)
			case syscall.SIGHUP:
				if child == 0 { // the program had exited (keepRunning): start it again
					if child, err = start(args); err != nil {
						fmt.Fprintf(stderr, "kiln supervise: %v\n", err)
						return 127
					}
					fmt.Fprintf(stderr, "kiln supervise: restarted %s (pid %d)\n", args[0], child)
					continue
				}
				if !restarting {
					restarting = true
					_ = syscall.Kill(child, syscall.SIGTERM)
					killTimer = time.After(stopGrace)
				}
			case syscall.SIGURG, syscall.SIGWINCH, syscall.SIGPIPE:
				// The Go runtime's own preemption signal, and ones the program does not need.
			default:
				// SIGTERM and the like end the restart in flight: the program's exit is the
				// supervisor's, as when the pod is deleted.
				restarting = false
				if child == 0 { // no program running (keepRunning): the signal ends the container
					return 128 + int(sig)
				}
				_ = syscall.Kill(child, sig)
			}
		}
	}
}

// start starts the program with the supervisor's stdio and environment.
func start(args []string) (int, error) {
	p, err := os.StartProcess(lookPath(args[0]), args, &os.ProcAttr{Files: []*os.File{os.Stdin, os.Stdout, os.Stderr}, Env: os.Environ()})
	if err != nil {
		return 0, err
	}
	pid := p.Pid
	_ = p.Release()
	return pid, nil
}

// reap collects every exited process (as PID 1, orphans are the supervisor's to reap) and
// reports whether child was among them, with its status.
func reap(child int) (syscall.WaitStatus, bool) {
	var childStatus syscall.WaitStatus
	found := false
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return childStatus, found
		}
		if pid == child {
			childStatus, found = ws, true
		}
	}
}

func exitCode(ws syscall.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// lookPath finds a program name without a slash on $PATH, as a shell would.
func lookPath(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	return name
}
