package enrich

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/prometheus/client_golang/prometheus"
)

// Defaults for Config's intervals.
const (
	DefaultRefreshInterval = 5 * time.Minute
	DefaultPollInterval    = 10 * time.Second
)

// Config selects the inventory's sources.
type Config struct {
	// InterfaceFiles are describe-network-interfaces JSON files or
	// directories of them (their *.json entries, in name order).
	InterfaceFiles []string
	// SubnetFiles are describe-subnets JSON files or directories of them.
	SubnetFiles []string
	// Regions to describe live through the EC2 API; none disables it.
	Regions []string
	// RoleARNs to assume (one per account) for the EC2 API; none uses the
	// standard credential chain directly. Requires Regions.
	RoleARNs []string
	// EC2Endpoint overrides the EC2 endpoint URL (tests, VPC endpoints).
	EC2Endpoint string
	// STSEndpoint overrides the STS endpoint used to assume RoleARNs.
	STSEndpoint string
	// HTTPClient, if set, carries all AWS API calls.
	HTTPClient *http.Client
	// Credentials, if set, replaces the standard credential chain as the
	// base credentials (roles are assumed with them).
	Credentials aws.CredentialsProvider
	// RefreshInterval is how often EC2 is described again; default 5m.
	RefreshInterval time.Duration
	// PollInterval is how often the files are stat'ed for changes; default 10s.
	PollInterval time.Duration
	// TagKeys are the tags kept on each Interface; others are dropped.
	TagKeys []string
}

func (c *Config) validate() error {
	switch {
	case len(c.InterfaceFiles) == 0 && len(c.SubnetFiles) == 0 && len(c.Regions) == 0:
		return errors.New("no inventory source: set interface files, subnet files or regions")
	case len(c.RoleARNs) > 0 && len(c.Regions) == 0:
		return errors.New("role ARNs need at least one region")
	case c.RefreshInterval < 0:
		return fmt.Errorf("negative refresh interval %s", c.RefreshInterval)
	case c.PollInterval < 0:
		return fmt.Errorf("negative poll interval %s", c.PollInterval)
	case 1+len(c.Regions)*max(1, len(c.RoleARNs)) > maxSnapshots:
		return fmt.Errorf("%d EC2 targets (regions × roles), more than %d", len(c.Regions)*max(1, len(c.RoleARNs)), maxSnapshots-1)
	}
	if c.RefreshInterval == 0 {
		c.RefreshInterval = DefaultRefreshInterval
	}
	if c.PollInterval == 0 {
		c.PollInterval = DefaultPollInterval
	}
	return nil
}

func (c *Config) hasFiles() bool { return len(c.InterfaceFiles) > 0 || len(c.SubnetFiles) > 0 }

// Manager owns the current inventory and refreshes it from its sources.
// Current is lock-free and may be called from any goroutine at any rate.
type Manager struct {
	cfg     Config
	logger  *slog.Logger
	metrics *metrics
	current atomic.Pointer[Inventory]
	ec2Opts []func(*ec2.Options) // extra client options (tests)

	fileMu     sync.Mutex // serializes file loads; guards fileStates
	fileStates []fileState
	// filesBad: the files as they are now failed to load (fileMu).
	filesBad bool
	ec2Mu    sync.Mutex // serializes EC2 refreshes; guards targets
	targets  []ec2Target

	mu       sync.Mutex // guards the snapshots and the swap
	files    *snapshot
	ec2Snaps []*snapshot // one per target, nil until first described
}

