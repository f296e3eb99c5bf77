package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/parquet-go/parquet-go"

	"flowlake/config"
)

// inspectCmd prints, per Hive partition under a directory, the Parquet files
// and their row counts (read from each file's footer), then the dead letters.
func inspectCmd(args []string) error {
	if len(args) != 1 || strings.HasPrefix(args[0], "-") {
		return fmt.Errorf("%w: usage: flowlake inspect DIR", config.ErrUsage)
	}
	root := args[0]
	type part struct{ files, rows, bytes int64 }
	parts := map[string]*part{}
	var deadFiles, deadLines int64
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		switch {
		case strings.HasSuffix(path, ".parquet"):
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			st, err := f.Stat()
			if err != nil {
				return err
			}
			pf, err := parquet.OpenFile(f, st.Size(), parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
			if err != nil {
				return fmt.Errorf("%s: %w", rel, err)
			}
			dir := filepath.Dir(rel)
			p := parts[dir]
			if p == nil {
				p = &part{}
				parts[dir] = p
			}
			p.files++
			p.rows += pf.NumRows()
			p.bytes += st.Size()
		case strings.HasSuffix(path, ".jsonl") && strings.Contains(rel, "_dead_letters"):
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			deadFiles++
			deadLines += int64(bytes.Count(b, []byte{'\n'}))
		}
		return nil
	})
	if err != nil {
		return err
	}
	dirs := make([]string, 0, len(parts))
	for d := range parts {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	bw := bufio.NewWriter(os.Stdout)
	w := tabwriter.NewWriter(bw, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "files\trows\tbytes\t partition\t")
	var tf, tr, tb int64
	for _, d := range dirs {
		p := parts[d]
		fmt.Fprintf(w, "%d\t%d\t%d\t %s\t\n", p.files, p.rows, p.bytes, d)
		tf, tr, tb = tf+p.files, tr+p.rows, tb+p.bytes
	}
	fmt.Fprintf(w, "%d\t%d\t%d\t total (%d partitions)\t\n", tf, tr, tb, len(dirs))
	fmt.Fprintf(w, "%d\t%d\t\t dead letters (files, records) under _dead_letters/\t\n", deadFiles, deadLines)
	if err := w.Flush(); err != nil {
		return err
	}
	return bw.Flush()
}
