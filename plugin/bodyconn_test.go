package plugin

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	pkgHTTP "github.com/apache/apisix-go-plugin-runner/pkg/http"
	ei "github.com/api7/ext-plugin-proto/go/A6/ExtraInfo"

	"github.com/faasplatform/faas/apisix/apisixtest"
)

// requestWithConn mimics the runner's request type: a private conn field.
type requestWithConn struct {
	pkgHTTP.Request
	conn net.Conn
}

type requestWithOtherConn struct {
	pkgHTTP.Request
	conn io.Reader
}

func TestRunnerConn(t *testing.T) {
	c1, c2 := net.Pipe()
	defer c1.Close()
	defer c2.Close()
	cases := []struct {
		name string
		r    pkgHTTP.Request
		want net.Conn
	}{
		{"private conn field", &requestWithConn{conn: c1}, c1},
		{"nil conn", &requestWithConn{}, nil},
		{"conn of another type", &requestWithOtherConn{conn: c1}, nil},
		{"not a pointer to a struct", requestWithConn{conn: c1}, nil},
		{"nil request", (*requestWithConn)(nil), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := runnerConn(tc.r); got != tc.want {
				t.Fatalf("runnerConn = %v, want %v", got, tc.want)
			}
		})
	}
}

// apisixSide reads the plugin's ExtraInfo request and answers it with
// answer, written in pieces with pauses, as a busy socket delivers it.
func apisixSide(t *testing.T, c net.Conn, ty byte, answer []byte, pieces int) {
	t.Helper()
	var hdr [4]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		t.Errorf("read request header: %v", err)
		return
	}
	if hdr[0] != 3 {
		t.Errorf("request frame type %d, want 3", hdr[0])
	}
	hdr[0] = 0
	req := make([]byte, binary.BigEndian.Uint32(hdr[:]))
	if _, err := io.ReadFull(c, req); err != nil {
		t.Errorf("read request: %v", err)
		return
	}
	if it := ei.GetRootAsReq(req, 0).InfoType(); it != ei.InfoReqBody {
		t.Errorf("info type %v, want ReqBody", it)
	}
	frame := make([]byte, 4+len(answer))
	binary.BigEndian.PutUint32(frame, uint32(len(answer)))
	frame[0] = ty
	copy(frame[4:], answer)
	step := len(frame)/pieces + 1
	for len(frame) > 0 {
		n := min(step, len(frame))
		if _, err := c.Write(frame[:n]); err != nil {
			return
		}
		frame = frame[n:]
		// Not synchronisation: spaces the pieces so that they usually
		// arrive in several reads; fetchBody must take them either way.
		time.Sleep(2 * time.Millisecond)
	}
}

func TestFetchBody(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 300<<10/16) // 300 KiB: over the runner's single read
	cases := []struct {
		name    string
		ty      byte
		answer  []byte
		pieces  int
		want    []byte
		wantErr string
	}{
		{"body in many pieces", 3, apisixtest.ExtraInfoAnswer(big), 9, big, ""},
		{"small body", 3, apisixtest.ExtraInfoAnswer([]byte(`{"a":1}`)), 1, []byte(`{"a":1}`), ""},
		{"no body", 3, apisixtest.ExtraInfoAnswer(nil), 1, nil, ""},
		{"wrong frame type", 2, apisixtest.ExtraInfoAnswer([]byte("x")), 1, nil, "frame type 2"},
		{"malformed answer", 3, []byte{1, 2}, 1, nil, "malformed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			plug, apisix := net.Pipe()
			defer plug.Close()
			defer apisix.Close()
			go apisixSide(t, apisix, tc.ty, tc.answer, tc.pieces)
			got, err := fetchBody(context.Background(), plug)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("fetchBody error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tc.want) {
				t.Fatalf("fetchBody returned %d bytes, want %d", len(got), len(tc.want))
			}
		})
	}
}

func TestFetchBodyFailures(t *testing.T) {
	t.Run("connection closed mid-answer", func(t *testing.T) {
		plug, apisix := net.Pipe()
		defer plug.Close()
		go func() {
			var hdr [4]byte
			_, _ = io.ReadFull(apisix, hdr[:])
			hdr[0] = 0
			_, _ = io.ReadFull(apisix, make([]byte, binary.BigEndian.Uint32(hdr[:])))
			_, _ = apisix.Write([]byte{3, 0, 1, 0, 'x'}) // announces 256 bytes, sends 1
			_ = apisix.Close()
		}()
		if _, err := fetchBody(context.Background(), plug); err == nil {
			t.Fatal("fetchBody succeeded on a truncated answer")
		}
	})
	t.Run("deadline", func(t *testing.T) {
		plug, apisix := net.Pipe()
		defer plug.Close()
		defer apisix.Close()
		go func() { _, _ = io.Copy(io.Discard, apisix) }() // never answers
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		start := time.Now()
		if _, err := fetchBody(ctx, plug); err == nil {
			t.Fatal("fetchBody succeeded without an answer")
		}
		if time.Since(start) > 10*time.Second { // generous: the deadline is 50 ms
			t.Fatal("fetchBody ignored the deadline")
		}
	})
}
