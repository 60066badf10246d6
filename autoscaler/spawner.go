package autoscaler

import (
	"os/exec"
	"runtime"
	"sync"
)

// Workers are started from one goroutine locked to its OS thread for the life
// of the process. The parent death signal (Linux PR_SET_PDEATHSIG, set by
// setParentDeathSignal) fires when the *thread* that forked the child exits,
// not when the process does. The Go runtime ends a thread when a goroutine
// locked to it returns without unlocking, and a Scale call may run on any
// thread, including one locked by code that is about to return; a worker
// started there would get SIGTERM for no reason. This thread never exits
// (its goroutine never returns), so the signal comes only when the whole
// parent process dies: workers die with `faas up`, never before.
type spawnRequest struct {
	cmd  *exec.Cmd
	done chan error
}

var (
	spawnOnce     sync.Once
	spawnRequests chan spawnRequest
)

func startOnSpawnerThread(cmd *exec.Cmd) error {
	spawnOnce.Do(func() {
		spawnRequests = make(chan spawnRequest)
		go spawnLoop(spawnRequests)
	})
	req := spawnRequest{cmd: cmd, done: make(chan error, 1)}
	spawnRequests <- req
	return <-req.done
}

func spawnLoop(reqs <-chan spawnRequest) {
	runtime.LockOSThread() // never unlocked, and this never returns: see above
	for req := range reqs {
		req.done <- req.cmd.Start()
	}
}
