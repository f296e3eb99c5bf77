package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/parquet-go/parquet-go"
	"golang.org/x/sync/errgroup"

	"flowlake/cmd/flowlake/app"
	"flowlake/config"
	"flowlake/stages/sink"
	"flowlake/stages/source/kafka"
)

// store is what inspect needs of a sink: listing and ranged reads.
type store interface {
	sink.Sink
	List(ctx context.Context, prefix string) ([]sink.ObjectInfo, error)
	Open(ctx context.Context, key string) (sink.Object, error)
}

// inspectReport is what `flowlake inspect` prints (--json: as is).
type inspectReport struct {
	Sink        string            `json:"sink"`
	Partitions  []partitionReport `json:"partitions"`
	Files       int64             `json:"files"`
	Rows        int64             `json:"rows"`
	Bytes       int64             `json:"bytes"`
	DeadLetters deadReport        `json:"dead_letters"`
	Checkpoints []checkpointInfo  `json:"checkpoints"`
}

type partitionReport struct {
	Partition string `json:"partition"`
	Files     int64  `json:"files"`
	Rows      int64  `json:"rows"`
	Bytes     int64  `json:"bytes"`
}

type deadReport struct {
	Location string           `json:"location"`
	Files    int64            `json:"files"`
	Records  int64            `json:"records"`
	ByReason map[string]int64 `json:"by_reason"`
}

type checkpointInfo struct {
	Group      string    `json:"group"`
	Topic      string    `json:"topic"`
	Partition  int       `json:"partition"`
	NextOffset int64     `json:"next_offset"`
	Updated    time.Time `json:"updated"`
	AgeSeconds float64   `json:"age_seconds"`
}

// inspectCmd reports, for a sink (a directory or s3://bucket/prefix): the
// files, rows (from each Parquet footer) and bytes per Hive partition, the
// dead letters by reason, and the checkpoints (partition, next offset,
// age). It takes run's configuration (file, env, flags) for the sink and
// its S3 options; a location given as the first argument overrides --sink.
func inspectCmd(ctx context.Context, args []string, stdout io.Writer) error {
	var location string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		location, args = args[0], args[1:]
	}
	var asJSON bool
	var timeout time.Duration
	bind := func(fs *flag.FlagSet, c *config.Config) {
		config.RunFlags(fs, c)
		fs.BoolVar(&asJSON, "json", false, "print JSON")
		fs.DurationVar(&timeout, "timeout", 5*time.Minute, "give up after this long (S3 requests are retried until then)")
	}
	c, fs, err := config.Parse("inspect", args, bind)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "usage: flowlake inspect [DIR | s3://bucket/prefix] [--json] [run flags: --sink, --s3-endpoint, --dlq, ...]")
		printDefaults(fs)
		return err
	}
	if err != nil {
		return err
	}
	if location != "" {
		c.Sink.URL = location
	}
	var ps config.Problems
	for _, p := range c.Problems() {
		if strings.HasPrefix(p.Path, "sink") || p.Path == "dlq" {
			ps = append(ps, p)
		}
	}
	if len(ps) > 0 {
		return ps
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	r, err := inspect(ctx, c)
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	return r.print(stdout)
}

func openStore(ctx context.Context, c *config.Config, url string) (store, error) {
	s, err := sink.Open(ctx, url, app.S3Config(c), slog.New(slog.DiscardHandler), nil)
	if err != nil {
		return nil, err
	}
	st, ok := s.(store)
	if !ok {
		return nil, fmt.Errorf("%s cannot be listed", s)
	}
	return st, nil
}

