// Package toyapi is a toy stand-in for the platform's API handler, used by
// the plugin's tests (directly, and inside the testrunner binary).
//
// Any path answers:
//   - default: 200 with a JSON echo of the request (method, path, query,
//     headers, body, remote address, the process id);
//   - ?status=N: answer N with a contract-shaped JSON error (N >= 400) or the
//     echo (N < 400); with &empty=1 the body is left empty;
//   - ?nowrite=1: write nothing at all (the plugin must still answer 200);
//   - ?panic=1: panic; ?sleep_ms=N: sleep first (ends early if the request's
//     context ends); ?bytes=N: answer N bytes of 'x' as text/plain;
//   - ?set_header=Name: add the header Name twice (values "a" and "b").
package toyapi

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// Echo is what the toy API answers; tests decode it.
type Echo struct {
	Method     string              `json:"method"`
	Path       string              `json:"path"`
	RawQuery   string              `json:"raw_query"`
	Query      map[string][]string `json:"query"`
	Header     map[string][]string `json:"header"`
	Host       string              `json:"host"`
	Body       string              `json:"body"`
	BodyLen    int                 `json:"body_len"`
	RemoteAddr string              `json:"remote_addr"`
	PID        int                 `json:"pid"`
	HasDL      bool                `json:"has_deadline"`
}

// Handler is the toy API.
var Handler http.Handler = http.HandlerFunc(serve)

func serve(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("panic") != "" {
		panic("toy handler asked to panic")
	}
	if ms, _ := strconv.Atoi(q.Get("sleep_ms")); ms > 0 {
		select {
		case <-time.After(time.Duration(ms) * time.Millisecond):
		case <-r.Context().Done():
		}
	}
	if q.Get("nowrite") != "" {
		return
	}
	if name := q.Get("set_header"); name != "" {
		w.Header().Add(name, "a")
		w.Header().Add(name, "b")
	}
	if n, _ := strconv.Atoi(q.Get("bytes")); n > 0 {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, strings.Repeat("x", n))
		return
	}
	status, _ := strconv.Atoi(q.Get("status"))
	if status == 0 {
		status = http.StatusOK
	}
	if q.Get("empty") != "" {
		w.WriteHeader(status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if status >= 400 {
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{
			"code": "toy_error", "message": fmt.Sprintf("asked for %d", status)}})
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	_, hasDL := r.Context().Deadline()
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(Echo{
		Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Query: q,
		Header: r.Header, Host: r.Host, Body: string(body), BodyLen: len(body),
		RemoteAddr: r.RemoteAddr, PID: os.Getpid(), HasDL: hasDL,
	})
}
