package faults_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"

	"github.com/meridiandb/meridian/internal/server"
)

// F15: fsync failure (testing.md §3.2, pitfall 7).
//
// The child is this test binary re-executed (TestFsyncChild, selected by
// the environment): an in-process server.New on the data directory through
// errorfs.Wrap(syncTracker(vfs.Default), injector). Once the parent arms it
// (a line on stdin), the injector fails a WAL sync (OpFileSyncData /
// OpFileSyncTo on *.log: WAL syncs never arrive as OpFileSync) after a
// seeded number of WAL syncs or a seeded delay, and from then on fails
// every sync and write of every WAL. At the failure it also truncates the
// WAL back to the length its last successful sync covered: an fsync
// failure may lose the dirty pages (Linux marks them clean), so a batch
// whose sync failed must be treated as lost. Without that, the page cache
// would keep the failed batch and an acknowledgement sent for it would go
// unnoticed.
//
// The parent is the supervisor: it drives concurrent SDK writers, records
// what was acknowledged, waits for the child to exit after the fault (a
// systemd-like watchdog kills it if it lingers), restarts it on the same
// data directory and checks every acknowledged write is there with its
// content — so an ack for a failed batch, which the truncation erased,
// fails the test. Trials share the data directory, so each restart also
// re-checks every earlier trial.

const (
	fsyncChildEnv = "MERIDIAN_FSYNC_CHILD" // data directory
	fsyncFaultEnv = "MERIDIAN_FSYNC_FAULT" // "syncs:N", "delay:D", "lie:N" or "" (no errorfs at all)
	fsyncTrials   = 6
	// faultMarker is what the child prints on stderr when it injects.
	faultMarker = "FSYNC FAULT INJECTED"
)

// TestFsyncChild is the child process; it does nothing in a normal run.
func TestFsyncChild(t *testing.T) {
	dir := os.Getenv(fsyncChildEnv)
	if dir == "" {
		t.Skip("the child process of TestFsyncFailure")
	}
	os.Exit(runFsyncChild(dir, os.Getenv(fsyncFaultEnv)))
}

func runFsyncChild(dir, fault string) int {
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cfg := server.Config{DataDir: dir, Logger: logger}
	inj := &walSyncFault{armed: make(chan struct{})}
	if fault != "" {
		kind, arg, _ := strings.Cut(fault, ":")
		switch kind {
		case "syncs", "lie":
			n, err := strconv.Atoi(arg)
			if err != nil {
				fmt.Fprintln(os.Stderr, "bad fault", fault)
				return 2
			}
			inj.afterSyncs, inj.lie = n, kind == "lie"
		case "delay":
			d, err := time.ParseDuration(arg)
			if err != nil {
				fmt.Fprintln(os.Stderr, "bad fault", fault)
				return 2
			}
			inj.afterDelay = d
		default:
			fmt.Fprintln(os.Stderr, "bad fault", fault)
			return 2
		}
		inj.tracker = &syncTracker{FS: vfs.Default, files: map[string]*trackedFile{}}
		cfg.FS = errorfs.Wrap(inj.tracker, inj)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	cfg.Listener = ln
	s, err := server.New(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "server.New:", err)
		return 2
	}
	s.Start()
	fmt.Printf("LISTEN %s\n", s.Endpoint())
	// "arm" on stdin arms the fault; EOF or SIGTERM stops the server.
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			if strings.TrimSpace(sc.Text()) == "arm" {
				inj.arm()
			}
		}
	}()
	ctx, stop := signalContext()
	defer stop()
	<-ctx.Done()
	cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Close(cctx); err != nil {
		fmt.Fprintln(os.Stderr, "close:", err)
		return 1
	}
	return 0
}

