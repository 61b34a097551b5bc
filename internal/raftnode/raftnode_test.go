package raftnode

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/meridiandb/meridian/api/controlpb"
)

var regions = []string{"east", "west", "north"}

func TestElectAndProposeEverywhere(t *testing.T) {
	c := newCluster(t, regions, "", 30*time.Millisecond, nil)
	leader := c.waitLeader()

	var want []string
	for i := range 9 {
		m := c.members[i%3]
		cmd := fmt.Sprintf("cmd-%d-via-%s", i, m.id)
		res, err := m.node.Propose(ctxTimeout(t, 10*time.Second), []byte(cmd))
		require.NoError(t, err)
		want = append(want, cmd)
		// The proposer's own FSM produced the result, after applying it.
		require.Equal(t, fmt.Sprintf("#%d %s", len(want), cmd), string(res))
		require.Equal(t, want, m.data().cmds())
	}
	c.waitSame(want)

	// An FSM error reaches the proposer as *FSMError, on the leader and
	// through forwarding alike.
	for _, m := range c.members {
		_, err := m.node.Propose(ctxTimeout(t, 10*time.Second), []byte("fail:"+m.id))
		var fe *FSMError
		require.ErrorAs(t, err, &fe)
		require.Equal(t, "boom "+m.id, fe.Msg)
		want = append(want, "fail:"+m.id)
	}
	c.waitSame(want)

	// Read-your-writes elsewhere: wait for the proposal's index.
	follower := c.members[0]
	if follower == leader {
		follower = c.members[1]
	}
	_, index, err := leader.node.ProposeIndex(ctxTimeout(t, 10*time.Second), []byte("ryw"))
	require.NoError(t, err)
	require.NoError(t, follower.node.WaitApplied(ctxTimeout(t, 10*time.Second), index))
	require.Equal(t, "ryw", follower.data().cmds()[len(want)])
	want = append(want, "ryw")

	bi, err := leader.node.Barrier(ctxTimeout(t, 10*time.Second))
	require.NoError(t, err)
	require.GreaterOrEqual(t, bi, index)
	_, err = follower.node.Barrier(ctxTimeout(t, 10*time.Second))
	require.ErrorIs(t, err, ErrNotLeader)

	// Leases and contact.
	require.Eventually(t, func() bool {
		for _, m := range c.members {
			if !m.node.HasLease(time.Second) {
				return false
			}
		}
		return len(leader.node.FollowerContact()) == 2
	}, 10*time.Second, 20*time.Millisecond)
	require.Zero(t, leader.node.LeaderContact())
	require.Less(t, follower.node.LeaderContact(), time.Hour)
	require.Empty(t, follower.node.FollowerContact())

	_, err = leader.node.Propose(context.Background(), make([]byte, 200<<10))
	require.ErrorIs(t, err, ErrCommandTooLarge)
	c.waitSame(want)
}

func TestRestartFollowerResumesFromLog(t *testing.T) {
	c := newCluster(t, regions, "", 20*time.Millisecond, func(cfg *Config) {
		cfg.SnapshotThreshold = 8
		cfg.TrailingLogs = 4
		cfg.SnapshotInterval = 50 * time.Millisecond
	})
	leader := c.waitLeader()
	var want []string
	propose := func(n int) {
		for range n {
			cmd := fmt.Sprintf("c%d", len(want))
			_, err := leader.node.Propose(ctxTimeout(t, 10*time.Second), []byte(cmd))
			require.NoError(t, err)
			want = append(want, cmd)
		}
	}
	propose(20)
	c.waitSame(want)

	var f *member
	for _, m := range c.members {
		if m != leader {
			f = m
			break
		}
	}
	// Restart with the log and snapshots on disk and a fresh (empty) FSM:
	// Restore + replay rebuild exactly the same state, indexes strictly
	// increasing, nothing applied twice.
	applied := f.node.AppliedIndex()
	c.stop(f)
	propose(5) // the survivors still form a quorum
	f.fsm = &testFSM{}
	c.start(f)
	c.waitSame(want)
	require.GreaterOrEqual(t, f.node.AppliedIndex(), applied)
	require.GreaterOrEqual(t, f.data().restores, 1, "restarted from a snapshot")

	propose(3)
	c.waitSame(want)
	require.Equal(t, want, f.data().cmds())

	// Installing a snapshot from the leader: a follower that stays down
	// while the leader compacts past its log.
	c.stop(f)
	propose(30)
	f.fsm = &testFSM{}
	c.start(f)
	c.waitSame(want)
}

