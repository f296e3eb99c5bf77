package archive

import (
	"testing"
	"time"
)

// TestSealFolderPending checks which objects a folder's checkpoint leaves
// pending, and the delivery span of an object without a time in its name.
func TestSealFolderPending(t *testing.T) {
	day := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	f := Folder{Day: day, Prefix: "AWSLogs/111111111111/vpcflowlogs/us-east-1/2024/05/01/"}
	name := func(hm string) Object {
		return Object{Key: f.Prefix + "111111111111_vpcflowlogs_us-east-1_fl-0a1b2c3d4e5f60718_20240501T" + hm + "Z_0badcafe.log.gz"}
	}
	at := func(h, m int) int64 { return day.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute).Unix() }
	objs := []Object{name("0005"), name("0710"), {Key: f.Prefix + "no-time-here.log.gz"}, name("1505")}
	s := &Source{cfg: Config{Bucket: "b"}}
	p := &folderPlan{folder: f, objects: objs}
	sf := newSealFolder(s, p)
	tests := []struct {
		name     string
		next     int64
		found    bool
		from, to int64
		ok       bool
	}{
		{"no checkpoint: everything", -1, false, at(0, 0), at(24, 0), true},
		{"inside the first object: it is pending", Offset(0, 100), true, at(0, 0), at(24, 0), true},
		{"in the third: the first two are durable", Offset(2, 1), true, at(0, 0), at(24, 0), true},
		{"in the last", Offset(3, 1), true, at(15, 5), at(15, 5) + 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			from, to, ok := sf.Pending(tt.next, tt.found)
			if from != tt.from || to != tt.to || ok != tt.ok {
				t.Fatalf("Pending = [%d, %d) %v, want [%d, %d) %v", from, to, ok, tt.from, tt.to, tt.ok)
			}
		})
	}
	if n := sf.InWindow(at(7, 0), at(8, 15)); n != 2 { // 07:10 and the object without a time
		t.Fatalf("InWindow = %d, want 2", n)
	}
	p.status = folderComplete
	if sf := newSealFolder(s, p); !sf.Complete {
		t.Fatal("complete folder not complete")
	} else if _, _, ok := sf.Pending(-1, false); ok {
		t.Fatal("a complete folder has pending objects")
	}
}
