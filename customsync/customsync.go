package customsync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
)

// HeaderRegion is the response header in which Meridian names the region
// that served a request.
const HeaderRegion = "x-meridian-region"

// DefaultTimeout is the confirmation timeout when Options.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// Retry pacing between confirmation attempts in one region. A read that
// the region cannot serve yet is held by the server (up to its session
// wait), so these only pace retries after fast failures.
const (
	minBackoff = 5 * time.Millisecond
	maxBackoff = 200 * time.Millisecond
)

// Options configure a Syncer.
type Options struct {
	// Timeout bounds how long a write waits for its confirmations, counted
	// from the write's acknowledgement (default 10 s). The context passed
	// to a write method bounds the whole call as well.
	Timeout time.Duration
}

// Syncer writes through a write-region container client and confirms each
// write in every target region with a session read served by that region.
// It is safe for concurrent use.
type Syncer struct {
	writer  *azcosmos.ContainerClient
	targets []target // sorted by name
	timeout time.Duration
}

type target struct {
	name   string
	client *azcosmos.ContainerClient
}

// Result describes a synced write. When a write method returns a
// *SyncError, its Result still holds the write's response and the regions
// that did confirm.
type Result struct {
	// Response is the write's response (status, ETag, session token...).
	Response azcosmos.ItemResponse
	// Write is the write's round trip.
	Write time.Duration
	// Confirmed maps each confirmed target region to the time from the
	// write's acknowledgement to that region's confirming read.
	Confirmed map[string]time.Duration
}

// New returns a Syncer that writes through writer and confirms writes in
// every region of readers. readers is keyed by region name (as the account
// spells it, e.g. "East US"); build each reader client with
// PreferredRegions set to just that region, so that its reads go there.
// The clients must address the same container.
func New(writer *azcosmos.ContainerClient, readers map[string]*azcosmos.ContainerClient, opts *Options) (*Syncer, error) {
	if writer == nil {
		return nil, errors.New("customsync: the writer client is nil")
	}
	if len(readers) == 0 {
		return nil, errors.New("customsync: no target regions: readers is empty")
	}
	s := &Syncer{writer: writer, timeout: DefaultTimeout}
	if opts != nil {
		if opts.Timeout < 0 {
			return nil, fmt.Errorf("customsync: negative Options.Timeout %v", opts.Timeout)
		}
		if opts.Timeout > 0 {
			s.timeout = opts.Timeout
		}
	}
	seen := map[string]string{}
	for name, c := range readers {
		canon := canonical(name)
		switch {
		case canon == "":
			return nil, errors.New("customsync: a reader has an empty region name")
		case c == nil:
			return nil, fmt.Errorf("customsync: the reader client for %q is nil", name)
		case seen[canon] != "":
			return nil, fmt.Errorf("customsync: regions %q and %q are the same region", seen[canon], name)
		case c.ID() != writer.ID():
			return nil, fmt.Errorf("customsync: the reader for %q addresses container %q, the writer %q", name, c.ID(), writer.ID())
		}
		seen[canon] = name
		s.targets = append(s.targets, target{name: name, client: c})
	}
	slices.SortFunc(s.targets, func(a, b target) int { return strings.Compare(a.name, b.name) })
	return s, nil
}

// Regions returns the target region names, sorted.
func (s *Syncer) Regions() []string {
	out := make([]string, len(s.targets))
	for i, t := range s.targets {
		out[i] = t.name
	}
	return out
}

// Timeout is the confirmation timeout in effect.
func (s *Syncer) Timeout() time.Duration { return s.timeout }

// CreateItem creates item (which must have a string "id") through the
// writer, then waits until every target region confirms it. See the
// package documentation for the outcomes.
func (s *Syncer) CreateItem(ctx context.Context, pk azcosmos.PartitionKey, item []byte, o *azcosmos.ItemOptions) (Result, error) {
	id, err := itemID(item)
	if err != nil {
		return Result{}, err
	}
	return s.sync(ctx, pk, id, func(ctx context.Context) (azcosmos.ItemResponse, error) {
		return s.writer.CreateItem(ctx, pk, item, o)
	})
}

