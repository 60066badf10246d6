package natsstore

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"testing"

	"github.com/faasplatform/faas/domain"
)

func TestObjectsRoundTrip(t *testing.T) {
	env := newTestEnv(t)
	ctx := testContext(t)
	objs, err := NewObjects(ctx, env.js)
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 5<<20+17)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)

	obj, replaced, err := objs.Put(ctx, "u1", "fn1", "uploads/blob.bin", "", bytes.NewReader(data), 64<<20)
	if err != nil || replaced {
		t.Fatalf("Put: %v replaced=%v", err, replaced)
	}
	if obj.Size != int64(len(data)) || obj.ETag != hex.EncodeToString(sum[:]) || obj.ContentType != domain.DefaultObjectContentType {
		t.Fatalf("Put metadata: %+v", obj)
	}
	_, rc, err := objs.Open(ctx, "fn1", "uploads/blob.bin", 1000)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, data[1000:]) {
		t.Fatalf("Open from 1000: err %v, %d bytes, equal=%v", err, len(got), bytes.Equal(got, data[1000:]))
	}

	if _, replaced, err := objs.Put(ctx, "u1", "fn1", "uploads/blob.bin", "text/plain", bytes.NewReader([]byte("hi")), 10); err != nil || !replaced {
		t.Fatalf("replace: %v replaced=%v", err, replaced)
	}
	if _, _, err := objs.Put(ctx, "u1", "fn1", "results/a.json", "application/json", bytes.NewReader([]byte("{}")), 10); err != nil {
		t.Fatal(err)
	}
	if _, _, err := objs.Put(ctx, "u2", "fn2", "uploads/other", "", bytes.NewReader([]byte("x")), 10); err != nil {
		t.Fatal(err)
	}

	// A body longer than its limit stores nothing and keeps the old object.
	_, _, err = objs.Put(ctx, "u1", "fn1", "uploads/blob.bin", "", bytes.NewReader(make([]byte, 300<<10)), 200<<10)
	if !errors.Is(err, domain.ErrPayloadTooLarge) {
		t.Fatalf("over limit: %v", err)
	}
	if st, err := objs.Stat(ctx, "fn1", "uploads/blob.bin"); err != nil || st.Size != 2 || st.ContentType != "text/plain" {
		t.Fatalf("after a cut-off replace: %+v %v", st, err)
	}
	if _, _, err := objs.Put(ctx, "u1", "fn1", "new", "", bytes.NewReader(make([]byte, 11)), 10); !errors.Is(err, domain.ErrPayloadTooLarge) {
		t.Fatalf("new over limit: %v", err)
	}
	if _, err := objs.Stat(ctx, "fn1", "new"); !errors.Is(err, domain.ErrObjectNotFound) {
		t.Fatalf("cut-off new object exists: %v", err)
	}

	cases := []struct {
		fn, prefix string
		want       []string
	}{
		{"fn1", "", []string{"results/a.json", "uploads/blob.bin"}},
		{"fn1", "uploads/", []string{"uploads/blob.bin"}},
		{"fn2", "", []string{"uploads/other"}},
		{"fn3", "", nil},
	}
	for _, tc := range cases {
		list, err := objs.List(ctx, tc.fn, tc.prefix)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, o := range list {
			names = append(names, o.Name)
		}
		if len(names) != len(tc.want) || (len(names) > 0 && names[0] != tc.want[0]) || (len(names) > 1 && names[1] != tc.want[1]) {
			t.Errorf("List(%s, %q) = %v, want %v", tc.fn, tc.prefix, names, tc.want)
		}
	}
	if n, err := objs.Usage(ctx, "fn1"); err != nil || n != 4 {
		t.Fatalf("Usage = %d, %v; want 4", n, err)
	}

	if err := objs.Delete(ctx, "fn1", "results/a.json"); err != nil {
		t.Fatal(err)
	}
	if err := objs.Delete(ctx, "fn1", "results/a.json"); !errors.Is(err, domain.ErrObjectNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if err := objs.DeleteFunction(ctx, "fn1"); err != nil {
		t.Fatal(err)
	}
	if list, _ := objs.List(ctx, "fn1", ""); len(list) != 0 {
		t.Fatalf("after DeleteFunction: %v", list)
	}
	if list, _ := objs.List(ctx, "fn2", ""); len(list) != 1 {
		t.Fatalf("DeleteFunction touched another function: %v", list)
	}
	if err := objs.DeleteOwner(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	if list, _ := objs.List(ctx, "fn2", ""); len(list) != 1 {
		t.Fatalf("DeleteOwner(u1) touched u2's objects: %v", list)
	}
	if err := objs.DeleteOwner(ctx, "u2"); err != nil {
		t.Fatal(err)
	}
	if list, _ := objs.List(ctx, "fn2", ""); len(list) != 0 {
		t.Fatalf("after DeleteOwner(u2): %v", list)
	}
}
