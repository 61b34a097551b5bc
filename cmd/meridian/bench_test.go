package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBenchMatrixSmall runs a 2-cell matrix with tiny cells and checks the
// three files (no latency is asserted).
func TestBenchMatrixSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three regions twice")
	}
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"bench", "matrix", "--levels", "Strong,Eventual", "--rtts", "10ms",
		"--cell-duration", "1s", "--warmup", "0s", "--rate", "40", "--records", "50", "--out", dir, "--label", "test"}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("bench matrix: %v\n%s", err, stderr.String())
	}
	md, err := os.ReadFile(filepath.Join(dir, "matrix.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"GOMAXPROCS", "build: test", "| Strong | 10 |", "| Eventual | 10 |"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("matrix.md lacks %q:\n%s", want, md)
		}
	}
	svg, err := os.ReadFile(filepath.Join(dir, "matrix.svg"))
	if err != nil {
		t.Fatal(err)
	}
	if s := string(svg); !strings.HasPrefix(s, "<svg") || !strings.Contains(s, "RTT 10 ms") || !strings.Contains(s, "stroke-dasharray") ||
		strings.Count(s, "<rect x=") < 4 {
		t.Errorf("matrix.svg lacks bars, the group label or the floor line:\n%s", s)
	}
	if _, err := os.Stat(filepath.Join(dir, "matrix.json")); err != nil {
		t.Error(err)
	}
}

func TestBenchFlags(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"bench", "--workload", "Z", "--endpoint", "http://127.0.0.1:1/"}, &stdout, &stderr); err == nil ||
		!strings.Contains(err.Error(), "workload") {
		t.Errorf("bad workload: %v", err)
	}
	if err := run(context.Background(), []string{"bench", "matrix", "--levels", "Sessionish"}, &stdout, &stderr); err == nil {
		t.Error("bad level accepted")
	}
}
