package archive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"golang.org/x/sync/errgroup"

	"flowlake/stages/backoff"
	"flowlake/stages/sink"
	"flowlake/stages/source"
)

// Config says what to read.
type Config struct {
	Bucket string
	// Prefix is the folder holding AWSLogs/ (the flow log's destination
	// prefix), without slashes at either end; "" for the bucket root.
	Prefix string
	Filter Filter
	// Parallel is how many folders are read at once (<= 0: GOMAXPROCS).
	Parallel int
}

// ParseURL parses s3://bucket/prefix. A prefix that ends in AWSLogs is
// taken as the AWSLogs folder itself.
func ParseURL(raw string) (bucket, prefix string, err error) {
	rest, ok := strings.CutPrefix(raw, "s3://")
	if !ok {
		return "", "", fmt.Errorf("%q: want s3://bucket/prefix", raw)
	}
	bucket, prefix, _ = strings.Cut(rest, "/")
	if bucket == "" {
		return "", "", fmt.Errorf("%q has no bucket", raw)
	}
	prefix = strings.Trim(prefix, "/")
	if prefix == "AWSLogs" {
		prefix = ""
	} else if p, ok := strings.CutSuffix(prefix, "/AWSLogs"); ok {
		prefix = p
	}
	return bucket, prefix, nil
}

// ClientConfig configures the S3 client that reads the archive.
type ClientConfig struct {
	Region   string
	Endpoint string // S3-compatible endpoint, path-style
	// HTTPClient, when set, carries every request (tests count them).
	HTTPClient *http.Client
}

// NewClient builds an S3 client with the standard AWS credential chain.
func NewClient(ctx context.Context, cfg ClientConfig) (*s3.Client, error) {
	var opts []func(*awsconfig.LoadOptions) error
	if cfg.Region != "" {
		opts = append(opts, awsconfig.WithRegion(cfg.Region))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("load AWS config: %w", err)
	}
	if awsCfg.Region == "" {
		awsCfg.Region = "us-east-1"
	}
	return s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		o.Retryer = aws.NopRetryer{} // Source.retry retries, counts and logs
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
			o.UsePathStyle = true
		}
		if cfg.HTTPClient != nil {
			o.HTTPClient = cfg.HTTPClient
		}
		o.DisableLogOutputChecksumValidationSkipped = true
	}), nil
}

// Stats are the source's counters, safe to read while it runs.
type Stats struct {
	// Planned are the objects and bytes of the selected folders;
	// Skipped those of folders a previous run completed.
	PlannedObjects, PlannedBytes int64
	SkippedObjects, SkippedBytes int64
	Folders, FoldersDone         int64
	// ObjectsDone counts objects read to their end in this run, Bytes the
	// bytes read from S3, Corrupt the objects that could not be read
	// whole (dead-lettered).
	ObjectsDone, Bytes, Corrupt int64
	// Ignored counts objects in the folders that are no flow log text
	// file (Parquet deliveries, other files).
	Ignored int64
	Listed  bool
}

type counters struct {
	plannedObjects, plannedBytes, skippedObjects, skippedBytes atomic.Int64
	folders, foldersDone, objectsOpened, objectsDone           atomic.Int64
	bytes, corrupt, ignored                                    atomic.Int64
	listed                                                     atomic.Bool
}

// Source reads an archive; it implements source.Runner.
type Source struct {
	cfg    Config
	client *s3.Client
	state  sink.Sink // manifests live here, beside the checkpoints
	logger *slog.Logger
	stats  counters

	mu      sync.Mutex
	streams map[string]*stream // by stream topic, for dead letters
	plan    []*folderPlan
	// around are the folders of the days adjoining the range (listed, not
	// read: sealing asks whether an earlier run made them durable), and
	// listedAt when the listing was made.
	around   []*folderPlan
	listedAt time.Time
	byTopic  map[string]*folderPlan // plan and around, by stream topic
}

