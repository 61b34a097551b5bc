package e2e_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
)

func TestBinaryVersion(t *testing.T) {
	out, err := exec.Command(meridianBin, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("meridian version: %v\n%s", err, out)
	}
	if !regexp.MustCompile(`^meridian \S+\n?$`).Match(out) {
		t.Fatalf("meridian version printed %q, want \"meridian <version>\"", out)
	}
}

func TestBinaryUnknownCommandFails(t *testing.T) {
	err := exec.Command(meridianBin, "no-such-command").Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() == 0 {
		t.Fatalf("meridian no-such-command: err = %v, want a non-zero exit", err)
	}
}

// TestBinarySIGTERMCleanExitAndRestart writes through the SDK, stops the
// server with SIGTERM (it must exit 0), restarts it on the same data
// directory and reads the data back.
func TestBinarySIGTERMCleanExitAndRestart(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs SIGTERM")
	}
	dataDir := t.TempDir()
	p := startServe(t, serveOpts{dataDir: dataDir})
	client := newSDKClient(t, p.endpoint, nil)
	cont := createDBAndContainer(t, client, "termdb", "c")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	docs := map[string]map[string]any{}
	for i, pk := range []string{"a", "b", "c", "a", "b"} {
		d := map[string]any{"id": "doc" + string(rune('0'+i)), "pk": pk, "n": float64(i), "s": "hello"}
		body, _ := json.Marshal(d)
		if _, err := cont.CreateItem(ctx, azcosmos.NewPartitionKeyString(pk), body, nil); err != nil {
			t.Fatalf("CreateItem: %v", err)
		}
		docs[d["id"].(string)] = d
	}

	code, err := p.terminate(40 * time.Second)
	if err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	if code != 0 {
		t.Fatalf("meridian serve exited with code %d after SIGTERM, want 0\nstderr:\n%s", code, p.stderr.String())
	}

	p = restartServe(t, dataDir, p.addr, serveOpts{})
	client = newSDKClient(t, p.endpoint, nil)
	cont, err = client.NewContainer("termdb", "c")
	if err != nil {
		t.Fatal(err)
	}
	for id, d := range docs {
		resp, err := cont.ReadItem(ctx, azcosmos.NewPartitionKeyString(d["pk"].(string)), id, nil)
		if err != nil {
			t.Fatalf("ReadItem %s after restart: %v", id, err)
		}
		if got := userFields(t, resp.Value); !mapsEqual(got, d) {
			t.Errorf("ReadItem %s after restart = %v, want %v", id, got, d)
		}
	}
	code, err = p.terminate(40 * time.Second)
	if err != nil || code != 0 {
		t.Fatalf("second SIGTERM: code %d, err %v", code, err)
	}
}

func mapsEqual(a, b map[string]any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// TestBinaryCertgenHTTPS generates a certificate with `meridian certgen`,
// serves HTTPS with it and does CRUD through the SDK with a custom
// transport that trusts that certificate.
func TestBinaryCertgenHTTPS(t *testing.T) {
	certDir := t.TempDir()
	out, err := exec.Command(meridianBin, "certgen", "--out", certDir).CombinedOutput()
	if err != nil {
		t.Fatalf("meridian certgen: %v\n%s", err, out)
	}
	certFile, keyFile := filepath.Join(certDir, "cert.pem"), filepath.Join(certDir, "key.pem")
	for _, f := range []string{certFile, keyFile} {
		if st, err := os.Stat(f); err != nil || st.Size() == 0 {
			t.Fatalf("certgen did not write %s: %v", f, err)
		}
	}
	if _, err := tls.LoadX509KeyPair(certFile, keyFile); err != nil {
		t.Fatalf("certgen wrote an unusable pair: %v", err)
	}

	p := startServe(t, serveOpts{
		dataDir: t.TempDir(),
		extra:   []string{"--tls-cert", certFile, "--tls-key", keyFile},
		https:   true,
	})
	if got := p.endpoint[:8]; got != "https://" {
		t.Fatalf("endpoint %q is not https", p.endpoint)
	}

	// Plain http against the TLS port must not work.
	if resp, err := http.Get("http://" + p.addr + "/"); err == nil {
		resp.Body.Close()
		if resp.StatusCode < 400 {
			t.Errorf("plain http GET to the TLS listener answered %d", resp.StatusCode)
		}
	}

	// The SDK's default transport verifies certificates (as the wire doc,
	// §1, says); use one that trusts the generated certificate. The
	// certificate names 127.0.0.1, so full verification works, which is
	// stricter than InsecureSkipVerify.
	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: certPool(t, certFile), MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2: true,
	}
	t.Cleanup(tr.CloseIdleConnections)
	client := newSDKClient(t, p.endpoint, &http.Client{Transport: tr, Timeout: 60 * time.Second})
	cont := createDBAndContainer(t, client, "tlsdb", "c")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pk := azcosmos.NewPartitionKeyString("p1")

	if _, err := cont.CreateItem(ctx, pk, []byte(`{"id":"x","pk":"p1","v":1}`), nil); err != nil {
		t.Fatalf("CreateItem over https: %v", err)
	}
	r, err := cont.ReadItem(ctx, pk, "x", nil)
	if err != nil {
		t.Fatalf("ReadItem over https: %v", err)
	}
	if got := userFields(t, r.Value); got["v"] != float64(1) {
		t.Fatalf("ReadItem = %v", got)
	}
	if _, err := cont.ReplaceItem(ctx, pk, "x", []byte(`{"id":"x","pk":"p1","v":2}`), &azcosmos.ItemOptions{IfMatchEtag: &r.ETag}); err != nil {
		t.Fatalf("ReplaceItem over https: %v", err)
	}
	if _, err := cont.UpsertItem(ctx, pk, []byte(`{"id":"y","pk":"p1","v":3}`), nil); err != nil {
		t.Fatalf("UpsertItem over https: %v", err)
	}
	rows, err := queryAll(ctx, cont, "SELECT VALUE c.v FROM c WHERE c.pk = 'p1' ORDER BY c.v", pk)
	if err != nil {
		t.Fatalf("query over https: %v", err)
	}
	if len(rows) != 2 || string(rows[0]) != "2" || string(rows[1]) != "3" {
		t.Fatalf("query over https = %q, want [2 3]", rows)
	}
	if _, err := cont.DeleteItem(ctx, pk, "x", nil); err != nil {
		t.Fatalf("DeleteItem over https: %v", err)
	}
	_, err = cont.ReadItem(ctx, pk, "x", nil)
	var re *azcore.ResponseError
	if !errors.As(err, &re) || re.StatusCode != http.StatusNotFound {
		t.Fatalf("ReadItem of a deleted item over https: err = %v, want 404", err)
	}
}