func signalContext() (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		select {
		case <-ch:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// walSyncFault is the errorfs injector of the child.
type walSyncFault struct {
	tracker    *syncTracker
	afterSyncs int           // fail the WAL sync after this many succeeded since arming
	afterDelay time.Duration // or the first one this long after arming
	// lie makes the failing sync report success (a disk that loses
	// synced data): the harness's negative control.
	lie     bool
	armed   chan struct{}
	armOnce sync.Once

	mu       sync.Mutex
	armedAt  time.Time
	syncs    int
	tripped  bool
	injected int
}

func (f *walSyncFault) arm() {
	f.armOnce.Do(func() {
		f.mu.Lock()
		f.armedAt = time.Now()
		f.mu.Unlock()
		close(f.armed)
	})
}

func (f *walSyncFault) String() string { return "wal sync fault" }

// MaybeError implements errorfs.Injector.
func (f *walSyncFault) MaybeError(op errorfs.Op) error {
	if !strings.HasSuffix(op.Path, ".log") {
		return nil
	}
	select {
	case <-f.armed:
	default:
		return nil
	}
	f.mu.Lock()
	frozen := f.lie && f.tripped
	f.mu.Unlock()
	if frozen && op.Kind != errorfs.OpFileSync {
		// After lying, the disk hangs: the batch the lie covered is
		// acknowledged, nothing more reaches the WAL (no hole for replay to
		// trip on), and no later error ends the process (a failed sync is
		// fatal) before those acknowledgements reach the clients. The test
		// kills the child.
		select {}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch op.Kind {
	case errorfs.OpFileSyncData, errorfs.OpFileSyncTo, errorfs.OpFileSync:
	case errorfs.OpFileWrite, errorfs.OpFileWriteAt:
		if f.tripped {
			f.injected++
			return errorfs.ErrInjected // nothing lands after the failed sync
		}
		return nil
	default:
		return nil
	}
	if !f.tripped {
		if op.Kind == errorfs.OpFileSync {
			return nil // the WAL is synced through SyncData/SyncTo
		}
		f.syncs++
		due := f.afterSyncs > 0 && f.syncs > f.afterSyncs || f.afterDelay > 0 && time.Since(f.armedAt) >= f.afterDelay
		if !due {
			return nil
		}
		f.tripped = true
		kept, lost, err := f.tracker.dropUnsynced(op.Path)
		fmt.Fprintf(os.Stderr, "%s: %s on %s after %d WAL syncs, %s after arming; kept %d synced bytes, dropped %d (truncate err %v, lie %v)\n",
			faultMarker, opName(op.Kind), op.Path, f.syncs-1, time.Since(f.armedAt).Round(time.Millisecond), kept, lost, err, f.lie)
		if f.lie {
			return nil
		}
	}
	f.injected++
	return errorfs.ErrInjected
}

func opName(k errorfs.OpKind) string {
	switch k {
	case errorfs.OpFileSyncData:
		return "SyncData"
	case errorfs.OpFileSyncTo:
		return "SyncTo"
	}
	return fmt.Sprint(int(k))
}

// syncTracker is a vfs.FS that remembers, per file opened for writing,
// how many bytes were written and how many a successful sync covered.
type syncTracker struct {
	vfs.FS
	mu    sync.Mutex
	files map[string]*trackedFile
}

type trackedFile struct {
	vfs.File
	mu      sync.Mutex
	written int64 // highest offset written
	synced  int64 // bytes covered by the last successful sync
}

func (s *syncTracker) track(name string, f vfs.File, err error) (vfs.File, error) {
	if err != nil {
		return f, err
	}
	tf := &trackedFile{File: f}
	if st, serr := f.Stat(); serr == nil && !strings.HasSuffix(name, ".log") {
		tf.written, tf.synced = st.Size(), st.Size()
	}
	s.mu.Lock()
	s.files[name] = tf
	s.mu.Unlock()
	return tf, nil
}

func (s *syncTracker) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := s.FS.Create(name, c)
	return s.track(name, f, err)
}

func (s *syncTracker) ReuseForWrite(oldname, newname string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := s.FS.ReuseForWrite(oldname, newname, c)
	return s.track(newname, f, err)
}

func (s *syncTracker) OpenReadWrite(name string, c vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	f, err := s.FS.OpenReadWrite(name, c, opts...)
	return s.track(name, f, err)
}

// dropUnsynced truncates name to what its last successful sync covered.
func (s *syncTracker) dropUnsynced(name string) (kept, lost int64, err error) {
	s.mu.Lock()
	tf := s.files[name]
	s.mu.Unlock()
	if tf == nil {
		return 0, 0, fmt.Errorf("%s is not tracked", name)
	}
	tf.mu.Lock()
	defer tf.mu.Unlock()
	return tf.synced, tf.written - tf.synced, os.Truncate(name, tf.synced)
}

func (f *trackedFile) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.File.Write(p)
	f.written += int64(n)
	return n, err
}

func (f *trackedFile) WriteAt(p []byte, off int64) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.File.WriteAt(p, off)
	f.written = max(f.written, off+int64(n))
	return n, err
}

