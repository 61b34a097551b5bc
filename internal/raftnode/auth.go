package raftnode

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Credentials. The caller of every Raft RPC proves knowledge of the
// shared secret with a MAC over (method, its ID, a timestamp); the callee
// answers with a MAC over (method, its own ID, the caller's fresh nonce)
// in the response header, so a stranger at a peer's address can neither
// send nor answer Raft RPCs (a forged vote or ack could elect two
// leaders). The MACs do not cover the message bodies: use TLS on the peer
// listener against an on-path attacker.
const (
	mdID    = "x-meridian-raft-id"
	mdTime  = "x-meridian-raft-time"
	mdMAC   = "x-meridian-raft-mac"
	mdNonce = "x-meridian-raft-nonce"
	mdProof = "x-meridian-raft-proof"

	// authSkew is how far a credential's time may be from the verifier's
	// clock; it bounds the replay of a captured credential.
	authSkew = 5 * time.Minute
	maxIDLen = 128
	maxNonce = 64
)

// ErrUnauthenticated is returned when a peer rejects this node's
// credential or cannot prove the shared secret itself.
var ErrUnauthenticated = errors.New("raftnode: peer authentication failed")

type authenticator struct {
	id     string
	secret []byte
	clock  func() time.Time
}

func (a authenticator) mac(role, method, id, value string) []byte {
	h := hmac.New(sha256.New, a.secret)
	h.Write([]byte("meridian-raft-v1\n"))
	for _, s := range []string{role, method, id} {
		h.Write([]byte(s))
		h.Write([]byte{'\n'})
	}
	h.Write([]byte(value))
	return h.Sum(nil)
}

// sign returns ctx carrying the credential for method, and the nonce the
// callee's proof must answer.
func (a authenticator) sign(ctx context.Context, method string) (context.Context, string) {
	ts := strconv.FormatInt(a.clock().UnixNano(), 10)
	nonce := rand.Text()
	return metadata.AppendToOutgoingContext(ctx,
		mdID, a.id,
		mdTime, ts,
		mdMAC, base64.RawStdEncoding.EncodeToString(a.mac("client", method, a.id, ts)),
		mdNonce, nonce,
	), nonce
}

// checkProof verifies the callee's answer in its response header md.
func (a authenticator) checkProof(md metadata.MD, method, peerID, nonce string) error {
	got, err := base64.RawStdEncoding.DecodeString(one(md, mdProof))
	if err != nil || !hmac.Equal(got, a.mac("server", method, peerID, nonce)) {
		return ErrUnauthenticated
	}
	return nil
}

func errUnauthenticated() error {
	return status.Error(codes.Unauthenticated, "raftnode: missing or invalid raft credential")
}

// verify authenticates the caller of method from ctx's metadata and
// returns the header that proves this node to the caller.
func (a authenticator) verify(ctx context.Context, method string) (metadata.MD, error) {
	md, ok := metadata.FromIncomingContext(ctx)
	if !ok {
		return nil, errUnauthenticated()
	}
	id, ts, sig, nonce := one(md, mdID), one(md, mdTime), one(md, mdMAC), one(md, mdNonce)
	if id == "" || len(id) > maxIDLen || ts == "" || sig == "" || nonce == "" || len(nonce) > maxNonce {
		return nil, errUnauthenticated()
	}
	nanos, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return nil, errUnauthenticated()
	}
	if d := a.clock().Sub(time.Unix(0, nanos)); d > authSkew || d < -authSkew {
		return nil, errUnauthenticated()
	}
	got, err := base64.RawStdEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, a.mac("client", method, id, ts)) {
		return nil, errUnauthenticated()
	}
	proof := base64.RawStdEncoding.EncodeToString(a.mac("server", method, a.id, nonce))
	return metadata.Pairs(mdProof, proof), nil
}

// verifyUnary authenticates a unary call and sets the proof header.
func (a authenticator) verifyUnary(ctx context.Context, method string) error {
	hdr, err := a.verify(ctx, method)
	if err != nil {
		return err
	}
	return grpc.SetHeader(ctx, hdr)
}

func one(md metadata.MD, key string) string {
	if v := md.Get(key); len(v) == 1 {
		return v[0]
	}
	return ""
}
