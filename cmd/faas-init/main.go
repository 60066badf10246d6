// Command faas-init is the PID 1 of a warm function container. The worker
// bind-mounts it read-only into the container (the image is not changed)
// and starts it with the image's entrypoint and cmd as arguments:
//
//	/.faas/init --clean /tmp -- ENTRYPOINT... CMD...
//
// With "--forward ADDR=SOCKET" (network "internal") it first listens on
// ADDR inside the container and joins each connection to the unix socket
// the worker mounted: the objects service. It then serves executions one at a time over its stdin and stdout
// (internal/initproto): for each request it starts the entrypoint as a
// fresh process with the request's environment, the input on standard
// input then end of input, the image's working directory and the
// container's user, and answers its stdout (1 MiB; past it the process is
// killed and the overflow reported), stderr (1 MiB, then cut) and exit
// code. Before answering it SIGKILLs every other process of the container,
// found by scanning /proc (so a process that left the group with setsid is
// found too), reaps them, and empties the --clean directories (the writable
// tmpfs mounts), so that nothing of one execution outlives it.
//
// Stdlib only and built with CGO_ENABLED=0: it runs in images FROM scratch.
package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/faasplatform/faas/internal/initproto"
)

// Caps of one execution (contract §4).
const (
	maxStdout = 1 << 20
	maxStderr = 1 << 20
	maxInput  = 16 << 20
	// cleanupGrace bounds the wait for the killed processes to be gone.
	cleanupGrace = 3 * time.Second
	// drainGrace bounds the wait for the output pipes to end once every
	// process is gone.
	drainGrace = time.Second
)

// errNotPID1: faas-init SIGKILLs every other process of its PID namespace
// after each execution, so it must be the init of a container's own
// namespace. Run anywhere else (on a host, by mistake) it would kill the
// host's processes: it refuses to start.
var errNotPID1 = errors.New("faas-init must run as PID 1 of its own container (it kills every other process of its PID namespace); refusing to start")

// checkPID1 is the start-up guard: nil only for PID 1.
func checkPID1(pid int) error {
	if pid != 1 {
		return fmt.Errorf("%w: running as pid %d", errNotPID1, pid)
	}
	return nil
}

func main() {
	if err := checkPID1(os.Getpid()); err != nil {
		fmt.Fprintln(os.Stderr, "faas-init:", err)
		os.Exit(2)
	}
	harden()
	forwards, args, err := takeForward(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "faas-init:", err)
		os.Exit(2)
	}
	clean, argv, err := parseArgs(args)
	if err != nil {
		fmt.Fprintln(os.Stderr, "faas-init:", err)
		os.Exit(2)
	}
	if len(argv) == 0 {
		fmt.Fprintln(os.Stderr, "faas-init: no command to run")
		os.Exit(2)
	}
	// The forwarders listen before init says it is ready, so that an
	// execution's first request finds them.
	for _, f := range forwards {
		ln, err := listenForward(f)
		if err != nil {
			fmt.Fprintln(os.Stderr, "faas-init:", err)
			os.Exit(1)
		}
		go serveForward(ln, f.socket)
	}
	r := newReaper()
	in := bufio.NewReaderSize(os.Stdin, 64<<10)
	if err := initproto.WriteFrame(os.Stdout, initproto.Hello{Ready: true}); err != nil {
		fmt.Fprintln(os.Stderr, "faas-init:", err)
		os.Exit(1)
	}
	for {
		var req initproto.Request
		if err := initproto.ReadHeader(in, &req); err != nil {
			if errors.Is(err, io.EOF) {
				os.Exit(0) // the worker is done with this container
			}
			fmt.Fprintln(os.Stderr, "faas-init:", err)
			os.Exit(1)
		}
		input, err := initproto.ReadSection(in, req.InputLen, maxInput)
		if err != nil {
			fmt.Fprintln(os.Stderr, "faas-init:", err)
			os.Exit(1)
		}
		resp, stdout, stderr := execute(r, argv, req, input)
		if resp.Clean {
			if err := wipe(clean); err != nil {
				fmt.Fprintln(os.Stderr, "faas-init:", err)
				resp.Clean = false
			}
		}
		if err := initproto.WriteFrame(os.Stdout, resp, stdout, stderr); err != nil {
			fmt.Fprintln(os.Stderr, "faas-init:", err)
			os.Exit(1)
		}
	}
}

// harden protects init from the function, which runs as the same user:
// not dumpable, so that it cannot be ptraced (nor its /proc files read) by
// an unprivileged process; and the signals that would end a Go program
// caught and dropped (a PID 1 with a handler gets them from its own
// namespace, and Go's default handler would exit). Caught signals, unlike
// ignored ones, are reset at exec: the function's processes get the
// default dispositions.
func harden() {
	const prSetDumpable = 4
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetDumpable, 0, 0); errno != 0 {
		fmt.Fprintln(os.Stderr, "faas-init: prctl(PR_SET_DUMPABLE):", errno)
	}
	sig := make(chan os.Signal, 8)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT,
		syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGALRM, syscall.SIGVTALRM, syscall.SIGPROF)
	go func() {
		for range sig {
		}
	}()
}

