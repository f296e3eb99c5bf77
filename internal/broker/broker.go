package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
)

var (
	// ErrClosed is returned by methods called after Close.
	ErrClosed = errors.New("broker closed")
	// ErrStopped is returned by methods that need a running cluster while
	// the broker is stopped (between Stop and Resume).
	ErrStopped = errors.New("broker stopped")
)

// DefaultAddr is the listen address used when Config.Addr is empty.
const DefaultAddr = "127.0.0.1:0"

// rebindInterval is how often Resume retries a port that is still in use.
const rebindInterval = 20 * time.Millisecond

// Config configures a Broker.
type Config struct {
	// Addr is the host:port the first broker listens on; DefaultAddr when
	// empty. With port 0 every broker gets a random free port. With a fixed
	// port P, broker i listens on P+i. The host is also the address the
	// brokers advertise in metadata, so it must be one clients can dial
	// (not 0.0.0.0).
	Addr string
	// Topics are created at start, topic name -> partition count. A topic
	// that already exists (from a reused DataDir) is left as it is.
	Topics map[string]int32
	// Brokers is the number of brokers in the cluster; 1 when zero.
	// Partition leadership is spread across them.
	Brokers int
	// DataDir is where the cluster persists records, topics and group
	// state. When empty Start creates a temporary directory and Close
	// removes it. A DataDir you name is kept, and a later Start with the
	// same directory reloads it.
	DataDir string
	// SyncWrites fsyncs every produced batch (kfake.SyncWrites). Only
	// needed to survive a process crash; Stop and Restart flush anyway.
	SyncWrites bool
	// GroupMinSessionTimeout lowers the smallest consumer group session
	// timeout the broker accepts, 6s by default as in Kafka. Tests that
	// want dead members detected quickly set it lower.
	GroupMinSessionTimeout time.Duration
}

// Broker is an in-process Kafka-protocol cluster listening on TCP. Its
// methods are safe for concurrent use.
type Broker struct {
	cfg    Config
	logger *slog.Logger
	host   string
	ports  []int    // fixed after the first start so restarts reuse them
	addrs  []string // host:port per broker, stable across restarts
	dir    string
	ownDir bool // dir was created by Start and is removed by Close

	mu      sync.RWMutex
	cluster *kfake.Cluster // nil while stopped
	closed  bool
}

// Start starts a cluster as cfg describes and creates cfg.Topics. ctx bounds
// the start only; the broker runs until Close. A nil logger discards logs.
func Start(ctx context.Context, cfg Config, logger *slog.Logger) (*Broker, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Addr == "" {
		cfg.Addr = DefaultAddr
	}
	if cfg.Brokers <= 0 {
		cfg.Brokers = 1
	}
	host, portStr, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("parse broker addr %q: %w", cfg.Addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port+cfg.Brokers-1 > 65535 {
		return nil, fmt.Errorf("parse broker addr %q: invalid port", cfg.Addr)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	for name, parts := range cfg.Topics {
		if name == "" || parts <= 0 {
			return nil, fmt.Errorf("topic %q: need a name and a positive partition count, got %d", name, parts)
		}
	}

	b := &Broker{
		cfg:    cfg,
		logger: logger,
		host:   host,
		ports:  make([]int, cfg.Brokers),
		dir:    cfg.DataDir,
	}
	if port != 0 {
		for i := range b.ports {
			b.ports[i] = port + i
		}
	}
	if b.dir == "" {
		if b.dir, err = os.MkdirTemp("", "flowlake-broker-"); err != nil {
			return nil, fmt.Errorf("create broker data dir: %w", err)
		}
		b.ownDir = true
	}

	c, err := b.newCluster(ctx, false)
	if err != nil {
		b.removeDir()
		return nil, err
	}
	b.cluster = c
	for _, a := range c.ListenAddrs() {
		_, p, err := net.SplitHostPort(a)
		if err != nil {
			continue
		}
		b.addrs = append(b.addrs, net.JoinHostPort(host, p))
	}
	if len(b.addrs) != cfg.Brokers {
		c.Close()
		b.removeDir()
		return nil, fmt.Errorf("start broker: listening on %d addresses, want %d", len(b.addrs), cfg.Brokers)
	}
	for i, a := range b.addrs {
		_, p, _ := net.SplitHostPort(a)
		b.ports[i], _ = strconv.Atoi(p)
	}

	for name, parts := range cfg.Topics {
		if err := b.ensureTopic(c, name, parts); err != nil {
			c.Close()
			b.removeDir()
			return nil, err
		}
	}
	logger.Info("kafka broker started", "addrs", b.addrs, "data_dir", b.dir, "topics", len(cfg.Topics))
	return b, nil
}

// newCluster starts a kfake cluster on b.ports over b.dir. When rebind is
// set, a port still in use (a restart racing the old listener's release) is
// retried until ctx ends.
func (b *Broker) newCluster(ctx context.Context, rebind bool) (*kfake.Cluster, error) {
	opts := []kfake.Opt{
		kfake.Ports(b.ports...),
		kfake.DataDir(b.dir),
		kfake.WithLogger(slogLogger{b.logger.With("component", "kfake")}),
		// kfake always asks for 127.0.0.1; listen on the configured host.
		kfake.ListenFn(func(network, address string) (net.Listener, error) {
			_, port, err := net.SplitHostPort(address)
			if err != nil {
				return nil, err
			}
			return net.Listen(network, net.JoinHostPort(b.host, port))
		}),
	}
	if b.cfg.SyncWrites {
		opts = append(opts, kfake.SyncWrites())
	}
	if d := b.cfg.GroupMinSessionTimeout; d > 0 {
		opts = append(opts, kfake.GroupMinSessionTimeout(d))
	}
	for {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("start kafka cluster: %w", err)
		}
		c, err := kfake.NewCluster(opts...)
		if err == nil {
			return c, nil
		}
		if !rebind || !errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("start kafka cluster: %w", err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("start kafka cluster: %w (last error: %v)", ctx.Err(), err)
		case <-time.After(rebindInterval):
		}
	}
}

func (b *Broker) ensureTopic(c *kfake.Cluster, name string, partitions int32) error {
	err := c.CreateTopic(name, partitions, nil)
	if errors.Is(err, kerr.TopicAlreadyExists) {
		if have := len(c.PartitionInfos(name)); have != int(partitions) {
			b.logger.Warn("existing topic has a different partition count", "topic", name, "have", have, "want", partitions)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("create topic %q: %w", name, err)
	}
	return nil
}

// Addrs returns the host:port of every broker. They stay the same across
// Stop, Resume and Restart.
func (b *Broker) Addrs() []string {
	return append([]string(nil), b.addrs...)
}

// DataDir returns the directory the cluster persists to.
func (b *Broker) DataDir() string { return b.dir }

// Cluster returns the running kfake cluster, for fault injection with
// Fault, ControlKey and friends, or nil while stopped. Restart and Resume
// replace it: faults and controls installed on the old one are gone.
func (b *Broker) Cluster() *kfake.Cluster {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.cluster
}

// CreateTopic creates a topic. An existing topic yields an error matching
// kerr.TopicAlreadyExists.
func (b *Broker) CreateTopic(ctx context.Context, name string, partitions int32) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("create topic %q: %w", name, err)
	}
	if name == "" || partitions <= 0 {
		return fmt.Errorf("create topic %q: need a name and a positive partition count, got %d", name, partitions)
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	if err := b.runningLocked(); err != nil {
		return fmt.Errorf("create topic %q: %w", name, err)
	}
	if err := b.cluster.CreateTopic(name, partitions, nil); err != nil {
		return fmt.Errorf("create topic %q: %w", name, err)
	}
	return nil
}

// Stop shuts the cluster down cleanly, as a broker outage: listeners and
// client connections close, so clients see connection errors, and the
// records, topics and committed offsets are flushed to the data directory.
// Stopping a stopped broker does nothing.
func (b *Broker) Stop() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	b.stopLocked()
	return nil
}

