package checker

import "testing"

func failoverRec(id, key, v string) ConflictRecord {
	content := ""
	if v != "" {
		content = `{"id":"` + key + `","v":"` + v + `"}`
	}
	return ConflictRecord{ID: id, ResourceID: key, OperationType: "replace", Content: content}
}

func TestReportedLoss(t *testing.T) {
	// x=a survived, x=b (acknowledged by the deposed region) was lost and
	// reported; y=c was lost and NOT reported.
	h := hist(
		wr(1, "x", "a", 0, 10, 1),
		wr(1, "x", "b", 20, 30, 2),
		wr(2, "y", "c", 20, 30, 3),
	)
	final := State{"x": {Value: "a"}}
	feed := []ConflictRecord{failoverRec("1-2-0", "x", "b"), {ID: "mw-1-1-0", ResourceID: "x", Content: `{"v":"zzz"}`}}

	d := CheckDurability(h, DurabilityOptions{Final: final, AllowLost: LostReported(feed, "")})
	mustFail(t, d, KindLostWrite) // y=c is lost without a report
	if d.Stats["lost_allowed"] != 1 {
		t.Fatalf("want x=b allowed as reported, stats %v", d.Stats)
	}
	feed = append(feed, failoverRec("1-3-0", "y", "c"))
	mustPass(t, CheckDurability(h, DurabilityOptions{Final: final, AllowLost: LostReported(feed, "")}))
	mustPass(t, CheckReportedLoss(h, ReportedLossOptions{Feed: feed, Final: final}))

	// A record of a value nobody wrote, of a value still present, of a
	// failed write, or twice: each a violation.
	for name, bad := range map[string][]ConflictRecord{
		"phantom": {failoverRec("1-4-0", "x", "never")},
		"present": {failoverRec("1-1-0", "x", "a")},
		"twice":   {failoverRec("1-2-0", "x", "b"), failoverRec("2-2-0", "x", "b")},
	} {
		t.Run(name, func(t *testing.T) {
			mustFail(t, CheckReportedLoss(h, ReportedLossOptions{Feed: bad, Final: final}), KindRPOReport)
		})
	}
	// With the epoch history the lost set is exact: epoch 2 started at
	// LSN 2, so x=b (epoch 1, LSN 2) and y=c (LSN 3) were removed.
	ep := func(o Op) Op { return with(o, func(o *Op) { o.Epoch = 1 }) }
	he := hist(ep(wr(1, "x", "a", 0, 10, 1)), ep(wr(1, "x", "b", 20, 30, 2)), ep(wr(2, "y", "c", 20, 30, 3)))
	starts := map[int64]int64{2: 2}
	mustPass(t, CheckReportedLoss(he, ReportedLossOptions{Feed: feed, Final: final, EpochStarts: starts}))
	mustFail(t, CheckReportedLoss(he, ReportedLossOptions{Feed: feed[:1], Final: final, EpochStarts: starts}), KindRPOReport)            // y=c silently lost
	mustFail(t, CheckReportedLoss(he, ReportedLossOptions{Feed: feed, Final: final, EpochStarts: map[int64]int64{2: 3}}), KindRPOReport) // x=b was not removed

	hf := hist(wr(1, "x", "a", 0, 10, 1), failed(wr(1, "x", "b", 20, 30, 2)))
	mustFail(t, CheckReportedLoss(hf, ReportedLossOptions{Feed: []ConflictRecord{failoverRec("1-2-0", "x", "b")}, Final: final}), KindRPOReport)
}
