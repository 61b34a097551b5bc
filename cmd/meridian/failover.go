package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/meridiandb/meridian/internal/admin"
)

const failoverUsage = `Usage: meridian failover --write-region NAME [--endpoint URL] [--key KEY]

Moves the write region of a healthy multi-region account (a planned,
"manual" failover): the old write region stops accepting writes, the new one
catches up with everything it acknowledged, then takes over under a new
epoch. Nothing is lost at any consistency level. SDK clients follow through
the account document; writes sent to the old region get 403/3 and are
retried in the new one. It needs every region healthy: during an outage
the automatic failover (serve/dev --failover-timeout) acts instead.

Flags:
`

func runFailover(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, cf := newClientFlagSet("failover", failoverUsage, stderr)
	target := fs.String("write-region", "", "the region to make the write region")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 || *target == "" {
		fs.Usage()
		return errors.New("failover: want --write-region NAME")
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	var st admin.Status
	if err := c.do(ctx, http.MethodPost, c.endpoint, []string{"_meridian", "failover"}, admin.FailoverRequest{WriteRegion: *target}, &st); err != nil {
		return fmt.Errorf("failover to %s: %w", *target, err)
	}
	fmt.Fprintf(stdout, "write region is now %s (epoch %d)\n", st.WriteRegion, st.Epoch)
	return nil
}
