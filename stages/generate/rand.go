package generate

import "math/bits"

// rng is splitmix64: tiny, fast and, unlike math/rand's helpers, fixed
// forever, so a seed gives the same records on every Go release.
type rng struct{ s uint64 }

func newRNG(seed int64, stream uint64) rng {
	r := rng{s: uint64(seed) ^ stream*0xd1342543de82ef95}
	r.next()
	return r
}

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// intn returns a value in [0, n); n must be positive.
func (r *rng) intn(n int) int {
	hi, _ := bits.Mul64(r.next(), uint64(n))
	return int(hi)
}

// between returns a value in [lo, hi].
func (r *rng) between(lo, hi int) int { return lo + r.intn(hi-lo+1) }

// pct is true with probability p/100.
func (r *rng) pct(p int) bool { return r.intn(100) < p }

// threshold turns a probability into a bound for next().
func threshold(p float64) uint64 {
	switch {
	case p <= 0:
		return 0
	case p >= 1:
		return ^uint64(0)
	}
	return uint64(p * (1 << 63) * 2)
}

const hexDigits = "0123456789abcdef"

// hex returns n random lowercase hex digits.
func (r *rng) hex(n int) string {
	b := make([]byte, n)
	var v uint64
	for i := range b {
		if i%16 == 0 {
			v = r.next()
		}
		b[i] = hexDigits[v&15]
		v >>= 4
	}
	return string(b)
}

// awsID returns an EC2-style ID: prefix, dash, "0" and 16 hex digits.
func (r *rng) awsID(prefix string) string { return prefix + "-0" + r.hex(16) }

// pick chooses from weighted alternatives via a 256-slot table.
type pick[T any] struct {
	slots [256]T
}

type weighted[T any] struct {
	w int
	v T
}

func newPick[T any](ws []weighted[T]) *pick[T] {
	total := 0
	for _, w := range ws {
		total += w.w
	}
	p := &pick[T]{}
	slot, acc := 0, 0
	for _, w := range ws {
		acc += w.w
		end := acc * 256 / total
		for ; slot < end; slot++ {
			p.slots[slot] = w.v
		}
	}
	for ; slot < 256; slot++ {
		p.slots[slot] = ws[len(ws)-1].v
	}
	return p
}

func (p *pick[T]) get(r *rng) T { return p.slots[r.next()>>56] }