func inspect(ctx context.Context, c *config.Config) (*inspectReport, error) {
	st, err := openStore(ctx, c, c.Sink.URL)
	if err != nil {
		return nil, err
	}
	r := &inspectReport{Sink: st.String(), Partitions: []partitionReport{}, Checkpoints: []checkpointInfo{}}
	objs, err := st.List(ctx, "AWSLogs/")
	if err != nil {
		return nil, err
	}
	parts := map[string]*partitionReport{}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16) // footers are small ranged reads: latency-bound on S3
	for _, o := range objs {
		if !strings.HasSuffix(o.Key, ".parquet") {
			continue
		}
		g.Go(func() error {
			rows, err := parquetRows(gctx, st, o.Key)
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			dir := path.Dir(o.Key)
			p := parts[dir]
			if p == nil {
				p = &partitionReport{Partition: dir}
				parts[dir] = p
			}
			p.Files++
			p.Rows += rows
			p.Bytes += o.Size
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for _, d := range slices.Sorted(maps.Keys(parts)) {
		p := parts[d]
		r.Partitions = append(r.Partitions, *p)
		r.Files, r.Rows, r.Bytes = r.Files+p.Files, r.Rows+p.Rows, r.Bytes+p.Bytes
	}

	// Dead letters: _dead_letters/ in the sink, or the root of a separate
	// --dlq sink.
	dlqStore, dlqPrefix := st, "_dead_letters/"
	r.DeadLetters.Location = st.String() + "/_dead_letters"
	if d, err := config.ParseDLQ(c.DLQ); c.DLQ != "" && err == nil {
		if d.SinkURL == "" {
			r.DeadLetters.Location = c.DLQ + " (a Kafka topic: not inspected)"
			dlqStore = nil
		} else if dlqStore, err = openStore(ctx, c, d.SinkURL); err != nil {
			return nil, err
		} else {
			dlqPrefix, r.DeadLetters.Location = "", dlqStore.String()
		}
	}
	r.DeadLetters.ByReason = map[string]int64{}
	if dlqStore != nil {
		if err := countDeadLetters(ctx, dlqStore, dlqPrefix, &r.DeadLetters); err != nil {
			return nil, err
		}
	}

	cps, err := st.List(ctx, kafka.CheckpointPrefix)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	for _, o := range cps {
		// Segment objects (<partition>.segments/<n>.json) belong to their
		// checkpoint.
		group, _, _, ok := kafka.ParseCheckpointKey(o.Key)
		if !ok {
			continue
		}
		b, err := st.Get(ctx, o.Key)
		if err != nil {
			return nil, err
		}
		var cp struct {
			Group     string `json:"group"`
			Topic     string `json:"topic"`
			Partition int    `json:"partition"`
			Next      int64  `json:"next_offset"`
			Updated   string `json:"updated"`
		}
		if err := json.Unmarshal(b, &cp); err != nil {
			return nil, fmt.Errorf("checkpoint %s: %w", o.Key, err)
		}
		if cp.Group == "" { // the group is in the key
			cp.Group = group
		}
		ci := checkpointInfo{Group: cp.Group, Topic: cp.Topic, Partition: cp.Partition, NextOffset: cp.Next}
		if t, err := time.Parse(time.RFC3339Nano, cp.Updated); err == nil {
			ci.Updated, ci.AgeSeconds = t, now.Sub(t).Round(time.Second).Seconds()
		}
		r.Checkpoints = append(r.Checkpoints, ci)
	}
	slices.SortFunc(r.Checkpoints, func(a, b checkpointInfo) int {
		return strings.Compare(fmt.Sprintf("%s/%s/%09d", a.Group, a.Topic, a.Partition), fmt.Sprintf("%s/%s/%09d", b.Group, b.Topic, b.Partition))
	})
	return r, nil
}

// parquetRows reads a file's row count from its footer (ranged reads).
func parquetRows(ctx context.Context, st store, key string) (int64, error) {
	o, err := st.Open(ctx, key)
	if err != nil {
		return 0, err
	}
	defer o.Close()
	pf, err := parquet.OpenFile(o, o.Size(), parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		return 0, fmt.Errorf("%s: %w", key, err)
	}
	return pf.NumRows(), nil
}

// countDeadLetters reads every .jsonl dead-letter file under prefix and
// counts its records by reason.
func countDeadLetters(ctx context.Context, st store, prefix string, d *deadReport) error {
	objs, err := st.List(ctx, prefix)
	if err != nil {
		return err
	}
	for _, o := range objs {
		if !strings.HasSuffix(o.Key, ".jsonl") {
			continue
		}
		b, err := st.Get(ctx, o.Key)
		if err != nil {
			return err
		}
		d.Files++
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(nil, 64<<20)
		for sc.Scan() {
			var l struct {
				Reason string `json:"reason"`
			}
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				return fmt.Errorf("dead letters %s: %w", o.Key, err)
			}
			d.Records++
			d.ByReason[l.Reason]++
		}
		if err := sc.Err(); err != nil {
			return fmt.Errorf("dead letters %s: %w", o.Key, err)
		}
	}
	return nil
}

func (r *inspectReport) print(out io.Writer) error {
	bw := bufio.NewWriter(out)
	w := tabwriter.NewWriter(bw, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "files\trows\tbytes\t partition\t")
	for _, p := range r.Partitions {
		fmt.Fprintf(w, "%d\t%d\t%d\t %s\t\n", p.Files, p.Rows, p.Bytes, p.Partition)
	}
	fmt.Fprintf(w, "%d\t%d\t%d\t total (%d partitions) in %s\t\n", r.Files, r.Rows, r.Bytes, len(r.Partitions), r.Sink)
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(bw, "\ndead letters: %d records in %d files (%s)\n", r.DeadLetters.Records, r.DeadLetters.Files, r.DeadLetters.Location)
	reasons := make([]string, 0, len(r.DeadLetters.ByReason))
	for k := range r.DeadLetters.ByReason {
		reasons = append(reasons, k)
	}
	slices.SortFunc(reasons, func(a, b string) int { return int(r.DeadLetters.ByReason[b] - r.DeadLetters.ByReason[a]) })
	for _, k := range reasons {
		fmt.Fprintf(bw, "  %10d  %s\n", r.DeadLetters.ByReason[k], k)
	}
	fmt.Fprintf(bw, "\ncheckpoints: %d\n", len(r.Checkpoints))
	w = tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
	if len(r.Checkpoints) > 0 {
		fmt.Fprintln(w, "  group\ttopic\tpartition\tnext offset\tage\t")
	}
	for _, c := range r.Checkpoints {
		fmt.Fprintf(w, "  %s\t%s\t%d\t%d\t%s\t\n", c.Group, c.Topic, c.Partition, c.NextOffset, time.Duration(c.AgeSeconds*float64(time.Second)))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return bw.Flush()
}
