// Command usage is a test function: input "mem" holds ~40 MiB of touched
// memory for a moment, "cpu" spins until it has used one second of CPU
// (its own, from getrusage), however loaded the machine is.
package main

import (
	"fmt"
	"io"
	"os"
	"syscall"
	"time"
)

// cpuTime is the CPU time the process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return time.Hour // cannot tell: stop
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

var sink []byte

func main() {
	in, _ := io.ReadAll(os.Stdin)
	switch string(in) {
	case "mem":
		sink = make([]byte, 40<<20)
		for i := range sink {
			sink[i] = byte(i)
		}
		time.Sleep(300 * time.Millisecond)
	case "cpu":
		n := 0
		for cpuTime() < time.Second {
			for range 100000 {
				n++
			}
		}
		fmt.Fprintln(os.Stderr, n)
	}
	fmt.Println(`{"ok":true}`)
}