// NewManager validates cfg and registers the metrics on reg (nil: not
// registered). A nil logger discards. It reads nothing: call Load.
func NewManager(cfg Config, logger *slog.Logger, reg prometheus.Registerer) (*Manager, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("enrich config: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	met, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	m := &Manager{cfg: cfg, logger: logger.With("stage", "enrich"), metrics: met}
	if cfg.hasFiles() {
		met.interval.WithLabelValues(sourceFile).Set(cfg.PollInterval.Seconds())
	}
	if len(cfg.Regions) > 0 {
		met.interval.WithLabelValues(sourceEC2).Set(cfg.RefreshInterval.Seconds())
	}
	m.current.Store(&Inventory{})
	return m, nil
}

// Current returns the inventory in use. It is never nil (empty before Load).
func (m *Manager) Current() *Inventory { return m.current.Load() }

// Load reads every source once and swaps the result in. Any failure is
// returned and nothing is swapped: at startup the caller should treat it as
// fatal.
func (m *Manager) Load(ctx context.Context) error {
	var files *snapshot
	var states []fileState
	if m.cfg.hasFiles() {
		m.fileMu.Lock()
		defer m.fileMu.Unlock()
		var err error
		states, files, err = m.readFiles()
		if err != nil {
			m.metrics.failures.WithLabelValues(sourceFile).Inc()
			return fmt.Errorf("load inventory files: %w", err)
		}
		m.metrics.refreshes.WithLabelValues(sourceFile).Inc()
		m.metrics.lastSuccess.WithLabelValues(sourceFile).SetToCurrentTime()
	}
	var ec2Snaps []*snapshot
	if len(m.cfg.Regions) > 0 {
		m.ec2Mu.Lock()
		defer m.ec2Mu.Unlock()
		if err := m.ensureTargets(ctx); err != nil {
			return err
		}
		snaps, err := fetchEC2(ctx, m.targets, m.cfg.TagKeys)
		m.countEC2(snaps)
		if err != nil {
			return fmt.Errorf("load inventory from EC2: %w", err)
		}
		m.metrics.lastSuccess.WithLabelValues(sourceEC2).SetToCurrentTime()
		ec2Snaps = snaps
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fileStates = states // only now: a failed Load leaves the files to be read again
	m.files, m.ec2Snaps = files, ec2Snaps
	m.publish()
	return nil
}

// Run refreshes the inventory until ctx ends, then returns nil. Files are
// stat'ed every PollInterval and re-read when a name, size or modification
// time changed; EC2 is described every RefreshInterval. Failures are logged
// and counted and keep the last good data. Call Load first.
func (m *Manager) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	if m.cfg.hasFiles() {
		wg.Go(func() { m.loop(ctx, m.cfg.PollInterval, m.pollFiles) })
	}
	if len(m.cfg.Regions) > 0 {
		wg.Go(func() { m.loop(ctx, m.cfg.RefreshInterval, m.refreshEC2) })
	}
	wg.Wait()
	return nil
}

func (m *Manager) loop(ctx context.Context, every time.Duration, fn func(context.Context)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn(ctx)
		}
	}
}

// readFiles stats, then reads, the configured files. The states come first
// so that a change made while reading is seen by the next poll.
func (m *Manager) readFiles() ([]fileState, *snapshot, error) {
	states, err := statFiles(append(append([]string(nil), m.cfg.InterfaceFiles...), m.cfg.SubnetFiles...))
	if err != nil {
		return nil, nil, err
	}
	snap, err := loadFiles(m.cfg.InterfaceFiles, m.cfg.SubnetFiles, m.cfg.TagKeys)
	if err != nil {
		return states, nil, err
	}
	return states, snap, nil
}

