//go:build !linux

package autoscaler

import "os/exec"

// setParentDeathSignal: only Linux has a parent death signal.
func setParentDeathSignal(*exec.Cmd) {}
