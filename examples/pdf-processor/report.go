package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
)

// Report is what the processor learns of a PDF: written as the result
// object.
type Report struct {
	Source   string            `json:"source"`
	Pages    int               `json:"pages"`
	Metadata map[string]string `json:"metadata"`
	Text     []string          `json:"text"` // one entry per page
	Words    int               `json:"words"`
	Bytes    int               `json:"bytes"`
}

// ErrNotPDF is a document pdfcpu cannot read: damaged, or no PDF at all.
var ErrNotPDF = errors.New("not a readable PDF")

// Analyze reads a PDF: page count, the document information (title,
// author, ...) and the text of each page.
func Analyze(name string, data []byte) (*Report, error) {
	if !bytes.HasPrefix(bytes.TrimLeft(data, "\x00\t\r\n "), []byte("%PDF-")) {
		return nil, fmt.Errorf("%s: %w (no %%PDF- header)", name, ErrNotPDF)
	}
	conf := model.NewDefaultConfiguration()
	conf.ValidationMode = model.ValidationRelaxed
	conf.Cmd = model.LISTINFO
	// Validation reads the document information (title, author, ...) too.
	ctx, err := api.ReadAndValidate(bytes.NewReader(data), conf)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %v", name, ErrNotPDF, err)
	}
	if err := ctx.EnsurePageCount(); err != nil {
		return nil, fmt.Errorf("%s: %w: page count: %v", name, ErrNotPDF, err)
	}
	r := &Report{Source: name, Pages: ctx.PageCount, Bytes: len(data), Metadata: map[string]string{}}
	for k, v := range map[string]string{
		"title": ctx.Title, "author": ctx.Author, "subject": ctx.Subject,
		"creator": ctx.Creator, "producer": ctx.Producer, "keywords": ctx.Keywords,
	} {
		if v = strings.TrimSpace(v); v != "" {
			r.Metadata[k] = v
		}
	}
	for p := 1; p <= ctx.PageCount; p++ {
		rd, err := pdfcpu.ExtractPageContent(ctx, p)
		if err != nil {
			return nil, fmt.Errorf("%s: %w: page %d: %v", name, ErrNotPDF, p, err)
		}
		var content []byte
		if rd != nil {
			if content, err = io.ReadAll(rd); err != nil {
				return nil, fmt.Errorf("%s: page %d: %w", name, p, err)
			}
		}
		text := PageText(content)
		r.Text = append(r.Text, text)
		r.Words += len(strings.Fields(text))
	}
	return r, nil
}
