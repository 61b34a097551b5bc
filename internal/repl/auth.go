package repl

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/meridiandb/meridian/api/replpb"
)

// Credential metadata keys.
const (
	mdRegion = "x-meridian-repl-region"
	mdTime   = "x-meridian-repl-time"
	mdMAC    = "x-meridian-repl-mac"
	// mdNonce (request) and mdProof (response header) let the receiver
	// authenticate the sender: proof = MAC over the method and the
	// receiver's fresh nonce, so a stranger at the sender's address
	// cannot feed entries.
	mdNonce  = "x-meridian-repl-nonce"
	mdProof  = "x-meridian-repl-proof"
	maxNonce = 64

	// authSkew is how far a credential's time may be from the verifier's
	// clock. It bounds replays of a captured credential.
	authSkew = 5 * time.Minute
	// maxRegionLen bounds the region name a credential may carry.
	maxRegionLen = 128
)

// servicePrefix is the full-method prefix of the RPCs the interceptors
// guard; other services on the same server are left alone.
var servicePrefix = "/" + replpb.Replication_ServiceDesc.ServiceName + "/"

// mac computes the credential MAC of one RPC.
func mac(secret []byte, method, region, ts string) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte("meridian-repl-v1\n"))
	h.Write([]byte(method))
	h.Write([]byte{'\n'})
	h.Write([]byte(region))
	h.Write([]byte{'\n'})
	h.Write([]byte(ts))
	return h.Sum(nil)
}

// perRPCCredential signs every RPC of a receiver's connections.
type perRPCCredential struct {
	region string
	secret []byte
	clock  func() time.Time
}

var _ credentials.PerRPCCredentials = perRPCCredential{}

func (c perRPCCredential) GetRequestMetadata(ctx context.Context, _ ...string) (map[string]string, error) {
	ri, _ := credentials.RequestInfoFromContext(ctx)
	ts := strconv.FormatInt(c.clock().UnixNano(), 10)
	return map[string]string{
		mdRegion: c.region,
		mdTime:   ts,
		mdMAC:    base64.RawStdEncoding.EncodeToString(mac(c.secret, ri.Method, c.region, ts)),
	}, nil
}

// RequireTransportSecurity is false: the credential is a MAC, not a bearer
// secret, so it may travel over the (WAN-emulated) plaintext transport.
func (perRPCCredential) RequireTransportSecurity() bool { return false }

// verifier checks credentials on the server side.
type verifier struct {
	secret []byte
	clock  func() time.Time
}

// peerRegionKey is the context key of the authenticated peer region.
type peerRegionKey struct{}

func errUnauthenticated() error {
	return status.Error(codes.Unauthenticated, "repl: missing or invalid replication credential")
}

// verify authenticates the RPC method carried in ctx's metadata and
// returns the peer's region.
func (v verifier) verify(ctx context.Context, method string) (string, error) {
	if len(v.secret) == 0 {
		return "", errUnauthenticated() // fail closed
	}
	md, ok := metadata.FromIncomingContext(ctx)
	if !ok {
		return "", errUnauthenticated()
	}
	region, ts, sig := one(md, mdRegion), one(md, mdTime), one(md, mdMAC)
	if region == "" || len(region) > maxRegionLen || ts == "" || sig == "" {
		return "", errUnauthenticated()
	}
	nanos, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return "", errUnauthenticated()
	}
	if d := v.clock().Sub(time.Unix(0, nanos)); d > authSkew || d < -authSkew {
		return "", errUnauthenticated()
	}
	got, err := base64.RawStdEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, mac(v.secret, method, region, ts)) {
		return "", errUnauthenticated()
	}
	return region, nil
}

func one(md metadata.MD, key string) string {
	if v := md.Get(key); len(v) == 1 {
		return v[0]
	}
	return ""
}

func (v verifier) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if !strings.HasPrefix(info.FullMethod, servicePrefix) {
		return h(ctx, req)
	}
	region, err := v.verify(ctx, info.FullMethod)
	if err != nil {
		return nil, err
	}
	return h(context.WithValue(ctx, peerRegionKey{}, region), req)
}

func (v verifier) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	if !strings.HasPrefix(info.FullMethod, servicePrefix) {
		return h(srv, ss)
	}
	region, err := v.verify(ss.Context(), info.FullMethod)
	if err != nil {
		return err
	}
	return h(srv, authedStream{ServerStream: ss, ctx: context.WithValue(ss.Context(), peerRegionKey{}, region)})
}

type authedStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s authedStream) Context() context.Context { return s.ctx }

// newNonce returns a fresh nonce and ctx carrying it to the sender.
func newNonce(ctx context.Context) (context.Context, string) {
	nonce := rand.Text()
	return metadata.AppendToOutgoingContext(ctx, mdNonce, nonce), nonce
}

// senderProof is the sender's answer to a receiver's nonce.
func senderProof(secret []byte, method, nonce string) string {
	return base64.RawStdEncoding.EncodeToString(mac(secret, "sender:"+method, "", nonce))
}

// prove sends the sender's proof in the response header of stream, if the
// receiver asked for one.
func prove(secret []byte, stream grpc.ServerStream, method string) error {
	md, _ := metadata.FromIncomingContext(stream.Context())
	nonce := one(md, mdNonce)
	if nonce == "" || len(nonce) > maxNonce {
		return nil
	}
	return stream.SendHeader(metadata.Pairs(mdProof, senderProof(secret, method, nonce)))
}

var errSenderUnauthenticated = errors.New("repl: sender did not prove the shared secret")

// checkProof verifies the sender's proof in the response header of a
// client stream (call it once a message has arrived: headers come first).
func checkProof(secret []byte, stream grpc.ClientStream, method, nonce string) error {
	md, err := stream.Header()
	if err != nil {
		return fmt.Errorf("sender header: %w", err)
	}
	got, err := base64.RawStdEncoding.DecodeString(one(md, mdProof))
	want, _ := base64.RawStdEncoding.DecodeString(senderProof(secret, method, nonce))
	if err != nil || len(got) == 0 || !hmac.Equal(got, want) {
		return errSenderUnauthenticated
	}
	return nil
}

// ServerOptions returns the options the region's grpc.Server needs for
// replication: interceptors (unary and stream) that reject Replication RPCs
// without a valid credential for secret with Unauthenticated (other
// services pass through untouched), and a keepalive policy that detects
// dead receivers and admits the receivers' keepalive pings.
func ServerOptions(secret []byte) []grpc.ServerOption {
	v := verifier{secret: append([]byte(nil), secret...), clock: time.Now}
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(v.unary),
		grpc.ChainStreamInterceptor(v.stream),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
			MinTime:             5 * time.Second,
			PermitWithoutStream: true,
		}),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			Time:    10 * time.Second,
			Timeout: 5 * time.Second,
		}),
	}
}