// UpsertItem creates or replaces item (which must have a string "id"),
// then waits until every target region confirms it.
func (s *Syncer) UpsertItem(ctx context.Context, pk azcosmos.PartitionKey, item []byte, o *azcosmos.ItemOptions) (Result, error) {
	id, err := itemID(item)
	if err != nil {
		return Result{}, err
	}
	return s.sync(ctx, pk, id, func(ctx context.Context) (azcosmos.ItemResponse, error) {
		return s.writer.UpsertItem(ctx, pk, item, o)
	})
}

// ReplaceItem replaces item id, then waits until every target region
// confirms the replacement.
func (s *Syncer) ReplaceItem(ctx context.Context, pk azcosmos.PartitionKey, id string, item []byte, o *azcosmos.ItemOptions) (Result, error) {
	return s.sync(ctx, pk, id, func(ctx context.Context) (azcosmos.ItemResponse, error) {
		return s.writer.ReplaceItem(ctx, pk, id, item, o)
	})
}

// PatchItem patches item id, then waits until every target region confirms
// the patch.
func (s *Syncer) PatchItem(ctx context.Context, pk azcosmos.PartitionKey, id string, ops azcosmos.PatchOperations, o *azcosmos.ItemOptions) (Result, error) {
	return s.sync(ctx, pk, id, func(ctx context.Context) (azcosmos.ItemResponse, error) {
		return s.writer.PatchItem(ctx, pk, id, ops, o)
	})
}

// DeleteItem deletes item id, then waits until every target region confirms
// the deletion: its session read answers 404 (not 404/1002), and a session
// query for the item is served by the region itself (see precondition 2 in
// the package documentation).
func (s *Syncer) DeleteItem(ctx context.Context, pk azcosmos.PartitionKey, id string, o *azcosmos.ItemOptions) (Result, error) {
	return s.sync(ctx, pk, id, func(ctx context.Context) (azcosmos.ItemResponse, error) {
		return s.writer.DeleteItem(ctx, pk, id, o)
	})
}

// Confirm waits until every target region has applied the write that
// returned sessionToken, confirming with session reads of item id (any
// write to that item's partition key may be confirmed through any item of
// it, for example after a transactional batch). It returns each region's
// confirmation time, and a *SyncError (with a zero Write) naming the
// regions that did not confirm within Options.Timeout.
func (s *Syncer) Confirm(ctx context.Context, pk azcosmos.PartitionKey, id, sessionToken string) (map[string]time.Duration, error) {
	if sessionToken == "" {
		return nil, &SyncError{Missing: s.Regions(), Cause: ErrNoSessionToken}
	}
	return s.confirm(ctx, pk, id, sessionToken)
}

// sync runs one write and its confirmations.
func (s *Syncer) sync(ctx context.Context, pk azcosmos.PartitionKey, id string, write func(context.Context) (azcosmos.ItemResponse, error)) (Result, error) {
	start := time.Now()
	resp, err := write(ctx)
	if err != nil {
		return Result{}, err
	}
	res := Result{Response: resp, Write: time.Since(start)}
	if resp.SessionToken == nil || *resp.SessionToken == "" {
		return res, &SyncError{Write: resp, Missing: s.Regions(), Cause: ErrNoSessionToken}
	}
	res.Confirmed, err = s.confirm(ctx, pk, id, *resp.SessionToken)
	var se *SyncError
	if errors.As(err, &se) {
		se.Write = resp
	}
	return res, err
}

// confirm confirms the token in every target in parallel.
func (s *Syncer) confirm(ctx context.Context, pk azcosmos.PartitionKey, id, token string) (map[string]time.Duration, error) {
	cctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	start := time.Now()
	type outcome struct {
		took time.Duration
		err  error
	}
	outs := make([]outcome, len(s.targets))
	done := make(chan int, len(s.targets))
	for i, t := range s.targets {
		go func() {
			outs[i].err = t.await(cctx, pk, id, token)
			outs[i].took = time.Since(start)
			done <- i
		}()
	}
	for range s.targets {
		<-done
	}
	confirmed := make(map[string]time.Duration, len(s.targets))
	var missing []string
	var causes []error
	for i, t := range s.targets {
		if outs[i].err == nil {
			confirmed[t.name] = outs[i].took
			continue
		}
		missing = append(missing, t.name)
		causes = append(causes, fmt.Errorf("%s: %w", t.name, outs[i].err))
	}
	if len(missing) > 0 {
		return confirmed, &SyncError{Confirmed: confirmed, Missing: missing, Cause: errors.Join(causes...)}
	}
	return confirmed, nil
}

