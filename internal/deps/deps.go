//go:build tools

// Package deps pins modules that later packages will import, so go mod tidy
// keeps them while the code that uses them is being written.
package deps

import (
	_ "github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
	_ "github.com/HdrHistogram/hdrhistogram-go"
	_ "github.com/anishathalye/porcupine"
	_ "github.com/cockroachdb/pebble/v2"
	_ "github.com/cockroachdb/pebble/v2/vfs/errorfs"
	_ "github.com/google/uuid"
	_ "github.com/hashicorp/raft"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/spaolacci/murmur3"
	_ "github.com/stretchr/testify/require"
	_ "google.golang.org/grpc"
	_ "google.golang.org/protobuf/proto"
)
