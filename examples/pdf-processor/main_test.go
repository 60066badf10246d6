package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/faasplatform/faas/examples/pdf-processor/pdftest"
)

// makePDF is pdftest.Make, failing t on error.
func makePDF(t testing.TB, title string, pages [][]string) []byte {
	t.Helper()
	b, err := pdftest.Make(title, pages)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAnalyze(t *testing.T) {
	pages := [][]string{
		{"Quarterly report", "Revenue grew (a lot) this quarter."},
		{"Second page", "Costs: 42 units"},
		{"Third page"},
	}
	rep, err := Analyze("uploads/report.pdf", makePDF(t, "Report Q3", pages))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Pages != 3 || len(rep.Text) != 3 {
		t.Fatalf("pages = %d (%d texts), want 3", rep.Pages, len(rep.Text))
	}
	for i, lines := range pages {
		for _, l := range lines {
			if !strings.Contains(rep.Text[i], l) {
				t.Errorf("page %d text %q lacks %q", i+1, rep.Text[i], l)
			}
		}
	}
	if rep.Metadata["title"] != "Report Q3" || rep.Metadata["author"] != "Test Author" {
		t.Errorf("metadata = %v", rep.Metadata)
	}
	if rep.Words != 15 {
		t.Errorf("words = %d, want 15", rep.Words)
	}
}

func TestAnalyzeRefusesBrokenFiles(t *testing.T) {
	good := makePDF(t, "x", [][]string{{"a"}})
	for name, data := range map[string][]byte{
		"text":      []byte("hello, not a pdf"),
		"empty":     nil,
		"truncated": good[:len(good)/3],
		"garbled":   append([]byte("%PDF-1.4\n"), bytes.Repeat([]byte{0xff, 0x00, 0x13}, 200)...),
	} {
		if _, err := Analyze(name, data); !errors.Is(err, ErrNotPDF) {
			t.Errorf("%s: %v, want ErrNotPDF", name, err)
		}
	}
}

func TestPageText(t *testing.T) {
	tests := []struct{ content, want string }{
		{"BT /F1 12 Tf 72 712 Td (Hello) Tj ET", "Hello"},
		{"BT [(Hel) -20 (lo)] TJ T* (world) Tj ET", "Hello\nworld"},
		{`BT (a \(b\) \\ c\101) Tj ET`, `a (b) \ cA`},
		{"BT <48656c6c6f> Tj ET % (comment) Tj", "Hello"},
		{"q 1 0 0 1 0 0 cm Q", ""},
	}
	for _, tt := range tests {
		if got := PageText([]byte(tt.content)); got != tt.want {
			t.Errorf("PageText(%q) = %q, want %q", tt.content, got, tt.want)
		}
	}
}

func TestResultName(t *testing.T) {
	for in, want := range map[Input]string{
		{Object: "uploads/report.pdf"}:               "results/report.json",
		{Object: "a.b.pdf"}:                          "results/a.b.json",
		{Object: "x.pdf", Result: "out/custom.json"}: "out/custom.json",
	} {
		if got := resultName(in); got != want {
			t.Errorf("resultName(%+v) = %q, want %q", in, got, want)
		}
	}
}
