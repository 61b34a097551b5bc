package checker

import "testing"

func TestRetries(t *testing.T) {
	ok := []RetryOutcome{{Key: "a", Applied: 3, InDoubt: 1}, {Key: "b", Applied: 1}}
	mustPass(t, CheckRetries(ok, map[string]int64{"a": 4, "b": 1}))
	mustPass(t, CheckRetries(ok, map[string]int64{"a": 3, "b": 1}))
	mustFail(t, CheckRetries(ok, map[string]int64{"a": 5, "b": 1}), KindRetryDup)
	mustFail(t, CheckRetries(ok, map[string]int64{"a": 3, "b": 0}), KindRetryLost)
	mustFail(t, CheckRetries([]RetryOutcome{{Key: "c", Applied: 1, Spurious: 1}}, map[string]int64{"c": 1}), KindRetryPrecond)
}
