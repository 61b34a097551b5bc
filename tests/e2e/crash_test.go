package e2e_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
)

const (
	crashWriters = 16
	crashTrials  = 3
	crashDB      = "crashdb"
	crashColl    = "items"
)

// crashDoc is one write of the crash test. Every id is unique across the
// whole test, so a document found after recovery names exactly one write.
type crashDoc struct {
	ID      string `json:"id"`
	PK      string `json:"pk"`
	Trial   int    `json:"trial"`
	Writer  int    `json:"writer"`
	Seq     int    `json:"seq"`
	Op      string `json:"op"`
	Payload string `json:"payload"`
	Nested  struct {
		N    float64  `json:"n"`
		Tags []string `json:"tags"`
	} `json:"nested"`
}

// crashLedger records what the writers attempted and what the SDK
// acknowledged. attempted ⊇ acked.
type crashLedger struct {
	mu        sync.Mutex
	attempted map[string]crashDoc
	acked     map[string]crashDoc
}

func (l *crashLedger) attempt(d crashDoc) {
	l.mu.Lock()
	l.attempted[d.ID] = d
	l.mu.Unlock()
}

func (l *crashLedger) ackedCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.acked)
}

func (l *crashLedger) ack(d crashDoc) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.acked[d.ID] = d
	return len(l.acked)
}

// TestCrashKill9AckedWritesSurvive SIGKILLs the server in the middle of a
// stream of concurrent SDK writes, restarts it on the same data directory,
// and checks that every acknowledged write is readable with its exact
// content, that nothing was invented, and that COUNT agrees with the
// documents present: acked ≤ count ≤ acked + in-flight-unacked.
// Three kill/restart trials run on the same data directory, so later trials
// also re-verify the writes of earlier ones.
func TestCrashKill9AckedWritesSurvive(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs SIGKILL")
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0x6d657269))

	dataDir := t.TempDir()
	p := startServe(t, serveOpts{dataDir: dataDir})
	client := newSDKClient(t, p.endpoint, nil)
	cont := createDBAndContainer(t, client, crashDB, crashColl)

	ledger := &crashLedger{attempted: map[string]crashDoc{}, acked: map[string]crashDoc{}}
	for trial := 0; trial < crashTrials; trial++ {
		before := len(ledger.acked)
		target := before + 200 + rng.IntN(601) // kill after 200-800 new acked writes
		inflight := runWritersUntilKill(t, cont, p, ledger, trial, target)
		if t.Failed() {
			return
		}
		t.Logf("trial %d: killed at %d acked writes this trial (%d total), %d attempted but unacked so far, %d in flight at the kill",
			trial, len(ledger.acked)-before, len(ledger.acked), len(ledger.attempted)-len(ledger.acked), inflight)

		// Restart on the same data directory. A fresh client is required:
		// the SDK caches a failed account bootstrap for five minutes.
		p = restartServe(t, dataDir, p.addr, serveOpts{})
		client = newSDKClient(t, p.endpoint, nil)
		var err error
		cont, err = client.NewContainer(crashDB, crashColl)
		if err != nil {
			t.Fatal(err)
		}
		verifyAfterCrash(t, cont, ledger, trial)
		if t.Failed() {
			return
		}
	}

	// The recovered server keeps serving writes. Re-creating an unacked id
	// gives 201 if the write was lost or 409 if it survived; either way it
	// is then readable. A new id is created and readable.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for id, d := range ledger.attempted {
		if _, acked := ledger.acked[id]; acked {
			continue
		}
		body, _ := json.Marshal(d)
		_, err := cont.CreateItem(ctx, azcosmos.NewPartitionKeyString(d.PK), body, nil)
		var re *azcore.ResponseError
		if err != nil && (!errors.As(err, &re) || re.StatusCode != http.StatusConflict) {
			t.Errorf("re-creating unacked %s: %v, want success or 409", id, err)
		}
		if _, rerr := cont.ReadItem(ctx, azcosmos.NewPartitionKeyString(d.PK), id, nil); rerr != nil {
			t.Errorf("after re-creating unacked %s (create err %v), read failed: %v", id, err, rerr)
		}
		break
	}
	if _, err := cont.CreateItem(ctx, azcosmos.NewPartitionKeyString("post"), []byte(`{"id":"post-recovery","pk":"post"}`), nil); err != nil {
		t.Fatalf("write after recovery: %v", err)
	}
	if _, err := cont.ReadItem(ctx, azcosmos.NewPartitionKeyString("post"), "post-recovery", nil); err != nil {
		t.Fatalf("read after recovery: %v", err)
	}
}

