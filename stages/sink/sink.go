package sink

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

var (
	// ErrNotFound is returned (wrapped) by Get when no object exists under the key.
	ErrNotFound = errors.New("object not found")
	// ErrPermanent marks failures that retrying cannot fix (access denied,
	// missing bucket, invalid credentials). Callers stop instead of retrying.
	ErrPermanent = errors.New("permanent sink error")
)

// Sink stores objects durably. Keys are slash-separated and relative to the
// sink's root (its directory or bucket prefix); they never start with a slash.
type Sink interface {
	// Put stores data under key. It returns nil only once the object is
	// durable and verified. Transient failures are retried inside Put until
	// ctx ends; errors that wrap ErrPermanent are returned at once.
	Put(ctx context.Context, key string, data []byte) error
	// Get returns the object's bytes, or an error wrapping ErrNotFound.
	Get(ctx context.Context, key string) ([]byte, error)
	// String describes the sink for logs (no secrets).
	String() string
}

// Location is a parsed sink URL.
type Location struct {
	Scheme string // "file" or "s3"
	Bucket string // s3 only
	Path   string // file: absolute directory; s3: key prefix without slashes at either end
}

// ParseURL parses file:///dir, a plain path, or s3://bucket/prefix.
func ParseURL(raw string) (Location, error) {
	if raw == "" {
		return Location{}, errors.New("empty sink URL")
	}
	if !strings.Contains(raw, "://") {
		return Location{Scheme: "file", Path: raw}, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return Location{}, fmt.Errorf("parse sink URL %q: %w", raw, err)
	}
	switch u.Scheme {
	case "file":
		p := u.Path
		if u.Host != "" && u.Host != "localhost" {
			// file://relative/dir is a common slip; accept it as a relative path.
			p = u.Host + u.Path
		}
		if p == "" {
			return Location{}, fmt.Errorf("sink URL %q has no path", raw)
		}
		return Location{Scheme: "file", Path: p}, nil
	case "s3":
		if u.Host == "" {
			return Location{}, fmt.Errorf("sink URL %q has no bucket", raw)
		}
		prefix := strings.Trim(u.Path, "/")
		if prefix == "AWSLogs" || strings.HasPrefix(prefix, "AWSLogs/") {
			return Location{}, fmt.Errorf("sink URL %q: the prefix may not start with AWSLogs, which AWS reserves", raw)
		}
		return Location{Scheme: "s3", Bucket: u.Host, Path: prefix}, nil
	default:
		return Location{}, fmt.Errorf("sink URL %q: unsupported scheme %q (want file or s3)", raw, u.Scheme)
	}
}

// Join joins a prefix and a key with one slash, ignoring an empty prefix.
func Join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "/" + key
}

// CheckKey rejects keys that could escape the sink's root.
func CheckKey(key string) error {
	if key == "" || strings.HasPrefix(key, "/") || strings.Contains(key, "\\") || strings.ContainsRune(key, 0) {
		return fmt.Errorf("invalid object key %q", key)
	}
	for _, part := range strings.Split(key, "/") {
		if part == "" || part == "." || part == ".." {
			return fmt.Errorf("invalid object key %q", key)
		}
	}
	return nil
}
