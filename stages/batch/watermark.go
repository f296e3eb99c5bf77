package batch

import "slices"

// DefaultWatermarkSupport is how many records must reach a time before the
// batch clock moves to it.
const DefaultWatermarkSupport = 100

// maxWatermarkHours bounds the hours the clock keeps counts for; past it
// the latest hours, the likeliest outliers, are forgotten.
const maxWatermarkHours = 1024

// watermark is a partition's event-time clock, which decides when an hour
// is over. It is robust to outliers: it is the latest record time that at
// least support merged records have reached (counted per hour), so one
// record from the far future never moves it, while a real stream moves it
// as soon as support records of a later hour arrived. It never goes back.
type watermark struct {
	support int64
	clock   int64 // Unix seconds
	hours   map[int64]*hourCount
	scratch []int64
}

type hourCount struct {
	rows    int64
	maxTime int64
}

func newWatermark(support int) *watermark {
	if support <= 0 {
		support = DefaultWatermarkSupport
	}
	return &watermark{support: int64(support), hours: make(map[int64]*hourCount)}
}

// add counts rows of an hour whose latest record time is maxTime.
func (w *watermark) add(hour int64, rows int, maxTime int64) {
	if rows <= 0 || hour+3600 <= w.clock {
		return // an hour the clock has passed cannot move it
	}
	h, ok := w.hours[hour]
	if !ok {
		h = &hourCount{}
		w.hours[hour] = h
	}
	h.rows += int64(rows)
	h.maxTime = max(h.maxTime, maxTime)
}

// advance moves the clock to the latest time with enough support and
// forgets the hours behind it.
func (w *watermark) advance() {
	if len(w.hours) == 0 {
		return
	}
	w.scratch = w.scratch[:0]
	for h := range w.hours {
		w.scratch = append(w.scratch, h)
	}
	slices.Sort(w.scratch)
	var sum int64
	for i := len(w.scratch) - 1; i >= 0; i-- {
		h := w.hours[w.scratch[i]]
		sum += h.rows
		if sum >= w.support {
			// Every record of this hour and later ones supports it; an
			// outlier inside the hour moves the clock an hour at most.
			w.clock = max(w.clock, min(h.maxTime, w.scratch[i]+3599))
			break
		}
	}
	for _, h := range w.scratch {
		if h+3600 <= w.clock {
			delete(w.hours, h)
		}
	}
	for i := len(w.scratch) - 1; i >= 0 && len(w.hours) > maxWatermarkHours; i-- {
		delete(w.hours, w.scratch[i])
	}
}

// now is the clock, Unix seconds.
func (w *watermark) now() int64 { return w.clock }
