package autoscaler

import (
	"os/exec"
	"syscall"
)

// setParentDeathSignal makes the kernel send the worker SIGTERM (it drains
// and exits) when its parent dies, even by SIGKILL, so that no worker
// outlives `faas up` and rejoins the next one untracked. The worker stays in
// its parent's process group (no Setpgid): a terminal's Ctrl-C reaches it too.
func setParentDeathSignal(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGTERM
}
