// Package pdftest makes PDFs of known content for the PDF processor's tests
// (its own and the platform's end-to-end test), with fpdf.
package pdftest

import (
	"bytes"
	"fmt"

	"codeberg.org/go-pdf/fpdf"
)

// Make is an A4 PDF titled title whose pages hold the given lines, in
// Helvetica (a simple font, so each line is a plain string of the page's
// content stream), with author "Test Author".
func Make(title string, pages [][]string) ([]byte, error) {
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetTitle(title, true)
	pdf.SetAuthor("Test Author", true)
	pdf.SetFont("Helvetica", "", 12)
	for _, lines := range pages {
		pdf.AddPage()
		for _, l := range lines {
			pdf.Cell(0, 10, l)
			pdf.Ln(10)
		}
	}
	var buf bytes.Buffer
	if err := pdf.Output(&buf); err != nil {
		return nil, fmt.Errorf("make a PDF: %w", err)
	}
	return buf.Bytes(), nil
}
