// Package replpb is the wire contract of cross-region replication: the
// Replication gRPC service and its messages. The Go files are generated
// from repl.proto and checked in; regenerate with `go generate ./api/replpb`
// (needs protoc 3.21+, protoc-gen-go v1.36 and protoc-gen-go-grpc 1.6 on
// PATH, e.g. PATH=$PATH:$HOME/go/bin).
package replpb

//go:generate protoc --proto_path=. --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative repl.proto