// Resume starts the cluster again after Stop, on the same ports and from
// the same data directory: records, topics and committed offsets are as
// they were at Stop. Resuming a running broker does nothing.
func (b *Broker) Resume(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	return b.resumeLocked(ctx)
}

// Restart is Stop followed by Resume. Clients lose their connections and
// must reconnect, and consumer group members rejoin.
//
// kfake restores a group's members on restart. kafka-go's ConsumerGroup
// drops its member ID after a connection error and rejoins as a new member,
// so the restored old member holds up that join until the old member's
// rebalance timeout (kafka-go's RebalanceTimeout, 30s by default) expires.
func (b *Broker) Restart(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	b.stopLocked()
	return b.resumeLocked(ctx)
}

func (b *Broker) stopLocked() {
	if b.cluster == nil {
		return
	}
	b.cluster.Close() // persists state before it returns
	b.cluster = nil
	b.logger.Info("kafka broker stopped", "addrs", b.addrs)
}

func (b *Broker) resumeLocked(ctx context.Context) error {
	if b.cluster != nil {
		return nil
	}
	c, err := b.newCluster(ctx, true)
	if err != nil {
		return fmt.Errorf("resume broker: %w", err)
	}
	b.cluster = c
	b.logger.Info("kafka broker resumed", "addrs", b.addrs)
	return nil
}

func (b *Broker) runningLocked() error {
	switch {
	case b.closed:
		return ErrClosed
	case b.cluster == nil:
		return ErrStopped
	}
	return nil
}

// Close stops the cluster and, if Start created the data directory, removes
// it. Close is idempotent.
func (b *Broker) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	b.closed = true
	if b.cluster != nil {
		b.cluster.Close()
		b.cluster = nil
	}
	b.removeDir()
	b.logger.Debug("kafka broker closed", "addrs", b.addrs)
}

func (b *Broker) removeDir() {
	if !b.ownDir {
		return
	}
	if err := os.RemoveAll(b.dir); err != nil {
		b.logger.Warn("remove broker data dir", "dir", b.dir, "err", err)
	}
}

// slogLogger adapts slog to kfake.Logger.
type slogLogger struct{ l *slog.Logger }

func (s slogLogger) Logf(level kfake.LogLevel, format string, args ...any) {
	var lvl slog.Level
	switch level {
	case kfake.LogLevelError:
		lvl = slog.LevelError
	case kfake.LogLevelWarn:
		lvl = slog.LevelWarn
	case kfake.LogLevelInfo:
		lvl = slog.LevelInfo
	case kfake.LogLevelDebug:
		lvl = slog.LevelDebug
	default:
		return
	}
	ctx := context.Background()
	if !s.l.Enabled(ctx, lvl) {
		return
	}
	s.l.Log(ctx, lvl, fmt.Sprintf(format, args...))
}
