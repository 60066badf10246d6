package natsstore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/faasplatform/faas/domain"
	"github.com/faasplatform/faas/internal/eventually"
	"github.com/faasplatform/faas/internal/natstest"
	"github.com/faasplatform/faas/retry"
)

func TestDiffStream(t *testing.T) {
	base := jetstream.StreamConfig{Name: "S", Subjects: []string{"a", "b"}, Replicas: 1, Storage: jetstream.FileStorage,
		MaxBytes: -1, MaxAge: time.Hour, Duplicates: time.Minute, Discard: jetstream.DiscardNew, AllowDirect: true}
	with := func(f func(*jetstream.StreamConfig)) jetstream.StreamConfig { c := base; f(&c); return c }
	all := streamFields[kindStream]
	cases := []struct {
		name             string
		fields           []string
		existing, want   jetstream.StreamConfig
		wantField        []string
		existingV, wantV any
	}{
		{name: "same", fields: all, existing: base, want: base},
		{name: "subjects in another order", fields: all, existing: with(func(c *jetstream.StreamConfig) { c.Subjects = []string{"b", "a"} }), want: base},
		{name: "replicas 0 reads as 1", fields: all, existing: with(func(c *jetstream.StreamConfig) { c.Replicas = 0 }), want: base},
		{name: "no cap either way", fields: all, existing: with(func(c *jetstream.StreamConfig) { c.MaxBytes = 0 }), want: base},
		{name: "replicas", fields: all, existing: base, want: with(func(c *jetstream.StreamConfig) { c.Replicas = 3 }), wantField: []string{"Replicas"}, existingV: 1, wantV: 3},
		{name: "max bytes", fields: all, existing: base, want: with(func(c *jetstream.StreamConfig) { c.MaxBytes = 1 << 20 }), wantField: []string{"MaxBytes"}, existingV: int64(-1), wantV: int64(1 << 20)},
		{name: "max age", fields: all, existing: base, want: with(func(c *jetstream.StreamConfig) { c.MaxAge = 2 * time.Hour }), wantField: []string{"MaxAge"}, existingV: time.Hour, wantV: 2 * time.Hour},
		{name: "allow direct", fields: all, existing: base, want: with(func(c *jetstream.StreamConfig) { c.AllowDirect = false }), wantField: []string{"AllowDirect"}, existingV: true, wantV: false},
		{name: "discard", fields: all, existing: with(func(c *jetstream.StreamConfig) { c.Discard = jetstream.DiscardOld }), want: base, wantField: []string{"Discard"}, existingV: "DiscardOld", wantV: "DiscardNew"},
		{name: "storage", fields: all, existing: with(func(c *jetstream.StreamConfig) { c.Storage = jetstream.MemoryStorage }), want: base, wantField: []string{"Storage"}, existingV: "Memory", wantV: "File"},
		{name: "duplicates unset: the server's", fields: all, existing: base, want: with(func(c *jetstream.StreamConfig) { c.Duplicates = 0 })},
		{name: "field not compared", fields: []string{"Replicas"}, existing: base, want: with(func(c *jetstream.StreamConfig) { c.MaxAge = 0 })},
		{name: "two fields", fields: all, existing: base, want: with(func(c *jetstream.StreamConfig) { c.Replicas = 3; c.Subjects = []string{"a"} }), wantField: []string{"Subjects", "Replicas"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := DiffStream("stream S", tc.fields, tc.existing, tc.want)
			if len(got) != len(tc.wantField) {
				t.Fatalf("diff = %v, want fields %v", got, tc.wantField)
			}
			for i, d := range got {
				if d.Field != tc.wantField[i] || d.Resource != "stream S" {
					t.Fatalf("diff %d = %+v, want field %s", i, d, tc.wantField[i])
				}
			}
			if len(got) == 1 && (got[0].Existing != tc.existingV || got[0].Wanted != tc.wantV) {
				t.Fatalf("diff = %+v, want %v → %v", got[0], tc.existingV, tc.wantV)
			}
		})
	}
}

