package tests

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/faasplatform/faas/api/apitest"
	"github.com/faasplatform/faas/docker/dockertest"
	"github.com/faasplatform/faas/internal/eventually"
	"github.com/faasplatform/faas/metrics"
	"github.com/faasplatform/faas/platform/platformtest"
)

// scrapeCounter sums the samples of counter name with the label status.
func scrapeCounter(base, name, status string) (float64, error) {
	resp, err := http.Get(base + "/api/v1/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return 0, err
	}
	var sum float64
	for _, m := range fams[name].GetMetric() {
		if status == "" || hasLabel(m, "status", status) {
			sum += m.GetCounter().GetValue()
		}
	}
	return sum, nil
}

func hasLabel(m *dto.Metric, k, v string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == k && l.GetValue() == v {
			return true
		}
	}
	return false
}

// TestMetricsEndToEnd runs a known mix through a real worker and checks the
// gateway's counters, then has a real Prometheus server scrape them.
func TestMetricsEndToEnd(t *testing.T) {
	prom, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatalf("prometheus not found (apt-get install -y prometheus; .ci/run installs it): %v", err)
	}
	dockertest.RequireDocker(t)
	st := platformtest.NewStack(t)
	stop, err := st.EnableMetrics(metrics.New())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	base := st.Serve(t)
	e := &env{Fixture: apitest.NewFixture(t, base, st.Secret), stack: st, base: base, workerID: "t" + randHex(4), retryDelay: "50ms"}
	e.startWorker(t, e.workerID+"-a", 4)
	u := e.Register(t, "metrics")

	ok := e.function(t, u, "m-ok", `cat`, nil)
	bad := e.function(t, u, "m-fail", `echo no >&2; exit 1`, nil)
	slow := e.function(t, u, "m-slow", `sleep 30`, map[string]any{"timeout": 1})
	// Fails its first attempt, passes its second: one retry.
	retried := e.function(t, u, "m-retried", `[ "$FAAS_ATTEMPT" = 2 ] || exit 1; cat`, map[string]any{"max_retries": 1})
	// Fails both attempts it is allowed: a dead letter.
	dead := e.function(t, u, "m-dead", `exit 3`, map[string]any{"max_retries": 1})
	for _, fn := range []string{ok, ok, ok, bad, bad, slow, retried, dead} {
		if _, x := e.run(t, u, fn, "x"); x.Status == "pending" || x.Status == "running" {
			e.waitStatus(t, u, x.ID, 30*time.Second, "complete", "failed", "timeout")
		}
	}
	// The mix: 3+1 complete, 2+1 failed, 1 timeout; 1+1 retries; 1 dead letter.
	want := map[string]float64{"complete": 4, "failed": 3, "timeout": 1}
	eventually.NoError(t, 30*time.Second, func() error {
		for status, n := range want {
			got, err := scrapeCounter(base, "faas_executions_total", status)
			if err != nil {
				return err
			}
			if got != n {
				return fmt.Errorf("faas_executions_total{status=%q} = %v, want %v", status, got, n)
			}
		}
		for name, n := range map[string]float64{"faas_execution_retries_total": 2, "faas_dead_letters_total": 1} {
			if got, err := scrapeCounter(base, name, ""); err != nil || got != n {
				return fmt.Errorf("%s = %v (%v), want %v", name, got, err, n)
			}
		}
		return nil
	})
	// Redriving the dead letter is counted.
	var dls struct {
		DeadLetters []struct {
			ExecutionID string `json:"execution_id"`
		} `json:"dead_letters"`
	}
	e.Do(t, http.MethodGet, "/api/v1/deadletters", u.Token, nil).Decode(t, &dls)
	if len(dls.DeadLetters) != 1 {
		t.Fatalf("dead letters = %+v, want one", dls)
	}
	r := e.Do(t, http.MethodPost, "/api/v1/deadletters/"+dls.DeadLetters[0].ExecutionID+"/redrive", u.Token, nil)
	if r.Status != http.StatusAccepted {
		t.Fatalf("redrive: %d %s", r.Status, r.Body)
	}
	var again execution
	r.Decode(t, &again)
	// The redriven execution fails its two attempts again: one more
	// failed execution.
	e.waitStatus(t, u, again.ID, 30*time.Second, "failed")
	want["failed"]++
	if got, err := scrapeCounter(base, "faas_redrives_total", ""); err != nil || got != 1 {
		t.Fatalf("faas_redrives_total = %v (%v), want 1", got, err)
	}

	// A real Prometheus scrapes the gateway; its query API answers the
	// counters by status.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	target := strings.TrimPrefix(base, "http://")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	conf := fmt.Sprintf("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: faas\n    metrics_path: /api/v1/metrics\n    static_configs:\n      - targets: [%q]\n", target)
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(prom, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr)
	logf, _ := os.Create(filepath.Join(dir, "prom.log"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start prometheus: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); logf.Close() })
	eventually.NoError(t, 60*time.Second, func() error {
		q := url.QueryEscape(`sum by (status) (faas_executions_total)`)
		resp, err := http.Get("http://" + addr + "/api/v1/query?query=" + q)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var body struct {
			Data struct {
				Result []struct {
					Metric map[string]string `json:"metric"`
					Value  []any             `json:"value"`
				} `json:"result"`
			} `json:"data"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			return err
		}
		got := map[string]string{}
		for _, r := range body.Data.Result {
			if len(r.Value) == 2 {
				got[r.Metric["status"]], _ = r.Value[1].(string)
			}
		}
		for status, n := range want {
			if got[status] != fmt.Sprint(n) {
				return fmt.Errorf("prometheus: %v, want %v", got, want)
			}
		}
		return nil
	})
}
