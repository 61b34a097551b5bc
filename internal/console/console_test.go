package console_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meridiandb/meridian/internal/auth"
	"github.com/meridiandb/meridian/internal/console"
	"github.com/meridiandb/meridian/internal/testcluster"
)

func TestPageServed(t *testing.T) {
	srv := httptest.NewServer(console.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + console.Path)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Fatalf("Content-Type %q", ct)
	}
	for _, want := range []string{"<!doctype html>", "// BEGIN SIGN", "_meridian", "Fail over"} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("page lacks %q", want)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, srv.URL+console.Path, nil)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST: status %d, want 405", resp.StatusCode)
	}
}

func TestCORS(t *testing.T) {
	c := console.NewCORS("http", "127.0.0.1:8081", "10.0.0.7:8082")
	for origin, want := range map[string]bool{
		"http://127.0.0.1:8081": true, "http://localhost:8081": true, "http://[::1]:8081": true,
		"http://10.0.0.7:8082": true, "http://10.0.0.7:8081": false, "https://127.0.0.1:8081": false,
		"http://evil.example": false, "null": false,
	} {
		if got := c.Allowed(origin); got != want {
			t.Errorf("Allowed(%q) = %v, want %v", origin, got, want)
		}
	}
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	h := c.Wrap(next)
	pre := httptest.NewRequest(http.MethodOptions, "/_meridian/status", nil)
	pre.Header.Set("Origin", "http://localhost:8081")
	pre.Header.Set("Access-Control-Request-Method", "GET")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, pre)
	if rec.Code != http.StatusNoContent || rec.Header().Get("Access-Control-Allow-Origin") != "http://localhost:8081" ||
		!strings.Contains(rec.Header().Get("Access-Control-Allow-Headers"), "authorization") {
		t.Fatalf("preflight: %d %v", rec.Code, rec.Header())
	}
	// A disallowed origin and a data-plane path get no CORS headers.
	for _, tc := range []struct{ origin, path string }{{"http://evil.example", "/_meridian/status"}, {"http://127.0.0.1:8081", "/dbs"}} {
		r := httptest.NewRequest(http.MethodGet, tc.path, nil)
		r.Header.Set("Origin", tc.origin)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code != http.StatusTeapot || rec.Header().Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("%s %s: %d %v", tc.origin, tc.path, rec.Code, rec.Header())
		}
	}
}

// signVectors are the inputs the page's signTest signs.
var signVectors = [][3]string{{"GET", "", "_meridian/status"}, {"POST", "", "_meridian/regions/East US/offline"}, {"GET", "", ""}, {"GET", "", "metrics"}}

// testKeys: the emulator key (64 bytes: one HMAC block) and a longer key
// (hashed first by HMAC).
var testKeys = []string{auth.EmulatorKey, "bG9uZy1rZXktbG9uZy1rZXktbG9uZy1rZXktbG9uZy1rZXktbG9uZy1rZXktbG9uZy1rZXktbG9uZy1rZXk+Pz8/"}

const signDate = "Thu, 26 Nov 2026 13:08:15 GMT"

// TestSignatureNode runs the page's signing code (between BEGIN SIGN and
// END SIGN) in Node.js, both with WebCrypto and with the built-in SHA-256,
// and compares with auth.Sign.
func TestSignatureNode(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed")
	}
	page := string(console.Page())
	i, j := strings.Index(page, "// BEGIN SIGN"), strings.Index(page, "// END SIGN")
	if i < 0 || j < i {
		t.Fatal("no signing block in the page")
	}
	in, _ := json.Marshal(map[string]any{"keys": testKeys, "vectors": signVectors, "date": signDate})
	script := page[i:j] + `
const input = JSON.parse(process.argv[1]);
(async () => {
  const out = [];
  for (const key of input.keys) for (const [verb, type, link] of input.vectors) {
    const raw = MeridianSign.unb64(key);
    out.push({ js: await MeridianSign.sign(raw, verb, type, link, input.date, "js"),
               webcrypto: await MeridianSign.sign(raw, verb, type, link, input.date, "webcrypto") });
  }
  console.log(JSON.stringify(out));
})().catch((e) => { console.error(e); process.exit(1); });`
	out, err := exec.Command(node, "-e", script, string(in)).CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	var got []struct{ JS, WebCrypto string }
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("node output %q: %v", out, err)
	}
	n := 0
	for _, key := range testKeys {
		for _, v := range signVectors {
			want := auth.Sign(auth.MustDecodeKey(key), v[0], v[1], v[2], signDate)
			if got[n].JS != want || got[n].WebCrypto != want {
				t.Errorf("%v: js %q webcrypto %q, want %q", v, got[n].JS, got[n].WebCrypto, want)
			}
			n++
		}
	}
}

