package seal

import (
	"math"
	"sort"

	"flowlake/schema"
)

// Sealing a finite input (`flowlake backfill`) is decided from its plan,
// not from watermarks: the source knows every object it will read and
// when AWS delivered each one (the time in the object's name).
//
// The delivery rule: AWS names a flow log file after the 5-minute window
// its records' end times fall in, and a record ends at most the maximum
// aggregation interval (10 minutes) after it starts. The lake files a
// record under the hour of its start, so every record of hour H is in an
// object named in [H, H+1h+10min). With a lateness bound L (at least the
// aggregation interval; --seal-lateness, 15 minutes by default) the rule
// is: the records of hour H are in the objects named in
// [H, H+1h+L), its delivery window. Objects whose name carries no time
// are taken to span their whole day folder.
//
// An hour is ready to seal when its delivery window lies inside what the
// input covers (Plan.Lo, Plan.Hi) and no object of the input whose time
// falls in the window is still pending (not durable by its progress
// record). Records found past the window (a delivery later than the
// bound) are not lost: they are written, and the sealer lists them in a
// new manifest revision, as late rows.

// Span is a half-open range of delivery times [From, To), Unix seconds.
type Span struct {
	From, To int64
}

// Why an hour of a plan is not ready.
const (
	WhyPending     = "objects_pending" // objects of its window are not durable yet
	WhyEdge        = "range_edge"      // its window reaches outside the input (--since/--until)
	WhyNotSelected = "not_selected"    // its account or region is outside --accounts/--regions
	WhyNotDurable  = "files_not_final" // files the progress records do not cover yet
	whyNone        = ""
)

// Plan is what a finite input says about its hours.
type Plan struct {
	// Lateness is L in seconds (see the delivery rule).
	Lateness int64
	// Lo and Hi bound the delivery times the input holds completely:
	// every object named in [Lo, Hi) is in the input (math.MinInt64 and
	// math.MaxInt64 when open).
	Lo, Hi int64
	// Selected reports whether an account and region are read from their
	// own folders (nil: every one is).
	Selected func(account, region string) bool

	// pending are the spans of objects not durable yet, sorted by From;
	// reach[i] is the largest To among pending[:i+1].
	pending []Span
	reach   []int64
}

// NewPlan returns a plan with the spans of the objects not durable yet.
func NewPlan(lateness, lo, hi int64, pending []Span) *Plan {
	p := &Plan{Lateness: lateness, Lo: lo, Hi: hi, pending: append([]Span(nil), pending...)}
	sort.Slice(p.pending, func(i, j int) bool { return p.pending[i].From < p.pending[j].From })
	p.reach = make([]int64, len(p.pending))
	r := int64(math.MinInt64)
	for i, s := range p.pending {
		r = max(r, s.To)
		p.reach[i] = r
	}
	return p
}

// Window is hour h's delivery window.
func (p *Plan) Window(h int64) Span { return Span{From: h, To: h + 3600 + p.Lateness} }

// Covered reports whether the input holds every object that may hold
// records of hour h.
func (p *Plan) Covered(h int64) bool {
	w := p.Window(h)
	return w.From >= p.Lo && w.To <= p.Hi
}

// Pending reports whether an object that may hold records of hour h is
// not durable yet.
func (p *Plan) Pending(h int64) bool {
	w := p.Window(h)
	// The spans starting before the window's end; one of them reaches
	// into the window if the largest end among them does.
	n := sort.Search(len(p.pending), func(i int) bool { return p.pending[i].From >= w.To })
	return n > 0 && p.reach[n-1] > w.From
}

// Ready reports whether hour k may be sealed, or why not.
func (p *Plan) Ready(k schema.PartitionKey) (bool, string) {
	switch {
	case p.Pending(k.Hour):
		return false, WhyPending
	case !p.Covered(k.Hour):
		return false, WhyEdge
	case p.Selected != nil && !p.Selected(k.Account, k.Region):
		return false, WhyNotSelected
	}
	return true, whyNone
}
