package natsstore

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/faasplatform/faas/domain"
)

// ObjectStoreFunctionObjects holds every function's objects (contract §3),
// each under "<function_id>/<name>".
//
// One store for all functions, not one per function: each object store is a
// stream, with its own files and server goroutines, and a stream per function
// would make the server's stream count grow with the user base. The cost of
// one store is that a function's listing reads the store's whole metadata
// (one small message per object); see List.
const ObjectStoreFunctionObjects = "function-objects"

const (
	metaContentType = "content-type"
	metaOwner       = "owner"   // the function's owner, so a deleted user's objects can be found
	objectChunkSize = 128 << 10 // bytes per chunk message: memory per upload stays near this
)

// ErrObjectTooLarge is returned by Objects.Put when the body carries more
// bytes than the limit it was given; nothing is stored.
var ErrObjectTooLarge = errors.New("object body exceeds its limit")

// Objects stores functions' objects in the JetStream object store, content
// streamed in chunks both ways.
type Objects struct {
	os jetstream.ObjectStore
}

// NewObjects opens (creating when absent) the function objects store.
func NewObjects(ctx context.Context, js jetstream.JetStream) (*Objects, error) {
	os, err := openObjectStore(ctx, js, jetstream.ObjectStoreConfig{
		Bucket:      ObjectStoreFunctionObjects,
		Description: "functions' objects, named <function_id>/<name>",
		Storage:     jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("object store %s: %w", ObjectStoreFunctionObjects, err)
	}
	return &Objects{os: os}, nil
}

func objectKey(functionID, name string) string { return functionID + "/" + name }

// limitReader fails with ErrObjectTooLarge once more than n bytes come.
type limitReader struct {
	r io.Reader
	n int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if int64(len(p)) > l.n+1 {
		p = p[:l.n+1]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	if l.n < 0 {
		return 0, ErrObjectTooLarge
	}
	return n, err
}

// Put streams body into the object functionID/name, at most limit bytes (the
// store purges the chunks of a cut-off upload, and a replaced object stays as
// it was). owner is the function's owner (see DeleteOwner). It reports
// whether an object was replaced.
func (o *Objects) Put(ctx context.Context, owner, functionID, name, contentType string, body io.Reader, limit int64) (domain.Object, bool, error) {
	if contentType == "" {
		contentType = domain.DefaultObjectContentType
	}
	_, statErr := o.os.GetInfo(ctx, objectKey(functionID, name))
	replaced := statErr == nil
	info, err := o.os.Put(ctx, jetstream.ObjectMeta{
		Name:     objectKey(functionID, name),
		Metadata: map[string]string{metaContentType: contentType, metaOwner: owner},
		Opts:     &jetstream.ObjectMetaOptions{ChunkSize: objectChunkSize},
	}, &limitReader{r: body, n: limit})
	if err != nil {
		if errors.Is(err, ErrObjectTooLarge) {
			return domain.Object{}, false, domain.Errorf(domain.ErrPayloadTooLarge, "object is larger than the %d bytes allowed here", limit)
		}
		return domain.Object{}, false, fmt.Errorf("put object %s/%s: %w", functionID, name, err)
	}
	// Put's info carries the client's clock; the stored one, the server's
	// (as Stat and List report it), so that created_at is one value.
	if stored, err := o.os.GetInfo(ctx, objectKey(functionID, name)); err == nil {
		info = stored
	}
	obj, err := toObject(functionID, info)
	return obj, replaced, err
}

// Stat returns an object's metadata.
func (o *Objects) Stat(ctx context.Context, functionID, name string) (domain.Object, error) {
	info, err := o.os.GetInfo(ctx, objectKey(functionID, name))
	if err != nil {
		return domain.Object{}, objectErr(functionID, name, err)
	}
	return toObject(functionID, info)
}

// Open returns an object's metadata and a reader of its content from byte
// offset on; the caller closes it.
func (o *Objects) Open(ctx context.Context, functionID, name string, offset int64) (domain.Object, io.ReadCloser, error) {
	res, err := o.os.Get(ctx, objectKey(functionID, name))
	if err != nil {
		return domain.Object{}, nil, objectErr(functionID, name, err)
	}
	info, err := res.Info()
	if err != nil {
		res.Close()
		return domain.Object{}, nil, fmt.Errorf("object %s/%s info: %w", functionID, name, err)
	}
	obj, err := toObject(functionID, info)
	if err != nil {
		res.Close()
		return domain.Object{}, nil, err
	}
	if offset > 0 {
		if _, err := io.CopyN(io.Discard, res, offset); err != nil {
			res.Close()
			return domain.Object{}, nil, fmt.Errorf("object %s/%s skip to %d: %w", functionID, name, offset, err)
		}
	}
	return obj, res, nil
}

// Delete removes an object; an absent one is domain.ErrObjectNotFound.
func (o *Objects) Delete(ctx context.Context, functionID, name string) error {
	if _, err := o.os.GetInfo(ctx, objectKey(functionID, name)); err != nil {
		return objectErr(functionID, name, err)
	}
	if err := o.os.Delete(ctx, objectKey(functionID, name)); err != nil {
		return objectErr(functionID, name, err)
	}
	return nil
}

// List returns a function's objects whose names start with prefix, sorted by
// name. It reads the metadata of the whole store (one message per object).
func (o *Objects) List(ctx context.Context, functionID, prefix string) ([]domain.Object, error) {
	infos, err := o.os.List(ctx)
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return []domain.Object{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list objects of %s: %w", functionID, err)
	}
	keyPrefix := objectKey(functionID, prefix)
	out := []domain.Object{}
	for _, info := range infos {
		if !strings.HasPrefix(info.Name, keyPrefix) {
			continue
		}
		obj, err := toObject(functionID, info)
		if err != nil {
			return nil, err
		}
		out = append(out, obj)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Usage returns the bytes a function's objects take together.
func (o *Objects) Usage(ctx context.Context, functionID string) (int64, error) {
	objs, err := o.List(ctx, functionID, "")
	if err != nil {
		return 0, err
	}
	var n int64
	for _, obj := range objs {
		n += obj.Size
	}
	return n, nil
}

// DeleteFunction removes all of a function's objects (the function is going).
func (o *Objects) DeleteFunction(ctx context.Context, functionID string) error {
	objs, err := o.List(ctx, functionID, "")
	if err != nil {
		return err
	}
	for _, obj := range objs {
		if err := o.Delete(ctx, functionID, obj.Name); err != nil && !errors.Is(err, domain.ErrObjectNotFound) {
			return err
		}
	}
	return nil
}

// DeleteFunctionHook fits service.Functions.OnDelete: a function's objects go
// with it.
func (o *Objects) DeleteFunctionHook(ctx context.Context, _, functionID string) error {
	return o.DeleteFunction(ctx, functionID)
}

// DeleteOwner removes every object of owner's functions (the user is going);
// it fits service.Users.OnDelete.
func (o *Objects) DeleteOwner(ctx context.Context, owner string) error {
	infos, err := o.os.List(ctx)
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("list objects of owner %s: %w", owner, err)
	}
	for _, info := range infos {
		if info.Metadata[metaOwner] != owner {
			continue
		}
		if err := o.os.Delete(ctx, info.Name); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
			return fmt.Errorf("delete object %s of owner %s: %w", info.Name, owner, err)
		}
	}
	return nil
}

func objectErr(functionID, name string, err error) error {
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return fmt.Errorf("object %s/%s: %w", functionID, name, domain.ErrObjectNotFound)
	}
	return fmt.Errorf("object %s/%s: %w", functionID, name, err)
}

func toObject(functionID string, info *jetstream.ObjectInfo) (domain.Object, error) {
	sum, err := jetstream.DecodeObjectDigest(info.Digest)
	if err != nil {
		return domain.Object{}, fmt.Errorf("object %s digest %q: %w", info.Name, info.Digest, err)
	}
	ct := info.Metadata[metaContentType]
	if ct == "" {
		ct = domain.DefaultObjectContentType
	}
	return domain.Object{
		FunctionID:  functionID,
		Name:        strings.TrimPrefix(info.Name, functionID+"/"),
		Size:        int64(info.Size),
		ContentType: ct,
		ETag:        hex.EncodeToString(sum),
		CreatedAt:   info.ModTime.UTC().Truncate(time.Millisecond),
	}, nil
}
