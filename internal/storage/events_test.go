package storage

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

func TestWriteStallsCountedAndLogged(t *testing.T) {
	var buf bytes.Buffer
	st := &stallStats{}
	el := eventListener(slog.New(slog.NewTextHandler(&buf, nil)), st)
	el.WriteStallBegin(pebble.WriteStallBeginInfo{Reason: "memtable count limit reached"})
	time.Sleep(2 * time.Millisecond)
	el.WriteStallEnd()
	el.WriteStallEnd() // Pebble never sends an unmatched end; it must not count twice
	if n := st.count.Load(); n != 1 {
		t.Fatalf("stalls = %d, want 1", n)
	}
	if d := time.Duration(st.nanos.Load()); d < 2*time.Millisecond {
		t.Fatalf("stall time = %v, want >= 2ms", d)
	}
	out := buf.String()
	for _, want := range []string{"level=WARN", "write stall began", "memtable count limit reached", "write stall ended"} {
		if !strings.Contains(out, want) {
			t.Fatalf("log lacks %q:\n%s", want, out)
		}
	}
}

func TestMetricsReportWriteStalls(t *testing.T) {
	db, err := Open(Options{Dir: "db", FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.stall.count.Store(2)
	db.stall.nanos.Store(int64(3 * time.Second))
	m := db.Metrics()
	if m.WriteStalls != 2 || m.WriteStallTime != 3*time.Second {
		t.Fatalf("metrics = %+v", m)
	}
}