func TestIsolatedLeaderLosesLeaseAndNeverCommits(t *testing.T) {
	c := newCluster(t, regions, "", 30*time.Millisecond, nil)
	old := c.waitLeader()
	_, err := old.node.Propose(ctxTimeout(t, 10*time.Second), []byte("before"))
	require.NoError(t, err)
	want := []string{"before"}
	require.Eventually(t, func() bool { return old.node.HasLease(time.Second) }, 10*time.Second, 20*time.Millisecond)

	c.net.Isolate(old.id)
	isolatedAt := time.Now()
	var others []*member
	for _, m := range c.members {
		if m != old {
			others = append(others, m)
		}
	}
	// The old leader's lease ends within a bound (lease timeout plus the
	// lease window), long before the others can have elected.
	require.Eventually(t, func() bool { return !old.node.HasLease(time.Second) }, 5*time.Second, 10*time.Millisecond)
	t.Logf("old leader lost its lease after %v", time.Since(isolatedAt))
	// A proposal through the isolated node never succeeds.
	res, err := old.node.Propose(ctxTimeout(t, 3*time.Second), []byte("isolated"))
	require.Error(t, err, "result %q", res)
	require.ErrorIs(t, err, context.DeadlineExceeded)

	leader := c.waitLeader(others...)
	require.NotEqual(t, old.id, leader.id)
	t.Logf("new leader %s after %v", leader.id, time.Since(isolatedAt))
	for _, m := range others {
		_, err := m.node.Propose(ctxTimeout(t, 10*time.Second), []byte("after-"+m.id))
		require.NoError(t, err)
		want = append(want, "after-"+m.id)
	}
	require.False(t, old.node.IsLeader())

	c.net.Rejoin(old.id)
	require.Eventually(t, func() bool {
		id, ok := old.node.Leader()
		return ok && id == leader.id && old.node.HasLease(time.Second)
	}, 20*time.Second, 20*time.Millisecond)
	c.waitSame(want)
	require.NotContains(t, old.data().cmds(), "isolated")
	_, err = old.node.Propose(ctxTimeout(t, 10*time.Second), []byte("healed"))
	require.NoError(t, err)
	c.waitSame(append(want, "healed"))
}

func TestWitnessCountsTowardQuorum(t *testing.T) {
	c := newCluster(t, []string{"east", "west"}, "witness", 30*time.Millisecond, nil)
	leader := c.waitLeader()
	var want []string
	for _, m := range c.members[:2] {
		_, err := m.node.Propose(ctxTimeout(t, 10*time.Second), []byte("via-"+m.id))
		require.NoError(t, err)
		want = append(want, "via-"+m.id)
	}
	c.waitSame(want)

	// Kill a data node (the leader, if it is one: the survivors must elect
	// first); the other data node and the witness still commit.
	victim := c.member("east")
	if leader.id != "witness" {
		victim = leader
	}
	c.stop(victim)
	survivor := c.member("west")
	if victim == survivor {
		survivor = c.member("east")
	}
	res, err := survivor.node.Propose(ctxTimeout(t, 20*time.Second), []byte("degraded"))
	require.NoError(t, err)
	want = append(want, "degraded")
	require.Equal(t, fmt.Sprintf("#%d degraded", len(want)), string(res), "the result comes from the proposer's FSM, even with a witness leader")
	require.Equal(t, want, survivor.data().cmds())
	t.Logf("leader after the loss: %v", c.waitLeader(survivor, c.member("witness")).id)

	// The victim comes back and catches up.
	victim.fsm = &testFSM{}
	c.start(victim)
	c.waitSame(want)
}

