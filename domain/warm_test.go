package domain

import (
	"encoding/json"
	"testing"
)

func TestFunctionWarmDefault(t *testing.T) {
	tests := []struct {
		name string
		json string
		want bool
	}{
		{"stored before the field existed", `{"id":"f1"}`, true},
		{"opted out", `{"id":"f1","warm":false}`, false},
		{"explicit", `{"id":"f1","warm":true}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f Function
			if err := json.Unmarshal([]byte(tt.json), &f); err != nil {
				t.Fatal(err)
			}
			if f.Warm != tt.want || f.ID != "f1" {
				t.Errorf("Warm %v ID %q, want %v f1", f.Warm, f.ID, tt.want)
			}
		})
	}
	var f Function
	ApplyFunctionDefaults(&f)
	if !f.Warm {
		t.Error("a new function is not warm by default")
	}
}

func TestKeepRunDetailsColdStart(t *testing.T) {
	var e Execution
	e.KeepRunDetails(RunResult{ColdStart: true})
	if !e.ColdStart {
		t.Error("ColdStart not kept")
	}
	b, _ := json.Marshal(&e)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	if m["cold_start"] != true {
		t.Errorf("cold_start in JSON: %v", m["cold_start"])
	}
}
