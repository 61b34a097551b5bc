package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/meridiandb/meridian/internal/admin"
	"github.com/meridiandb/meridian/internal/auth"
	"github.com/meridiandb/meridian/internal/topology"
)

// defaultEndpoint is where the management commands go by default: the
// write region of `meridian dev`.
const defaultEndpoint = "http://127.0.0.1:8081/"

// clientFlags are the flags of the commands that talk to a running account.
type clientFlags struct {
	endpoint, key string
	insecure      bool
	timeout       time.Duration
}

func (f *clientFlags) register(fs *flag.FlagSet) {
	key := os.Getenv("MERIDIAN_KEY")
	if key == "" {
		key = auth.EmulatorKey
	}
	fs.StringVar(&f.endpoint, "endpoint", defaultEndpoint, "any region's endpoint; the others are learned from it")
	fs.StringVar(&f.key, "key", key, "base64 master key (default: $MERIDIAN_KEY, else the emulator's key)")
	fs.BoolVar(&f.insecure, "insecure", false, "accept any TLS certificate (self-signed dev certificates)")
	fs.DurationVar(&f.timeout, "timeout", 10*time.Second, "timeout of each request")
}

func (f *clientFlags) client() (*adminClient, error) {
	key, err := base64.StdEncoding.DecodeString(f.key)
	if err != nil || len(key) == 0 {
		return nil, errors.New("--key: not a base64 key")
	}
	u, err := url.Parse(f.endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--endpoint %q: want a URL such as %s", f.endpoint, defaultEndpoint)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if f.insecure {
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // asked for with --insecure
	}
	return &adminClient{
		http:     &http.Client{Transport: tr, Timeout: f.timeout},
		key:      key,
		endpoint: u.Scheme + "://" + u.Host + "/",
		scheme:   u.Scheme,
	}, nil
}

// adminClient sends master-key-signed requests to the regions of one
// account.
type adminClient struct {
	http     *http.Client
	key      []byte
	endpoint string // the region the user named, "scheme://host:port/"
	scheme   string
}

// regionRef is one region and where to reach it.
type regionRef struct {
	Name, Endpoint string
	Write          bool
}

// apiError is a non-2xx answer.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("%d %s", e.Status, http.StatusText(e.Status))
	}
	return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message)
}

// do sends method to endpoint + the path made of segs (unescaped, signed
// as resource type "" and link segs joined by '/'), with in as the JSON
// body (nil: none), and decodes the answer into out (nil: discard).
func (c *adminClient) do(ctx context.Context, method, endpoint string, segs []string, in, out any) error {
	var body io.Reader = http.NoBody
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	esc := make([]string, len(segs))
	for i, s := range segs {
		esc[i] = url.PathEscape(s)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(endpoint, "/")+"/"+strings.Join(esc, "/"), body)
	if err != nil {
		return err
	}
	date := time.Now().UTC().Format(http.TimeFormat)
	req.Header.Set("x-ms-date", date)
	req.Header.Set("x-ms-version", "2020-11-05")
	req.Header.Set("Authorization", auth.Sign(c.key, method, "", strings.Join(segs, "/"), date))
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		e := &apiError{Status: resp.StatusCode}
		var cosmos struct{ Code, Message string }
		if json.Unmarshal(b, &cosmos) == nil {
			e.Code, e.Message = cosmos.Code, cosmos.Message
		}
		return e
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: unexpected answer: %w", method, req.URL, err)
	}
	return nil
}

// regions learns the account's regions from the endpoint: its account
// document (GET /), or, if that fails (an offline region answers 503),
// its management status.
func (c *adminClient) regions(ctx context.Context) ([]regionRef, error) {
	var acct struct {
		Writable []struct {
			Name     string `json:"name"`
			Endpoint string `json:"databaseAccountEndpoint"`
		} `json:"writableLocations"`
		Readable []struct {
			Name     string `json:"name"`
			Endpoint string `json:"databaseAccountEndpoint"`
		} `json:"readableLocations"`
	}
	err := c.do(ctx, http.MethodGet, c.endpoint, nil, nil, &acct)
	if err == nil && len(acct.Readable) > 0 {
		write := map[string]bool{}
		for _, w := range acct.Writable {
			write[w.Name] = true
		}
		out := make([]regionRef, 0, len(acct.Readable))
		for _, r := range acct.Readable {
			out = append(out, regionRef{Name: r.Name, Endpoint: r.Endpoint, Write: write[r.Name]})
		}
		return out, nil
	}
	var st admin.Status
	if err2 := c.do(ctx, http.MethodGet, c.endpoint, []string{"_meridian", "status"}, nil, &st); err2 != nil {
		if err == nil {
			err = err2
		}
		return nil, fmt.Errorf("%s: %w", c.endpoint, err)
	}
	out := make([]regionRef, 0, len(st.Regions))
	for _, r := range st.Regions {
		out = append(out, regionRef{Name: r.Name, Endpoint: c.scheme + "://" + r.Endpoint + "/", Write: r.Role == admin.RoleWrite})
	}
	return out, nil
}

// find returns the region called name (compared as the SDKs do).
func find(regions []regionRef, name string) (regionRef, error) {
	var names []string
	for _, r := range regions {
		if topology.Canonical(r.Name) == topology.Canonical(name) {
			return r, nil
		}
		names = append(names, fmt.Sprintf("%q", r.Name))
	}
	return regionRef{}, fmt.Errorf("the account has no region %q; its regions: %s", name, strings.Join(names, ", "))
}

// parseInterspersed parses flags that may come before or after the
// positional arguments, which it returns.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}