func TestDiffConsumer(t *testing.T) {
	base := jetstream.ConsumerConfig{Durable: "c", FilterSubject: "x", AckPolicy: jetstream.AckExplicitPolicy,
		AckWait: time.Minute, MaxDeliver: 4, MaxAckPending: 1000}
	cases := []struct {
		name           string
		existing, want jetstream.ConsumerConfig
		wantField      string
	}{
		{"same", base, base, ""},
		{"max deliver", base, jetstream.ConsumerConfig{Durable: "c", FilterSubject: "x", AckPolicy: jetstream.AckExplicitPolicy, AckWait: time.Minute, MaxDeliver: 6, MaxAckPending: 1000}, "MaxDeliver"},
		{"ack wait", base, jetstream.ConsumerConfig{Durable: "c", FilterSubject: "x", AckPolicy: jetstream.AckExplicitPolicy, AckWait: time.Second, MaxDeliver: 4, MaxAckPending: 1000}, "AckWait"},
		{"unset wanted limits: the server's", base, jetstream.ConsumerConfig{Durable: "c", FilterSubject: "x", AckPolicy: jetstream.AckExplicitPolicy, AckWait: time.Minute}, ""},
		{"filter", base, jetstream.ConsumerConfig{Durable: "c", FilterSubject: "y", AckPolicy: jetstream.AckExplicitPolicy, AckWait: time.Minute, MaxDeliver: 4, MaxAckPending: 1000}, "FilterSubject"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := DiffConsumer("consumer S/c", tc.existing, tc.want)
			switch {
			case tc.wantField == "" && len(got) != 0:
				t.Fatalf("diff = %v, want none", got)
			case tc.wantField != "" && (len(got) != 1 || got[0].Field != tc.wantField):
				t.Fatalf("diff = %v, want %s", got, tc.wantField)
			}
		})
	}
}

// TestLayoutReplicas: every stream-backed resource gets NATS_REPLICAS, and
// with replicas no bucket or object store keeps direct gets.
func TestLayoutReplicas(t *testing.T) {
	for _, replicas := range []int{0, 1, 3} {
		kvs, objs, streams, _ := layout(SetupOptions{Replicas: replicas})
		if len(kvs) != 9 || len(objs) != 2 || len(streams) != 3 {
			t.Fatalf("layout: %d buckets, %d object stores, %d streams", len(kvs), len(objs), len(streams))
		}
		for _, r := range append(append(kvs, objs...), streams...) {
			w := r.wanted()
			if w.Replicas != max(replicas, 1) {
				t.Errorf("replicas %d: %s has %d", replicas, r.label(), w.Replicas)
			}
			wantDirect := r.kind != kindStream && replicas <= 1
			if w.AllowDirect != wantDirect {
				t.Errorf("replicas %d: %s AllowDirect %v", replicas, r.label(), w.AllowDirect)
			}
		}
	}
}

// TestSetupOwnerReportsDifferences: a second owner configured otherwise
// reports each difference and changes nothing; with Apply it applies them,
// and a rerun with the same configuration finds none.
func TestSetupOwnerReportsDifferences(t *testing.T) {
	env := newTestEnv(t)
	ctx := testContext(t)
	if b, err := Setup(ctx, env.js); err != nil || len(b.Differences) != 0 {
		t.Fatalf("rerun: %v, differences %v", err, b.Differences)
	}
	other := SetupOptions{MaxDeliver: 9, MaxBytes: 64 << 20}
	b, err := Setup(ctx, env.js, other)
	if err != nil {
		t.Fatal(err)
	}
	var maxDeliver, maxBytes int
	for _, d := range b.Differences {
		switch d.Field {
		case "MaxDeliver":
			maxDeliver++
			if d.Resource != "consumer EXECUTIONS/execution-workers" || d.Existing != domain.DefaultRetryPolicy.MaxDeliveries() || d.Wanted != 9 {
				t.Errorf("difference %+v", d)
			}
		case "MaxBytes":
			maxBytes++
		default:
			t.Errorf("unexpected difference %+v", d)
		}
	}
	if maxDeliver != 1 || maxBytes != 14 {
		t.Fatalf("differences %v: %d MaxDeliver, %d MaxBytes", b.Differences, maxDeliver, maxBytes)
	}
	if info, _ := env.b.Consumer.Info(ctx); info.Config.MaxDeliver != domain.DefaultRetryPolicy.MaxDeliveries() {
		t.Fatalf("reported difference applied: MaxDeliver %d", info.Config.MaxDeliver)
	}

	other.Apply = true
	if b, err = Setup(ctx, env.js, other); err != nil || len(b.Differences) != 15 {
		t.Fatalf("apply: %v, %d differences", err, len(b.Differences))
	}
	if info, _ := env.b.Consumer.Info(ctx); info.Config.MaxDeliver != 9 {
		t.Fatalf("apply: MaxDeliver %d", info.Config.MaxDeliver)
	}
	other.Apply = false
	if b, err = Setup(ctx, env.js, other); err != nil || len(b.Differences) != 0 {
		t.Fatalf("after apply: %v, differences %v", err, b.Differences)
	}
}

