package tests

import (
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/faasplatform/faas/docker/dockertest"
	"github.com/faasplatform/faas/examples/pdf-processor/pdftest"
)

// probeImage builds testdata/internalprobe into an image FROM scratch.
func probeImage(t *testing.T) string {
	return dockertest.GoImage(t, "internalprobe", "./testdata/internalprobe")
}

// probeOutput is what the probe prints.
type probeOutput struct {
	APIURL      string            `json:"api_url"`
	HasToken    bool              `json:"has_token"`
	Token       string            `json:"token"`
	PutStatus   int               `json:"put_status"`
	GetBody     string            `json:"get_body"`
	ReadOnly    string            `json:"read_only"`
	ListStatus  int               `json:"list_status"`
	OtherStatus int               `json:"other_status"`
	Dials       map[string]string `json:"dials"`
	Errors      []string          `json:"errors"`
}

// hostAddress is a non-loopback IPv4 address of this host, "" if none.
func hostAddress() string {
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP.String()
		}
	}
	return ""
}

// TestInternalNetwork: a function with network "internal" reads and writes
// its own objects over FAAS_API_URL with FAAS_TOKEN, warm or not; another
// function's objects answer 404; it cannot connect to the NATS port, the
// gateway's port, a host listener on all addresses (through the Docker
// bridge or the host's address) or the outside; its token is refused once
// the execution has ended; with network "none" it gets no FAAS_API_URL.
func TestInternalNetwork(t *testing.T) {
	e := newWarmEnv(t, 1, 2)
	u := e.Register(t, "internal")
	img := probeImage(t)
	fn := e.CreateFunction(t, u, "probe", map[string]any{"image_url": img, "network": "internal", "timeout": 30, "memory_mb": 64})
	cold := e.CreateFunction(t, u, "probe-cold", map[string]any{"image_url": img, "network": "internal", "warm": false, "timeout": 30, "memory_mb": 64})
	other := e.CreateFunction(t, u, "other", map[string]any{"image_url": img, "timeout": 30, "memory_mb": 64})
	none := e.CreateFunction(t, u, "probe-none", map[string]any{"image_url": img, "timeout": 30, "memory_mb": 64})
	if r := e.Do(t, http.MethodPut, "/api/function-objects/"+fn+"/seed.txt", u.Token, "seeded"); r.Status != http.StatusCreated {
		t.Fatalf("seed object: %d %s", r.Status, r.Body)
	}

	host, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	_, hostPort, _ := net.SplitHostPort(host.Addr().String())
	nats, _ := url.Parse(e.stack.URL)
	gw, _ := url.Parse(e.base)
	dials := []string{nats.Host, gw.Host, "172.17.0.1:" + hostPort, "8.8.8.8:53"}
	if a := hostAddress(); a != "" {
		dials = append(dials, net.JoinHostPort(a, hostPort))
	}

	run := func(fnID string) probeOutput {
		t.Helper()
		_, x := e.run(t, u, fnID, map[string]any{"name": "notes/a.txt", "data": "hello from inside", "other": other,
			"read_only": "seed.txt", "dial": dials})
		if x.Status != "complete" || x.Output == nil {
			t.Fatalf("probe run: %s %s", x.Status, x.Error)
		}
		var out probeOutput
		if err := json.Unmarshal([]byte(*x.Output), &out); err != nil {
			t.Fatalf("probe output %q: %v", *x.Output, err)
		}
		return out
	}
	for _, c := range []struct{ name, fn string }{{"warm", fn}, {"warm again", fn}, {"warm false", cold}} {
		out := run(c.fn)
		t.Logf("%s: api %s put %d get %q other %d dials %v", c.name, out.APIURL, out.PutStatus, out.GetBody, out.OtherStatus, out.Dials)
		if !strings.HasPrefix(out.APIURL, "http://127.0.0.1:") || !out.HasToken {
			t.Fatalf("%s: FAAS_API_URL %q, token %v", c.name, out.APIURL, out.HasToken)
		}
		if c.fn == fn && (out.PutStatus != http.StatusCreated && out.PutStatus != http.StatusOK || out.GetBody != "hello from inside" ||
			out.ReadOnly != "seeded" || out.ListStatus != http.StatusOK) {
			t.Fatalf("%s: objects from inside: %+v", c.name, out)
		}
		if c.fn == cold && (out.PutStatus != http.StatusCreated || out.GetBody != "hello from inside") {
			t.Fatalf("%s: objects from inside: %+v", c.name, out)
		}
		if out.OtherStatus != http.StatusNotFound {
			t.Fatalf("%s: another function's objects answered %d, want 404", c.name, out.OtherStatus)
		}
		for _, addr := range dials {
			if got := out.Dials[addr]; !strings.HasPrefix(got, "refused") {
				t.Fatalf("%s: a connection to %s from inside: %q, want refused", c.name, addr, got)
			}
		}
		// The token is refused now that its execution has ended.
		if r := e.Do(t, http.MethodGet, "/api/function-objects/"+c.fn+"/notes/a.txt", out.Token, nil); r.Status != http.StatusUnauthorized {
			t.Fatalf("%s: an ended execution's token: %d %s, want 401", c.name, r.Status, r.Body)
		}
	}
	// The owner sees what the function wrote.
	if r := e.Do(t, http.MethodGet, "/api/function-objects/"+fn+"/notes/a.txt", u.Token, nil); r.Status != http.StatusOK || string(r.Body) != "hello from inside" {
		t.Fatalf("the object the function wrote: %d %q", r.Status, r.Body)
	}
	if out := run(none); out.APIURL != "" || out.HasToken {
		t.Fatalf("network none: FAAS_API_URL %q, token %v; want neither", out.APIURL, out.HasToken)
	}
}

