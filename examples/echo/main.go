// Command echo is an example function of the platform (contract §4): it reads
// its input from standard input up to the end, and writes to standard output
//
//	{"echo": <input>, "length": <bytes>, "execution_id": "<FAAS_EXECUTION_ID>"}
//
// where <input> is the input itself when it is JSON, a string otherwise. It
// logs one line to standard error. Input "fail" makes it exit 1, to show a
// failed execution.
//
// `make examples` builds the image faas-examples/echo:latest without a
// registry: the binary static on the host, then copied into an image FROM
// scratch (see Dockerfile):
//
//	CGO_ENABLED=0 go build -o examples/echo/echo ./examples/echo
//	docker build -t faas-examples/echo:latest examples/echo
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
)

// reply is what the function writes.
type reply struct {
	Echo        any    `json:"echo"`
	Length      int    `json:"length"`
	ExecutionID string `json:"execution_id,omitempty"`
}

func main() {
	os.Exit(run(os.Stdin, os.Stdout, os.Stderr, os.Getenv("FAAS_EXECUTION_ID")))
}

// run is the function: input from in, output to out, logs to logs; it
// returns the exit status.
func run(in io.Reader, out, logs io.Writer, executionID string) int {
	input, err := io.ReadAll(in)
	if err != nil {
		fmt.Fprintf(logs, "echo: read input: %v\n", err)
		return 1
	}
	if string(bytes.TrimSpace(input)) == "fail" {
		fmt.Fprintln(logs, "echo: asked to fail")
		return 1
	}
	body, err := json.Marshal(echo(input, executionID))
	if err != nil {
		fmt.Fprintf(logs, "echo: encode: %v\n", err)
		return 1
	}
	if _, err := fmt.Fprintf(out, "%s\n", body); err != nil {
		fmt.Fprintf(logs, "echo: write output: %v\n", err)
		return 1
	}
	fmt.Fprintf(logs, "echo: %d bytes echoed\n", len(input))
	return 0
}

// echo builds the reply to input: JSON input is embedded as is, anything else
// as a string.
func echo(input []byte, executionID string) reply {
	r := reply{Echo: string(input), Length: len(input), ExecutionID: executionID}
	if trimmed := bytes.TrimSpace(input); len(trimmed) > 0 && json.Valid(trimmed) {
		r.Echo = json.RawMessage(trimmed)
	}
	return r
}
