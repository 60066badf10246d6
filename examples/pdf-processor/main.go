// Command pdf-processor is an example function (contract §4) that works on
// its function's objects over the internal URL: given {"object":
// "uploads/report.pdf"} on standard input it downloads the PDF from
// $FAAS_API_URL with $FAAS_TOKEN, reads its page count, metadata and the
// text of each page (pdfcpu), writes results/<name>.json as an object and
// prints a short JSON summary. A damaged or non-PDF object fails the run
// (exit 1) saying so on standard error. It needs `network: "internal"`.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"strings"
	"time"

	"github.com/pdfcpu/pdfcpu/pkg/api"
)

// maxPDFBytes bounds what the function downloads (the default object cap).
const maxPDFBytes = 64 << 20

// Input is what the function reads on standard input.
type Input struct {
	Object string `json:"object"`
	// Result names the result object; default results/<base>.json.
	Result string `json:"result"`
}

// Summary is what the function prints.
type Summary struct {
	Object string            `json:"object"`
	Result string            `json:"result"`
	Pages  int               `json:"pages"`
	Words  int               `json:"words"`
	Title  string            `json:"title,omitempty"`
	Meta   map[string]string `json:"metadata,omitempty"`
}

// objects reaches the function's objects at base with token.
type objects struct {
	base, function, token string
	http                  *http.Client
}

func (o *objects) url(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.TrimRight(o.base, "/") + "/function-objects/" + url.PathEscape(o.function) + "/" + strings.Join(parts, "/")
}

func (o *objects) do(method, name string, body io.Reader, ctype string) (*http.Response, error) {
	req, err := http.NewRequest(method, o.url(name), body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+o.token)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	return o.http.Do(req)
}

// get downloads an object.
func (o *objects) get(name string) ([]byte, error) {
	resp, err := o.do(http.MethodGet, name, nil, "")
	if err != nil {
		return nil, fmt.Errorf("download %s: %w", name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("download %s: HTTP %d: %s", name, resp.StatusCode, strings.TrimSpace(string(msg)))
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxPDFBytes+1))
	if err != nil {
		return nil, fmt.Errorf("download %s: %w", name, err)
	}
	if len(data) > maxPDFBytes {
		return nil, fmt.Errorf("download %s: larger than %d bytes", name, maxPDFBytes)
	}
	return data, nil
}

// put uploads an object.
func (o *objects) put(name, ctype string, data []byte) error {
	resp, err := o.do(http.MethodPut, name, bytes.NewReader(data), ctype)
	if err != nil {
		return fmt.Errorf("upload %s: %w", name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("upload %s: HTTP %d: %s", name, resp.StatusCode, strings.TrimSpace(string(msg)))
	}
	return nil
}

// resultName is results/<base without extension>.json unless given.
func resultName(in Input) string {
	if in.Result != "" {
		return in.Result
	}
	base := strings.TrimSuffix(path.Base(in.Object), path.Ext(in.Object))
	return "results/" + base + ".json"
}

func run(stdin io.Reader, stdout io.Writer, getenv func(string) string) error {
	var in Input
	if err := json.NewDecoder(io.LimitReader(stdin, 64<<10)).Decode(&in); err != nil {
		return fmt.Errorf(`input: want {"object": "<name>"}: %w`, err)
	}
	if in.Object == "" {
		return errors.New(`input: "object" names the PDF to read`)
	}
	base, token, fn := getenv("FAAS_API_URL"), getenv("FAAS_TOKEN"), getenv("FAAS_FUNCTION_ID")
	if base == "" || token == "" || fn == "" {
		return errors.New(`no FAAS_API_URL/FAAS_TOKEN: the function needs "network": "internal"`)
	}
	o := &objects{base: base, function: fn, token: token, http: &http.Client{Timeout: 60 * time.Second}}
	data, err := o.get(in.Object)
	if err != nil {
		return err
	}
	rep, err := Analyze(in.Object, data)
	if err != nil {
		return err
	}
	out, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("encode the report: %w", err)
	}
	result := resultName(in)
	if err := o.put(result, "application/json", out); err != nil {
		return err
	}
	return json.NewEncoder(stdout).Encode(Summary{Object: in.Object, Result: result, Pages: rep.Pages,
		Words: rep.Words, Title: rep.Metadata["title"], Meta: rep.Metadata})
}

func main() {
	api.DisableConfigDir() // the image has no home directory to write one in
	if err := run(os.Stdin, os.Stdout, os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "pdf-processor:", err)
		os.Exit(1)
	}
}