// parseArgs splits init's arguments: "--clean DIR" (repeated) names the
// writable directories emptied after each execution, and what follows
// "--" is the command to run.
func parseArgs(args []string) (clean, argv []string, err error) {
	for len(args) > 0 {
		switch {
		case args[0] == "--":
			return clean, args[1:], nil
		case args[0] == "--clean" && len(args) > 1:
			clean = append(clean, args[1])
			args = args[2:]
		default:
			return nil, nil, fmt.Errorf("unexpected argument %q (usage: faas-init [--clean DIR]... -- COMMAND...)", args[0])
		}
	}
	return nil, nil, errors.New("no command to run (usage: faas-init [--clean DIR]... -- COMMAND...)")
}

// wipe empties each directory of dirs (every process of the execution is
// gone by then), so that no file of one execution is there for the next.
func wipe(dirs []string) error {
	var errs []error
	for _, d := range dirs {
		entries, err := os.ReadDir(d)
		if err != nil {
			errs = append(errs, fmt.Errorf("wipe %s: %w", d, err))
			continue
		}
		for _, e := range entries {
			if err := os.RemoveAll(d + "/" + e.Name()); err != nil {
				errs = append(errs, fmt.Errorf("wipe %s: %w", d, err))
			}
		}
	}
	return errors.Join(errs...)
}

// execute runs one execution and cleans the container up after it.
func execute(r *reaper, argv []string, req initproto.Request, input []byte) (initproto.Response, []byte, []byte) {
	env := mergeEnv(os.Environ(), req.Env)
	began := time.Now()
	stdout := &capped{max: maxStdout, over: make(chan struct{})}
	stderr := &capped{max: maxStderr}

	pid, startErr := start(argv, env, input, stdout, stderr)
	if startErr != nil {
		code := startExitCode(startErr)
		msg := []byte("container failed to start: " + startErr.Error() + "\n")
		return initproto.Response{ExitCode: code, StderrLen: len(msg), Clean: cleanup(r), RunNanos: int64(time.Since(began))}, nil, msg
	}

	var timeout <-chan time.Time
	if req.TimeoutMillis > 0 {
		t := time.NewTimer(time.Duration(req.TimeoutMillis) * time.Millisecond)
		defer t.Stop()
		timeout = t.C
	}
	exited := r.wait(pid)
	var resp initproto.Response
	var status syscall.WaitStatus
	select {
	case status = <-exited:
	case <-timeout:
		resp.TimedOut = true
		killAll()
		status = <-exited
	case <-stdout.over:
		killAll()
		status = <-exited
	}
	resp.ExitCode, resp.Signaled = exitCode(status)
	resp.RunNanos = int64(time.Since(began))
	resp.Clean = cleanup(r)
	// Every writer is gone: the pipes end now.
	stdout.wait(drainGrace)
	stderr.wait(drainGrace)
	so, overflow := stdout.result()
	se, truncated := stderr.result()
	resp.StdoutOverflow, resp.StderrTruncated = overflow, truncated
	resp.StdoutLen, resp.StderrLen = len(so), len(se)
	r.forget()
	return resp, so, se
}

// start starts argv with env, input on its stdin then end of input, and
// its stdout and stderr copied into the two capped buffers.
func start(argv, env []string, input []byte, stdout, stderr *capped) (int, error) {
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return 0, fmt.Errorf("exec: %q: %w", argv[0], unwrapExec(err))
	}
	inR, inW, err := os.Pipe()
	if err != nil {
		return 0, fmt.Errorf("stdin pipe: %w", err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return 0, fmt.Errorf("stdout pipe: %w", err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		outR.Close()
		outW.Close()
		return 0, fmt.Errorf("stderr pipe: %w", err)
	}
	p, err := os.StartProcess(path, argv, &os.ProcAttr{
		Env:   env,
		Files: []*os.File{inR, outW, errW},
		Sys:   &syscall.SysProcAttr{Setpgid: true},
	})
	// Only the child keeps these ends.
	inR.Close()
	outW.Close()
	errW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		errR.Close()
		return 0, fmt.Errorf("exec: %q: %w", argv[0], unwrapExec(err))
	}
	go func() {
		if len(input) > 0 {
			_, _ = inW.Write(input) // EPIPE: it exited without reading
		}
		inW.Close()
	}()
	stdout.copyFrom(outR)
	stderr.copyFrom(errR)
	pid := p.Pid
	_ = p.Release() // the reaper waits for it
	return pid, nil
}

func unwrapExec(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var ee *exec.Error
	if errors.As(err, &ee) {
		return ee.Err
	}
	return err
}

