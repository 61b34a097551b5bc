// Package customsync implements Cosmos DB's "custom synchronization"
// pattern for Meridian accounts with the azcosmos Go SDK: a write goes to
// the write region, and is acknowledged to the caller only once it has been
// confirmed in each chosen target region by a session read served by that
// region itself.
//
// # The pattern
//
// Client W writes an item in the write region A and gets a session token.
// Client R, pinned to region B, reads the same item passing that token. The
// read can only be answered by B once B has applied the write (Meridian
// holds the read until then, up to its session-wait bound, and answers
// 404 with sub-status 1002 after that). In Meridian "applied" means durably
// committed on B's storage, so once R's read returns the write survives the
// loss of A. A [Syncer] does this for several target regions in parallel:
// the cost is the slowest target's confirmation, not the sum.
//
// # Preconditions
//
// The guarantee holds only if every one of these holds; the package enforces
// the first two and documents the rest.
//
//  1. The confirming read must be served by the target region itself. With
//     default settings the Go SDK retries a read that got 404/1002 once in the
//     write region, which always has the write: that read succeeds without
//     the target holding anything, silently defeating the pattern. A Syncer
//     therefore captures each read's HTTP response and counts it only when its
//     x-meridian-region header names the target region; a read served
//     anywhere else is retried until Options.Timeout and never counted. Build
//     each reader client with PreferredRegions set to just its region; a
//     reader that routes elsewhere is detected, but can never confirm.
//  2. A confirmation must prove that the target applied the log up to the
//     write. Any successful read carrying the write's session token proves
//     it. A 404 does not on its own: Meridian answers 404/0 without checking
//     the token when the container is missing in that region (for example,
//     not replicated there yet), and error responses do not name the region
//     that served them. So a 404 (after a delete, or after a later delete by
//     someone else) is confirmed with a follow-up session query for the item,
//     which must succeed and be served by the target.
//  3. The guarantee covers the loss of the write region alone. If the write
//     region and every target are lost together, a synced write may be lost.
//  4. Confirmation proves that the region holds the write, not that the item
//     still has the written content there: a later write by someone else may
//     already have superseded it.
//  5. An SDK client marks an unreachable region unavailable for five minutes
//     and routes its reads elsewhere meanwhile. After a target region's
//     outage, build a new reader client for it, or confirmations keep being
//     served by the fallback region (and keep failing) for that long.
//
// The server can also do all of this in one client round trip: see
// [Native] and [NativeMin], which set the x-meridian-sync-regions and
// x-meridian-sync-min-regions request headers; the write then returns only
// once those regions hold it durably (or fails with 408, sub-status 20001,
// see [IsSyncTimeout]).
//
// # Outcomes
//
// A write method returns the write's error unchanged when the write itself
// fails: nothing was written. When the write succeeds but some target does
// not confirm within Options.Timeout, it returns a *[SyncError]: the write
// exists in the write region (SyncError.Write), and SyncError.Missing names
// the targets where it is not known to be yet. Retrying the write is then
// usually wrong (it already happened); call [Syncer.Confirm] with the
// write's session token to wait longer instead.
//
// # Example
//
//	const west, east, europe = "West US", "East US", "North Europe"
//	cred, _ := azcosmos.NewKeyCredential(key)
//	client := func(region string) *azcosmos.ContainerClient {
//		c, _ := azcosmos.NewClientWithKey(endpoint, cred, &azcosmos.ClientOptions{PreferredRegions: []string{region}})
//		cc, _ := c.NewContainer("db", "items")
//		return cc
//	}
//	s, err := customsync.New(client(west), map[string]*azcosmos.ContainerClient{
//		east:   client(east),
//		europe: client(europe),
//	}, &customsync.Options{Timeout: 5 * time.Second})
//	if err != nil {
//		return err
//	}
//	res, err := s.CreateItem(ctx, azcosmos.NewPartitionKeyString("p"), []byte(`{"id":"1","pk":"p"}`), nil)
//	var se *customsync.SyncError
//	switch {
//	case errors.As(err, &se):
//		// Written in West US, but not (yet) known to be in se.Missing.
//	case err != nil:
//		// The write failed.
//	default:
//		fmt.Println(res.Confirmed[east], res.Confirmed[europe])
//	}
//
//	// The same guarantee in one round trip, checked by the server:
//	_, err = client(west).CreateItem(customsync.Native(ctx, east, europe), pk, item, nil)
package customsync
