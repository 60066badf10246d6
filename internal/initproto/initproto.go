// Package initproto is the protocol between a worker and faas-init, the
// PID 1 of a warm container, over the container's attached stdin and
// stdout. Every message is a frame: a 4-byte big-endian length, that many
// bytes of a JSON header, then the raw byte sections the header announces
// (the input of a Request; the stdout then the stderr of a Response). One
// execution at a time: the worker sends a Request and reads its Response
// before it sends the next. Stdlib only, so that faas-init stays small and
// static.
package initproto

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// MaxHeader bounds a frame's JSON header: a larger length is a broken
// stream, not a message.
const MaxHeader = 1 << 20

// Hello is init's first frame: it runs and waits for requests.
type Hello struct {
	Ready bool `json:"ready"`
}

// Request asks init for one execution.
type Request struct {
	// Env is the execution's whole environment as KEY=VALUE; init adds it
	// over its own (the image's and the function's variables).
	Env []string `json:"env"`
	// TimeoutMillis kills the execution's processes after that long (0:
	// none).
	TimeoutMillis int64 `json:"timeout_ms"`
	// InputLen bytes of standard input follow the header.
	InputLen int `json:"input_len"`
}

// Response is what one execution produced; StdoutLen then StderrLen bytes
// follow the header.
type Response struct {
	ExitCode        int   `json:"exit_code"`
	StdoutLen       int   `json:"stdout_len"`
	StderrLen       int   `json:"stderr_len"`
	StdoutOverflow  bool  `json:"stdout_overflow"`
	StderrTruncated bool  `json:"stderr_truncated"`
	TimedOut        bool  `json:"timed_out"`
	Signaled        bool  `json:"signaled"` // ended by a signal (ExitCode is 128+signal)
	RunNanos        int64 `json:"run_ns"`
	// Clean: every process the execution started is gone. False means
	// one survived SIGKILL: the container must not serve again.
	Clean bool `json:"clean"`
}

// WriteFrame writes header and the sections as one frame, in one Write.
func WriteFrame(w io.Writer, header any, sections ...[]byte) error {
	h, err := json.Marshal(header)
	if err != nil {
		return fmt.Errorf("initproto: encode header: %w", err)
	}
	n := 4 + len(h)
	for _, s := range sections {
		n += len(s)
	}
	buf := make([]byte, 4, n)
	binary.BigEndian.PutUint32(buf, uint32(len(h)))
	buf = append(buf, h...)
	for _, s := range sections {
		buf = append(buf, s...)
	}
	if _, err := w.Write(buf); err != nil {
		return fmt.Errorf("initproto: write frame: %w", err)
	}
	return nil
}

// ErrBadFrame is a stream that does not carry frames.
var ErrBadFrame = errors.New("initproto: malformed frame")

// ReadHeader reads a frame's header into v; the caller then reads the
// sections the header announces (ReadSection). A stream that ended between
// frames is io.EOF.
func ReadHeader(r io.Reader, v any) error {
	var l [4]byte
	if _, err := io.ReadFull(r, l[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("initproto: read frame length: %w", err)
		}
		return err
	}
	n := binary.BigEndian.Uint32(l[:])
	if n == 0 || n > MaxHeader {
		return fmt.Errorf("%w: header of %d bytes", ErrBadFrame, n)
	}
	h := make([]byte, n)
	if _, err := io.ReadFull(r, h); err != nil {
		return fmt.Errorf("initproto: read header: %w", err)
	}
	if err := json.Unmarshal(h, v); err != nil {
		return fmt.Errorf("%w: %w", ErrBadFrame, err)
	}
	return nil
}

// ReadSection reads a section of n bytes (at most limit, else ErrBadFrame).
func ReadSection(r io.Reader, n, limit int) ([]byte, error) {
	if n < 0 || n > limit {
		return nil, fmt.Errorf("%w: section of %d bytes (limit %d)", ErrBadFrame, n, limit)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("initproto: read section: %w", err)
	}
	return b, nil
}