// New returns a source reading with client and keeping its manifests in
// state (the output sink).
func New(cfg Config, client *s3.Client, state sink.Sink, logger *slog.Logger) (*Source, error) {
	if cfg.Bucket == "" {
		return nil, errors.New("archive: no bucket")
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = runtime.GOMAXPROCS(0)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Source{cfg: cfg, client: client, state: state, logger: logger, streams: map[string]*stream{}}, nil
}

// Stats returns the counters.
func (s *Source) Stats() Stats {
	c := &s.stats
	return Stats{PlannedObjects: c.plannedObjects.Load(), PlannedBytes: c.plannedBytes.Load(),
		SkippedObjects: c.skippedObjects.Load(), SkippedBytes: c.skippedBytes.Load(),
		Folders: c.folders.Load(), FoldersDone: c.foldersDone.Load(), ObjectsDone: c.objectsDone.Load(),
		Bytes: c.bytes.Load(), Corrupt: c.corrupt.Load(), Ignored: c.ignored.Load(), Listed: c.listed.Load()}
}

// Fence implements source.Runner: nobody else reads these streams.
func (s *Source) Fence() time.Duration { return 0 }

// folderPlan is a folder with its objects.
type folderPlan struct {
	folder   Folder
	objects  []Object
	manifest *manifest
	// status is the folder's progress in this run (guarded by Source.mu).
	status folderStatus
	sealed bool
	// spans are the objects' delivery times for sealing, built from
	// spansOf (the manifest, or the listing when nil).
	spans   *spanIndex
	spansOf *manifest
}

type folderStatus int

const (
	folderWaiting  folderStatus = iota // not started in this run
	folderRunning                      // its stream runs or ran (see its checkpoint)
	folderComplete                     // every object durable (this run or an earlier one)
)

// root is the key prefix holding AWSLogs/.
func (s *Source) root() string {
	if s.cfg.Prefix == "" {
		return ""
	}
	return s.cfg.Prefix + "/"
}

// Plan lists the selected folders and their objects (no object is read).
func (s *Source) Plan(ctx context.Context) ([]*folderPlan, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.plan != nil {
		return s.plan, nil
	}
	l := &lister{client: s.client, bucket: s.cfg.Bucket, retry: s.retry}
	s.listedAt = time.Now()
	// The days adjoining the range are listed too (sealing needs to know
	// which folders they hold), which costs no listing but a month's or a
	// year's at most: days are listed per month.
	wide := s.cfg.Filter
	if r := &wide.Range; !r.Since.IsZero() {
		r.Since = r.Since.AddDate(0, 0, -1)
	}
	if r := &wide.Range; !r.Until.IsZero() {
		r.Until = r.Until.AddDate(0, 0, 1)
	}
	all, err := l.discover(ctx, s.root(), wide)
	if err != nil {
		return nil, fmt.Errorf("list s3://%s/%s: %w", s.cfg.Bucket, s.root(), err)
	}
	var folders []Folder
	for _, f := range all {
		if s.cfg.Filter.Range.overlaps(f.Day, f.Day.AddDate(0, 0, 1)) {
			folders = append(folders, f)
		} else {
			s.around = append(s.around, &folderPlan{folder: f})
		}
	}
	// Day by day, so that every folder an hour's records may sit in is
	// done early and hours seal as the run goes.
	sort.SliceStable(folders, func(i, j int) bool { return folders[i].Day.Before(folders[j].Day) })
	plans := make([]*folderPlan, len(folders))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for i, f := range folders {
		g.Go(func() error {
			objs, err := l.objects(gctx, f.Prefix)
			if err != nil {
				return err
			}
			kept := objs[:0]
			for _, o := range objs {
				if flowLogObject(o.Key) {
					kept = append(kept, o)
				} else {
					s.stats.ignored.Add(1)
				}
			}
			plans[i] = &folderPlan{folder: f, objects: kept}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for _, p := range plans {
		s.stats.folders.Add(1)
		for _, o := range p.objects {
			s.stats.plannedObjects.Add(1)
			s.stats.plannedBytes.Add(o.Size)
		}
	}
	s.stats.listed.Store(true)
	s.plan = plans
	return plans, nil
}

// Summary describes a plan for --dry-run.
type Summary struct {
	Folders, Objects int
	Bytes            int64
	From, To         time.Time // first and last day
	Accounts         []string
	Regions          []string
	Layouts          []string
	Ignored          int64
	// Each lists every object (key and size) when asked for.
	Each []Object
}

// Summarize plans and describes what a run would read.
func (s *Source) Summarize(ctx context.Context, each bool) (Summary, error) {
	plans, err := s.Plan(ctx)
	if err != nil {
		return Summary{}, err
	}
	var sum Summary
	accounts, regions, layouts := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, p := range plans {
		if len(p.objects) == 0 {
			continue
		}
		sum.Folders++
		accounts[p.folder.Account], regions[p.folder.Region], layouts[string(p.folder.Layout)] = true, true, true
		if sum.From.IsZero() || p.folder.Day.Before(sum.From) {
			sum.From = p.folder.Day
		}
		if p.folder.Day.After(sum.To) {
			sum.To = p.folder.Day
		}
		for _, o := range p.objects {
			sum.Objects++
			sum.Bytes += o.Size
			if each {
				sum.Each = append(sum.Each, o)
			}
		}
	}
	for k := range accounts {
		sum.Accounts = append(sum.Accounts, k)
	}
	for k := range regions {
		sum.Regions = append(sum.Regions, k)
	}
	for k := range layouts {
		sum.Layouts = append(sum.Layouts, k)
	}
	sort.Strings(sum.Accounts)
	sort.Strings(sum.Regions)
	sort.Strings(sum.Layouts)
	sum.Ignored = s.stats.ignored.Load()
	return sum, nil
}

// RunStreams implements source.Runner: every selected folder is a stream,
// Parallel of them at once; it returns once all are done.
func (s *Source) RunStreams(ctx context.Context, h source.StreamHandler) error {
	plans, err := s.Plan(ctx)
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.cfg.Parallel)
	for _, p := range plans {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error { return s.runFolder(gctx, p, h) })
	}
	err = g.Wait()
	if ctx.Err() != nil {
		return nil // a stop: what is durable is recorded
	}
	return err
}

func (s *Source) runFolder(ctx context.Context, p *folderPlan, h source.StreamHandler) error {
	if len(p.objects) == 0 {
		s.stats.foldersDone.Add(1)
		return nil
	}
	m, err := s.loadManifest(ctx, p)
	if err != nil {
		return err
	}
	if m.Done == len(m.Objects) {
		for _, o := range m.Objects {
			s.stats.skippedObjects.Add(1)
			s.stats.skippedBytes.Add(o.Size)
		}
		s.stats.foldersDone.Add(1)
		s.setStatus(p, m, folderComplete)
		return nil
	}
	st := &stream{src: s, folder: p.folder, objects: m.Objects, manifest: m, committed: -1}
	s.mu.Lock()
	s.streams[st.ID().Topic] = st
	s.mu.Unlock()
	s.setStatus(p, m, folderRunning)
	if err := h(ctx, st); err != nil {
		return fmt.Errorf("folder %s: %w", p.folder.Prefix, err)
	}
	if !st.complete() {
		return nil // stopped (or a flush abandoned): the next run resumes
	}
	m.Done = len(m.Objects)
	if err := s.storeManifest(ctx, p.folder, m); err != nil {
		return err
	}
	s.stats.foldersDone.Add(1)
	s.setStatus(p, m, folderComplete)
	return nil
}

// manifest freezes a folder's object list, so that object indexes (and so
// offsets) are the same on every run; objects added later are appended.
type manifest struct {
	Version int      `json:"version"`
	Bucket  string   `json:"bucket"`
	Folder  string   `json:"folder"`
	Objects []Object `json:"objects"`
	// Done is how many objects (from the first) are durable in the sink;
	// all of them once the folder is complete.
	Done int `json:"done"`
	// Sealed is set once the folder is complete and every hour it wrote
	// into has a manifest listing its files: sealing no longer needs its
	// checkpoint.
	Sealed  bool   `json:"sealed,omitempty"`
	Updated string `json:"updated"`
}

// stateKey is where a folder's records live in the output sink.
func (s *Source) stateKey(f Folder, name string) string { return topicStateKey(s.topic(f), name) }

// topicStateKey is where the records of the folder whose URL is topic
// live: `_flowlake/backfill/<bucket>/<folder>/name`.
func topicStateKey(topic, name string) string {
	return statePrefix + strings.TrimPrefix(topic, "s3://") + name
}

// statePrefix holds the folders' records in the output sink.
const statePrefix = "_flowlake/backfill/"

func (s *Source) loadManifest(ctx context.Context, p *folderPlan) (*manifest, error) {
	key := s.stateKey(p.folder, "manifest.json")
	b, err := s.state.Get(ctx, key)
	m := &manifest{Version: 1, Bucket: s.cfg.Bucket, Folder: p.folder.Prefix}
	switch {
	case errors.Is(err, sink.ErrNotFound):
		m.Objects = p.objects
		return m, s.storeManifest(ctx, p.folder, m)
	case err != nil:
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	if err := json.Unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("decode manifest %s: %w", key, err)
	}
	if m.Version != 1 || m.Bucket != s.cfg.Bucket || m.Folder != p.folder.Prefix {
		return nil, fmt.Errorf("manifest %s is for another folder", key)
	}
	known := make(map[string]bool, len(m.Objects))
	for _, o := range m.Objects {
		known[o.Key] = true
	}
	var added []Object
	for _, o := range p.objects {
		if !known[o.Key] {
			added = append(added, o)
		}
	}
	if len(added) > 0 {
		s.logger.Info("objects added to a folder since the last run; reading them after the others", "folder", p.folder.Prefix, "added", len(added))
		m.Objects = append(slices.Clip(m.Objects), added...)
		return m, s.storeManifest(ctx, p.folder, m)
	}
	return m, nil
}

func (s *Source) storeManifest(ctx context.Context, f Folder, m *manifest) error {
	m.Updated = time.Now().UTC().Format(time.RFC3339)
	s.mu.Lock()
	b, err := json.Marshal(m)
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("encode manifest: %w", err)
	}
	if err := s.state.Put(ctx, s.stateKey(f, "manifest.json"), b); err != nil {
		return fmt.Errorf("write manifest: %w", err)
	}
	return nil
}

// retry runs fn until it succeeds, fails for good, or ctx ends, with
// capped exponential backoff and full jitter.
func (s *Source) retry(ctx context.Context, what string, fn func() error) error {
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if permanent(err) {
			return err
		}
		d := backoff.Delay(attempt, 100*time.Millisecond, 20*time.Second)
		if attempt == 1 || attempt%10 == 0 {
			s.logger.Warn("s3 read failed; retrying", "what", what, "attempt", attempt, "backoff", d, "err", err)
		}
		if err := backoff.Sleep(ctx, d); err != nil {
			return err
		}
	}
}

// permanent reports errors no retry can fix.
func permanent(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NoSuchBucket", "NoSuchKey", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidBucketName", "AllAccessDisabled", "InvalidObjectState":
			return true
		}
	}
	return false
}
