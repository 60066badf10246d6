package tests

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/faasplatform/faas/api/apitest"
	"github.com/faasplatform/faas/client"
	"github.com/faasplatform/faas/docker/dockertest"
	"github.com/faasplatform/faas/internal/eventually"
	"github.com/faasplatform/faas/metrics"
	"github.com/faasplatform/faas/platform/platformtest"
	"github.com/faasplatform/faas/wire"
)

// TestClientEveryRoute drives every route of the contract through package
// client against a real platform (NATS, a worker, Docker), every exchange
// held to api/openapi.yaml: users, functions, executions sync and async,
// logs, cancel, dead letters with a redrive, objects streamed both ways
// (unknown length up, range and HEAD down), workers, health, the OpenAPI
// document and metrics; and the typed errors a program branches on.
func TestClientEveryRoute(t *testing.T) {
	dockertest.RequireDocker(t)
	st := platformtest.NewStack(t)
	st.Deps.WaitTimeout = 40 * time.Second
	stop, err := st.EnableMetrics(metrics.New())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	srv := httptest.NewServer(apitest.CheckedHandler(t, st.Handler()))
	t.Cleanup(srv.Close)
	e := &env{Fixture: apitest.NewFixture(t, srv.URL, st.Secret), stack: st, base: srv.URL, workerID: "t" + randHex(4), retryDelay: "50ms"}
	e.startWorker(t, e.workerID+"-a", 4)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	must := func(err error, what string) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	wantErr := func(err, sentinel error, code, what string) {
		t.Helper()
		var ae *client.Error
		if !errors.Is(err, sentinel) || !errors.As(err, &ae) || (code != "" && ae.Code != code) {
			t.Fatalf("%s: %v; want an *client.Error matching %v with code %q", what, err, sentinel, code)
		}
	}

	anon, err := client.New(srv.URL)
	must(err, "new client")
	h, err := anon.Health(ctx)
	must(err, "health")
	if h.Status != "ok" {
		t.Fatalf("health %+v", h)
	}
	doc, err := anon.OpenAPI(ctx)
	must(err, "openapi")
	var head struct {
		OpenAPI string `json:"openapi"`
	}
	if err := json.Unmarshal(doc, &head); err != nil || !strings.HasPrefix(head.OpenAPI, "3.1") {
		t.Fatalf("openapi document: %v, version %q", err, head.OpenAPI)
	}

	// Users.
	name := "client-" + randHex(4)
	_, err = anon.Register(ctx, wire.RegisterRequest{Username: name, Password: "correct-horse", Email: "c@example.com"})
	must(err, "register")
	_, err = anon.Register(ctx, wire.RegisterRequest{Username: name, Password: "correct-horse", Email: "c@example.com"})
	wantErr(err, client.ErrConflict, wire.CodeConflict, "second register")
	_, err = anon.Login(ctx, name, "wrong-password")
	wantErr(err, client.ErrUnauthorized, wire.CodeUnauthorized, "login with a wrong password")
	login, err := anon.Login(ctx, name, "correct-horse")
	must(err, "login")
	c, err := client.New(srv.URL, client.WithToken(login.Token))
	must(err, "client with the token")
	email := "new@example.com"
	if u, err := c.UpdateMe(ctx, wire.UpdateMeRequest{Email: &email}); err != nil || u.Email != email {
		t.Fatalf("update me: %v %+v", err, u)
	}
	if u, err := c.Me(ctx); err != nil || u.Username != name || u.Email != email {
		t.Fatalf("me: %v %+v", err, u)
	}
	nobody, err := client.New(srv.URL) // anon keeps the token of its Login
	must(err, "new client")
	_, err = nobody.Me(ctx)
	wantErr(err, client.ErrUnauthorized, wire.CodeUnauthorized, "me without a token")

	// Functions.
	img := dockertest.BuildBusyboxImage(t, "client-cat", `echo "seen" >&2; cat`)
	fnReq := func(fn, image string, fields func(*wire.FunctionRequest)) wire.FunctionRequest {
		timeout, mem := 20, 64
		r := wire.FunctionRequest{Name: &fn, ImageURL: &image, Timeout: &timeout, MemoryMB: &mem}
		if fields != nil {
			fields(&r)
		}
		return r
	}
	f, err := c.CreateFunction(ctx, fnReq("cat", img, nil))
	must(err, "create function")
	_, err = c.CreateFunction(ctx, fnReq("cat", img, nil))
	wantErr(err, client.ErrConflict, wire.CodeConflict, "second create of one name")
	_, err = c.CreateFunction(ctx, fnReq("Bad Name!", img, nil))
	wantErr(err, client.ErrInvalidInput, wire.CodeInvalidInput, "create with a bad name")
	desc := "cats its input"
	if g, err := c.UpdateFunction(ctx, f.ID, wire.FunctionRequest{Description: &desc}); err != nil || g.Description != desc || g.ImageURL != img {
		t.Fatalf("update function: %v %+v", err, g)
	}
	if g, err := c.GetFunction(ctx, f.ID); err != nil || g.Description != desc {
		t.Fatalf("get function: %v %+v", err, g)
	}
	if fs, err := c.ListFunctions(ctx); err != nil || len(fs) != 1 || fs[0].ID != f.ID {
		t.Fatalf("list functions: %v %+v", err, fs)
	}
	_, err = c.GetFunction(ctx, "no-such-function")
	wantErr(err, client.ErrNotFound, wire.CodeFunctionNotFound, "get of an unknown function")
	other := e.Register(t, "client-other")
	oc, err := client.New(srv.URL, client.WithToken(other.Token))
	must(err, "other client")
	_, err = oc.GetFunction(ctx, f.ID)
	wantErr(err, client.ErrNotFound, wire.CodeFunctionNotFound, "another user's function")

	// Executions: sync, async with an idempotency key, logs, list, cancel.
	inv, err := c.Invoke(ctx, f.ID, json.RawMessage(`"hello"`), client.InvokeOptions{Wait: true})
	must(err, "invoke sync")
	if x := inv.Execution; x.Status != "complete" || x.Output != "hello" {
		t.Fatalf("sync execution %+v; want complete with output hello", x)
	}
	key := "k-" + randHex(4)
	inv, err = c.Invoke(ctx, f.ID, json.RawMessage(`{"n":1}`), client.InvokeOptions{IdempotencyKey: key})
	must(err, "invoke async")
	again, err := c.Invoke(ctx, f.ID, json.RawMessage(`{"n":1}`), client.InvokeOptions{IdempotencyKey: key})
	must(err, "invoke async again")
	if !again.Replayed || again.Execution.ID != inv.Execution.ID {
		t.Fatalf("same idempotency key: replayed=%v id %s, want the first execution %s", again.Replayed, again.Execution.ID, inv.Execution.ID)
	}
	var x *wire.Execution
	eventually.NoError(t, time.Minute, func() error {
		if x, err = c.GetExecution(ctx, inv.Execution.ID); err != nil || !x.Status.Final() {
			return fmt.Errorf("execution %v %v", x, err)
		}
		return nil
	})
	if x.Status != "complete" || x.Output != `{"n":1}` {
		t.Fatalf("async execution %+v", x)
	}
	if l, err := c.Logs(ctx, x.ID); err != nil || l.Logs != "seen\n" {
		t.Fatalf("logs: %v %+v", err, l)
	}
	page, err := c.ListExecutions(ctx, client.ExecutionFilter{FunctionID: f.ID, Status: "complete", Limit: 1})
	must(err, "list executions")
	if len(page.Executions) != 1 || page.Executions[0].ID != x.ID || page.Next == "" {
		t.Fatalf("first page of one: %+v; want the newest (%s) and a cursor", page, x.ID)
	}
	page, err = c.ListExecutions(ctx, client.ExecutionFilter{FunctionID: f.ID, Status: "complete", Limit: 1, Cursor: page.Next})
	must(err, "second page")
	if len(page.Executions) != 1 || page.Executions[0].ID == x.ID {
		t.Fatalf("second page %+v", page)
	}
	_, err = c.GetExecution(ctx, "no-such-execution")
	wantErr(err, client.ErrNotFound, wire.CodeExecutionNotFound, "get of an unknown execution")
	_, err = c.CancelExecution(ctx, x.ID)
	wantErr(err, client.ErrConflict, wire.CodeConflict, "cancel of an ended execution")
	slowImg := dockertest.BuildBusyboxImage(t, "client-slow", `sleep 30`)
	slow, err := c.CreateFunction(ctx, fnReq("slow", slowImg, nil))
	must(err, "create slow")
	inv, err = c.Invoke(ctx, slow.ID, nil, client.InvokeOptions{})
	must(err, "invoke slow")
	if y, err := c.CancelExecution(ctx, inv.Execution.ID); err != nil || y.Status != "cancelled" {
		t.Fatalf("cancel: %v %+v", err, y)
	}

	// Dead letters: a function failing both attempts it is allowed; its
	// dead letter redriven (a new execution, which dead-letters in turn),
	// then that one discarded.
	retries := 1
	deadImg := dockertest.BuildBusyboxImage(t, "client-dead", `exit 3`)
	dead, err := c.CreateFunction(ctx, fnReq("dead", deadImg, func(r *wire.FunctionRequest) { r.MaxRetries = &retries }))
	must(err, "create dead")
	inv, err = c.Invoke(ctx, dead.ID, nil, client.InvokeOptions{})
	must(err, "invoke dead")
	waitDeadLetter := func(id string) {
		t.Helper()
		eventually.NoError(t, time.Minute, func() error {
			dls, err := c.ListDeadLetters(ctx)
			if err != nil {
				return err
			}
			if len(dls) != 1 || dls[0].ExecutionID != id || dls[0].Attempts != 2 {
				return fmt.Errorf("dead letters %+v; want only %s, after 2 attempts", dls, id)
			}
			return nil
		})
	}
	waitDeadLetter(inv.Execution.ID)
	redriven, err := c.Redrive(ctx, inv.Execution.ID)
	must(err, "redrive")
	if redriven.ID == inv.Execution.ID || redriven.RedriveOf != inv.Execution.ID {
		t.Fatalf("redrive answered %+v; want a new execution with redrive_of %s", redriven, inv.Execution.ID)
	}
	_, err = c.Redrive(ctx, inv.Execution.ID)
	wantErr(err, client.ErrNotFound, wire.CodeExecutionNotFound, "second redrive of one dead letter")
	waitDeadLetter(redriven.ID)
	must(c.DiscardDeadLetter(ctx, redriven.ID), "discard")
	if dls, err := c.ListDeadLetters(ctx); err != nil || len(dls) != 0 {
		t.Fatalf("dead letters after the discard: %v %+v", err, dls)
	}
	wantErr(c.DiscardDeadLetter(ctx, redriven.ID), client.ErrNotFound, wire.CodeExecutionNotFound, "second discard")

	// Objects: 4 MiB up from a reader of unknown length (chunked), replaced,
	// read whole, in part and by HEAD, listed, deleted.
	blob := make([]byte, 4<<20)
	if _, err := rand.Read(blob); err != nil {
		t.Fatal(err)
	}
	o, created, err := c.PutObject(ctx, f.ID, "in/blob.bin", "application/x-test", io.MultiReader(bytes.NewReader(blob)), -1)
	must(err, "put object")
	if !created || o.Size != int64(len(blob)) {
		t.Fatalf("put: created=%v %+v", created, o)
	}
	if _, created, err = c.PutObject(ctx, f.ID, "in/blob.bin", "application/x-test", bytes.NewReader(blob), int64(len(blob))); err != nil || created {
		t.Fatalf("second put: %v, created=%v; want a replacement", err, created)
	}
	body, meta, err := c.GetObject(ctx, f.ID, "in/blob.bin")
	must(err, "get object")
	back, err := io.ReadAll(body)
	body.Close()
	if err != nil || !bytes.Equal(back, blob) || meta.ETag != o.ETag || meta.ContentType != "application/x-test" {
		t.Fatalf("get object: %v, %d bytes, equal=%v, %+v", err, len(back), bytes.Equal(back, blob), meta)
	}
	body, meta, err = c.GetObjectRange(ctx, f.ID, "in/blob.bin", 100, 199)
	must(err, "get a range")
	part, err := io.ReadAll(body)
	body.Close()
	if err != nil || !bytes.Equal(part, blob[100:200]) || meta.Size != int64(len(blob)) {
		t.Fatalf("range: %v, %d bytes, %+v", err, len(part), meta)
	}
	_, _, err = c.GetObjectRange(ctx, f.ID, "in/blob.bin", int64(len(blob)), int64(len(blob))+5)
	wantErr(err, client.ErrInvalidInput, "", "a range past the end")
	if s, err := c.StatObject(ctx, f.ID, "in/blob.bin"); err != nil || s.Size != int64(len(blob)) || s.ETag != o.ETag {
		t.Fatalf("stat: %v %+v", err, s)
	}
	if l, err := c.ListObjects(ctx, f.ID, "in/"); err != nil || len(l) != 1 || l[0].Name != "in/blob.bin" {
		t.Fatalf("list objects: %v %+v", err, l)
	}
	_, _, err = c.PutObject(ctx, f.ID, "a/../b", "", strings.NewReader("x"), 1)
	wantErr(err, client.ErrInvalidInput, wire.CodeInvalidInput, "an object name with ..")
	_, _, err = oc.GetObject(ctx, f.ID, "in/blob.bin")
	wantErr(err, client.ErrNotFound, wire.CodeFunctionNotFound, "another user's object")
	must(c.DeleteObject(ctx, f.ID, "in/blob.bin"), "delete object")
	_, _, err = c.GetObject(ctx, f.ID, "in/blob.bin")
	wantErr(err, client.ErrNotFound, wire.CodeObjectNotFound, "get of a deleted object")
	_, err = c.StatObject(ctx, f.ID, "in/blob.bin")
	wantErr(err, client.ErrNotFound, "", "stat of a deleted object")

	// Workers, metrics.
	if w, err := c.Workers(ctx); err != nil || len(w.Workers) != 1 {
		t.Fatalf("workers: %v %+v", err, w)
	}
	// The two runs of cat (the replayed key ran nothing), as a Prometheus
	// parser reads the text the client fetched.
	eventually.NoError(t, 30*time.Second, func() error {
		m, err := nobody.Metrics(ctx)
		if err != nil {
			return err
		}
		parser := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := parser.TextToMetricFamilies(strings.NewReader(m))
		if err != nil {
			return fmt.Errorf("parse the metrics: %w", err)
		}
		var n float64
		for _, x := range fams["faas_executions_total"].GetMetric() {
			if hasLabel(x, "status", "complete") && hasLabel(x, "function_id", f.ID) {
				n += x.GetCounter().GetValue()
			}
		}
		if n != 2 {
			return fmt.Errorf("faas_executions_total{status=complete,function_id=cat} = %v, want 2", n)
		}
		return nil
	})

	// Deleting a function, then the account; logout revokes the token.
	must(c.DeleteFunction(ctx, slow.ID), "delete function")
	_, err = c.GetFunction(ctx, slow.ID)
	wantErr(err, client.ErrNotFound, wire.CodeFunctionNotFound, "get of a deleted function")
	must(oc.DeleteMe(ctx), "delete the other account")
	_, err = nobody.Login(ctx, other.Username, other.Password)
	wantErr(err, client.ErrUnauthorized, wire.CodeUnauthorized, "login to a deleted account")
	must(c.Logout(ctx), "logout")
	_, err = c.Me(ctx)
	wantErr(err, client.ErrUnauthorized, wire.CodeUnauthorized, "me after logout")
}