// testPDF is pdftest.Make, failing t on error.
func testPDF(t *testing.T, title string, pages [][]string) []byte {
	t.Helper()
	b, err := pdftest.Make(title, pages)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPDFProcessor is the README's PDF example end to end, async: upload a
// PDF the test makes (several pages, known text), run the processor with
// network "internal", poll, download results/report.json; a broken file
// fails the run saying it is no readable PDF.
func TestPDFProcessor(t *testing.T) {
	e := newWarmEnv(t, 1, 2)
	u := e.Register(t, "pdf")
	img := dockertest.GoImage(t, "pdf-processor", "github.com/faasplatform/faas/examples/pdf-processor")
	fn := e.CreateFunction(t, u, "pdf", map[string]any{"image_url": img, "network": "internal", "timeout": 60, "memory_mb": 128})
	pages := [][]string{{"Annual report", "Revenue grew"}, {"Page two", "Costs fell"}, {"Page three"}}
	if r := e.Do(t, http.MethodPut, "/api/function-objects/"+fn+"/uploads/report.pdf", u.Token, testPDF(t, "Report 2026", pages)); r.Status != http.StatusCreated {
		t.Fatalf("upload: %d %s", r.Status, r.Body)
	}
	r := e.Do(t, http.MethodPost, "/api/v1/executions", u.Token, map[string]any{"function_id": fn, "input": map[string]string{"object": "uploads/report.pdf"}})
	if r.Status != http.StatusAccepted {
		t.Fatalf("run: %d %s", r.Status, r.Body)
	}
	var x execution
	r.Decode(t, &x)
	x = e.waitStatus(t, u, x.ID, 60*time.Second, "complete", "failed", "timeout")
	if x.Status != "complete" {
		t.Fatalf("pdf run: %s: %s", x.Status, x.Error)
	}
	var summary struct {
		Result string `json:"result"`
		Pages  int    `json:"pages"`
		Title  string `json:"title"`
	}
	if err := json.Unmarshal([]byte(*x.Output), &summary); err != nil || summary.Pages != 3 || summary.Result != "results/report.json" || summary.Title != "Report 2026" {
		t.Fatalf("summary %q: %v", *x.Output, err)
	}
	res := e.Do(t, http.MethodGet, "/api/function-objects/"+fn+"/results/report.json", u.Token, nil)
	var rep struct {
		Pages int      `json:"pages"`
		Text  []string `json:"text"`
	}
	if res.Status != http.StatusOK || json.Unmarshal(res.Body, &rep) != nil || rep.Pages != 3 || len(rep.Text) != 3 ||
		!strings.Contains(rep.Text[0], "Revenue grew") || !strings.Contains(rep.Text[1], "Costs fell") {
		t.Fatalf("result object: %d %s", res.Status, res.Body)
	}

	if r := e.Do(t, http.MethodPut, "/api/function-objects/"+fn+"/uploads/broken.pdf", u.Token, "%PDF-1.4 this is not really a pdf"); r.Status != http.StatusCreated {
		t.Fatalf("upload: %d %s", r.Status, r.Body)
	}
	_, bad := e.run(t, u, fn, map[string]string{"object": "uploads/broken.pdf"})
	bad = e.waitStatus(t, u, bad.ID, 60*time.Second, "complete", "failed", "timeout")
	if bad.Status != "failed" || !strings.Contains(bad.Error, "not a readable PDF") {
		t.Fatalf("broken pdf: %s %q, want failed saying it is not a readable PDF", bad.Status, bad.Error)
	}
}