// chromium returns the headless browser, or skips. CI installs it with
// `apt-get install -y chromium`.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("chromium is not installed (apt-get install -y chromium)")
	return ""
}

// runChromium runs headless Chromium on url with a 5 s virtual-time
// budget and extra flags (--dump-dom or --screenshot=...).
func runChromium(t *testing.T, bin, url string, extra ...string) []byte {
	t.Helper()
	args := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
		"--user-data-dir=" + t.TempDir(), "--window-size=1280,800", "--virtual-time-budget=5000"}, extra...)
	args = append(args, url)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", extra, err, stderr.String())
	}
	return stdout.Bytes()
}

// TestSignatureChromium signs the same vectors in the browser (WebCrypto
// and the built-in SHA-256) through the page's #signtest hook.
func TestSignatureChromium(t *testing.T) {
	bin := chromium(t)
	srv := httptest.NewServer(console.Handler())
	defer srv.Close()
	for _, key := range testKeys {
		// 127.0.0.1 is a secure context: WebCrypto is available.
		dom := runChromium(t, bin, srv.URL+console.Path+"#key="+key+"&signtest="+strings.ReplaceAll(signDate, " ", "%20"), "--dump-dom")
		m := regexp.MustCompile(`(?s)<pre id="signtest">(.*?)</pre>`).FindSubmatch(dom)
		if m == nil {
			t.Fatalf("no sign test output in the DOM:\n%s", dom)
		}
		var got struct {
			WebCrypto bool
			Date      string
			Results   []struct{ Verb, Type, Link, JS, WebCrypto string }
		}
		if err := json.Unmarshal([]byte(htmlUnescape(string(m[1]))), &got); err != nil {
			t.Fatalf("sign test output %q: %v", m[1], err)
		}
		if !got.WebCrypto || got.Date != signDate || len(got.Results) != len(signVectors) {
			t.Fatalf("sign test: %+v", got)
		}
		for _, r := range got.Results {
			want := auth.Sign(auth.MustDecodeKey(key), r.Verb, r.Type, r.Link, signDate)
			if r.JS != want || r.WebCrypto != want {
				t.Errorf("%s %q: js %q webcrypto %q, want %q", r.Verb, r.Link, r.JS, r.WebCrypto, want)
			}
		}
	}
}

func htmlUnescape(s string) string {
	return strings.NewReplacer("&quot;", `"`, "&lt;", "<", "&gt;", ">", "&#39;", "'", "&amp;", "&").Replace(s)
}

