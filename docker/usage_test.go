package docker

import (
	"errors"
	"os"
	"testing"
)

func TestReadUsage(t *testing.T) {
	const id = "abc"
	tests := []struct {
		name  string
		files map[string]string
		want  Usage
		err   bool
	}{
		{"v2 systemd", map[string]string{
			"/cg/system.slice/docker-abc.scope/cpu.stat":    "usage_usec 1500000\nuser_usec 1000000\nsystem_usec 500000\n",
			"/cg/system.slice/docker-abc.scope/memory.peak": "41943040\n",
		}, Usage{MaxMemoryBytes: 41943040, CPUSeconds: 1.5}, false},
		{"v2 cgroupfs, no memory.peak", map[string]string{
			"/cg/docker/abc/cpu.stat":       "usage_usec 250\n",
			"/cg/docker/abc/memory.current": "4096\n",
		}, Usage{MaxMemoryBytes: 4096, CPUSeconds: 0.00025}, false},
		{"v1 cgroupfs", map[string]string{
			"/cg/memory/docker/abc/memory.max_usage_in_bytes": "52428800\n",
			"/cg/cpu,cpuacct/docker/abc/cpuacct.usage":        "900000000\n",
		}, Usage{MaxMemoryBytes: 52428800, CPUSeconds: 0.9}, false},
		{"v1 systemd", map[string]string{
			"/cg/memory/system.slice/docker-abc.scope/memory.max_usage_in_bytes": "1024",
			"/cg/cpuacct/system.slice/docker-abc.scope/cpuacct.usage":            "2000000000",
		}, Usage{MaxMemoryBytes: 1024, CPUSeconds: 2}, false},
		{"v2 bad cpu.stat", map[string]string{"/cg/docker/abc/cpu.stat": "user_usec 1\n"}, Usage{}, true},
		{"v1 bad number", map[string]string{"/cg/memory/docker/abc/memory.max_usage_in_bytes": "x"}, Usage{}, true},
		{"nothing", map[string]string{}, Usage{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			read := func(p string) (string, error) {
				if s, ok := tt.files[p]; ok {
					return s, nil
				}
				return "", os.ErrNotExist
			}
			got, err := readUsage(read, "/cg", id)
			if (err != nil) != tt.err {
				t.Fatalf("err = %v, want error %v", err, tt.err)
			}
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			if tt.name == "nothing" && !errors.Is(err, errNoUsage) {
				t.Fatalf("err = %v, want errNoUsage", err)
			}
		})
	}
}