// runWritersUntilKill runs crashWriters concurrent writers until the ledger
// holds target acked writes (or a safety timeout), SIGKILLs the server while
// they are still writing, and returns the number of writes in flight at the
// kill.
func runWritersUntilKill(t *testing.T, cont *azcosmos.ContainerClient, p *proc, ledger *crashLedger, trial, target int) int {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	var (
		killed    atomic.Bool
		inflight  atomic.Int64
		reached   = make(chan struct{})
		reachOnce sync.Once
		wg        sync.WaitGroup
		errMu     sync.Mutex
		errs      []string
	)
	for w := 0; w < crashWriters; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for seq := 0; ctx.Err() == nil; seq++ {
				d := crashDoc{
					ID:      fmt.Sprintf("t%d-w%02d-%06d", trial, w, seq),
					PK:      fmt.Sprintf("p%02d", (w*7+seq)%13),
					Trial:   trial,
					Writer:  w,
					Seq:     seq,
					Payload: strings.Repeat(fmt.Sprintf("%d/%d/%d;", trial, w, seq), 24),
				}
				d.Nested.N = float64(seq) + 0.5
				d.Nested.Tags = []string{"crash", d.PK}
				d.Op = "create"
				if seq%2 == 1 {
					d.Op = "upsert"
				}
				body, err := json.Marshal(d)
				if err != nil {
					panic(err)
				}
				pk := azcosmos.NewPartitionKeyString(d.PK)
				ledger.attempt(d)
				inflight.Add(1)
				if d.Op == "create" {
					_, err = cont.CreateItem(ctx, pk, body, nil)
				} else {
					_, err = cont.UpsertItem(ctx, pk, body, nil)
				}
				inflight.Add(-1)
				if err == nil {
					if ledger.ack(d) >= target {
						reachOnce.Do(func() { close(reached) })
					}
					continue
				}
				if killed.Load() || ctx.Err() != nil {
					return
				}
				errMu.Lock()
				errs = append(errs, fmt.Sprintf("%s %s: %v", d.Op, d.ID, err))
				errMu.Unlock()
				reachOnce.Do(func() { close(reached) })
				return
			}
		}(w)
	}

	select {
	case <-reached:
	case <-time.After(60 * time.Second):
		t.Logf("trial %d: only %d acked writes after 60s; killing anyway", trial, ledger.ackedCount())
	}
	atInKill := int(inflight.Load())
	killed.Store(true)
	p.kill()
	cancel()
	wg.Wait()
	if len(errs) > 0 {
		t.Errorf("trial %d: %d writes failed before the kill; first: %s", trial, len(errs), errs[0])
	}
	if len(ledger.acked) == 0 {
		t.Errorf("trial %d: no write was acknowledged before the kill", trial)
	}
	return atInKill
}

// verifyAfterCrash checks the recovered server against the ledger.
func verifyAfterCrash(t *testing.T, cont *azcosmos.ContainerClient, ledger *crashLedger, trial int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()

	want := func(d crashDoc) map[string]any {
		b, _ := json.Marshal(d)
		return userFields(t, b)
	}

	// 1. Every acknowledged write is readable with its exact content.
	ids := make([]string, 0, len(ledger.acked))
	for id := range ledger.acked {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var (
		next    atomic.Int64
		wg      sync.WaitGroup
		mu      sync.Mutex
		missing []string
		wrong   []string
	)
	for r := 0; r < 8; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(ids) {
					return
				}
				d := ledger.acked[ids[i]]
				resp, err := cont.ReadItem(ctx, azcosmos.NewPartitionKeyString(d.PK), d.ID, nil)
				mu.Lock()
				if err != nil {
					missing = append(missing, fmt.Sprintf("%s: %v", d.ID, err))
				} else if got := userFields(t, resp.Value); !reflect.DeepEqual(got, want(d)) {
					wrong = append(wrong, fmt.Sprintf("%s: got %v want %v", d.ID, got, want(d)))
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(missing) > 0 {
		sort.Strings(missing)
		t.Errorf("trial %d: %d of %d acknowledged writes are not readable after restart; first: %s",
			trial, len(missing), len(ids), missing[0])
	}
	if len(wrong) > 0 {
		sort.Strings(wrong)
		t.Errorf("trial %d: %d acknowledged writes read back with different content; first: %s", trial, len(wrong), wrong[0])
	}

	// 2. Every document present was attempted (nothing invented, nothing
	// torn), and the acked ones are all among them.
	rows, err := queryAll(ctx, cont, "SELECT * FROM c", azcosmos.NewPartitionKey())
	if err != nil {
		t.Fatalf("trial %d: cross-partition SELECT *: %v", trial, err)
	}
	present := map[string]bool{}
	for _, raw := range rows {
		got := userFields(t, raw)
		id, _ := got["id"].(string)
		if present[id] {
			t.Errorf("trial %d: id %q returned twice by SELECT *", trial, id)
		}
		present[id] = true
		d, ok := ledger.attempted[id]
		if !ok {
			t.Errorf("trial %d: document %q was never written: %s", trial, id, raw)
			continue
		}
		if !reflect.DeepEqual(got, want(d)) {
			t.Errorf("trial %d: document %q content %v, want %v", trial, id, got, want(d))
		}
	}
	for id := range ledger.acked {
		if !present[id] {
			t.Errorf("trial %d: acknowledged %q missing from SELECT * FROM c", trial, id)
			break
		}
	}

	// 3. COUNT agrees: acked ≤ count ≤ attempted, and equals the rows seen.
	countRows, err := queryAll(ctx, cont, "SELECT VALUE COUNT(1) FROM c", azcosmos.NewPartitionKey())
	if err != nil {
		t.Fatalf("trial %d: COUNT query: %v", trial, err)
	}
	if len(countRows) != 1 {
		t.Fatalf("trial %d: COUNT query returned %d rows: %q", trial, len(countRows), countRows)
	}
	var count int
	if err := json.Unmarshal(countRows[0], &count); err != nil {
		t.Fatalf("trial %d: COUNT result %s: %v", trial, countRows[0], err)
	}
	acked, attempted := len(ledger.acked), len(ledger.attempted)
	t.Logf("trial %d: after restart COUNT=%d, acked=%d, attempted=%d (unacked writes that survived: %d)",
		trial, count, acked, attempted, count-acked)
	if count < acked || count > attempted {
		t.Errorf("trial %d: COUNT = %d, want between acked %d and attempted %d", trial, count, acked, attempted)
	}
	if count != len(present) {
		t.Errorf("trial %d: COUNT = %d but SELECT * returned %d documents", trial, count, len(present))
	}
}