// TestConsoleRendersLiveTopology opens the console of an in-process
// three-region account in headless Chromium while traffic runs, and checks
// the rendered DOM and a screenshot. MERIDIAN_CONSOLE_SCREENSHOT=path
// keeps the screenshot.
func TestConsoleRendersLiveTopology(t *testing.T) {
	bin := chromium(t)
	c := testcluster.Start(t, testcluster.Options{RTTScale: 0.1})
	w := c.WriteRegion()
	mustDo(t, c.Endpoint(w), "POST", "dbs", "dbs", "", `{"id":"shop"}`, nil)
	mustDo(t, c.Endpoint(w), "POST", "dbs/shop/colls", "colls", "dbs/shop", `{"id":"orders","partitionKey":{"paths":["/pk"],"kind":"Hash"}}`, nil)

	// Traffic for the rates: writes in the write region, reads everywhere.
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { stop(); wg.Wait() }()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ctx.Err() == nil; i++ {
			body := fmt.Sprintf(`{"id":"o%d","pk":"p%d","total":%d}`, i, i%7, i)
			_, _ = do(c.Endpoint(w), "POST", "dbs/shop/colls/orders/docs", "docs", "dbs/shop/colls/orders", body,
				map[string]string{"x-ms-documentdb-partitionkey": fmt.Sprintf(`["p%d"]`, i%7)})
			for _, r := range c.Topo.Regions {
				_, _ = do(c.Endpoint(r.Name), "GET", fmt.Sprintf("dbs/shop/colls/orders/docs/o%d", i), "docs",
					fmt.Sprintf("dbs/shop/colls/orders/docs/o%d", i), "", map[string]string{"x-ms-documentdb-partitionkey": fmt.Sprintf(`["p%d"]`, i%7)})
			}
			time.Sleep(15 * time.Millisecond)
		}
	}()
	time.Sleep(500 * time.Millisecond)

	url := c.Endpoint(w) + strings.TrimPrefix(console.Path, "/") + "#key=" + auth.EmulatorKey
	dom := string(runChromium(t, bin, url, "--dump-dom"))
	for _, r := range c.Topo.Regions {
		if !strings.Contains(dom, r.Name) {
			t.Errorf("the DOM does not name region %q", r.Name)
		}
	}
	if !strings.Contains(dom, "write region") {
		t.Error(`the DOM lacks "write region"`)
	}
	if n := len(regexp.MustCompile(`lag \d+ ops · \d+ ms`).FindAllString(dom, -1)); n < 2 {
		t.Errorf("the DOM shows %d lag figures, want one per read region at least", n)
	}
	if !strings.Contains(dom, "live · 3 regions") {
		t.Errorf("the console is not live:\n%s", dom)
	}
	if !regexp.MustCompile(`[1-9][0-9.]* req/s`).MatchString(dom) {
		t.Error("the DOM shows no request rate")
	}

	checkScreenshot(t, bin, url, os.Getenv("MERIDIAN_CONSOLE_SCREENSHOT"))

	// A drill's outcome shows: a region offline, a partitioned pair.
	other := c.Topo.Regions[len(c.Topo.Regions)-1].Name
	admin := "_meridian/regions/" + other + "/offline"
	mustDo(t, c.Endpoint(other), "POST", "_meridian/regions/"+strings.ReplaceAll(other, " ", "%20")+"/offline", "", admin, "", nil)
	link := fmt.Sprintf(`{"a":%q,"b":%q,"partitioned":true}`, w, c.Topo.Regions[1].Name)
	mustDo(t, c.Endpoint(w), "POST", "_meridian/links", "", "_meridian/links", link, nil)
	dom = string(runChromium(t, bin, url, "--dump-dom"))
	for _, want := range []string{"Bring online", `<span class="badge health offline">offline</span>`, `<td class="state state-part">partitioned</td>`} {
		if !strings.Contains(dom, want) {
			t.Errorf("after the drills the DOM lacks %q", want)
		}
	}
	if keep := os.Getenv("MERIDIAN_CONSOLE_SCREENSHOT"); keep != "" {
		checkScreenshot(t, bin, url, strings.TrimSuffix(keep, ".png")+"-drills.png")
	}

	// A region that does not answer at all is shown unreachable; the
	// others stay live.
	c.Stop(other)
	dom = string(runChromium(t, bin, url, "--dump-dom"))
	for _, want := range []string{`<span class="badge health down">unreachable</span>`, "live · 3 regions"} {
		if !strings.Contains(dom, want) {
			t.Errorf("with %s stopped the DOM lacks %q", other, want)
		}
	}
}

// checkScreenshot takes a 1280×800 screenshot of url and checks that the
// page rendered; keep, if set, is where to copy it.
func checkScreenshot(t *testing.T, bin, url, keep string) {
	t.Helper()
	shot := filepath.Join(t.TempDir(), "console.png")
	runChromium(t, bin, url, "--screenshot="+shot, "--hide-scrollbars")
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 1280 || b.Dy() != 800 {
		t.Fatalf("screenshot is %v", b)
	}
	if n := colors(img); n < 200 {
		t.Fatalf("the screenshot has %d colours: the page did not render", n)
	}
	if keep != "" {
		b, _ := os.ReadFile(shot)
		if err := os.WriteFile(keep, b, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot kept at %s", keep)
	}
}

func colors(img image.Image) int {
	seen := map[uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, _ := img.At(x, y).RGBA()
			seen[(r>>8)<<16|(g>>8)<<8|bl>>8] = true
		}
	}
	return len(seen)
}

var client = &http.Client{Timeout: 10 * time.Second}

// do sends a master-key-signed request to a region endpoint.
func do(endpoint, method, path, resType, resLink, body string, hdr map[string]string) (int, error) {
	req, err := http.NewRequest(method, endpoint+path, strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	date := time.Now().UTC().Format(http.TimeFormat)
	req.Header.Set("x-ms-date", date)
	req.Header.Set("x-ms-version", "2020-11-05")
	req.Header.Set("Authorization", auth.Sign(auth.MustDecodeKey(auth.EmulatorKey), method, resType, resLink, date))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

func mustDo(t *testing.T, endpoint, method, path, resType, resLink, body string, hdr map[string]string) {
	t.Helper()
	code, err := do(endpoint, method, path, resType, resLink, body, hdr)
	if err != nil || code >= 300 {
		t.Fatalf("%s %s: %d %v", method, path, code, err)
	}
}
