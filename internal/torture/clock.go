package torture

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/meridiandb/meridian/internal/admin"
	"github.com/meridiandb/meridian/internal/auth"
)

// checkClocks verifies that every region's clock runs at the offset the
// scenario asked for (`serve --test-clock-offset`), from the time each
// region reports in GET /_meridian/status: a skew scenario whose skew is
// not in effect would pass without proving anything.
func checkClocks(ctx context.Context, hc *http.Client, cl *Cluster) error {
	for _, r := range cl.Regions() {
		want := cl.opts.ClockOffsets[r]
		before := time.Now()
		st, err := regionStatus(ctx, hc, cl.Endpoint(r))
		if err != nil {
			return fmt.Errorf("clock check: %s: %w", r, err)
		}
		after := time.Now()
		// The region read its clock between before and after.
		lo, hi := st.Time.Sub(after), st.Time.Sub(before)
		const slack = 250 * time.Millisecond
		if want < lo-slack || want > hi+slack {
			return fmt.Errorf("clock check: %s runs %s from the harness clock, want %s (is --test-clock-offset in effect?)",
				r, (lo + (hi-lo)/2).Round(time.Millisecond), want)
		}
	}
	return nil
}

// regionStatus is GET /_meridian/status, signed with the master key.
func regionStatus(ctx context.Context, hc *http.Client, endpoint string) (*admin.Status, error) {
	req, err := http.NewRequest(http.MethodGet, strings.TrimSuffix(endpoint, "/")+"/_meridian/status", http.NoBody)
	if err != nil {
		return nil, err
	}
	date := time.Now().UTC().Format(http.TimeFormat)
	req.Header.Set("x-ms-date", date)
	req.Header.Set("x-ms-version", "2020-11-05")
	req.Header.Set("Authorization", auth.Sign(masterKey, http.MethodGet, "", "_meridian/status", date))
	r := send(ctx, hc, req)
	if r.Err != nil {
		return nil, r.Err
	}
	if r.Status != http.StatusOK {
		return nil, fmt.Errorf("GET /_meridian/status: %s", r)
	}
	var st admin.Status
	if err := json.Unmarshal(r.Body, &st); err != nil {
		return nil, err
	}
	return &st, nil
}
