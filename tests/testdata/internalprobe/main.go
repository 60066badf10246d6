// Command internalprobe is a test function for network "internal": it
// writes, reads and lists its function's objects over $FAAS_API_URL with
// $FAAS_TOKEN, tries another function's objects, and tries to connect to
// each address of its input, printing what happened as JSON.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// Input is what the test asks for.
type Input struct {
	Name     string   `json:"name"`      // object to write and read back
	Data     string   `json:"data"`      // its content
	Other    string   `json:"other"`     // another function's id
	Dial     []string `json:"dial"`      // host:port to try to connect to
	ReadOnly string   `json:"read_only"` // an object only to read (the test stored it)
}

// Output is what it found.
type Output struct {
	APIURL      string            `json:"api_url"`
	HasToken    bool              `json:"has_token"`
	Token       string            `json:"token"`
	PutStatus   int               `json:"put_status"`
	GetBody     string            `json:"get_body"`
	ReadOnly    string            `json:"read_only"`
	ListStatus  int               `json:"list_status"`
	OtherStatus int               `json:"other_status"`
	Dials       map[string]string `json:"dials"`
	Errors      []string          `json:"errors,omitempty"`
}

func main() {
	var in Input
	_ = json.NewDecoder(os.Stdin).Decode(&in)
	out := Output{APIURL: os.Getenv("FAAS_API_URL"), Token: os.Getenv("FAAS_TOKEN"), Dials: map[string]string{}}
	out.HasToken = out.Token != ""
	fn := os.Getenv("FAAS_FUNCTION_ID")
	hc := &http.Client{Timeout: 10 * time.Second}
	do := func(method, url, body string) (int, string) {
		req, err := http.NewRequest(method, url, strings.NewReader(body))
		if err != nil {
			out.Errors = append(out.Errors, err.Error())
			return 0, ""
		}
		req.Header.Set("Authorization", "Bearer "+out.Token)
		resp, err := hc.Do(req)
		if err != nil {
			out.Errors = append(out.Errors, err.Error())
			return 0, ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if out.APIURL != "" {
		base := out.APIURL + "/function-objects/"
		out.PutStatus, _ = do(http.MethodPut, base+fn+"/"+in.Name, in.Data)
		_, out.GetBody = do(http.MethodGet, base+fn+"/"+in.Name, "")
		if in.ReadOnly != "" {
			_, out.ReadOnly = do(http.MethodGet, base+fn+"/"+in.ReadOnly, "")
		}
		out.ListStatus, _ = do(http.MethodGet, base+fn, "")
		if in.Other != "" {
			out.OtherStatus, _ = do(http.MethodGet, base+in.Other, "")
		}
	}
	for _, addr := range in.Dial {
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			out.Dials[addr] = "refused: " + err.Error()
			continue
		}
		c.Close()
		out.Dials[addr] = "connected"
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