// await retries probe until it confirms, a permanent error, or ctx ends.
func (t target) await(ctx context.Context, pk azcosmos.PartitionKey, id, token string) error {
	backoff := minBackoff
	for {
		err := t.probe(ctx, pk, id, token)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil || permanent(err) {
			return withContext(ctx, err)
		}
		timer := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			timer.Stop()
			return withContext(ctx, err)
		case <-timer.C:
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// withContext reports the last attempt's error together with the
// context's, so that errors.Is(err, context.DeadlineExceeded) holds on a
// timeout and the message still says why the region did not confirm.
func withContext(ctx context.Context, last error) error {
	cerr := ctx.Err()
	switch {
	case cerr == nil:
		return last
	case errors.Is(last, cerr):
		return last
	default:
		return fmt.Errorf("%w (last attempt: %w)", cerr, last)
	}
}

// probe makes one confirmation attempt: nil means the region itself served
// a read that carried the token.
func (t target) probe(ctx context.Context, pk azcosmos.PartitionKey, id, token string) error {
	var raw *http.Response
	_, err := t.client.ReadItem(policy.WithCaptureResponse(ctx, &raw), pk, id, &azcosmos.ItemOptions{SessionToken: &token})
	var re *azcore.ResponseError
	if errors.As(err, &re) && raw == nil {
		raw = re.RawResponse
	}
	served := servedBy(raw)
	switch {
	case err == nil:
		return t.check(served)
	case re != nil && re.StatusCode == http.StatusNotFound && substatus(re) != substatusReadSessionNotAvailable:
		// Absent at or after the token, or a missing container: tell the
		// two apart with a session query (see the package doc).
		if served != "" {
			if err := t.check(served); err != nil {
				return err
			}
		}
		return t.probeQuery(ctx, pk, id, token)
	default:
		return err
	}
}

// probeQuery confirms with a session query for the item: any page the
// region itself serves proves it applied the token.
func (t target) probeQuery(ctx context.Context, pk azcosmos.PartitionKey, id, token string) error {
	pager := t.client.NewQueryItemsPager("SELECT c.id FROM c WHERE c.id = @id", pk, &azcosmos.QueryOptions{
		SessionToken:    &token,
		QueryParameters: []azcosmos.QueryParameter{{Name: "@id", Value: id}},
	})
	var raw *http.Response
	page, err := pager.NextPage(policy.WithCaptureResponse(ctx, &raw))
	if err != nil {
		return fmt.Errorf("session query after a 404: %w", err)
	}
	if raw == nil {
		raw = page.RawResponse
	}
	return t.check(servedBy(raw))
}

// check accepts a response only if the target region served it.
func (t target) check(served string) error {
	if canonical(served) == canonical(t.name) {
		return nil
	}
	return &WrongRegionError{Target: t.name, ServedBy: served}
}

const substatusReadSessionNotAvailable = "1002"

func substatus(re *azcore.ResponseError) string {
	if re.RawResponse == nil {
		return ""
	}
	return re.RawResponse.Header.Get("x-ms-substatus")
}

func servedBy(resp *http.Response) string {
	if resp == nil {
		return ""
	}
	return resp.Header.Get(HeaderRegion)
}

// permanent reports errors that retrying the same read cannot fix.
func permanent(err error) bool {
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		return false
	}
	switch re.StatusCode {
	case http.StatusBadRequest, http.StatusUnauthorized, http.StatusMethodNotAllowed, http.StatusRequestEntityTooLarge:
		return true
	case http.StatusForbidden:
		return substatus(re) != "3"
	}
	return false
}

// canonical folds a region name the way the SDKs compare them: without
// whitespace, lower-cased ("East US" == "eastus").
func canonical(name string) string {
	return strings.ToLower(strings.Join(strings.Fields(name), ""))
}

// itemID extracts the "id" of a JSON item.
func itemID(item []byte) (string, error) {
	var doc struct {
		ID *string `json:"id"`
	}
	if err := json.Unmarshal(item, &doc); err != nil {
		return "", fmt.Errorf("customsync: the item is not a JSON object: %w", err)
	}
	if doc.ID == nil || *doc.ID == "" {
		return "", errors.New(`customsync: the item has no string "id"`)
	}
	return *doc.ID, nil
}
