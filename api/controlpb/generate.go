// Package controlpb is the wire contract of the control plane: the Raft
// gRPC service that carries the account's control-plane log between
// regions, and leader forwarding. The Go files are generated from
// raft.proto and checked in; regenerate with `go generate ./api/controlpb`
// (needs protoc 3.21+, protoc-gen-go v1.36 and protoc-gen-go-grpc 1.6 on
// PATH, e.g. PATH=$PATH:$HOME/go/bin).
package controlpb

//go:generate protoc --proto_path=. --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative raft.proto