func (f *trackedFile) syncing() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.written
}

func (f *trackedFile) covered(n int64) {
	f.mu.Lock()
	f.synced = max(f.synced, n)
	f.mu.Unlock()
}

func (f *trackedFile) Sync() error {
	n := f.syncing()
	err := f.File.Sync()
	if err == nil {
		f.covered(n)
	}
	return err
}

func (f *trackedFile) SyncData() error {
	n := f.syncing()
	err := f.File.SyncData()
	if err == nil {
		f.covered(n)
	}
	return err
}

func (f *trackedFile) SyncTo(length int64) (bool, error) {
	n := f.syncing()
	full, err := f.File.SyncTo(length)
	if err == nil {
		if full {
			f.covered(n)
		} else {
			f.covered(min(n, length))
		}
	}
	return full, err
}

// fsyncChild is a running child process.
type fsyncChild struct {
	cmd      *exec.Cmd
	stdin    io.WriteCloser
	stdout   *lockedBuffer
	stderr   *lockedBuffer
	endpoint string
	done     chan struct{}
	waitErr  error
}

func startFsyncChild(t *testing.T, dir, fault string) *fsyncChild {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestFsyncChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), fsyncChildEnv+"="+dir, fsyncFaultEnv+"="+fault)
	c := &fsyncChild{cmd: cmd, stdout: &lockedBuffer{}, stderr: &lockedBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = c.stdout, c.stderr
	var err error
	if c.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	listening := c.stdout.on("LISTEN ")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		c.waitErr = cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(func() {
		c.kill()
		if t.Failed() {
			t.Logf("child (fault %q) stderr:\n%s", fault, tail(c.stderr.String(), 4000))
		}
	})
	select {
	case <-listening:
	case <-c.done:
		t.Fatalf("child exited before listening: %v\n%s", c.waitErr, c.stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("child did not listen within 30s\n%s", c.stderr.String())
	}
	// The line is complete once the newline is in.
	for deadline := time.Now().Add(5 * time.Second); ; {
		out := c.stdout.String()
		if _, rest, ok := strings.Cut(out, "LISTEN "); ok {
			if ep, _, ok := strings.Cut(rest, "\n"); ok {
				c.endpoint = strings.TrimSpace(ep)
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no LISTEN line: %q", out)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := waitAnswers(c.endpoint, c.done); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *fsyncChild) arm() error {
	_, err := io.WriteString(c.stdin, "arm\n")
	return err
}

func (c *fsyncChild) kill() {
	select {
	case <-c.done:
		return
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGKILL)
	<-c.done
}

// stopGracefully sends SIGTERM and waits.
func (c *fsyncChild) stopGracefully(t *testing.T) {
	t.Helper()
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(15 * time.Second):
		c.kill()
		t.Errorf("child did not stop within 15 s of SIGTERM")
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

// TestFsyncFailure is F15: WAL fsync failures under concurrent SDK writes,
// several seeded trials on one data directory, each followed by a
// restart and a durability check of every acknowledged write.
func TestFsyncFailure(t *testing.T) {
	if testing.Short() {
		t.Skip("runs child processes")
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("MERIDIAN_FAULTS_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (MERIDIAN_FAULTS_SEED=%d reruns it)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0x66737963))
	dir := t.TempDir()
	l := newLedger()
	start := time.Now()

	var child *fsyncChild
	for trial := range fsyncTrials {
		fault := fmt.Sprintf("syncs:%d", 20+rng.IntN(180))
		if trial%2 == 1 {
			fault = fmt.Sprintf("delay:%dms", 100+rng.IntN(700))
		}
		child = startFsyncChild(t, dir, fault)
		client := newClient(t, child.endpoint, "")
		if trial == 0 {
			createContainer(t, client)
		} else {
			verifyFsyncTrial(t, fmt.Sprintf("after trial %d", trial-1), client, l)
			if t.Failed() {
				return
			}
		}
		co := container(t, client)
		faulted := child.stderr.on(faultMarker)
		_, ackedBefore := l.counts()
		failedBefore := failureClasses(l)
		w := startWriters(co, l, trial, 12, 6000, 5*time.Second)
		if err := child.arm(); err != nil {
			t.Fatal(err)
		}
		var faultAt time.Time
		select {
		case <-faulted:
			faultAt = time.Now()
		case <-child.done:
			w.halt()
			t.Fatalf("trial %d: the child exited before the fault was injected: %v", trial, child.waitErr)
		case <-time.After(10 * time.Second):
			w.halt()
			t.Fatalf("trial %d (%s): no fault injected within 10 s", trial, fault)
		}
		// The writers keep going: the child must now stop acknowledging
		// and exit. A watchdog kills it if it lingers.
		exitedItself := true
		select {
		case <-child.done:
		case <-time.After(5 * time.Second):
			exitedItself = false
			child.kill()
		}
		exitAfter := time.Since(faultAt)
		w.halt()
		attempted, acked := l.counts()
		failedNow := failureClasses(l)
		failed := 0
		for k, v := range failedNow {
			failedNow[k] = v - failedBefore[k]
			failed += failedNow[k]
		}
		code := -1
		if child.cmd.ProcessState != nil {
			code = child.cmd.ProcessState.ExitCode()
		}
		t.Logf("trial %d (%s): %d acked this trial (%d total, %d attempted); %d writes failed (%v); child exit code %d %s after the fault (by itself: %v, %s)",
			trial, fault, acked-ackedBefore, acked, attempted, failed, failedNow, code, exitAfter.Round(time.Millisecond), exitedItself, howExited(child.stderr.String()))
		if os.Getenv("MERIDIAN_FAULTS_VERBOSE") != "" {
			t.Logf("child stderr:\n%s", tail(child.stderr.String(), 6000))
		}
		if acked == ackedBefore {
			t.Errorf("trial %d: no write was acknowledged before the fault: the trial proves nothing", trial)
		}
		if !exitedItself && failed == 0 {
			t.Errorf("trial %d: after the fsync failure the child neither exited within 5 s nor failed a write", trial)
		}
		if exitedItself && code == 0 {
			t.Errorf("trial %d: the child exited cleanly after an fsync failure", trial)
		}
	}
	// Restart without the fault (no errorfs at all) and check again.
	child = startFsyncChild(t, dir, "")
	client := newClient(t, child.endpoint, "")
	verifyFsyncTrial(t, fmt.Sprintf("after trial %d", fsyncTrials-1), client, l)
	// The recovered server keeps taking writes.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	co := container(t, client)
	d := doc{ID: "post-recovery", PK: "post"}
	if _, err := co.CreateItem(ctx, azcosmos.NewPartitionKeyString(d.PK), d.body(), nil); err != nil {
		t.Fatalf("write after recovery: %v", err)
	}
	child.stopGracefully(t)
	t.Logf("%d trials in %s", fsyncTrials, time.Since(start).Round(100*time.Millisecond))
}

func failureClasses(l *ledger) map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]int{}
	for k, v := range l.failures {
		out[k] = v
	}
	return out
}

func verifyFsyncTrial(t *testing.T, label string, client *azcosmos.Client, l *ledger) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	items, err := readAll(ctx, container(t, client))
	if err != nil {
		t.Fatalf("%s: SELECT *: %v", label, err)
	}
	survived := checkDurable(t, label, items, l)
	attempted, acked := l.counts()
	t.Logf("%s: %d items after restart (%d acked, %d of %d unacked survived)", label, len(items), acked, survived, attempted-acked)
}

// howExited names how the child died, from its stderr: Pebble's Fatalf,
// or a panic and the function it was raised in.
func howExited(stderr string) string {
	if strings.Contains(stderr, "fatal commit error") {
		return "pebble Fatalf"
	}
	_, p, ok := strings.Cut(stderr, "panic: ")
	if !ok {
		return "no panic or fatal error logged"
	}
	val, stack, _ := strings.Cut(p, "\n")
	if _, frames, ok := strings.Cut(stack, "[running]:\n"); ok {
		frame, _, _ := strings.Cut(frames, "\n")
		if i := strings.LastIndex(frame, "("); i > 0 {
			frame = frame[:i]
		}
		return fmt.Sprintf("panic %q in %s", val, frame)
	}
	return fmt.Sprintf("panic %q", val)
}

// TestFsyncHarnessDetectsLostAck is F15's negative control: the same
// child, but the injected WAL sync lies (it drops the unsynced tail and
// reports success), so the batch it covered is acknowledged and then lost.
// The durability comparison must report missing acknowledged writes;
// otherwise TestFsyncFailure could not see an ack for a failed batch
// either.
func TestFsyncHarnessDetectsLostAck(t *testing.T) {
	if testing.Short() {
		t.Skip("runs child processes")
	}
	dir := t.TempDir()
	l := newLedger()
	child := startFsyncChild(t, dir, "lie:40")
	client := newClient(t, child.endpoint, "")
	createContainer(t, client)
	faulted := child.stderr.on(faultMarker)
	w := startWriters(container(t, client), l, 0, 8, 4000, 5*time.Second)
	if err := child.arm(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-faulted:
	case <-time.After(10 * time.Second):
		w.halt()
		t.Fatal("no fault injected within 10 s")
	}
	select {
	case <-child.done:
	case <-time.After(5 * time.Second):
		child.kill()
	}
	w.halt()
	child = startFsyncChild(t, dir, "")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	items, err := readAll(ctx, container(t, newClient(t, child.endpoint, "")))
	if err != nil {
		t.Fatal(err)
	}
	r := l.compare(items)
	_, acked := l.counts()
	t.Logf("lying sync: %d acked, %d acknowledged writes missing after restart (first %v)", acked, len(r.missing), r.missing[:min(3, len(r.missing))])
	if len(r.missing) == 0 {
		t.Fatal("a WAL sync that lost its data went unnoticed: the durability check cannot see a lost acknowledgement")
	}
	child.stopGracefully(t)
}

// TestFsyncFailureIdleRegionExits is the quiet variant of F15: one write
// fails on the injected fsync error and then nothing more is written. A
// crash-only region must exit (and be restarted by its supervisor); until
// then it answers nothing useful. Regression test of docs/VERIFICATION.md
// bug 1: the pipelined commit (ApplyNoSyncWait + SyncWait) used to turn a
// failed sync into a 500 while the process lived on, with reads that wait
// for the failed LSN hanging; storage.Batch.CommitAsync now treats it as
// fatal, as Pebble's own commit path does.
func TestFsyncFailureIdleRegionExits(t *testing.T) {
	dir := t.TempDir()
	child := startFsyncChild(t, dir, "syncs:5")
	client := newClient(t, child.endpoint, "")
	createContainer(t, client)
	co := container(t, client)
	if err := child.arm(); err != nil {
		t.Fatal(err)
	}
	failed := false
	for i := 0; i < 100 && !failed; i++ {
		d := doc{ID: fmt.Sprintf("idle-%d", i), PK: "p"}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := co.CreateItem(ctx, azcosmos.NewPartitionKeyString(d.PK), d.body(), nil)
		cancel()
		failed = err != nil
	}
	if !failed {
		t.Fatal("no write failed after the fault was armed")
	}
	select {
	case <-child.done:
		t.Logf("the child exited after the failed fsync: %s", howExited(child.stderr.String()))
	case <-time.After(5 * time.Second):
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		start := time.Now()
		_, err := co.ReadItem(ctx, azcosmos.NewPartitionKeyString("p"), "no-such-item", nil)
		t.Errorf("the region is still running 5 s after a failed WAL fsync with no later write; a read of a missing item then took %s: %v",
			time.Since(start).Round(time.Millisecond), err)
	}
}