// TestSetupCheckWaitsForOwner: a checker started before the owner waits,
// never creating anything, and binds once the owner has set up; with
// nothing set up it gives up with ErrNotSetUp when its context ends.
func TestSetupCheckWaitsForOwner(t *testing.T) {
	srv, err := StartEmbedded(EmbeddedOptions{Port: -1, StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	ctx := testContext(t)
	_, js, err := Connect(ctx, srv.ClientURL(), "test", Credentials{})
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	_, err = Setup(short, js, SetupOptions{Mode: SetupCheck})
	cancel()
	if !errors.Is(err, ErrNotSetUp) {
		t.Fatalf("check with nothing set up: %v, want ErrNotSetUp", err)
	}
	if names := js.StreamNames(ctx); names.Err() == nil {
		for n := range names.Name() {
			t.Fatalf("a checker created stream %s", n)
		}
	}

	done := make(chan error, 1)
	go func() {
		_, err := Setup(ctx, js, SetupOptions{Mode: SetupCheck, Wait: retry.Policy{Tries: 1000, Initial: 10 * time.Millisecond, Max: 50 * time.Millisecond}})
		done <- err
	}()
	if _, err := Setup(ctx, js); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("checker after the owner: %v", err)
	}
}

// TestSetupReplicasLeaderReads: on a 3-node cluster with Replicas 3 every
// resource has 3 replicas; the buckets whose reads must be current refuse
// direct gets (no replica but the leader answers them) and their handles
// read through the leader, including listings.
func TestSetupReplicasLeaderReads(t *testing.T) {
	srvs := natstest.StartCluster(t, "n", 3)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	nc, js, err := Connect(ctx, srvs[0].ClientURL(), "test", Credentials{})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	var b *Buckets
	eventually.True(t, 30*time.Second, func() bool { // until the meta leader is elected
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		b, err = Setup(sctx, js, SetupOptions{Replicas: 3})
		if err != nil {
			t.Logf("setup: %v", err)
		}
		return err == nil
	}, "setup on the cluster: %v", err)
	for _, name := range []string{"KV_" + BucketExecutions, "KV_" + BucketActive, "KV_" + BucketLocks, "KV_" + BucketWorkers,
		"OBJ_" + ObjectStoreExecData, "OBJ_" + ObjectStoreFunctionObjects, StreamExecutions, StreamEnded, StreamAdvisories} {
		st, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		cfg := st.CachedInfo().Config
		if cfg.Replicas != 3 || cfg.AllowDirect {
			t.Errorf("%s: replicas %d, allow direct %v", name, cfg.Replicas, cfg.AllowDirect)
		}
	}
	if _, err := b.Executions.Put(ctx, "x1", []byte("v1")); err != nil {
		t.Fatal(err)
	}
	if e, err := b.Executions.Get(ctx, "x1"); err != nil || string(e.Value()) != "v1" {
		t.Fatalf("get: %v %v", e, err)
	}
	// No replica answers a direct get any more: a read cannot reach a
	// lagging follower.
	_, err = nc.Request("$JS.API.DIRECT.GET.KV_"+BucketExecutions, []byte(`{"last_by_subj":"$KV.executions.x1"}`), 2*time.Second)
	if !errors.Is(err, nats.ErrNoResponders) {
		t.Fatalf("direct get of a current-read bucket: %v, want no responders", err)
	}
	if seq, err := b.Executions.lastSeq(ctx, ">"); err != nil || seq == 0 {
		t.Fatalf("lastSeq through the leader: %d %v", seq, err)
	}
	if seq, err := b.Executions.lastSeq(ctx, "none.*"); err != nil || seq != 0 {
		t.Fatalf("lastSeq of nothing: %d %v", seq, err)
	}
	vals, err := latestValues(ctx, b.Executions, ">")
	if err != nil || len(vals) != 1 {
		t.Fatalf("listing through the leader: %v %v", vals, err)
	}
	// A second owner with the same settings finds nothing to report.
	if again, err := Setup(ctx, js, SetupOptions{Replicas: 3}); err != nil || len(again.Differences) != 0 {
		t.Fatalf("rerun: %v, %v", err, again.Differences)
	}
}
