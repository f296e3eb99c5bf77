package parse

import (
	"bytes"
	"testing"

	"flowlake/schema"
)

// FuzzDecode feeds arbitrary messages through a worker: envelope detection,
// gunzip, base64, JSON, line splitting, header selection and parsing. It
// must never panic, every record must be accounted for
// (Records == Rows + Dead + Skipped), no group key may be unsafe in an
// object key, and a message rejected whole must be kept whole.
func FuzzDecode(f *testing.F) {
	seeds := [][]byte{
		[]byte(lineAccept),
		[]byte(lineAccept + "\r\n" + lineNoData + "\n\n" + lineSkipData + "\n"),
		[]byte(lineIPv6),
		[]byte(v5Header + "\n" + v5Line),
		[]byte("version account-id no-such-field\n" + lineAccept),
		[]byte(schema.DefaultFormat.Header() + "\n" + lineAccept + "\n" + schema.DefaultFormat.Header()),
		gz(f, lineAccept+"\n"+lineNoData),
		gz(f, lineAccept+"\n", lineSkipData),
		gz(f, cwJSON(f, "DATA_MESSAGE", "111122223333", lineNoAccount1, lineNoAccount2)),
		[]byte(cwJSON(f, "DATA_MESSAGE", "111122223333", lineAccept, "junk")),
		gz(f, cwJSON(f, "CONTROL_MESSAGE", "", "CWL CONTROL MESSAGE")),
		gz(f, cwJSON(f, "DATA_MESSAGE", "../x", lineNoAccount1)),
		b64(gz(f, lineAccept)),
		b64(gz(f, cwJSON(f, "DATA_MESSAGE", "111122223333", lineNoAccount1))),
		awslogs(f, cwJSON(f, "DATA_MESSAGE", "111122223333", lineNoAccount1)),
		[]byte("4 123456789012 us-east-1/../../x 1418530010 1418530070 OK"),
		[]byte("2 ../../x eni-1 - - - - - - - 1431280876 1431280934 - NODATA"),
		[]byte("2 123456789010 eni-1 \xff\xfe - - - - - - 1 2 - NODATA"),
		{0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0xff},
		[]byte(`{"awslogs":{"data":"H4sI"}}`),
		{},
		[]byte("\n \r\n"),
	}
	for i, s := range seeds {
		f.Add(s, uint8(i))
	}
	cfg := Config{
		Workers: 1, Region: "us-east-1", MaxMessageBytes: 1 << 20, MaxLineBytes: 4 << 10,
		Formats: map[string]*schema.Format{
			"cw":       schema.MustParseFormat(noAccountFormat),
			"regional": schema.MustParseFormat(regionFormat),
		},
	}
	p, err := NewPool(withTestClock(cfg), nil, nil)
	if err != nil {
		f.Fatal(err)
	}
	topics := []string{"flows", "cw", "regional"}
	w := p.newWorker()
	f.Fuzz(func(t *testing.T, msg []byte, sel uint8) {
		topic := topics[int(sel)%len(topics)]
		c := NewChunk(topic, 1, messages(7, msg, []byte(lineAccept)))
		w.process(c)
		checkChunk(t, c)
		for _, d := range c.Dead {
			if d.Offset == 7 && d.Line == 0 && !bytes.Equal(d.Raw, msg) {
				t.Fatalf("message rejected whole (%s) keeps %d of its %d bytes", d.Reason, len(d.Raw), len(msg))
			}
		}
		// The good message after it is always parsed: one bad message
		// never spoils the next.
		if len(c.Dead) > 0 && c.Dead[len(c.Dead)-1].Offset == 8 && topic == "flows" {
			t.Fatalf("the good message after the fuzzed one was rejected: %s", c.Dead[len(c.Dead)-1].Detail)
		}
		// Decoding is deterministic: a second pass gives the same counts.
		again := NewChunk(topic, 1, messages(7, msg, []byte(lineAccept)))
		w.process(again)
		if again.Stats != c.Stats {
			t.Fatalf("second pass stats %+v, first %+v", again.Stats, c.Stats)
		}
		p.Release(c)
		p.Release(again)
	})
}