func TestWrongSecretRejected(t *testing.T) {
	c := newCluster(t, regions[:1], "", 0, nil)
	m := c.waitLeader()

	// A transport with another secret: the node rejects its RPCs.
	bad := newTransport(&Config{ID: "intruder", Addr: "127.0.0.1:1", RPCTimeout: 5 * time.Second},
		authenticator{id: "intruder", secret: []byte("wrong"), clock: time.Now}, testLogger())
	defer bad.Close()
	var resp raft.RequestVoteResponse
	err := bad.RequestVote(raft.ServerID(m.id), raft.ServerAddress(m.addr), &raft.RequestVoteRequest{Term: 99}, &resp)
	require.ErrorIs(t, err, ErrUnauthenticated)

	// No credential at all, and a Propose with a forged one.
	cc, err := grpc.NewClient("passthrough:///"+m.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer cc.Close()
	_, err = controlpb.NewRaftClient(cc).AppendEntries(ctxTimeout(t, 5*time.Second), &controlpb.RaftMessage{})
	require.Equal(t, codes.Unauthenticated, status.Code(err))
	ctx, _ := bad.auth.sign(ctxTimeout(t, 5*time.Second), controlpb.Raft_Propose_FullMethodName)
	_, err = controlpb.NewRaftClient(cc).Propose(ctx, &controlpb.ProposeRequest{Id: make([]byte, idLen), Command: []byte("evil")})
	require.Equal(t, codes.Unauthenticated, status.Code(err))

	// A callee that cannot prove the secret is rejected by the caller.
	good := authenticator{id: "a", secret: c.secret, clock: time.Now}
	impostor := authenticator{id: m.id, secret: []byte("wrong"), clock: time.Now}
	ctx, nonce := good.sign(context.Background(), controlpb.Raft_AppendEntries_FullMethodName)
	_ = ctx
	hdr, err := impostor.verify(incoming(ctx), controlpb.Raft_AppendEntries_FullMethodName)
	require.Error(t, err) // the impostor cannot verify the caller either
	require.Nil(t, hdr)
	honest := authenticator{id: m.id, secret: c.secret, clock: time.Now}
	hdr, err = honest.verify(incoming(ctx), controlpb.Raft_AppendEntries_FullMethodName)
	require.NoError(t, err)
	require.NoError(t, good.checkProof(hdr, controlpb.Raft_AppendEntries_FullMethodName, m.id, nonce))
	require.ErrorIs(t, good.checkProof(hdr, controlpb.Raft_AppendEntries_FullMethodName, "someone-else", nonce), ErrUnauthenticated)
	require.ErrorIs(t, good.checkProof(hdr, controlpb.Raft_Propose_FullMethodName, m.id, nonce), ErrUnauthenticated)

	require.Empty(t, m.data().cmds())
}

func TestCloseStopsEverything(t *testing.T) {
	before := goroutines()
	func() {
		c := newCluster(t, regions, "", 20*time.Millisecond, nil)
		c.waitLeader()
		for _, m := range c.members {
			_, err := m.node.Propose(ctxTimeout(t, 10*time.Second), []byte("x-"+m.id))
			require.NoError(t, err)
		}
		c.close()
		for _, m := range c.members {
			// Idempotent, and calls after Close fail fast.
			n, err := New(c.config(m), m.fsm, grpc.NewServer())
			require.NoError(t, err)
			require.NoError(t, n.Close(context.Background()))
			require.NoError(t, n.Close(context.Background()))
			_, err = n.Propose(context.Background(), []byte("late"))
			require.ErrorIs(t, err, ErrClosed)
			require.ErrorIs(t, n.Start(), ErrClosed)
		}
	}()
	// Poll by hand: require.Eventually runs the condition in goroutines of
	// its own.
	var leaked []string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		leaked = leaked[:0]
		for id, stack := range goroutines() {
			if _, ok := before[id]; !ok {
				leaked = append(leaked, stack)
			}
		}
		if len(leaked) == 0 || time.Now().After(deadline) {
			break
		}
	}
	require.Empty(t, leaked, "leaked goroutines")
}

// goroutines returns the stacks of the live goroutines by id.
func goroutines() map[string]string {
	buf := make([]byte, 4<<20)
	buf = buf[:runtime.Stack(buf, true)]
	out := make(map[string]string)
	for _, g := range strings.Split(string(buf), "\n\n") {
		id, _, _ := strings.Cut(g, " [")
		out[id] = g
	}
	return out
}

func TestStoreRoundTrip(t *testing.T) {
	c := newCluster(t, regions[:1], "", 0, nil)
	m := c.waitLeader()
	s := newStore(m.db)
	first, err := s.FirstIndex()
	require.NoError(t, err)
	last, err := s.LastIndex()
	require.NoError(t, err)
	require.NotZero(t, first)
	require.GreaterOrEqual(t, last, first)

	l := &raft.Log{Index: 1000, Term: 7, Type: raft.LogCommand, Data: []byte("d"), Extensions: []byte("e"), AppendedAt: time.Unix(5, 6)}
	require.NoError(t, s.StoreLogs([]*raft.Log{l, {Index: 1001, Term: 7, Type: raft.LogNoop}}))
	var got raft.Log
	require.NoError(t, s.GetLog(1000, &got))
	require.Equal(t, l.Data, got.Data)
	require.Equal(t, l.Extensions, got.Extensions)
	require.True(t, l.AppendedAt.Equal(got.AppendedAt))
	require.Equal(t, uint64(1000), got.Index)
	require.NoError(t, s.GetLog(1001, &got))
	require.Nil(t, got.Data)
	require.True(t, got.AppendedAt.IsZero())
	require.ErrorIs(t, s.GetLog(999_999, &got), raft.ErrLogNotFound)
	require.NoError(t, s.DeleteRange(1000, 1001))
	require.ErrorIs(t, s.GetLog(1000, &got), raft.ErrLogNotFound)
	last2, err := s.LastIndex()
	require.NoError(t, err)
	require.Equal(t, last, last2)

	v, err := s.GetUint64([]byte("missing"))
	require.NoError(t, err)
	require.Zero(t, v)
	_, err = s.Get([]byte("missing"))
	require.EqualError(t, err, "not found") // hashicorp/raft compares the message
	require.True(t, strings.Contains(errKeyNotFound.Error(), "not found"))
	require.False(t, errors.Is(err, ErrClosed))
}
