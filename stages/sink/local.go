package sink

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// Local stores objects as files under a directory. Each Put writes a temp file
// in the target directory, fsyncs it, renames it over the key and fsyncs the
// directory, so a crash leaves either the old file or the new one.
type Local struct {
	root string
}

// NewLocal returns a sink rooted at dir, creating it if needed.
func NewLocal(dir string) (*Local, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("resolve sink directory %q: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("create sink directory: %w", err)
	}
	return &Local{root: abs}, nil
}

// Root returns the absolute directory the sink writes under.
func (l *Local) Root() string { return l.root }

func (l *Local) String() string { return "file://" + l.root }

func (l *Local) path(key string) (string, error) {
	if err := CheckKey(key); err != nil {
		return "", err
	}
	p := filepath.Join(l.root, filepath.FromSlash(key))
	if !strings.HasPrefix(p, l.root+string(filepath.Separator)) {
		return "", fmt.Errorf("object key %q escapes the sink root", key)
	}
	return p, nil
}

// Put implements Sink.
func (l *Local) Put(ctx context.Context, key string, data []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p, err := l.path(key)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrPermanent, err)
	}
	dir := filepath.Dir(p)
	if err := l.mkdirs(dir); err != nil {
		return fmt.Errorf("create directory for %s: %w", key, err)
	}
	tmp, err := os.CreateTemp(dir, ".tmp-"+filepath.Base(p)+"-*")
	if err != nil {
		return fmt.Errorf("create temp file for %s: %w", key, err)
	}
	// CreateTemp makes 0600 files; objects get the ordinary 0666 under
	// the umask (0644 with the usual 022), like any file a tool writes.
	if err := tmp.Chmod(fileMode()); err != nil {
		_ = tmp.Close()
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("chmod %s: %w", key, err)
	}
	tmpName := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			_ = tmp.Close()
			_ = os.Remove(tmpName)
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", key, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", key, err)
	}
	if err := os.Rename(tmpName, p); err != nil {
		return fmt.Errorf("rename %s into place: %w", key, err)
	}
	ok = true
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("fsync directory of %s: %w", key, err)
	}
	return nil
}

// Get implements Sink.
func (l *Local) Get(ctx context.Context, key string) ([]byte, error) {
	p, err := l.path(key)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", key, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	return b, nil
}

// mkdirs creates dir and its missing parents (0755 under the umask) and
// fsyncs the parent of each directory it created, deepest last, so a
// crash cannot lose the new directory entries of a durable file.
func (l *Local) mkdirs(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	var created []string
	for d := dir; d != l.root && strings.HasPrefix(d, l.root); d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			break
		}
		created = append(created, d)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for i := len(created) - 1; i >= 0; i-- {
		if err := syncDir(filepath.Dir(created[i])); err != nil {
			return fmt.Errorf("fsync %s: %w", filepath.Dir(created[i]), err)
		}
	}
	return nil
}

var (
	umaskOnce sync.Once
	umaskBits os.FileMode
)

// fileMode is 0666 under the process umask. The umask is read from
// /proc/self/status (setting it to read it would race other goroutines
// creating files); elsewhere 022 is assumed.
func fileMode() os.FileMode {
	umaskOnce.Do(func() {
		umaskBits = 0o022
		b, err := os.ReadFile("/proc/self/status")
		if err != nil {
			return
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "Umask:"); ok {
				if n, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32); err == nil {
					umaskBits = os.FileMode(n) & 0o777
				}
			}
		}
	})
	return 0o666 &^ umaskBits
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
