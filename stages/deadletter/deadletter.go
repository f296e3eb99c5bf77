package deadletter

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"time"
	"unicode/utf8"

	"flowlake/schema"
	"flowlake/stages/parse"
	"flowlake/stages/sink"
)

// Writer stores the dead letters of one partition. Write returns once they
// are durable (or acknowledged by Kafka).
type Writer interface {
	Write(ctx context.Context, letters []parse.DeadLetter) error
	String() string
}

// Record is the JSON form of a dead letter, one per line.
type Record struct {
	Topic     string `json:"topic"`
	Partition int    `json:"partition"`
	Offset    int64  `json:"offset"`
	Line      int32  `json:"line"`
	Reason    string `json:"reason"`
	Detail    string `json:"detail"`
	// Raw holds the bytes when they are valid UTF-8, else RawBase64 does.
	Raw       *string `json:"raw,omitempty"`
	RawBase64 *string `json:"raw_base64,omitempty"`
	// RawTruncated says Raw or RawBase64 holds only the first bytes of the
	// record, and RawSize how many bytes the record had: set only where
	// the destination bounds a message's size (Kafka).
	RawTruncated bool `json:"raw_truncated,omitempty"`
	RawSize      int  `json:"raw_size,omitempty"`
	// MessageTime is the Kafka message's timestamp.
	MessageTime string `json:"message_time,omitempty"`
	// Records is set on a summary (reason dead_letter_limit): the number of
	// rejected records of the message it stands for, Reasons why they were
	// rejected. Raw then holds the whole message as read from Kafka. A
	// dead letter without Records stands for one record.
	Records int64            `json:"records,omitempty"`
	Reasons map[string]int64 `json:"reasons,omitempty"`
}

// Count is the number of rejected records r stands for.
func (r *Record) Count() int64 { return max(r.Records, 1) }

// ToRecord converts a dead letter to its JSON form, raw bytes whole.
func ToRecord(d *parse.DeadLetter) Record { return toRecord(d, 0) }

// toRecord converts a dead letter, keeping at most maxRaw raw bytes when
// maxRaw > 0. A cut never splits a UTF-8 character of valid text.
func toRecord(d *parse.DeadLetter, maxRaw int) Record {
	r := Record{Topic: d.Topic, Partition: d.Partition, Offset: d.Offset, Line: d.Line,
		Reason: string(d.Reason), Detail: d.Detail}
	raw := d.Raw
	valid := utf8.Valid(raw)
	if maxRaw > 0 && len(raw) > maxRaw {
		cut := maxRaw
		for valid && cut > 0 && !utf8.RuneStart(raw[cut]) {
			cut--
		}
		raw = raw[:cut]
		r.RawTruncated, r.RawSize = true, len(d.Raw)
	}
	if valid {
		s := string(raw)
		r.Raw = &s
	} else {
		s := base64.StdEncoding.EncodeToString(raw)
		r.RawBase64 = &s
	}
	if !d.Time.IsZero() {
		r.MessageTime = d.Time.UTC().Format(time.RFC3339Nano)
	}
	if d.Records > 0 {
		r.Records = d.Records
		r.Reasons = make(map[string]int64, len(d.ByReason))
		for reason, n := range d.ByReason {
			r.Reasons[string(reason)] = n
		}
	}
	return r
}

// RawBytes returns the raw bytes of a decoded record.
func (r *Record) RawBytes() ([]byte, error) {
	if r.Raw != nil {
		return []byte(*r.Raw), nil
	}
	if r.RawBase64 != nil {
		return base64.StdEncoding.DecodeString(*r.RawBase64)
	}
	return nil, nil
}

// SinkWriter writes JSON Lines objects under a prefix of a sink:
// `<prefix>/year=YYYY/month=MM/day=DD/hour=HH/<topic>_<partition>_<hash>.jsonl`,
// by the hour of the Kafka message time, or of the processing time for
// messages without one.
type SinkWriter struct {
	sink   sink.Sink
	prefix string
}

// NewSinkWriter returns a writer into s under prefix.
func NewSinkWriter(s sink.Sink, prefix string) *SinkWriter {
	return &SinkWriter{sink: s, prefix: prefix}
}

func (w *SinkWriter) String() string { return w.sink.String() + "/" + w.prefix }

// Write implements Writer. Letters must be of one partition and in order.
func (w *SinkWriter) Write(ctx context.Context, letters []parse.DeadLetter) error {
	byHour := map[int64][]int{}
	now := time.Now()
	for i := range letters {
		// A message without a timestamp is filed under the processing
		// hour, not 1970 (its message_time stays empty).
		t := letters[i].Time
		if t.IsZero() || t.Unix() <= 0 {
			t = now
		}
		h := schema.HourOf(t.Unix())
		byHour[h] = append(byHour[h], i)
	}
	hours := make([]int64, 0, len(byHour))
	for h := range byHour {
		hours = append(hours, h)
	}
	sort.Slice(hours, func(i, j int) bool { return hours[i] < hours[j] })
	var buf bytes.Buffer
	for _, h := range hours {
		idx := byHour[h]
		buf.Reset()
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		for _, i := range idx {
			if err := enc.Encode(ToRecord(&letters[i])); err != nil {
				return fmt.Errorf("encode dead letter: %w", err)
			}
		}
		first := &letters[idx[0]]
		key := sink.Join(w.prefix, hourDir(h)+"/"+sanitize(first.Topic)+"_"+strconv.Itoa(first.Partition)+"_"+
			schema.BatchHash(first.Topic, first.Partition, schema.Pos{Offset: first.Offset, Line: first.Line})+".jsonl")
		if err := w.sink.Put(ctx, key, buf.Bytes()); err != nil {
			return fmt.Errorf("write dead letters %s: %w", key, err)
		}
	}
	return nil
}

func hourDir(h int64) string {
	t := time.Unix(h, 0).UTC()
	return fmt.Sprintf("year=%04d/month=%02d/day=%02d/hour=%02d", t.Year(), int(t.Month()), t.Day(), t.Hour())
}

// sanitize keeps a topic name safe inside an object name.
func sanitize(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			b[i] = '_'
		}
	}
	return string(b)
}
