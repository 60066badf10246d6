package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	tests := []struct {
		name, input, execID string
		want                string
		code                int
	}{
		{"json object", `{"name": "Ada"}`, "e1", `{"echo":{"name":"Ada"},"length":15,"execution_id":"e1"}` + "\n", 0},
		{"json with spaces", " [1, 2]\n", "", `{"echo":[1,2],"length":8}` + "\n", 0},
		{"text", "hello\n", "", `{"echo":"hello\n","length":6}` + "\n", 0},
		{"empty", "", "", `{"echo":"","length":0}` + "\n", 0},
		{"not quite json", `{"a":`, "", `{"echo":"{\"a\":","length":5}` + "\n", 0},
		{"fail", "fail\n", "", "", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, logs bytes.Buffer
			code := run(strings.NewReader(tt.input), &out, &logs, tt.execID)
			if code != tt.code || out.String() != tt.want {
				t.Errorf("run = %d %q, want %d %q (logs %q)", code, out.String(), tt.code, tt.want, logs.String())
			}
			if logs.Len() == 0 {
				t.Error("no log line")
			}
		})
	}
}
