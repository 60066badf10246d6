package plugin

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"reflect"
	"time"
	"unsafe"

	pkgHTTP "github.com/apache/apisix-go-plugin-runner/pkg/http"
	ei "github.com/api7/ext-plugin-proto/go/A6/ExtraInfo"
	flatbuffers "github.com/google/flatbuffers/go"
)

// Why the plugin fetches the body itself
//
// Runner v0.5.0 asks APISIX for the body (Request.Body) with an ExtraInfo
// frame and reads the answer with ONE conn.Read. A Unix stream socket hands a
// reader whatever is queued at that moment: the socket buffer caps it near
// 214 KiB, and, measured here, a read that wakes while APISIX is still
// writing gets only the first 36,540-byte chunk (or two, three...). About 1
// call in 1,000 with a 150 KiB body broke that way, at any concurrency. The
// runner then reports the connection closed and leaves the rest of the frame
// in the socket, where it would be read as the next frame.
//
// So the plugin sends the same ExtraInfo ReqBody request itself, on the
// runner's connection to APISIX, and reads the answer with io.ReadFull. The
// runner does not touch the connection while a plugin runs (it serves one
// call at a time per connection), so the exchange is the one the runner would
// have made, only read completely. The connection is a private field of the
// runner's request type, reached with reflect; runnerConn checks the field's
// name and type and returns nil if they ever change, and the plugin then
// falls back to Request.Body.
//
// Bodies are kept under the single-read limit anyway, as a second line of
// defence: apisix/config.yaml sets nginx's client_max_body_size to 200k
// (DefaultMaxBodyBytes, below the ~214 KiB a single read can carry), so
// neither this read nor the runner's fallback ever gets a larger body frame.

var netConnType = reflect.TypeOf((*net.Conn)(nil)).Elem()

// runnerConn returns the runner's connection to APISIX behind r, or nil.
func runnerConn(r pkgHTTP.Request) net.Conn {
	v := reflect.ValueOf(r)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return nil
	}
	f := v.Elem().FieldByName("conn")
	if !f.IsValid() || f.Type() != netConnType || !f.CanAddr() {
		return nil
	}
	conn, _ := reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem().Interface().(net.Conn)
	return conn
}

// frameTypeExtraInfo is the ext-plugin protocol's frame type 3.
const frameTypeExtraInfo = 3

// fetchBody asks APISIX for the request body on conn and reads the whole
// answer. Any error leaves the connection's framing unknown: the caller must
// make the runner close it. The exchange ends by the context's deadline.
func fetchBody(ctx context.Context, conn net.Conn) ([]byte, error) {
	b := flatbuffers.NewBuilder(64)
	ei.ReqBodyStart(b)
	info := ei.ReqBodyEnd(b)
	ei.ReqStart(b)
	ei.ReqAddInfoType(b, ei.InfoReqBody)
	ei.ReqAddInfo(b, info)
	b.Finish(ei.ReqEnd(b))
	payload := b.FinishedBytes()

	frame := make([]byte, 4+len(payload))
	binary.BigEndian.PutUint32(frame, uint32(len(payload)))
	frame[0] = frameTypeExtraInfo
	copy(frame[4:], payload)

	if dl, ok := ctx.Deadline(); ok {
		if err := conn.SetDeadline(dl); err != nil {
			return nil, fmt.Errorf("set deadline: %w", err)
		}
		defer func() { _ = conn.SetDeadline(time.Time{}) }()
	}
	if _, err := conn.Write(frame); err != nil {
		return nil, fmt.Errorf("send ExtraInfo ReqBody: %w", err)
	}
	var hdr [4]byte
	if _, err := io.ReadFull(conn, hdr[:]); err != nil {
		return nil, fmt.Errorf("read ExtraInfo answer header: %w", err)
	}
	if hdr[0] != frameTypeExtraInfo {
		return nil, fmt.Errorf("APISIX answered the body request with frame type %d, want %d", hdr[0], frameTypeExtraInfo)
	}
	hdr[0] = 0
	answer := make([]byte, binary.BigEndian.Uint32(hdr[:]))
	if _, err := io.ReadFull(conn, answer); err != nil {
		return nil, fmt.Errorf("read ExtraInfo answer (%d bytes): %w", len(answer), err)
	}
	return decodeBody(answer)
}

func decodeBody(answer []byte) (body []byte, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("malformed ExtraInfo answer: %v", v)
		}
	}()
	if len(answer) < 4 {
		return nil, errors.New("malformed ExtraInfo answer: too short")
	}
	return ei.GetRootAsResp(answer, 0).ResultBytes(), nil
}
