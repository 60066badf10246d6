package apisixtest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	A6 "github.com/api7/ext-plugin-proto/go/A6"
	A6Err "github.com/api7/ext-plugin-proto/go/A6/Err"
	ei "github.com/api7/ext-plugin-proto/go/A6/ExtraInfo"
	hrc "github.com/api7/ext-plugin-proto/go/A6/HTTPReqCall"
	pc "github.com/api7/ext-plugin-proto/go/A6/PrepareConf"
	flatbuffers "github.com/google/flatbuffers/go"
)

// Frame types of the ext-plugin protocol (byte 0 of a frame's header).
const (
	RPCError        byte = 0
	RPCPrepareConf  byte = 1
	RPCHTTPReqCall  byte = 2
	RPCExtraInfo    byte = 3
	RPCHTTPRespCall byte = 4
)

// MaxFrameSize is the largest payload a 3-byte length can frame.
const MaxFrameSize = 1<<24 - 1

// errConfTokenNotFound is the runner's CONF_TOKEN_NOT_FOUND: APISIX prepares
// the conf again and retries.
var errConfTokenNotFound = errors.New("conf token not found")

// runnerError is a type-0 answer other than CONF_TOKEN_NOT_FOUND.
type runnerError struct{ Code A6Err.Code }

func (e *runnerError) Error() string {
	switch e.Code {
	case A6Err.CodeBAD_REQUEST:
		return "bad request"
	case A6Err.CodeSERVICE_UNAVAILABLE:
		return "service unavailable"
	}
	return fmt.Sprintf("unknown err %d", e.Code)
}

// rpcConn is one connection to the runner, used for one call at a time.
type rpcConn struct {
	net.Conn
	lastUsed time.Time
}

// send writes one frame (header and payload in one write, as APISIX's
// cosocket send of {hdr, data} does) within the send timeout.
func (c *rpcConn) send(ty byte, payload []byte, timeout time.Duration) error {
	if len(payload) > MaxFrameSize {
		return fmt.Errorf("the max length of data is %d but got %d", MaxFrameSize, len(payload))
	}
	frame := make([]byte, 4+len(payload))
	binary.BigEndian.PutUint32(frame, uint32(len(payload)))
	frame[0] = ty
	copy(frame[4:], payload)
	if err := c.SetWriteDeadline(time.Now().Add(timeout)); err != nil {
		return fmt.Errorf("set send timeout: %w", err)
	}
	if _, err := c.Write(frame); err != nil {
		return fmt.Errorf("send frame type %d: %w", ty, err)
	}
	return nil
}

// receive reads one frame within the read timeout. A type-0 frame is turned
// into an error, as APISIX's receive does.
func (c *rpcConn) receive(timeout time.Duration) (byte, []byte, error) {
	if err := c.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return 0, nil, fmt.Errorf("set read timeout: %w", err)
	}
	var hdr [4]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		return 0, nil, fmt.Errorf("receive header: %w", err)
	}
	ty := hdr[0]
	hdr[0] = 0
	n := binary.BigEndian.Uint32(hdr[:])
	payload := make([]byte, n)
	if _, err := io.ReadFull(c, payload); err != nil {
		return 0, nil, fmt.Errorf("receive %d bytes of type %d: %w", n, ty, err)
	}
	if ty == RPCError {
		code, err := decodeErr(payload)
		if err != nil {
			return 0, nil, err
		}
		if code == A6Err.CodeCONF_TOKEN_NOT_FOUND {
			return 0, nil, errConfTokenNotFound
		}
		return 0, nil, &runnerError{Code: code}
	}
	return ty, payload, nil
}

// alive reports whether an idle connection can be reused: nginx closes a
// pooled connection as soon as it becomes readable (data or EOF), so a
// connection whose runner went away is never reused.
func (c *rpcConn) alive() bool {
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	alive := false
	var buf [1]byte
	err = rc.Read(func(fd uintptr) bool {
		// Peek without blocking: no data and no EOF means "idle and open".
		_, _, rerr := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		alive = errors.Is(rerr, syscall.EAGAIN)
		return true
	})
	return err == nil && alive
}

func decodeErr(payload []byte) (code A6Err.Code, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("malformed error frame: %v", v)
		}
	}()
	return A6Err.GetRootAsResp(payload, 0).Code(), nil
}

// buildPrepareConf builds a PrepareConf request.
func buildPrepareConf(key string, conf []ConfEntry) []byte {
	b := flatbuffers.NewBuilder(256)
	keyOff := b.CreateString(key)
	entries := make([]flatbuffers.UOffsetT, len(conf))
	for i, c := range conf {
		entries[i] = textEntry(b, c.Name, c.Value, true)
	}
	pc.ReqStartConfVector(b, len(entries))
	for i := len(entries) - 1; i >= 0; i-- {
		b.PrependUOffsetT(entries[i])
	}
	vec := b.EndVector(len(entries))
	pc.ReqStart(b)
	pc.ReqAddKey(b, keyOff)
	pc.ReqAddConf(b, vec)
	b.Finish(pc.ReqEnd(b))
	return b.FinishedBytes()
}

func decodePrepareConf(payload []byte) (token uint32, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("malformed PrepareConf answer: %v", v)
		}
	}()
	return pc.GetRootAsResp(payload, 0).ConfToken(), nil
}

