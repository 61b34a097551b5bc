package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/meridiandb/meridian/internal/admin"
	"github.com/meridiandb/meridian/internal/topology"
)

// The management commands talk to a running account through its
// management API (/_meridian/...), signed with the master key. They learn
// the regions from --endpoint and send each request to the region it
// concerns.
//
// The simulated WAN: in `meridian dev` every region shares one; with
// `serve --topology` each process owns the WAN of the connections it
// dials. So link, partition and heal send the change to both regions of
// the pair (heal without a pair: to every region), which is harmless in dev
// and required across processes.

func newClientFlagSet(name, usage string, stderr io.Writer) (*flag.FlagSet, *clientFlags) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf clientFlags
	cf.register(fs)
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	return fs, &cf
}

const statusUsage = `Usage: meridian status [--endpoint URL] [--key KEY]

Prints every region of the account: its role and state, and per partition
the replication state (in the write region: each peer's acknowledged LSN,
lag in operations and milliseconds, connected and reachable; in read
regions: what was last heard from the write region).

Flags:
`

func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, cf := newClientFlagSet("status", statusUsage, stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("status: unexpected argument %q", fs.Arg(0))
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	regions, err := c.regions(ctx)
	if err != nil {
		return err
	}
	statuses := make([]*admin.Status, len(regions))
	errs := make([]error, len(regions))
	for i, r := range regions {
		var st admin.Status
		if errs[i] = c.do(ctx, http.MethodGet, r.Endpoint, []string{"_meridian", "status"}, nil, &st); errs[i] == nil {
			statuses[i] = &st
		}
	}
	printStatus(stdout, regions, statuses, errs)
	if n := countErrs(errs); n > 0 {
		return fmt.Errorf("%d of %d regions did not answer", n, len(regions))
	}
	return nil
}

func countErrs(errs []error) int {
	n := 0
	for _, e := range errs {
		if e != nil {
			n++
		}
	}
	return n
}

func printStatus(w io.Writer, regions []regionRef, statuses []*admin.Status, errs []error) {
	for _, st := range statuses {
		if st != nil {
			fmt.Fprintf(w, "Account %q, consistency %s, write region %s\n", st.Account, st.Consistency, st.WriteRegion)
			if c := st.Control; c != nil {
				fmt.Fprintf(w, "Control plane: leader %s, epoch %d", orNone(c.Leader), st.Epoch)
				if st.Failover != "" {
					fmt.Fprintf(w, ", failover in progress (%s)", st.Failover)
				}
				fmt.Fprintln(w)
				for _, f := range c.Failovers {
					fmt.Fprintf(w, "  failover to epoch %d (%s): %s -> %s at %s (fenced to promoted %v), %d writes removed\n",
						f.Epoch, f.Kind, f.Deposed, f.Target, f.PromotedAt.Format(time.RFC3339), f.PromotedAt.Sub(f.FencedAt).Round(time.Millisecond), f.LostWrites)
				}
			}
			fmt.Fprintln(w)
			break
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "REGION\tROLE\tSTATE\tENDPOINT")
	for i, r := range regions {
		role := admin.RoleRead
		if r.Write {
			role = admin.RoleWrite
		}
		state := "online"
		switch {
		case errs[i] != nil:
			state = "unreachable: " + errs[i].Error()
		case statuses[i].Offline:
			state = "offline"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Name, role, state, r.Endpoint)
	}
	_ = tw.Flush()
	var wanFrom *admin.Status
	for i, st := range statuses {
		if st == nil {
			continue
		}
		if wanFrom == nil && st.WAN {
			wanFrom = st
		}
		fmt.Fprintln(w)
		if st.Role == admin.RoleWrite {
			fmt.Fprintf(w, "%s (write region): replication to each read region\n", regions[i].Name)
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "PARTITION\tAPPLIED\tPEER\tACKED\tLAG OPS\tLAG MS\tCONNECTED\tREACHABLE")
			for _, p := range st.Partitions {
				if len(p.Peers) == 0 {
					fmt.Fprintf(tw, "%s\t%d\t-\t\t\t\t\t\n", p.Name(), p.Applied)
				}
				for _, peer := range p.Peers {
					fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%d\t%d\t%s\t%s\n", p.Name(), p.Applied, peer.Region,
						peer.Acked, peer.LagOps, peer.LagMs, yesNo(peer.Connected), yesNo(peer.Reachable))
				}
			}
			_ = tw.Flush()
			continue
		}
		fmt.Fprintf(w, "%s (read region): following %s\n", regions[i].Name, st.WriteRegion)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "PARTITION\tAPPLIED\tHEAD\tCOMMITTED\tBEHIND\tHEARD\tCONNECTED\tREACHABLE")
		for _, p := range st.Partitions {
			up := p.Upstream
			if up == nil {
				up = &admin.Upstream{HeardAgoMs: -1}
			}
			heard := "never"
			if up.HeardAgoMs >= 0 {
				heard = (time.Duration(up.HeardAgoMs) * time.Millisecond).String() + " ago"
			}
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\t%s\t%s\n", p.Name(), p.Applied, up.Head, up.Committed,
				up.Behind, heard, yesNo(up.Connected), yesNo(up.Reachable))
		}
		_ = tw.Flush()
	}
	if wanFrom != nil {
		fmt.Fprintf(w, "\nSimulated WAN (as configured in %s)\n", wanFrom.Region)
		printLinks(w, wanFrom.Links)
	}
}

