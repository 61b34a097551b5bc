package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// The README's chart must be the one `meridian bench matrix --out
// docs/bench` produced: the committed SVG and table are re-rendered from
// the committed results and must match byte for byte.
func TestReadmeChartIsTheMatrixOutput(t *testing.T) {
	raw, err := os.ReadFile("../../docs/bench/matrix.json")
	if err != nil {
		t.Fatal(err)
	}
	var rep matrixReport
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatalf("docs/bench/matrix.json: %v", err)
	}
	if len(rep.Cells) == 0 {
		t.Fatal("docs/bench/matrix.json has no cells")
	}
	for file, want := range map[string]string{
		"../../docs/bench/matrix.svg": renderMatrixSVG(&rep),
		"../../docs/bench/matrix.md":  renderMatrixMarkdown(&rep),
	} {
		got, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Errorf("%s is not what matrix.json renders to: rerun `meridian bench matrix --out docs/bench`", file)
		}
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "](docs/bench/matrix.svg)") {
		t.Error("README.md does not embed docs/bench/matrix.svg")
	}
}
