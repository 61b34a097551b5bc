package customsync_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"

	"github.com/meridiandb/meridian/customsync"
)

// A write in West US, returned only once East US and North Europe hold it.
func ExampleSyncer_CreateItem() {
	ctx := context.Background()
	cred, err := azcosmos.NewKeyCredential("C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==")
	if err != nil {
		log.Fatal(err)
	}
	// One client per region, each preferring only its region.
	container := func(region string) *azcosmos.ContainerClient {
		c, err := azcosmos.NewClientWithKey("http://127.0.0.1:8081/", cred, &azcosmos.ClientOptions{PreferredRegions: []string{region}})
		if err != nil {
			log.Fatal(err)
		}
		cc, err := c.NewContainer("db", "items")
		if err != nil {
			log.Fatal(err)
		}
		return cc
	}
	s, err := customsync.New(container("West US"), map[string]*azcosmos.ContainerClient{
		"East US":      container("East US"),
		"North Europe": container("North Europe"),
	}, &customsync.Options{Timeout: 5 * time.Second})
	if err != nil {
		log.Fatal(err)
	}

	res, err := s.CreateItem(ctx, azcosmos.NewPartitionKeyString("p"), []byte(`{"id":"1","pk":"p"}`), nil)
	var se *customsync.SyncError
	switch {
	case errors.As(err, &se):
		// The write happened in West US; wait longer for the rest, or
		// report it as not (yet) protected against the loss of West US.
		if _, err := s.Confirm(ctx, azcosmos.NewPartitionKeyString("p"), "1", *se.Write.SessionToken); err != nil {
			log.Printf("still not in %v: %v", se.Missing, err)
		}
	case err != nil:
		log.Fatal(err) // the write itself failed
	default:
		fmt.Println("in East US after", res.Confirmed["East US"], "and in North Europe after", res.Confirmed["North Europe"])
	}
}

// The same guarantee checked by the server, in one client round trip.
func ExampleNative() {
	ctx := context.Background()
	var writer *azcosmos.ContainerClient // a client of the write region
	_, err := writer.CreateItem(customsync.Native(ctx, "East US", "North Europe"),
		azcosmos.NewPartitionKeyString("p"), []byte(`{"id":"2","pk":"p"}`), nil)
	if customsync.IsSyncTimeout(err) {
		// 408/20001: written in the write region, not acknowledged in time
		// by every named region (the message says which did).
		log.Print(err)
	}
}
