package checker

import (
	"fmt"
	"sync"
	"time"
)

// Recorder collects a history from concurrent clients. Its clock is
// monotonic (time.Since of one base, nanoseconds), shared by every client.
// It is safe for concurrent use.
type Recorder struct {
	base time.Time

	mu     sync.Mutex
	ops    []Op
	events []Event
	open   map[int]bool // clients with an op outstanding
}

// NewRecorder starts a recorder; its clock reads 0 now.
func NewRecorder() *Recorder {
	return &Recorder{base: time.Now(), open: map[int]bool{}}
}

// Now is the recorder's clock: nanoseconds since NewRecorder, from the
// monotonic clock. Take it before sending and after receiving.
func (r *Recorder) Now() int64 { return int64(time.Since(r.base)) }

// Pending is an operation that has been invoked and not yet recorded.
type Pending struct {
	r    *Recorder
	op   Op
	once sync.Once
	idx  int
}

// Begin stamps op.Call with Now and marks op.Client busy. It is an error
// for a client to begin an op while another is outstanding (porcupine
// needs one outstanding op per client): call it just before sending.
func (r *Recorder) Begin(op Op) (*Pending, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.open[op.Client] {
		return nil, fmt.Errorf("checker: client %d already has an operation outstanding", op.Client)
	}
	r.open[op.Client] = true
	op.Call = r.Now()
	return &Pending{r: r, op: op, idx: -1}, nil
}

// End stamps Return with Now, lets fill set the outcome (Result, Value of a
// read, LSN, tokens...), appends the op and returns its index. Call it
// right after the response (or the error) is received; later calls return
// the same index and do nothing.
func (p *Pending) End(fill func(*Op)) int {
	p.once.Do(func() {
		p.op.Return = p.r.Now()
		if fill != nil {
			fill(&p.op)
		}
		p.r.mu.Lock()
		defer p.r.mu.Unlock()
		delete(p.r.open, p.op.Client)
		p.idx = len(p.r.ops)
		p.r.ops = append(p.r.ops, p.op)
	})
	return p.idx
}

// Add appends an op whose Call and Return the caller stamped with Now, and
// returns its index.
func (r *Recorder) Add(op Op) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ops = append(r.ops, op)
	return len(r.ops) - 1
}

// Annotate records a nemesis or harness event (end 0 = a point in time).
func (r *Recorder) Annotate(tag, text string, start, end int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, Event{Tag: tag, Text: text, Start: start, End: end})
}

// History returns a copy of what has been recorded so far. Operations
// still outstanding are not in it: end them (Unknown) before checking.
func (r *Recorder) History() History {
	r.mu.Lock()
	defer r.mu.Unlock()
	h := History{Ops: make([]Op, len(r.ops)), Events: make([]Event, len(r.events))}
	copy(h.Ops, r.ops)
	for i := range h.Ops {
		if b := h.Ops[i].BatchKeys; b != nil {
			h.Ops[i].BatchKeys = append([]KV(nil), b...)
		}
	}
	copy(h.Events, r.events)
	return h
}

// Outstanding returns how many operations have begun and not ended.
func (r *Recorder) Outstanding() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.open)
}
