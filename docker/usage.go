package docker

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Usage is a container's resource use read from its cgroup before removal.
type Usage struct {
	MaxMemoryBytes int64
	CPUSeconds     float64
}

// errNoUsage: the cgroup files were not found (container gone, or a
// layout this reader does not know).
var errNoUsage = errors.New("container cgroup usage not found")

// cgroupFS reads files of the cgroup hierarchy; tests replace it.
type cgroupFS func(path string) (string, error)

func readFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	return string(b), err
}

// readUsage reads the usage of container id under root (/sys/fs/cgroup),
// trying cgroup v2 (memory.peak, cpu.stat usage_usec) and then v1
// (memory.max_usage_in_bytes, cpuacct.usage), for the systemd and
// cgroupfs drivers' directory names.
func readUsage(read cgroupFS, root, id string) (Usage, error) {
	v2 := []string{
		filepath.Join(root, "system.slice", "docker-"+id+".scope"),
		filepath.Join(root, "docker", id),
	}
	for _, dir := range v2 {
		stat, err := read(filepath.Join(dir, "cpu.stat"))
		if err != nil {
			continue
		}
		var u Usage
		usec, err := parseCPUStatUsec(stat)
		if err != nil {
			return Usage{}, err
		}
		u.CPUSeconds = float64(usec) / 1e6
		if peak, err := read(filepath.Join(dir, "memory.peak")); err == nil {
			u.MaxMemoryBytes, err = parseInt(peak)
			if err != nil {
				return Usage{}, err
			}
		} else if cur, err := read(filepath.Join(dir, "memory.current")); err == nil {
			// Older kernels lack memory.peak: the current figure is the
			// best lower bound left at the end of the run.
			u.MaxMemoryBytes, _ = parseInt(cur)
		}
		return u, nil
	}
	for _, sub := range []string{"docker/" + id, "system.slice/docker-" + id + ".scope"} {
		mem, err := read(filepath.Join(root, "memory", sub, "memory.max_usage_in_bytes"))
		if err != nil {
			continue
		}
		var u Usage
		if u.MaxMemoryBytes, err = parseInt(mem); err != nil {
			return Usage{}, err
		}
		for _, cpuDir := range []string{"cpuacct", "cpu,cpuacct"} {
			ns, err := read(filepath.Join(root, cpuDir, sub, "cpuacct.usage"))
			if err != nil {
				continue
			}
			n, err := parseInt(ns)
			if err != nil {
				return Usage{}, err
			}
			u.CPUSeconds = float64(n) / 1e9
			break
		}
		return u, nil
	}
	return Usage{}, errNoUsage
}

// parseCPUStatUsec returns usage_usec of a cgroup v2 cpu.stat file.
func parseCPUStatUsec(stat string) (int64, error) {
	for _, line := range strings.Split(stat, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), " ")
		if ok && k == "usage_usec" {
			return parseInt(v)
		}
	}
	return 0, fmt.Errorf("cpu.stat: no usage_usec line")
}

func parseInt(s string) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("cgroup value %q: %w", strings.TrimSpace(s), err)
	}
	return n, nil
}

// cgroupRoot is where the host's cgroup hierarchy is mounted.
const cgroupRoot = "/sys/fs/cgroup"

// usageSampleEvery is how often a running container's cgroup is read: the
// runtime removes the cgroup as soon as the container exits (cgroup v1 and
// v2 alike), so the last sample before the exit is what is reported. Peak
// memory is kept by the kernel (memory.peak / max_usage_in_bytes), so only
// the CPU time of the last interval can be missed.
const usageSampleEvery = 50 * time.Millisecond

// usageSampler reads a container's cgroup until stopped.
type usageSampler struct {
	id   string
	mu   sync.Mutex
	last Usage
	done chan struct{}
	wg   sync.WaitGroup
}

func startUsageSampler(id string) *usageSampler {
	s := &usageSampler{id: id, done: make(chan struct{})}
	s.sample()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(usageSampleEvery)
		defer t.Stop()
		for {
			select {
			case <-s.done:
				return
			case <-t.C:
				s.sample()
			}
		}
	}()
	return s
}

func (s *usageSampler) sample() {
	u, err := readUsage(readFile, cgroupRoot, s.id)
	if err != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if u.MaxMemoryBytes < s.last.MaxMemoryBytes {
		u.MaxMemoryBytes = s.last.MaxMemoryBytes
	}
	if u.CPUSeconds < s.last.CPUSeconds {
		u.CPUSeconds = s.last.CPUSeconds
	}
	s.last = u
}

// stop takes a last sample (the cgroup may still be there) and returns the
// highest figures seen.
func (s *usageSampler) stop() Usage {
	close(s.done)
	s.wg.Wait()
	s.sample()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// counters are a warm container's cgroup figures around one execution.
type counters struct {
	Usage
	oomKills int64 // times the kernel's OOM killer struck in the cgroup
	ok       bool  // the cgroup was found
}

// readCounters reads usage and the OOM kill count of container id (cgroup
// v1 memory.oom_control or v2 memory.events, line "oom_kill N").
func readCounters(read cgroupFS, root, id string) counters {
	u, err := readUsage(read, root, id)
	if err != nil {
		return counters{}
	}
	c := counters{Usage: u, ok: true}
	for _, f := range []string{
		filepath.Join(root, "memory", "docker", id, "memory.oom_control"),
		filepath.Join(root, "memory", "system.slice", "docker-"+id+".scope", "memory.oom_control"),
		filepath.Join(root, "system.slice", "docker-"+id+".scope", "memory.events"),
		filepath.Join(root, "docker", id, "memory.events"),
	} {
		s, err := read(f)
		if err != nil {
			continue
		}
		c.oomKills = parseKeyed(s, "oom_kill")
		break
	}
	return c
}

// parseKeyed returns the number on the line "key N" of s (0 if none).
func parseKeyed(s, key string) int64 {
	for _, line := range strings.Split(s, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), " ")
		if ok && k == key {
			n, _ := parseInt(v)
			return n
		}
	}
	return 0
}

// resetPeak starts a new memory peak for container id where the cgroup
// allows it (v1: writing 0 to memory.max_usage_in_bytes), so that the peak
// read after a warm execution is that execution's (plus what init holds).
// On v2 the peak stays the container's since its start: an upper bound.
func resetPeak(root, id string) {
	for _, sub := range []string{"docker/" + id, "system.slice/docker-" + id + ".scope"} {
		if err := os.WriteFile(filepath.Join(root, "memory", sub, "memory.max_usage_in_bytes"), []byte("0"), 0); err == nil {
			return
		}
	}
}
