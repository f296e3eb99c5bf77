package sink

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
)

// TestStore runs the Store contract against both implementations: the
// local directory and S3 (a real S3-compatible server).
func TestStore(t *testing.T) {
	stores := map[string]func(t *testing.T) Store{
		"local": func(t *testing.T) Store {
			l, err := NewLocal(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			return l
		},
		"s3": func(t *testing.T) Store {
			e := newS3Env(t)
			cfg := e.config()
			cfg.Prefix = "lake"
			return e.sink(t, cfg, nil)
		},
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			st := open(t)
			ctx := context.Background()
			// Create: exactly one of many racing writers wins.
			var wins atomic.Int32
			var wg sync.WaitGroup
			for i := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					err := st.Create(ctx, "a/b/once.json", []byte{byte('0' + i)})
					switch {
					case err == nil:
						wins.Add(1)
					case !errors.Is(err, ErrExists):
						t.Errorf("Create: %v", err)
					}
				}()
			}
			wg.Wait()
			if wins.Load() != 1 {
				t.Fatalf("%d writers won the create, want 1", wins.Load())
			}
			// ReplaceIf succeeds with the current tag, fails with a stale one.
			data, tag, err := st.GetTag(ctx, "a/b/once.json")
			if err != nil || len(data) != 1 {
				t.Fatalf("GetTag: %q %v", data, err)
			}
			if err := st.ReplaceIf(ctx, "a/b/once.json", []byte("new"), tag); err != nil {
				t.Fatalf("ReplaceIf with the current tag: %v", err)
			}
			if err := st.ReplaceIf(ctx, "a/b/once.json", []byte("lost"), tag); !errors.Is(err, ErrChanged) {
				t.Fatalf("ReplaceIf with a stale tag: %v, want ErrChanged", err)
			}
			if got, _ := st.Get(ctx, "a/b/once.json"); string(got) != "new" {
				t.Fatalf("content %q, want new", got)
			}
			// PutFile, List, Open with ranged reads.
			big := randomBytes(3<<20 + 17)
			path := filepath.Join(t.TempDir(), "f")
			if err := os.WriteFile(path, big, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := st.PutFile(ctx, "a/c/big.bin", path); err != nil {
				t.Fatalf("PutFile: %v", err)
			}
			objs, err := st.List(ctx, "a/")
			if err != nil || len(objs) != 2 || objs[0].Key != "a/b/once.json" || objs[1].Key != "a/c/big.bin" || objs[1].Size != int64(len(big)) {
				t.Fatalf("List: %+v %v", objs, err)
			}
			if objs, _ := st.List(ctx, "a/c/"); len(objs) != 1 {
				t.Fatalf("List a/c/: %+v", objs)
			}
			obj, err := st.Open(ctx, "a/c/big.bin")
			if err != nil || obj.Size() != int64(len(big)) {
				t.Fatalf("Open: %v", err)
			}
			defer obj.Close()
			got, err := io.ReadAll(io.NewSectionReader(obj, 0, obj.Size()))
			if err != nil || !bytes.Equal(got, big) {
				t.Fatalf("ranged reads: %d bytes, %v", len(got), err)
			}
			if _, err := st.Open(ctx, "a/none"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Open missing: %v", err)
			}
		})
	}
}
