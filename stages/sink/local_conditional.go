package sink

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// writeTemp writes data to a synced temp file next to p and returns its name.
func writeTemp(p string, write func(io.Writer) error) (string, error) {
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create directory: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".tmp-"+filepath.Base(p)+"-*")
	if err != nil {
		return "", fmt.Errorf("create temp file: %w", err)
	}
	name := tmp.Name()
	err = write(tmp)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(name)
		return "", err
	}
	return name, nil
}

// Create implements Store: the temp file is hard-linked to the key, which
// fails if the name exists, so exactly one of several racing writers wins.
func (l *Local) Create(ctx context.Context, key string, data []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p, err := l.path(key)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrPermanent, err)
	}
	tmp, err := writeTemp(p, func(w io.Writer) error { _, err := w.Write(data); return err })
	if err != nil {
		return fmt.Errorf("create %s: %w", key, err)
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, p); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s: %w", key, ErrExists)
		}
		return fmt.Errorf("link %s into place: %w", key, err)
	}
	if err := syncDir(filepath.Dir(p)); err != nil {
		return fmt.Errorf("fsync directory of %s: %w", key, err)
	}
	return nil
}

func contentTag(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// GetTag implements Store; the tag is the content's SHA-256.
func (l *Local) GetTag(ctx context.Context, key string) ([]byte, string, error) {
	b, err := l.Get(ctx, key)
	if err != nil {
		return nil, "", err
	}
	return b, contentTag(b), nil
}

// ReplaceIf implements Store. An exclusive flock of a hidden sidecar file
// serialises writers on this host (and on file systems whose locks span
// hosts); the content is compared and replaced by rename under the lock.
func (l *Local) ReplaceIf(ctx context.Context, key string, data []byte, tag string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p, err := l.path(key)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrPermanent, err)
	}
	lock, err := os.OpenFile(filepath.Join(filepath.Dir(p), "."+filepath.Base(p)+".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("lock %s: %w", key, err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("lock %s: %w", key, err)
	}
	defer func() { _ = syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) }()
	cur, err := os.ReadFile(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s: %w (it is gone)", key, ErrChanged)
	case err != nil:
		return fmt.Errorf("read %s: %w", key, err)
	case contentTag(cur) != tag:
		return fmt.Errorf("%s: %w", key, ErrChanged)
	}
	return l.Put(ctx, key, data)
}

// PutFile implements Store.
func (l *Local) PutFile(ctx context.Context, key, path string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p, err := l.path(key)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrPermanent, err)
	}
	src, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer src.Close()
	tmp, err := writeTemp(p, func(w io.Writer) error { _, err := io.Copy(w, src); return err })
	if err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	if err := os.Rename(tmp, p); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("rename %s into place: %w", key, err)
	}
	return syncDir(filepath.Dir(p))
}
