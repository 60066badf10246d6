package objects

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/faasplatform/faas/api"
	"github.com/faasplatform/faas/domain"
	"github.com/faasplatform/faas/wire"
)

// maxContentTypeLen bounds the stored Content-Type: it is metadata kept with
// every object and sent back with every download.
const maxContentTypeLen = 255

// put stores the body as the object: admission first (a Content-Length
// over the object limit or the function's remaining quota answers 413
// before a byte is read), then the body streamed to the store with the same
// bound enforced while it flows (a chunked or lying body is cut at the
// limit, 413, and nothing of it is kept; a replaced object stays as it was).
func (h *Handler) put(w *statusWriter, r *http.Request, q request) error {
	ctx := r.Context()
	contentType := r.Header.Get("Content-Type")
	if len(contentType) > maxContentTypeLen {
		return domain.Invalid("Content-Type must be at most %d bytes", maxContentTypeLen)
	}
	used, err := h.d.Store.Usage(ctx, q.functionID)
	if err != nil {
		return fmt.Errorf("put object: %w", err)
	}
	var replaced int64
	switch old, err := h.d.Store.Stat(ctx, q.functionID, q.name); {
	case err == nil:
		replaced = old.Size
	case !errors.Is(err, domain.ErrObjectNotFound):
		return fmt.Errorf("put object: %w", err)
	}
	limit, err := domain.CheckObjectAdmission(r.ContentLength, used, replaced,
		h.d.Limits.MaxObjectBytes, h.d.Limits.FunctionQuota)
	if err != nil {
		return fmt.Errorf("put object %s/%s of %d bytes: %w", q.functionID, q.name, r.ContentLength, err)
	}
	obj, wasReplaced, err := h.d.Store.Put(ctx, q.owner, q.functionID, q.name, contentType, r.Body, limit)
	if err != nil {
		return fmt.Errorf("put object: %w", err)
	}
	status := http.StatusCreated
	if wasReplaced {
		status = http.StatusOK
	}
	w.Header().Set("ETag", quotedETag(obj))
	api.WriteJSON(w, status, obj)
	return nil
}

// get answers the object's content: 304 when If-None-Match holds its ETag,
// 206 with Content-Range for a satisfiable single Range, 416 for an
// unsatisfiable one, else 200 with the whole object. The content is copied
// from the store as it comes, never held whole.
func (h *Handler) get(w *statusWriter, r *http.Request, q request) error {
	ctx := r.Context()
	if r.Header.Get("If-None-Match") != "" {
		obj, err := h.d.Store.Stat(ctx, q.functionID, q.name)
		if err != nil {
			return err
		}
		if noneMatch(r.Header.Get("If-None-Match"), obj) {
			objectHeaders(w.Header(), obj)
			w.WriteHeader(http.StatusNotModified)
			return nil
		}
	}
	obj, body, err := h.d.Store.Open(ctx, q.functionID, q.name, 0)
	if err != nil {
		return err
	}
	defer body.Close()
	whole := byteRange{length: obj.Size}
	part, partial, err := parseRange(r.Header.Get("Range"), obj.Size)
	if err != nil {
		w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", obj.Size))
		return err
	}
	objectHeaders(w.Header(), obj)
	status := http.StatusOK
	if partial {
		whole, status = part, http.StatusPartialContent
		w.Header().Set("Content-Range", part.contentRange(obj.Size))
		if _, err := io.CopyN(io.Discard, body, part.start); err != nil {
			return fmt.Errorf("object %s/%s: skip to %d: %w", q.functionID, q.name, part.start, err)
		}
	}
	w.Header().Set("Content-Length", strconv.FormatInt(whole.length, 10))
	w.WriteHeader(status)
	if _, err := io.CopyN(w, body, whole.length); err != nil {
		return fmt.Errorf("object %s/%s: send %d bytes: %w", q.functionID, q.name, whole.length, err)
	}
	return nil
}

// head answers get's headers for the whole object, without the content
// (a Range is not applied: RFC 9110 lets HEAD ignore it).
func (h *Handler) head(w *statusWriter, r *http.Request, q request) error {
	obj, err := h.d.Store.Stat(r.Context(), q.functionID, q.name)
	if err != nil {
		return err
	}
	objectHeaders(w.Header(), obj)
	if noneMatch(r.Header.Get("If-None-Match"), obj) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	w.Header().Set("Content-Length", strconv.FormatInt(obj.Size, 10))
	w.WriteHeader(http.StatusOK)
	return nil
}

// delete removes the object: 204, or 404 object_not_found.
func (h *Handler) delete(w *statusWriter, r *http.Request, q request) error {
	if err := h.d.Store.Delete(r.Context(), q.functionID, q.name); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// list answers the function's objects whose names start with ?prefix=,
// sorted by name.
func (h *Handler) list(w *statusWriter, r *http.Request, q request) error {
	prefix := r.URL.Query().Get("prefix")
	if err := domain.ValidateObjectPrefix(prefix); err != nil {
		return err
	}
	objs, err := h.d.Store.List(r.Context(), q.functionID, prefix)
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, wire.ObjectList{Objects: objs})
	return nil
}

// objectHeaders are the headers of every answer about an object's content.
// Content is served as the Content-Type it was stored with, so nosniff and
// a sandboxing Content-Security-Policy keep an uploaded HTML or script
// object from running in a browser with the API's origin.
func objectHeaders(h http.Header, o domain.Object) {
	h.Set("Content-Type", o.ContentType)
	h.Set("ETag", quotedETag(o))
	h.Set("Last-Modified", o.CreatedAt.UTC().Format(http.TimeFormat))
	h.Set("Accept-Ranges", "bytes")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Cache-Control", "private, no-cache")
}
