package generate_test

import (
	"fmt"
	"time"

	"flowlake/stages/generate"
)

func Example() {
	g, err := generate.New(generate.Config{
		Records: 4,
		Seed:    1,
		Start:   time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC),
	})
	if err != nil {
		panic(err)
	}
	var buf []byte
	for {
		msg, key, _, ok := g.Next(buf[:0])
		if !ok {
			break
		}
		buf = msg
		fmt.Printf("%s\n  %s\n", key, msg)
	}
	st := g.Stats()
	fmt.Println(st.Records, "records,", st.Messages, "messages,", len(st.PerAccount), "accounts")
	// Output:
	// 483725433686/eni-064c87de98ca3ddfa
	//   2 483725433686 eni-064c87de98ca3ddfa 10.200.2.33 10.200.3.20 43971 443 6 943 235750 1714560777 1714560939 ACCEPT OK
	// 510785338617/eni-0d526026080bf706f
	//   2 510785338617 eni-0d526026080bf706f 10.107.1.22 10.107.0.26 6379 47368 6 120 36840 1714558849 1714558908 ACCEPT OK
	// 353458888474/eni-015285d9349780392
	//   2 353458888474 eni-015285d9349780392 10.240.2.23 10.240.3.7 6379 37506 6 781 589655 1714561758 1714561775 ACCEPT OK
	// 227057300980/eni-0c8f716dc4760f1f4
	//   2 227057300980 eni-0c8f716dc4760f1f4 10.160.2.13 10.160.3.20 9092 51737 6 211 78703 1714566642 1714566906 ACCEPT OK
	// 4 records, 4 messages, 4 accounts
}
