package enrich

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// fileState is what a poll compares to decide whether files changed.
type fileState struct {
	path  string
	size  int64
	mtime int64 // UnixNano
}

// expandPaths lists the files that paths name: a file as given, a directory
// as its *.json entries (not recursive) in name order.
func expandPaths(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("stat inventory path: %w", err)
		}
		if !fi.IsDir() {
			out = append(out, p)
			continue
		}
		entries, err := os.ReadDir(p) // sorted by name
		if err != nil {
			return nil, fmt.Errorf("list inventory directory: %w", err)
		}
		for _, e := range entries {
			if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") {
				continue
			}
			out = append(out, filepath.Join(p, e.Name()))
		}
	}
	return out, nil
}

// statFiles returns the state of every file the paths name; it only stats.
func statFiles(paths []string) ([]fileState, error) {
	files, err := expandPaths(paths)
	if err != nil {
		return nil, err
	}
	states := make([]fileState, 0, len(files))
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			return nil, fmt.Errorf("stat inventory file: %w", err)
		}
		states = append(states, fileState{path: f, size: fi.Size(), mtime: fi.ModTime().UnixNano()})
	}
	return states, nil
}

// loadFiles reads interface and subnet files into one snapshot.
func loadFiles(interfacePaths, subnetPaths, tagKeys []string) (*snapshot, error) {
	b := newBuilder(tagKeys)
	files, err := expandPaths(interfacePaths)
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		if err := readInterfaceFile(b, f); err != nil {
			return nil, err
		}
	}
	files, err = expandPaths(subnetPaths)
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		if err := readSubnetFile(b, f); err != nil {
			return nil, err
		}
	}
	return b.snapshot(), nil
}

// readInterfaceFile streams {"NetworkInterfaces":[…]} from path into b, one
// element at a time, so a large file never exists as one decoded value.
func readInterfaceFile(b *builder, path string) error {
	var r rawInterface
	err := decodeArrayFile(path, "NetworkInterfaces", func(dec *json.Decoder, i int) error {
		r = rawInterface{}
		if err := dec.Decode(&r); err != nil {
			return fmt.Errorf("network interface %d: %w", i, err)
		}
		if err := b.addInterface(&r, ""); err != nil {
			return fmt.Errorf("network interface %d: %w", i, err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read interface file %s: %w", path, err)
	}
	return nil
}

// readSubnetFile streams {"Subnets":[…]} from path into b.
func readSubnetFile(b *builder, path string) error {
	var r rawSubnet
	err := decodeArrayFile(path, "Subnets", func(dec *json.Decoder, i int) error {
		r = rawSubnet{}
		if err := dec.Decode(&r); err != nil {
			return fmt.Errorf("subnet %d: %w", i, err)
		}
		if err := b.addSubnet(&r, ""); err != nil {
			return fmt.Errorf("subnet %d: %w", i, err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read subnet file %s: %w", path, err)
	}
	return nil
}

// decodeArrayFile walks a JSON object and calls each for every element of
// its array member key (other members are skipped). A missing member is an
// error: it usually means the wrong kind of file was configured.
func decodeArrayFile(path, key string, each func(dec *json.Decoder, i int) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	dec := json.NewDecoder(bufio.NewReaderSize(f, 256<<10))
	syntax := func(err error) error {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("decode JSON near offset %d: %w", dec.InputOffset(), err)
	}
	if err := expectDelim(dec, '{'); err != nil {
		return syntax(err)
	}
	found := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return syntax(err)
		}
		if name, _ := tok.(string); name != key {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return syntax(err)
			}
			continue
		}
		found = true
		tok, err = dec.Token()
		if err != nil {
			return syntax(err)
		}
		if tok == nil {
			continue // "key": null
		}
		if d, ok := tok.(json.Delim); !ok || d != '[' {
			return fmt.Errorf("%s is not an array", key)
		}
		for i := 0; dec.More(); i++ {
			if err := each(dec, i); err != nil {
				return err
			}
		}
		if err := expectDelim(dec, ']'); err != nil {
			return syntax(err)
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return syntax(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("unexpected data after the top-level object near offset %d", dec.InputOffset())
	}
	if !found {
		return fmt.Errorf("no %q member", key)
	}
	return nil
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("want %q, got %v", want, tok)
	}
	return nil
}

// sameFiles reports whether two polls saw the same files.
func sameFiles(a, b []fileState) bool { return slices.Equal(a, b) }