func printLinks(w io.Writer, links []admin.Link) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "LINK\tRTT\tJITTER\tSTATE")
	for _, l := range links {
		state := "up"
		if l.Partitioned {
			state = "partitioned"
		}
		fmt.Fprintf(tw, "%s - %s\t%s\t%s\t%s\n", l.A, l.B, time.Duration(l.RTT), time.Duration(l.Jitter), state)
	}
	_ = tw.Flush()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

const regionUsage = `Usage: meridian region offline|online|kill|restore NAME [--endpoint URL] [--key KEY]

offline/online: takes a region offline (it answers 503 ServiceUnavailable to
every client request but keeps replicating) or brings it back. The request
goes to the named region's own endpoint, learned from --endpoint.

kill/restore (meridian dev): crashes a region — listeners cut, no drain, no
control-plane hand-over; if it was the write region the others fail over
once the failover timeout passes — and starts it again on its data, when it
rejoins as a read region. Sent to --endpoint, which must be another region
than the one killed or restored.

Flags:
`

func runRegion(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, cf := newClientFlagSet("region", regionUsage, stderr)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 || (pos[0] != "offline" && pos[0] != "online" && pos[0] != "kill" && pos[0] != "restore") {
		fs.Usage()
		return errors.New(`region: want "offline NAME", "online NAME", "kill NAME" or "restore NAME"`)
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	regions, err := c.regions(ctx)
	if err != nil {
		return err
	}
	r, err := find(regions, pos[1])
	if err != nil {
		return err
	}
	var st admin.RegionState
	if pos[0] == "kill" || pos[0] == "restore" {
		if err := c.do(ctx, http.MethodPost, c.endpoint, []string{"_meridian", "regions", r.Name, pos[0]}, nil, &st); err != nil {
			return fmt.Errorf("%s %s: %w", pos[0], r.Name, err)
		}
		if st.Down {
			fmt.Fprintf(stdout, "%s is down (crashed); restore it with: meridian region restore %q\n", st.Region, st.Region)
		} else {
			fmt.Fprintf(stdout, "%s restarted; it rejoins as a read region\n", st.Region)
		}
		return nil
	}
	if err := c.do(ctx, http.MethodPost, r.Endpoint, []string{"_meridian", "regions", r.Name, pos[0]}, nil, &st); err != nil {
		return fmt.Errorf("%s: %w", r.Name, err)
	}
	state := "online"
	if st.Offline {
		state = "offline: it answers 503 to client requests and keeps replicating"
	}
	fmt.Fprintf(stdout, "%s is %s\n", st.Region, state)
	return nil
}

const linkUsage = `Usage: meridian link --a REGION --b REGION [--rtt 60ms] [--jitter 5ms]

Changes the simulated WAN between two regions: the round trip (split evenly
between the two directions) and the jitter. The change is sent to both
regions of the pair (with serve --topology each process owns the WAN of the
connections it dials).

Flags:
`

const partitionUsage = `Usage: meridian partition --a REGION --b REGION

Partitions two regions: the simulated WAN between them becomes a blackhole
(bytes are held, new connections hang) until 'meridian heal'. Sent to both
regions of the pair.

Flags:
`

const healUsage = `Usage: meridian heal [--a REGION --b REGION]

Ends every partition of the simulated WAN, in every region (delays stay);
with --a and --b, only that pair's.

Flags:
`

// runLink serves link, partition and heal.
func runLink(ctx context.Context, cmd string, args []string, stdout, stderr io.Writer) error {
	usage := map[string]string{"link": linkUsage, "partition": partitionUsage, "heal": healUsage}[cmd]
	fs, cf := newClientFlagSet(cmd, usage, stderr)
	a := fs.String("a", "", "one region of the pair")
	b := fs.String("b", "", "the other region of the pair")
	var rtt, jitter *time.Duration
	var oneWay *bool
	if cmd == "partition" {
		oneWay = fs.Bool("one-way", false, "cut only the direction from --a to --b (an asymmetric partition)")
	}
	if cmd == "link" {
		rtt = fs.Duration("rtt", 0, "round trip, e.g. 60ms")
		jitter = fs.Duration("jitter", 0, "extra random delay per direction, at most this")
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected argument %q", cmd, fs.Arg(0))
	}
	set := setFlags(fs)
	pair := *a != "" || *b != ""
	if (cmd != "heal" || pair) && (*a == "" || *b == "") {
		fs.Usage()
		return fmt.Errorf("%s: --a and --b name the two regions", cmd)
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	regions, err := c.regions(ctx)
	if err != nil {
		return err
	}
	if cmd == "heal" && !pair {
		var failed []string
		for _, r := range regions {
			var res admin.Links
			if err := c.do(ctx, http.MethodPost, r.Endpoint, []string{"_meridian", "heal"}, nil, &res); err != nil {
				fmt.Fprintf(stderr, "%s: %v\n", r.Name, err)
				failed = append(failed, r.Name)
				continue
			}
			fmt.Fprintf(stdout, "%s: healed\n", r.Name)
		}
		if len(failed) > 0 {
			return fmt.Errorf("heal failed in %s", strings.Join(failed, ", "))
		}
		return nil
	}
	ra, err := find(regions, *a)
	if err != nil {
		return err
	}
	rb, err := find(regions, *b)
	if err != nil {
		return err
	}
	ch := admin.LinkChange{A: ra.Name, B: rb.Name}
	switch cmd {
	case "link":
		if !set["rtt"] && !set["jitter"] {
			fs.Usage()
			return errors.New("link: set --rtt, --jitter or both")
		}
		if set["rtt"] {
			d := topology.Duration(*rtt)
			ch.RTT = &d
		}
		if set["jitter"] {
			d := topology.Duration(*jitter)
			ch.Jitter = &d
		}
	case "partition":
		ch.Partitioned = new(true)
		ch.OneWay = *oneWay
	case "heal":
		ch.Partitioned = new(false)
	}
	var failed []string
	for _, r := range []regionRef{ra, rb} {
		var res admin.Links
		if err := c.do(ctx, http.MethodPost, r.Endpoint, []string{"_meridian", "links"}, ch, &res); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", r.Name, err)
			failed = append(failed, r.Name)
			continue
		}
		for _, l := range res.Links {
			if (l.A == ra.Name && l.B == rb.Name) || (l.A == rb.Name && l.B == ra.Name) {
				state := "up"
				if l.Partitioned {
					state = "partitioned"
				}
				fmt.Fprintf(stdout, "%s: %s - %s  rtt %s  jitter %s  %s\n", r.Name, l.A, l.B,
					time.Duration(l.RTT), time.Duration(l.Jitter), state)
			}
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("%s: the change did not reach %s", cmd, strings.Join(failed, ", "))
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
