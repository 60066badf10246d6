// Command usage is a test function: input "mem" holds ~40 MiB of touched
// memory for a moment, "cpu" spins for one second.
package main

import (
	"fmt"
	"io"
	"os"
	"time"
)

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
		end := time.Now().Add(time.Second)
		n := 0
		for time.Now().Before(end) {
			n++
		}
		fmt.Fprintln(os.Stderr, n)
	}
	fmt.Println(`{"ok":true}`)
}
