package natsstore

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faasplatform/faas/domain"
	"github.com/google/uuid"
)

// BenchmarkListPage measures one page of 100 executions (the default
// limit) of an owner with 100 and of an owner with 100,000 executions, on
// one embedded server holding both, so the figures (ms/page) compare side
// by side: a page costs the same however long the history. Also measured:
// a page from a cursor deep in the long history, and, for scale, what one
// listing cost before the index (every key of the owner, read through a
// watcher). Only the reads are timed; the executions are created first
// with concurrent store writes.
//
//	go test -run '^$' -bench ListPage ./natsstore/
func BenchmarkListPage(b *testing.B) {
	srv, err := StartEmbedded(EmbeddedOptions{Port: -1, StoreDir: b.TempDir()})
	if err != nil {
		b.Fatalf("StartEmbedded: %v", err)
	}
	b.Cleanup(func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	})
	ctx := context.Background()
	nc, js, err := Connect(ctx, srv.ClientURL(), "bench", Credentials{})
	if err != nil {
		b.Fatalf("Connect: %v", err)
	}
	b.Cleanup(nc.Close)
	bk, err := Setup(ctx, js)
	if err != nil {
		b.Fatalf("Setup: %v", err)
	}
	s := NewExecutionStore(bk.Executions, bk.ExecutionIndex, bk.ExecutionData)

	short, long := uuid.NewString(), uuid.NewString()
	fill(b, s, short, 100)
	fill(b, s, long, 100_000)

	page := func(owner, cursor string) func(b *testing.B) {
		return func(b *testing.B) {
			for b.Loop() {
				p, err := s.List(ctx, owner, domain.ExecutionFilter{Limit: 100, Cursor: cursor})
				if err != nil || len(p.Executions) != 100 {
					b.Fatalf("List: %d executions, %v", len(p.Executions), err)
				}
			}
			b.ReportMetric(float64(b.Elapsed())/float64(time.Millisecond)/float64(b.N), "ms/page")
		}
	}
	b.Run("executions=100", page(short, ""))
	b.Run("executions=100000", page(long, ""))
	b.Run("executions=100000,cursor=middle", page(long, encodeCursor(50_000)))
	b.Run("executions=100000,before-index", func(b *testing.B) {
		for b.Loop() {
			recs, err := latestRecords[executionRecord](ctx, s.kv, executionKey(long, "*"))
			if err != nil || len(recs) != 100_000 {
				b.Fatalf("listing: %d records, %v", len(recs), err)
			}
		}
		b.ReportMetric(float64(b.Elapsed())/float64(time.Millisecond)/float64(b.N), "ms/page")
	})
}

// fill creates n pending executions of owner with 64 concurrent writers.
func fill(b *testing.B, s *ExecutionStore, owner string, n int) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	start := time.Now()
	var next atomic.Int64
	var failed atomic.Pointer[error]
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(n) || failed.Load() != nil {
					return
				}
				e := &domain.Execution{
					ID: uuid.NewString(), FunctionID: fmt.Sprint("fn-", i%7), Owner: owner,
					Status: domain.StatusPending, Input: `{"n":1}`,
					CreatedAt: baseTime.Add(time.Duration(i) * time.Millisecond),
				}
				if err := s.Create(ctx, e); err != nil {
					failed.CompareAndSwap(nil, &err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		b.Fatalf("create executions: %v", *err)
	}
	b.Logf("created %d executions of one owner in %v", n, time.Since(start).Round(time.Millisecond))
}
