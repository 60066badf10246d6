package apisixtest

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"

	A6Err "github.com/api7/ext-plugin-proto/go/A6/Err"
	ei "github.com/api7/ext-plugin-proto/go/A6/ExtraInfo"
	hrc "github.com/api7/ext-plugin-proto/go/A6/HTTPReqCall"
	pc "github.com/api7/ext-plugin-proto/go/A6/PrepareConf"
	flatbuffers "github.com/google/flatbuffers/go"
)

// fakeRunner is a scriptable runner for the emulator's own tests: it reads
// frames completely and answers as the test says.
type fakeRunner struct {
	t    *testing.T
	path string
	ln   net.Listener

	mu       sync.Mutex
	prepares []preparedConf
	calls    []reqCall
	token    uint32
	conns    int
	// onCall answers an HTTPReqCall; nil answers an empty Stop (200).
	onCall func(fc *fakeConn, call reqCall)
}

type preparedConf struct {
	key  string
	conf []kv
}

func startFakeRunner(t *testing.T) *fakeRunner {
	t.Helper()
	dir, err := os.MkdirTemp("", "fake-runner-")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeRunner{t: t, path: filepath.Join(dir, "r.sock")}
	f.ln, err = net.Listen("unix", f.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = f.ln.Close()
		_ = os.RemoveAll(dir)
	})
	go f.serve()
	return f
}

func (f *fakeRunner) serve() {
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.mu.Lock()
		f.conns++
		f.mu.Unlock()
		go f.handle(&fakeConn{Conn: c})
	}
}

func (f *fakeRunner) setOnCall(fn func(fc *fakeConn, call reqCall)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.onCall = fn
}

func (f *fakeRunner) seen() ([]preparedConf, []reqCall, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]preparedConf(nil), f.prepares...), append([]reqCall(nil), f.calls...), f.conns
}

func (f *fakeRunner) handle(fc *fakeConn) {
	defer fc.Close()
	for {
		ty, payload, err := fc.read()
		if err != nil {
			return
		}
		switch ty {
		case RPCPrepareConf:
			req := pc.GetRootAsReq(payload, 0)
			p := preparedConf{key: string(req.Key()), conf: entries(req.ConfLength(), req.Conf)}
			f.mu.Lock()
			f.prepares = append(f.prepares, p)
			f.token++
			token := f.token
			f.mu.Unlock()
			b := flatbuffers.NewBuilder(64)
			pc.RespStart(b)
			pc.RespAddConfToken(b, token)
			b.Finish(pc.RespEnd(b))
			fc.write(RPCPrepareConf, b.FinishedBytes())
		case RPCHTTPReqCall:
			req := hrc.GetRootAsReq(payload, 0)
			call := reqCall{
				id: req.Id(), token: req.ConfToken(), srcIP: append([]byte(nil), req.SrcIpBytes()...),
				method: req.Method(), path: string(req.Path()),
				args: entries(req.ArgsLength(), req.Args), headers: entries(req.HeadersLength(), req.Headers),
			}
			f.mu.Lock()
			f.calls = append(f.calls, call)
			on := f.onCall
			f.mu.Unlock()
			if on == nil {
				fc.stop(200, nil, nil)
			} else {
				on(fc, call)
			}
			if fc.closed {
				return
			}
		default:
			fc.errFrame(A6Err.CodeBAD_REQUEST)
		}
	}
}

// fakeConn is one connection of the fake runner, with answer helpers.
type fakeConn struct {
	net.Conn
	closed bool
}

func (fc *fakeConn) read() (byte, []byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(fc, hdr[:]); err != nil {
		return 0, nil, err
	}
	ty := hdr[0]
	hdr[0] = 0
	payload := make([]byte, binary.BigEndian.Uint32(hdr[:]))
	if _, err := io.ReadFull(fc, payload); err != nil {
		return 0, nil, err
	}
	return ty, payload, nil
}

