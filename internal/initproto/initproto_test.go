package initproto

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

func TestFrameRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	in := Response{ExitCode: 3, StdoutLen: 5, StderrLen: 2, Clean: true}
	if err := WriteFrame(&buf, in, []byte("hello"), []byte("e\n")); err != nil {
		t.Fatal(err)
	}
	var out Response
	if err := ReadHeader(&buf, &out); err != nil {
		t.Fatal(err)
	}
	if out != in {
		t.Errorf("header %+v, want %+v", out, in)
	}
	so, err := ReadSection(&buf, out.StdoutLen, 10)
	if err != nil || string(so) != "hello" {
		t.Fatalf("stdout %q, %v", so, err)
	}
	se, err := ReadSection(&buf, out.StderrLen, 10)
	if err != nil || string(se) != "e\n" {
		t.Fatalf("stderr %q, %v", se, err)
	}
	if err := ReadHeader(&buf, &out); err != io.EOF {
		t.Errorf("after the last frame: %v, want io.EOF", err)
	}
}

func TestFrameErrors(t *testing.T) {
	tests := []struct {
		name   string
		stream []byte
		want   error
	}{
		{"zero length", []byte{0, 0, 0, 0}, ErrBadFrame},
		{"too long", []byte{0xff, 0, 0, 0}, ErrBadFrame},
		{"not json", append([]byte{0, 0, 0, 2}, "no"...), ErrBadFrame},
		{"cut length", []byte{0, 0}, io.ErrUnexpectedEOF},
		{"cut header", append([]byte{0, 0, 0, 9}, "{}"...), io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v Request
			if err := ReadHeader(bytes.NewReader(tt.stream), &v); !errors.Is(err, tt.want) {
				t.Errorf("ReadHeader: %v, want %v", err, tt.want)
			}
		})
	}
	if _, err := ReadSection(bytes.NewReader(nil), 11, 10); !errors.Is(err, ErrBadFrame) {
		t.Errorf("section over its limit: %v", err)
	}
}
