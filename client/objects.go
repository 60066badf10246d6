package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/faasplatform/faas/wire"
)

const objectsPrefix = "/api/function-objects"

// objectPath is the route of one object; the name keeps its slashes.
func objectPath(functionID, name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return pathID(objectsPrefix, functionID) + "/" + strings.Join(parts, "/")
}

// PutObject stores body (size bytes; -1 when unknown) as function
// functionID's object name, streamed, and reports whether it was new.
func (c *Client) PutObject(ctx context.Context, functionID, name, contentType string, body io.Reader, size int64) (*wire.Object, bool, error) {
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	r := request{method: http.MethodPut, path: objectPath(functionID, name), body: body, contentType: contentType}
	if size >= 0 {
		r.length = size
		if size == 0 {
			r.body = http.NoBody
		}
	}
	var o wire.Object
	resp, err := c.call(ctx, r, &o, http.StatusCreated, http.StatusOK)
	if err != nil {
		return nil, false, err
	}
	return &o, resp.StatusCode == http.StatusCreated, nil
}

// GetObject streams an object: its content (close it) and metadata from the
// headers (Name, Size, ContentType, ETag).
func (c *Client) GetObject(ctx context.Context, functionID, name string) (io.ReadCloser, *wire.Object, error) {
	resp, err := c.do(ctx, request{method: http.MethodGet, path: objectPath(functionID, name)}, http.StatusOK)
	if err != nil {
		return nil, nil, err
	}
	return resp.Body, objectOf(functionID, name, resp), nil
}

// GetObjectRange streams bytes first to last (inclusive) of an object; a
// range past its end is an *Error (status 416, ErrInvalidInput). The
// metadata's Size is the whole object's.
func (c *Client) GetObjectRange(ctx context.Context, functionID, name string, first, last int64) (io.ReadCloser, *wire.Object, error) {
	h := http.Header{"Range": {fmt.Sprintf("bytes=%d-%d", first, last)}}
	resp, err := c.do(ctx, request{method: http.MethodGet, path: objectPath(functionID, name), header: h}, http.StatusPartialContent)
	if err != nil {
		return nil, nil, err
	}
	o := objectOf(functionID, name, resp)
	if _, total, ok := strings.Cut(resp.Header.Get("Content-Range"), "/"); ok {
		if n, err := strconv.ParseInt(total, 10, 64); err == nil {
			o.Size = n
		}
	}
	return resp.Body, o, nil
}

// StatObject reads an object's metadata without its content (HEAD).
func (c *Client) StatObject(ctx context.Context, functionID, name string) (*wire.Object, error) {
	resp, err := c.do(ctx, request{method: http.MethodHead, path: objectPath(functionID, name)}, http.StatusOK)
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	return objectOf(functionID, name, resp), nil
}

// objectOf is an object's metadata from the headers of its GET or HEAD.
func objectOf(functionID, name string, resp *http.Response) *wire.Object {
	o := &wire.Object{FunctionID: functionID, Name: name, Size: resp.ContentLength,
		ContentType: resp.Header.Get("Content-Type"), ETag: strings.Trim(resp.Header.Get("ETag"), `"`)}
	if t, err := time.Parse(http.TimeFormat, resp.Header.Get("Last-Modified")); err == nil {
		o.CreatedAt = t
	}
	return o
}

// ListObjects lists function functionID's objects whose name starts with
// prefix, sorted by name.
func (c *Client) ListObjects(ctx context.Context, functionID, prefix string) ([]wire.Object, error) {
	var q url.Values
	if prefix != "" {
		q = url.Values{"prefix": {prefix}}
	}
	var l wire.ObjectList
	_, err := c.call(ctx, request{method: http.MethodGet, path: pathID(objectsPrefix, functionID), query: q}, &l, http.StatusOK)
	return l.Objects, err
}

// DeleteObject deletes one object.
func (c *Client) DeleteObject(ctx context.Context, functionID, name string) error {
	_, err := c.call(ctx, request{method: http.MethodDelete, path: objectPath(functionID, name)}, nil, http.StatusNoContent)
	return err
}
