package sink

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
)

func TestLocalKeyValidation(t *testing.T) {
	l, err := NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, tc := range []struct {
		key string
		ok  bool
	}{
		{"a.parquet", true},
		{"account_id=1/dt=2024-05-01/hour=13/x.parquet", true},
		{"", false},
		{"../x", false},
		{"a/../../x", false},
		{"/abs/path", false},
		{"a//b", false},
		{"a/./b", false},
		{"a/", false},
		{`a\b`, false},
		{"a\x00b", false},
	} {
		t.Run(tc.key, func(t *testing.T) {
			err := l.Put(ctx, tc.key, []byte("x"))
			if tc.ok {
				if err != nil {
					t.Fatalf("Put: %v", err)
				}
				if _, err := l.Get(ctx, tc.key); err != nil {
					t.Fatalf("Get: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrPermanent) {
				t.Fatalf("Put: %v, want ErrPermanent", err)
			}
			if _, err := l.Get(ctx, tc.key); err == nil || errors.Is(err, ErrNotFound) {
				t.Fatalf("Get: %v, want an invalid key error", err)
			}
		})
	}
	// Nothing escaped the root.
	if _, err := os.Stat(filepath.Join(filepath.Dir(l.Root()), "x")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a file appeared outside the root: %v", err)
	}
}

// TestLocalAtomicOverwrite overwrites a key while readers check that they
// only ever see one whole version, then checks no temp files are left.
func TestLocalAtomicOverwrite(t *testing.T) {
	l, err := NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	v1 := bytes.Repeat([]byte{1}, 256<<10)
	v2 := bytes.Repeat([]byte{2}, 128<<10)
	if err := l.Put(ctx, "d/k", v1); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, 1)
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				got, err := l.Get(ctx, "d/k")
				if err == nil && !bytes.Equal(got, v1) && !bytes.Equal(got, v2) {
					err = errors.New("read a torn object")
				}
				if err != nil {
					select {
					case errs <- err:
					default:
					}
					return
				}
			}
		})
	}
	for i := range 20 {
		v := v1
		if i%2 == 0 {
			v = v2
		}
		if err := l.Put(ctx, "d/k", v); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	got, err := l.Get(ctx, "d/k")
	if err != nil || !bytes.Equal(got, v1) {
		t.Fatalf("final Get: %d bytes, %v", len(got), err)
	}
	ents, err := os.ReadDir(filepath.Join(l.Root(), "d"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 || ents[0].Name() != "k" {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Fatalf("directory holds %v, want only k", names)
	}
}

func TestLocalGetMissing(t *testing.T) {
	l, err := NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Get(context.Background(), "no/such/key"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get: %v, want ErrNotFound", err)
	}
}

func TestLocalPutCanceled(t *testing.T) {
	l, err := NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.Put(ctx, "k", []byte("x")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Put: %v, want context.Canceled", err)
	}
	if _, err := l.Get(context.Background(), "k"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a canceled Put wrote the object: %v", err)
	}
}

func BenchmarkLocalPut(b *testing.B) {
	l, err := NewLocal(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	data := randomBytes(8 << 20)
	ctx := context.Background()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := l.Put(ctx, "bench/"+string(rune('a'+i%4)), data); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func TestLocalModes(t *testing.T) {
	old := syscall.Umask(0o022)
	syscall.Umask(old)
	dir := t.TempDir()
	l, err := NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Put(context.Background(), "a/b/c/x.parquet", []byte("x")); err != nil {
		t.Fatal(err)
	}
	umask := os.FileMode(old)
	for _, tt := range []struct {
		path string
		want os.FileMode
	}{
		{"a", os.ModeDir | 0o755&^umask},
		{"a/b/c", os.ModeDir | 0o755&^umask},
		{"a/b/c/x.parquet", 0o666 &^ umask},
	} {
		fi, err := os.Stat(filepath.Join(dir, tt.path))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != tt.want {
			t.Errorf("%s: mode %v, want %v (umask %03o)", tt.path, fi.Mode(), tt.want, old)
		}
	}
}