// kv is a name with an optional value (a query argument without "=" has none).
type kv struct {
	name     string
	value    string
	hasValue bool
}

// reqCall is what APISIX puts in an HTTPReqCall.
type reqCall struct {
	id      uint32
	token   uint32
	srcIP   []byte
	method  A6.Method
	path    string
	args    []kv
	headers []kv
}

func textEntry(b *flatbuffers.Builder, name, value string, hasValue bool) flatbuffers.UOffsetT {
	n := b.CreateString(name)
	var v flatbuffers.UOffsetT
	if hasValue {
		v = b.CreateString(value)
	}
	A6.TextEntryStart(b)
	A6.TextEntryAddName(b, n)
	if hasValue {
		A6.TextEntryAddValue(b, v)
	}
	return A6.TextEntryEnd(b)
}

func textVector(b *flatbuffers.Builder, items []kv, start func(*flatbuffers.Builder, int) flatbuffers.UOffsetT) flatbuffers.UOffsetT {
	offs := make([]flatbuffers.UOffsetT, len(items))
	for i, it := range items {
		offs[i] = textEntry(b, it.name, it.value, it.hasValue)
	}
	start(b, len(offs))
	for i := len(offs) - 1; i >= 0; i-- {
		b.PrependUOffsetT(offs[i])
	}
	return b.EndVector(len(offs))
}

func (rc *reqCall) build() []byte {
	b := flatbuffers.NewBuilder(1024)
	path := b.CreateString(rc.path)
	src := b.CreateByteVector(rc.srcIP)
	args := textVector(b, rc.args, hrc.ReqStartArgsVector)
	hdrs := textVector(b, rc.headers, hrc.ReqStartHeadersVector)
	hrc.ReqStart(b)
	hrc.ReqAddId(b, rc.id)
	hrc.ReqAddConfToken(b, rc.token)
	hrc.ReqAddSrcIp(b, src)
	hrc.ReqAddPath(b, path)
	hrc.ReqAddArgs(b, args)
	hrc.ReqAddHeaders(b, hdrs)
	hrc.ReqAddMethod(b, rc.method)
	b.Finish(hrc.ReqEnd(b))
	return b.FinishedBytes()
}

// extraInfo is a decoded ExtraInfo request from the runner.
type extraInfo struct {
	kind ei.Info
	name string // for ei.InfoVar
}

func decodeExtraInfo(payload []byte) (x extraInfo, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("malformed ExtraInfo request: %v", v)
		}
	}()
	req := ei.GetRootAsReq(payload, 0)
	x.kind = req.InfoType()
	if x.kind == ei.InfoVar {
		var t flatbuffers.Table
		if !req.Info(&t) {
			return x, errors.New("ExtraInfo Var without info")
		}
		v := new(ei.Var)
		v.Init(t.Bytes, t.Pos)
		x.name = string(v.Name())
	}
	return x, nil
}

// ExtraInfoAnswer is APISIX's answer to an ExtraInfo request (the payload of
// a type-3 frame); a nil result (an unset variable, no body) leaves the
// result out, as APISIX does. Tests of the runner side build frames with it.
func ExtraInfoAnswer(result []byte) []byte {
	b := flatbuffers.NewBuilder(len(result) + 64)
	var off flatbuffers.UOffsetT
	if result != nil {
		off = b.CreateByteVector(result)
	}
	ei.RespStart(b)
	if result != nil {
		ei.RespAddResult(b, off)
	}
	b.Finish(ei.RespEnd(b))
	return b.FinishedBytes()
}

// callResult is a decoded HTTPReqCall answer.
type callResult struct {
	action  hrc.Action
	status  int  // Stop
	headers []kv // Stop headers, or Rewrite request headers
	body    []byte
	// Rewrite
	path        string
	hasPath     bool
	args        []kv
	respHeaders []kv
}

func entries(n int, get func(*A6.TextEntry, int) bool) []kv {
	out := make([]kv, 0, n)
	var te A6.TextEntry
	for i := 0; i < n; i++ {
		if get(&te, i) {
			v := te.Value()
			out = append(out, kv{name: string(te.Name()), value: string(v), hasValue: v != nil})
		}
	}
	return out
}

func decodeCallResp(payload []byte) (res callResult, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("malformed HTTPReqCall answer: %v", v)
		}
	}()
	resp := hrc.GetRootAsResp(payload, 0)
	res.action = resp.ActionType()
	var t flatbuffers.Table
	switch res.action {
	case hrc.ActionStop:
		if !resp.Action(&t) {
			return res, errors.New("Stop without action table")
		}
		s := new(hrc.Stop)
		s.Init(t.Bytes, t.Pos)
		res.status = int(s.Status())
		res.headers = entries(s.HeadersLength(), s.Headers)
		if s.BodyLength() > 0 {
			res.body = append([]byte(nil), s.BodyBytes()...)
		}
	case hrc.ActionRewrite:
		if !resp.Action(&t) {
			return res, errors.New("Rewrite without action table")
		}
		rw := new(hrc.Rewrite)
		rw.Init(t.Bytes, t.Pos)
		if p := rw.Path(); p != nil {
			res.path, res.hasPath = string(p), true
		}
		res.headers = entries(rw.HeadersLength(), rw.Headers)
		res.args = entries(rw.ArgsLength(), rw.Args)
		res.respHeaders = entries(rw.RespHeadersLength(), rw.RespHeaders)
	}
	return res, nil
}
