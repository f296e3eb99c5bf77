// Package sealcheck checks a lake's manifests against its files, read
// independently (Apache Arrow, SHA-256 of the bytes): a test harness.
package sealcheck

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"flowlake/internal/testenv"
	"flowlake/stages/seal"
	"flowlake/stages/sink"
)

// Lake checks every hour folder under dir that holds Parquet files: it
// must have a manifest (unless open reports the folder as one that must
// not) whose pointer is a copy of its latest revision and which lists
// exactly the folder's files with their rows (read with arrow), bytes and
// SHA-256, and rows and totals that add up. It returns the manifests by
// folder.
func Lake(t testing.TB, dir string, open func(folder string) bool) map[string]*seal.Manifest {
	t.Helper()
	out := map[string]*seal.Manifest{}
	files := testenv.ReadParquetDir(t, dir)
	byFolder := map[string][]string{}
	for rel := range files {
		f := filepath.ToSlash(rel)
		folder, _ := seal.SplitKey(f)
		byFolder[folder] = append(byFolder[folder], f)
	}
	st, err := sink.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	for folder, names := range byFolder {
		m, err := seal.Latest(context.Background(), st, folder)
		if err != nil {
			t.Fatalf("%s: %v", folder, err)
		}
		if open != nil && open(folder) {
			if m != nil {
				t.Fatalf("%s: sealed (revision %d), want it open", folder, m.Revision)
			}
			continue
		}
		if m == nil {
			t.Fatalf("%s: no manifest", folder)
		}
		ptr, err := os.ReadFile(filepath.Join(dir, folder, seal.ManifestName))
		if err != nil {
			t.Fatal(err)
		}
		rev, err := os.ReadFile(filepath.Join(dir, folder, seal.RevisionName(m.Revision)))
		if err != nil || !bytes.Equal(ptr, rev) {
			t.Fatalf("%s: %s is not a copy of revision %d (%v)", folder, seal.ManifestName, m.Revision, err)
		}
		if len(m.Files) != len(names) || m.Totals.Files != len(names) {
			t.Fatalf("%s: manifest lists %d files, the folder holds %d", folder, len(m.Files), len(names))
		}
		var rows int64
		for _, f := range m.Files {
			key := folder + "/" + f.Name
			pf, ok := files[filepath.FromSlash(key)]
			if !ok {
				t.Fatalf("%s: listed file %s not in the folder", folder, f.Name)
			}
			data, err := os.ReadFile(filepath.Join(dir, key))
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(data)
			if int64(len(pf.Rows)) != f.Rows || int64(len(data)) != f.Bytes || hex.EncodeToString(sum[:]) != f.SHA256 {
				t.Fatalf("%s: manifest says %d rows %d bytes %s; the file has %d rows %d bytes %x", key, f.Rows, f.Bytes, f.SHA256, len(pf.Rows), len(data), sum)
			}
			if f.Source == nil {
				t.Fatalf("%s: no source position", key)
			}
			rows += int64(len(pf.Rows))
		}
		if m.Rows != rows || m.Totals.Rows != rows {
			t.Fatalf("%s: manifest rows %d (totals %d), the folder holds %d", folder, m.Rows, m.Totals.Rows, rows)
		}
		var srcRows int64
		for _, s := range m.Sources {
			srcRows += s.Rows
		}
		if srcRows != rows {
			t.Fatalf("%s: sources hold %d rows, the folder %d", folder, srcRows, rows)
		}
		out[folder] = m
	}
	return out
}