// startExitCode is what a shell answers for a command it cannot start:
// 127 not found, 126 not executable.
func startExitCode(err error) int {
	switch {
	case errors.Is(err, fs.ErrPermission), errors.Is(err, syscall.EACCES), errors.Is(err, syscall.ENOEXEC), errors.Is(err, syscall.EISDIR):
		return 126
	case errors.Is(err, exec.ErrNotFound), errors.Is(err, fs.ErrNotExist):
		return 127
	}
	msg := err.Error()
	if strings.Contains(msg, "permission denied") || strings.Contains(msg, "is a directory") {
		return 126
	}
	return 127
}

// exitCode is the process's exit status as Docker reports it: its code,
// or 128+signal when a signal ended it.
func exitCode(ws syscall.WaitStatus) (int, bool) {
	if ws.Signaled() {
		return 128 + int(ws.Signal()), true
	}
	return ws.ExitStatus(), false
}

// mergeEnv is base with over's variables replacing or added.
func mergeEnv(base, over []string) []string {
	idx := make(map[string]int, len(base)+len(over))
	out := make([]string, 0, len(base)+len(over))
	for _, kv := range append(append([]string(nil), base...), over...) {
		k, _, _ := strings.Cut(kv, "=")
		if i, ok := idx[k]; ok {
			out[i] = kv
			continue
		}
		idx[k] = len(out)
		out = append(out, kv)
	}
	return out
}

// killAll sends SIGKILL to every process of the container but init itself
// and returns how many there were (zombies included). It does nothing
// unless init is PID 1 (checked again here: see errNotPID1).
func killAll() int {
	if checkPID1(os.Getpid()) != nil {
		return 0
	}
	n := 0
	for _, pid := range otherPids() {
		n++
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	return n
}

// otherPids lists the processes of the container's PID namespace except
// init, from /proc.
func otherPids() []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := os.Getpid()
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		pids = append(pids, pid)
	}
	return pids
}

// cleanup kills every process left and waits until all are reaped; false
// when one is still there after cleanupGrace.
func cleanup(r *reaper) bool {
	deadline := time.Now().Add(cleanupGrace)
	for delay := 100 * time.Microsecond; ; delay = min(2*delay, 20*time.Millisecond) {
		r.reapNow()
		if killAll() == 0 {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(delay) // the kernel delivers the kills and SIGCHLD
	}
}

// reaper waits for every child of init (its own and the orphans the
// kernel hands to PID 1) and gives the exit status of the awaited ones.
type reaper struct {
	mu      sync.Mutex
	exits   map[int]syscall.WaitStatus
	waiters map[int]chan syscall.WaitStatus
}

func newReaper() *reaper {
	r := &reaper{exits: map[int]syscall.WaitStatus{}, waiters: map[int]chan syscall.WaitStatus{}}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGCHLD)
	go func() {
		for range sig {
			r.reapNow()
		}
	}()
	return r
}

// reapNow collects every child that has ended.
func (r *reaper) reapNow() {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
		r.mu.Lock()
		if c, ok := r.waiters[pid]; ok {
			delete(r.waiters, pid)
			c <- ws
		} else {
			r.exits[pid] = ws
		}
		r.mu.Unlock()
	}
}

// wait returns a channel that gets pid's exit status.
func (r *reaper) wait(pid int) <-chan syscall.WaitStatus {
	c := make(chan syscall.WaitStatus, 1)
	r.mu.Lock()
	defer r.mu.Unlock()
	if ws, ok := r.exits[pid]; ok {
		delete(r.exits, pid)
		c <- ws
		return c
	}
	r.waiters[pid] = c
	go r.reapNow() // it may have ended before the waiter was there
	return c
}

// forget drops the statuses of the execution's orphans.
func (r *reaper) forget() {
	r.mu.Lock()
	defer r.mu.Unlock()
	clear(r.exits)
	clear(r.waiters)
}

// capped keeps the first max bytes read from a pipe and counts the rest,
// which it discards: the function is never blocked on a full pipe.
type capped struct {
	mu    sync.Mutex
	buf   []byte
	max   int
	total int64
	over  chan struct{} // closed once more than max bytes came, when set
	done  chan struct{}
}

func (c *capped) copyFrom(f *os.File) {
	c.done = make(chan struct{})
	go func() {
		defer close(c.done)
		defer f.Close()
		b := make([]byte, 32<<10)
		for {
			n, err := f.Read(b)
			if n > 0 {
				c.write(b[:n])
			}
			if err != nil {
				return
			}
		}
	}()
}

func (c *capped) write(p []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	before := c.total
	c.total += int64(len(p))
	if c.over != nil && before <= int64(c.max) && c.total > int64(c.max) {
		close(c.over)
	}
	if room := c.max - len(c.buf); room > 0 {
		c.buf = append(c.buf, p[:min(room, len(p))]...)
	}
}

// wait waits up to d for the pipe's end.
func (c *capped) wait(d time.Duration) {
	if c.done == nil {
		return
	}
	select {
	case <-c.done:
	case <-time.After(d):
	}
}

func (c *capped) result() ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]byte(nil), c.buf...), c.total > int64(c.max)
}
