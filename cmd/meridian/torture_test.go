package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestTortureFlags(t *testing.T) {
	var out, errb bytes.Buffer
	err := run(context.Background(), []string{"torture", "--scenario", "F99"}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), `unknown scenario "F99"`) {
		t.Fatalf("unknown scenario: err %v", err)
	}
	errb.Reset()
	_ = run(context.Background(), []string{"torture", "-h"}, &out, &errb)
	for _, want := range []string{"F0 ", "F10 ", "--duration", "disk full"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("torture -h does not mention %q:\n%s", want, errb.String())
		}
	}
}
