package loadgen

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestRecorderAggregation(t *testing.T) {
	rec := NewRecorder()
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	// Warm-up outcomes are not measured.
	rec.Record(OpRead, "West US", ms(500), "", false)
	rec.Record(OpRead, "West US", ms(500), "503", false)
	// 100 reads in West US at 1..100 ms, 50 in East US at 10 ms.
	for i := 1; i <= 100; i++ {
		rec.Record(OpRead, "West US", ms(i), "", true)
	}
	for range 50 {
		rec.Record(OpRead, "East US", ms(10), "", true)
	}
	// Updates: 9 ok at 2 ms, one 429 and one timeout (recorded at 10 s).
	for range 9 {
		rec.Record(OpUpdate, "West US", ms(2), "", true)
	}
	rec.Record(OpUpdate, "West US", ms(3), "429/3200", true)
	rec.Record(OpUpdate, "West US", 10*time.Second, ErrTimeout, true)
	// A customsync sequence and its legs do not enter the total.
	rec.Record(OpCustomSync, "East US", ms(40), "", true)
	rec.Record(OpCustomSync, AllRegions, ms(40), "", true)

	rows := rec.Stats(10 * time.Second)
	var order []string
	for _, r := range rows {
		order = append(order, r.Op+"/"+r.Region)
	}
	want := "read/*,read/East US,read/West US,update/West US,customsync/*,customsync/East US,total/*"
	if got := strings.Join(order, ","); got != want {
		t.Fatalf("rows %s\nwant %s", got, want)
	}
	res := &Result{Ops: rows}
	west := res.Row(OpRead, "west us")
	if west.OK != 100 || west.Errors != 0 || west.P50 < 49.9 || west.P50 > 50.1 || west.P99 < 98.9 || west.P99 > 99.1 || west.Max < 99.9 || west.Max > 100.1 {
		t.Errorf("West US reads: %+v", west)
	}
	if west.Throughput != 10 {
		t.Errorf("West US read throughput %v, want 10/s", west.Throughput)
	}
	if all := res.Row(OpRead, AllRegions); all.OK != 150 || all.Throughput != 15 {
		t.Errorf("all reads: %+v", all)
	}
	up := res.Row(OpUpdate, AllRegions) // one region: its row
	if up.OK != 9 || up.Errors != 2 || up.ErrorsByClass["429/3200"] != 1 || up.ErrorsByClass[ErrTimeout] != 1 {
		t.Errorf("updates: %+v", up)
	}
	if up.Max > 2.01 || up.MaxAll < 9990 || up.P99All < 9990 {
		t.Errorf("updates: successes must exclude errors (max %v), the including-errors view must show the timeout (max %v, p99 %v)", up.Max, up.MaxAll, up.P99All)
	}
	tot := res.Total()
	if tot.OK != 159 || tot.Errors != 2 {
		t.Errorf("total: %d ok %d errors, want 159 and 2 (customsync excluded)", tot.OK, tot.Errors)
	}
	if cs := res.Row(OpCustomSync, AllRegions); cs.OK != 1 || cs.P50 < 39.9 {
		t.Errorf("customsync: %+v", cs)
	}

	// The interval for the progress line covers warm-up too, not the
	// customsync legs.
	iv := rec.TakeInterval()
	if iv.OK != 1+100+50+9+1 || iv.Errors != 3 || iv.TotalErrors != 3 {
		t.Errorf("interval %+v", iv)
	}
	if iv2 := rec.TakeInterval(); iv2.OK != 0 || iv2.Errors != 0 || iv2.TotalErrors != 3 {
		t.Errorf("second interval %+v", iv2)
	}

	// The report prints each row and the error classes, and flags errors.
	res.OfferedRate, res.AchievedRate, res.WindowSeconds = 16, 16.1, 10
	var buf bytes.Buffer
	res.WriteTable(&buf)
	out := buf.String()
	for _, s := range []string{"read  East US", "update  West US: 1 × 429/3200", "update  West US: 1 × timeout", "WARNING: 2 of 161 operations failed"} {
		if !strings.Contains(strings.Join(strings.Fields(out), " "), strings.Join(strings.Fields(s), " ")) {
			t.Errorf("table lacks %q:\n%s", s, out)
		}
	}
	if _, err := json.Marshal(res); err != nil {
		t.Fatal(err)
	}
}

// TestRecorderClampsOutOfRange: values outside the histogram range are
// clamped, not lost (testing.md pitfall 21).
func TestRecorderClampsOutOfRange(t *testing.T) {
	rec := NewRecorder()
	rec.Record(OpRead, "r", 0, "", true)
	rec.Record(OpRead, "r", 2*time.Minute, "", true)
	row := rec.Stats(time.Second)[0]
	if row.OK != 2 || row.Max < 59_000 {
		t.Errorf("row %+v: want both values kept, the second clamped to 60 s", row)
	}
}

func TestCheckFlagsAGeneratorThatFellBehind(t *testing.T) {
	r := &Result{Scheduled: 10_000, Late: 100, OfferedRate: 1000, AchievedRate: 1000, WindowSeconds: 10}
	if w := r.Check(); len(w) != 0 {
		t.Fatalf("1 %% late is within the guard, got %q", w)
	}
	r.Late = 250
	w := r.Check()
	if len(w) != 1 || !strings.Contains(w[0], "250 operations (2.5 %)") || !strings.Contains(w[0], "p97.5") {
		t.Fatalf("warnings = %q", w)
	}
}

func TestRecorderServerTime(t *testing.T) {
	rec := NewRecorder()
	for i := range 100 {
		rec.RecordServer(OpRead, "r", 5*time.Millisecond, time.Duration(i+1)*10*time.Microsecond, "", true)
	}
	rec.RecordServer(OpRead, "r", 5*time.Millisecond, 3*time.Millisecond, "503", true) // an error: not a server time
	rec.RecordServer(OpRead, "r", 5*time.Millisecond, -1, "", true)                    // not reported
	rec.Record(OpUpdate, "r", time.Millisecond, "", true)
	rows := rec.Stats(time.Second)
	read, update := rows[0], rows[1]
	if read.Op != OpRead || read.OK != 101 || read.ServerCount != 100 ||
		read.ServerP50 != 0.5 || read.ServerP99 != 0.99 || read.ServerP999 != 1 {
		t.Errorf("read row %+v: want 100 server times of 0.01-1 ms", read)
	}
	if update.ServerCount != 0 || update.ServerP99 != 0 {
		t.Errorf("update row %+v: no server time was reported", update)
	}
	var b strings.Builder
	(&Result{Ops: rows}).WriteTable(&b)
	if !strings.Contains(b.String(), "x-ms-request-duration-ms") || strings.Count(b.String(), "\nread ") != 2 {
		t.Errorf("table:\n%s", b.String())
	}
}

func TestServerTimeHeader(t *testing.T) {
	for v, want := range map[string]time.Duration{
		"0.412": 412 * time.Microsecond, "3": 3 * time.Millisecond, "": -1, "abc": -1, "-1": -1, "NaN": -1, "1e12": -1,
	} {
		if got := serverTime([]byte(v)); got != want {
			t.Errorf("serverTime(%q) = %v, want %v", v, got, want)
		}
	}
}