func (fc *fakeConn) write(ty byte, payload []byte) {
	frame := make([]byte, 4+len(payload))
	binary.BigEndian.PutUint32(frame, uint32(len(payload)))
	frame[0] = ty
	copy(frame[4:], payload)
	_, _ = fc.Write(frame)
}

func (fc *fakeConn) close() {
	fc.closed = true
	_ = fc.Close()
}

func (fc *fakeConn) errFrame(code A6Err.Code) {
	b := flatbuffers.NewBuilder(32)
	A6Err.RespStart(b)
	A6Err.RespAddCode(b, code)
	b.Finish(A6Err.RespEnd(b))
	fc.write(RPCError, b.FinishedBytes())
}

// stop answers a Stop; a nil body leaves the field out.
func (fc *fakeConn) stop(status uint16, headers []kv, body []byte) {
	b := flatbuffers.NewBuilder(256)
	hv := textVector(b, headers, hrc.StopStartHeadersVector)
	var bv flatbuffers.UOffsetT
	if body != nil {
		bv = b.CreateByteVector(body)
	}
	hrc.StopStart(b)
	if status != 0 {
		hrc.StopAddStatus(b, status)
	}
	hrc.StopAddHeaders(b, hv)
	if body != nil {
		hrc.StopAddBody(b, bv)
	}
	stop := hrc.StopEnd(b)
	fc.answer(b, hrc.ActionStop, stop)
}

func (fc *fakeConn) rewrite(path string, headers, args []kv) {
	b := flatbuffers.NewBuilder(256)
	p := b.CreateString(path)
	hv := textVector(b, headers, hrc.RewriteStartHeadersVector)
	av := textVector(b, args, hrc.RewriteStartArgsVector)
	hrc.RewriteStart(b)
	hrc.RewriteAddPath(b, p)
	hrc.RewriteAddHeaders(b, hv)
	hrc.RewriteAddArgs(b, av)
	rw := hrc.RewriteEnd(b)
	fc.answer(b, hrc.ActionRewrite, rw)
}

// none answers without an action: the request goes on to the upstream.
func (fc *fakeConn) none() {
	b := flatbuffers.NewBuilder(32)
	hrc.RespStart(b)
	hrc.RespAddId(b, 1)
	b.Finish(hrc.RespEnd(b))
	fc.write(RPCHTTPReqCall, b.FinishedBytes())
}

func (fc *fakeConn) answer(b *flatbuffers.Builder, action hrc.Action, off flatbuffers.UOffsetT) {
	hrc.RespStart(b)
	hrc.RespAddId(b, 1)
	hrc.RespAddActionType(b, action)
	hrc.RespAddAction(b, off)
	b.Finish(hrc.RespEnd(b))
	fc.write(RPCHTTPReqCall, b.FinishedBytes())
}

// ask sends an ExtraInfo request and returns the answer's result (nil when
// APISIX left it out).
func (fc *fakeConn) ask(kind ei.Info, varName string) ([]byte, error) {
	b := flatbuffers.NewBuilder(64)
	var info flatbuffers.UOffsetT
	switch kind {
	case ei.InfoVar:
		n := b.CreateString(varName)
		ei.VarStart(b)
		ei.VarAddName(b, n)
		info = ei.VarEnd(b)
	case ei.InfoReqBody:
		ei.ReqBodyStart(b)
		info = ei.ReqBodyEnd(b)
	default:
		ei.RespBodyStart(b)
		info = ei.RespBodyEnd(b)
	}
	ei.ReqStart(b)
	ei.ReqAddInfoType(b, kind)
	ei.ReqAddInfo(b, info)
	b.Finish(ei.ReqEnd(b))
	fc.write(RPCExtraInfo, b.FinishedBytes())
	ty, payload, err := fc.read()
	if err != nil {
		return nil, err
	}
	if ty != RPCExtraInfo {
		return nil, errors.New("extra info answered with another frame type")
	}
	return ei.GetRootAsResp(payload, 0).ResultBytes(), nil
}
