package loadgen

import (
	"math"
	"math/rand/v2"
	"sync"
)

// The key generators of the YCSB core workload (site.ycsb.generator),
// ported: ZipfianGenerator (Gray et al., "Quickly Generating Billion-Record
// Synthetic Databases", SIGMOD 1994), ScrambledZipfianGenerator and
// SkewedLatestGenerator, plus the AcknowledgedCounterGenerator that keeps
// reads away from keys whose insert has not finished.
//
// The generators are not safe for concurrent use: the open-loop dispatcher
// draws every key from one goroutine. ackCounter is the exception (insert
// goroutines acknowledge keys).

// ZipfianConstant is YCSB's default skew (theta).
const ZipfianConstant = 0.99

// scrambledItemCount and scrambledZetan are YCSB's constants: the scrambled
// generator draws from a zipfian over 10^10 items (whose zeta is
// precomputed) and hashes the result into the key space, so that the
// popular keys are spread over the key space instead of clustered at 0.
const (
	scrambledItemCount = 10_000_000_000
	scrambledZetan     = 26.46902820178302
)

// Zipfian draws integers in [min, min+items) with P(rank k) ∝ 1/(k+1)^theta;
// item min is the most popular. It supports a growing item count (as the
// "latest" distribution needs) by extending zeta incrementally.
type Zipfian struct {
	base              int64
	items             int64
	theta, alpha      float64
	zeta2theta, zetan float64
	eta               float64
	countForZeta      int64
	half              float64 // 1 + 0.5^theta
}

// NewZipfian returns a zipfian generator over [min, max] with skew theta.
func NewZipfian(min, max int64, theta float64) *Zipfian {
	items := max - min + 1
	return newZipfian(min, items, theta, zeta(0, items, theta, 0))
}

func newZipfian(base, items int64, theta, zetan float64) *Zipfian {
	z := &Zipfian{
		base: base, items: items, theta: theta,
		alpha:        1 / (1 - theta),
		zeta2theta:   zeta(0, 2, theta, 0),
		zetan:        zetan,
		countForZeta: items,
		half:         1 + math.Pow(0.5, theta),
	}
	z.eta = z.etaFor(items)
	return z
}

func (z *Zipfian) etaFor(n int64) float64 {
	return (1 - math.Pow(2/float64(n), 1-z.theta)) / (1 - z.zeta2theta/z.zetan)
}

// zeta returns zeta(to, theta) = sum_{i=1..to} 1/i^theta, continuing from
// initial = zeta(from, theta).
func zeta(from, to int64, theta, initial float64) float64 {
	sum := initial
	for i := from; i < to; i++ {
		sum += 1 / math.Pow(float64(i+1), theta)
	}
	return sum
}

// Next draws from the generator's own item count.
func (z *Zipfian) Next(r *rand.Rand) int64 { return z.NextN(r, z.items) }

// NextN draws over the first itemCount items (itemCount may grow between
// calls; zeta is then extended incrementally).
func (z *Zipfian) NextN(r *rand.Rand, itemCount int64) int64 {
	if itemCount != z.countForZeta {
		if itemCount > z.countForZeta {
			z.zetan = zeta(z.countForZeta, itemCount, z.theta, z.zetan)
		} else {
			// YCSB recomputes from scratch (and warns); rare here.
			z.zetan = zeta(0, itemCount, z.theta, 0)
		}
		z.countForZeta = itemCount
		z.eta = z.etaFor(itemCount)
	}
	u := r.Float64()
	uz := u * z.zetan
	if uz < 1 {
		return z.base
	}
	if uz < z.half {
		return z.base + 1
	}
	v := z.base + int64(float64(itemCount)*math.Pow(z.eta*u-z.eta+1, z.alpha))
	if v >= z.base+itemCount { // rounding at u → 1
		v = z.base + itemCount - 1
	}
	return v
}

// ScrambledZipfian is a zipfian whose popular items are scattered over
// [min, max] by an FNV-1a hash, as in YCSB: the hot keys are not
// neighbours (which matters for range partitioning and for scans).
type ScrambledZipfian struct {
	min, items int64
	gen        *Zipfian
}

// NewScrambledZipfian returns YCSB's scrambled zipfian over [min, max]
// (theta 0.99).
func NewScrambledZipfian(min, max int64) *ScrambledZipfian {
	return &ScrambledZipfian{min: min, items: max - min + 1,
		gen: newZipfian(0, scrambledItemCount, ZipfianConstant, scrambledZetan)}
}

// Next draws one key.
func (s *ScrambledZipfian) Next(r *rand.Rand) int64 {
	return s.min + int64(fnv64(uint64(s.gen.Next(r)))%uint64(s.items))
}

// fnv64 is YCSB's Utils.fnvhash64: FNV-1a over the 8 little-endian bytes.
func fnv64(v uint64) uint64 {
	h := uint64(0xCBF29CE484222325)
	for i := 0; i < 8; i++ {
		h ^= v & 0xff
		v >>= 8
		h *= 1099511628211
	}
	return h
}

// SkewedLatest favours the most recently inserted keys: it returns
// last - zipfian(last+1), where last is the newest acknowledged key.
type SkewedLatest struct {
	basis *ackCounter
	gen   *Zipfian
}

// NewSkewedLatest returns YCSB's "latest" distribution over the keys
// acknowledged by basis.
func NewSkewedLatest(basis *ackCounter) *SkewedLatest {
	return &SkewedLatest{basis: basis, gen: NewZipfian(0, max(basis.Last(), 0), ZipfianConstant)}
}

// Next draws one key.
func (s *SkewedLatest) Next(r *rand.Rand) int64 {
	last := s.basis.Last()
	if last < 0 {
		return 0
	}
	return last - s.gen.NextN(r, last+1)
}

// ackCounter hands out insert keys in order (Next) and tracks the largest
// key below which every key has been acknowledged (Last), like YCSB's
// AcknowledgedCounterGenerator: readers choose among keys <= Last, so they
// never ask for a key whose insert is still in flight.
type ackCounter struct {
	mu      sync.Mutex
	next    int64
	last    int64 // every key <= last is acknowledged
	pending map[int64]bool
}

// newAckCounter starts after the keys [0, start) that the load phase wrote.
func newAckCounter(start int64) *ackCounter {
	return &ackCounter{next: start, last: start - 1, pending: map[int64]bool{}}
}

// Next returns the next key to insert.
func (c *ackCounter) Next() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := c.next
	c.next++
	return k
}

// Acknowledge marks key k's insert finished (successfully or not, as YCSB
// does, so that one failure does not freeze Last).
func (c *ackCounter) Acknowledge(k int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pending[k] = true
	for c.pending[c.last+1] {
		delete(c.pending, c.last+1)
		c.last++
	}
}

// Last is the largest key such that it and every smaller key are
// acknowledged (-1 if none).
func (c *ackCounter) Last() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}