// pollFiles re-reads the files if they changed since the last read.
func (m *Manager) pollFiles(ctx context.Context) {
	m.fileMu.Lock()
	defer m.fileMu.Unlock()
	states, err := statFiles(append(append([]string(nil), m.cfg.InterfaceFiles...), m.cfg.SubnetFiles...))
	if err != nil {
		m.metrics.failures.WithLabelValues(sourceFile).Inc()
		m.logger.ErrorContext(ctx, "stat inventory files failed; keeping the last good inventory", "err", err)
		m.fileStates = nil // reload once the files are back
		return
	}
	if sameFiles(states, m.fileStates) {
		if !m.filesBad {
			m.metrics.lastSuccess.WithLabelValues(sourceFile).SetToCurrentTime()
		}
		return
	}
	states, snap, err := m.readFiles()
	if err != nil {
		// Remember what failed so that a bad file is reported once, and
		// retried when it changes again.
		m.fileStates = states
		m.filesBad = true
		m.metrics.failures.WithLabelValues(sourceFile).Inc()
		m.logger.ErrorContext(ctx, "reload inventory files failed; keeping the last good inventory", "err", err)
		return
	}
	m.fileStates = states
	m.filesBad = false
	m.metrics.refreshes.WithLabelValues(sourceFile).Inc()
	m.metrics.lastSuccess.WithLabelValues(sourceFile).SetToCurrentTime()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.files = snap
	m.publish()
	m.logger.InfoContext(ctx, "reloaded inventory files", "files", len(states), "interfaces", m.Current().Len(), "subnets", m.Current().Subnets())
}

// refreshEC2 describes every target again; targets that fail keep their
// last good snapshot.
func (m *Manager) refreshEC2(ctx context.Context) {
	m.ec2Mu.Lock()
	defer m.ec2Mu.Unlock()
	if err := m.ensureTargets(ctx); err != nil {
		m.metrics.failures.WithLabelValues(sourceEC2).Inc()
		m.logger.ErrorContext(ctx, "set up EC2 clients failed", "err", err)
		return
	}
	snaps, err := fetchEC2(ctx, m.targets, m.cfg.TagKeys)
	if ctx.Err() != nil {
		return // shutting down: not a failure
	}
	ok := m.countEC2(snaps)
	if err == nil && ok == len(snaps) {
		m.metrics.lastSuccess.WithLabelValues(sourceEC2).SetToCurrentTime()
	}
	if err != nil {
		m.logger.ErrorContext(ctx, "refresh inventory from EC2 failed; keeping the last good data for the failed targets", "err", err)
	}
	if ok == 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.ec2Snaps) != len(snaps) {
		m.ec2Snaps = make([]*snapshot, len(snaps))
	}
	for i, s := range snaps {
		if s != nil {
			m.ec2Snaps[i] = s
		}
	}
	m.publish()
	m.logger.InfoContext(ctx, "refreshed inventory from EC2", "targets", ok, "interfaces", m.Current().Len(), "subnets", m.Current().Subnets())
}

// countEC2 counts per-target successes and failures and returns the successes.
func (m *Manager) countEC2(snaps []*snapshot) int {
	ok := 0
	for _, s := range snaps {
		if s != nil {
			ok++
			m.metrics.refreshes.WithLabelValues(sourceEC2).Inc()
		} else {
			m.metrics.failures.WithLabelValues(sourceEC2).Inc()
		}
	}
	return ok
}

// ensureTargets builds the EC2 clients once. Callers hold ec2Mu.
func (m *Manager) ensureTargets(ctx context.Context) error {
	if m.targets != nil {
		return nil
	}
	targets, err := newEC2Targets(ctx, m.cfg, m.ec2Opts...)
	if err != nil {
		return err
	}
	m.targets = targets
	return nil
}

// publish builds an inventory from the current snapshots and swaps it in.
// Callers hold mu.
func (m *Manager) publish() {
	snaps := make([]*snapshot, 0, 1+len(m.ec2Snaps))
	snaps = append(snaps, m.files)
	snaps = append(snaps, m.ec2Snaps...)
	inv := newInventory(snaps...)
	m.current.Store(inv)
	m.metrics.interfaces.Set(float64(inv.Len()))
	m.metrics.subnets.Set(float64(inv.Subnets()))
	m.metrics.lastRefresh.SetToCurrentTime()
	if n := inv.AmbiguousCIDRs(); n > 0 {
		m.logger.Warn("subnet CIDRs claimed by more than one subnet; peer attribution picks the first", "cidrs", n)
	}
}
