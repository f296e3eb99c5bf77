package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
)

// Config configures the consumer.
type Config struct {
	Brokers []string `yaml:"brokers"`
	Topic   string   `yaml:"topic"`
	Group   string   `yaml:"group"`
	// StartOffset is where a partition without a committed offset starts:
	// "earliest" (default) or "latest".
	StartOffset string `yaml:"start_offset"`
	// FetchMaxBytes caps one fetch of one partition.
	FetchMaxBytes int `yaml:"fetch_max_bytes"`
	// FetchMaxWait is how long the broker may hold a fetch waiting for data.
	FetchMaxWait      time.Duration `yaml:"fetch_max_wait"`
	SessionTimeout    time.Duration `yaml:"session_timeout"`
	RebalanceTimeout  time.Duration `yaml:"rebalance_timeout"`
	HeartbeatInterval time.Duration `yaml:"heartbeat_interval"`
	// ConnectTimeout bounds how long a run with an end (--exit-when-idle)
	// waits at start for a broker to answer before it fails; a service
	// retries forever.
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	// Auth holds TLS and SASL settings.
	Auth Auth `yaml:"auth"`
}

// Defaults are the consumer's defaults: the one place they are set.
var Defaults = Config{Topic: "vpc-flow-logs", Group: "flowlake", StartOffset: "earliest", FetchMaxBytes: 4 << 20,
	FetchMaxWait: 500 * time.Millisecond, SessionTimeout: 30 * time.Second, RebalanceTimeout: 60 * time.Second,
	HeartbeatInterval: 3 * time.Second, ConnectTimeout: 30 * time.Second}

// Defaults fills unset fields from Defaults (not the topic and group,
// which a caller names).
func (c *Config) Defaults() {
	d := &Defaults
	if c.StartOffset == "" {
		c.StartOffset = d.StartOffset
	}
	if c.FetchMaxBytes <= 0 {
		c.FetchMaxBytes = d.FetchMaxBytes
	}
	if c.FetchMaxWait <= 0 {
		c.FetchMaxWait = d.FetchMaxWait
	}
	if c.SessionTimeout <= 0 {
		c.SessionTimeout = d.SessionTimeout
	}
	if c.RebalanceTimeout <= 0 {
		c.RebalanceTimeout = d.RebalanceTimeout
	}
	if c.HeartbeatInterval <= 0 {
		c.HeartbeatInterval = d.HeartbeatInterval
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = d.ConnectTimeout
	}
}

// Assignment is one partition assigned to this member for one generation.
type Assignment struct {
	Topic     string
	Partition int
	// Committed is the group's committed offset, or kafka.FirstOffset /
	// kafka.LastOffset when there is none.
	Committed int64
	gen       *kafka.Generation
	src       *Source
	group     string
}

// Commit commits next as the partition's next offset to read. Commits after
// the generation ended may fail; callers treat that as harmless.
//
// One commit is in flight at a time: a generation's commits share its
// coordinator connection, and kafka-go's Conn has each request waiting on
// it spin (re-arming the read deadline) until the response it reads is its
// own; with 8 partitions committing at once that spinning took 3% of
// flowlake's CPU in bench-e2e.
func (a *Assignment) Commit(next int64) error {
	a.src.commitMu.Lock()
	defer a.src.commitMu.Unlock()
	return a.gen.CommitOffsets(map[string]map[int]int64{a.Topic: {a.Partition: next}})
}

// Handler processes one assignment. It must return soon after ctx ends,
// which happens on a revoke (rebalance) and on shutdown. A non-nil error
// stops the whole consumer.
type Handler func(ctx context.Context, a *Assignment) error

// Hooks are told about the group membership. Each may be nil; they run on
// the group's goroutine and must not block.
type Hooks struct {
	// Assigned is called with every new generation's partitions of the
	// topic (possibly none).
	Assigned func(generation int32, partitions []int)
	// JoinFailed is called when joining or rejoining the group fails; the
	// error wraps ErrUnreachable or ErrAuth where it means that.
	JoinFailed func(err error)
}

// Source is a consumer group member.
type Source struct {
	cfg       Config
	dialer    *kafka.Dialer
	transport *kafka.Transport
	logger    *slog.Logger
	hooks     Hooks
	// commitMu serialises offset commits (see Assignment.Commit).
	commitMu sync.Mutex
}

// SetHooks sets the membership hooks; call it before Run.
func (s *Source) SetHooks(h Hooks) { s.hooks = h }

// New returns a Source.
func New(cfg Config, logger *slog.Logger) (*Source, error) {
	cfg.Defaults()
	if len(cfg.Brokers) == 0 {
		return nil, errors.New("no brokers")
	}
	if cfg.Topic == "" || cfg.Group == "" {
		return nil, errors.New("topic and group are required")
	}
	if cfg.StartOffset != "earliest" && cfg.StartOffset != "latest" {
		return nil, fmt.Errorf("start offset %q: want earliest or latest", cfg.StartOffset)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := cfg.Auth.Validate(); err != nil {
		return nil, err
	}
	d, err := cfg.Auth.Dialer(context.Background())
	if err != nil {
		return nil, err
	}
	d.DialFunc = newReadBuffers().dial // DualStack and friends are net.Dialer's defaults
	tr, err := cfg.Auth.Transport(context.Background())
	if err != nil {
		return nil, err
	}
	return &Source{cfg: cfg, dialer: d, transport: tr, logger: logger}, nil
}

// Run joins the group and runs h on every assigned partition until ctx
// ends or a handler fails. On return every handler has returned.
func (s *Source) Run(ctx context.Context, h Handler) error {
	start := kafka.FirstOffset
	if s.cfg.StartOffset == "latest" {
		start = kafka.LastOffset
	}
	cg, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID:                s.cfg.Group,
		Brokers:           s.cfg.Brokers,
		Dialer:            s.dialer,
		Topics:            []string{s.cfg.Topic},
		StartOffset:       start,
		SessionTimeout:    s.cfg.SessionTimeout,
		RebalanceTimeout:  s.cfg.RebalanceTimeout,
		HeartbeatInterval: s.cfg.HeartbeatInterval,
		JoinGroupBackoff:  time.Second,
		ErrorLogger:       kafka.LoggerFunc(func(msg string, args ...any) { s.logger.Debug("kafka group", "detail", fmt.Sprintf(msg, args...)) }),
	})
	if err != nil {
		return fmt.Errorf("create consumer group: %w", err)
	}
	var (
		wg       sync.WaitGroup
		fatalMu  sync.Mutex
		fatalErr error
		joinLog  repeatLog
	)
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	fail := func(err error) {
		fatalMu.Lock()
		if fatalErr == nil {
			fatalErr = err
		}
		fatalMu.Unlock()
		stop()
	}
	// Closing the group ends the current generation and waits for its
	// handlers, so it must happen once runCtx ends, not later.
	closed := make(chan struct{})
	go func() {
		<-runCtx.Done()
		_ = cg.Close()
		close(closed)
	}()
	for {
		gen, err := cg.Next(runCtx)
		if err != nil {
			if runCtx.Err() != nil || errors.Is(err, kafka.ErrGroupClosed) {
				break
			}
			if errors.Is(err, kafka.RebalanceInProgress) {
				continue // kafka-go reports it, then rejoins at once
			}
			err = s.classify(err)
			if s.hooks.JoinFailed != nil {
				s.hooks.JoinFailed(err)
			}
			joinLog.log(s.logger, err)
			select {
			case <-time.After(time.Second):
			case <-runCtx.Done():
			}
			continue
		}
		parts := gen.Assignments[s.cfg.Topic]
		ids := make([]int, len(parts))
		for i, p := range parts {
			ids[i] = p.ID
		}
		joinLog.reset()
		s.logger.Info("partitions assigned", "generation", gen.ID, "member", gen.MemberID, "partitions", ids)
		if s.hooks.Assigned != nil {
			s.hooks.Assigned(gen.ID, ids)
		}
		for _, p := range parts {
			a := &Assignment{Topic: s.cfg.Topic, Partition: p.ID, Committed: p.Offset, gen: gen, src: s, group: s.cfg.Group}
			wg.Add(1)
			gen.Start(func(gctx context.Context) {
				defer wg.Done()
				hctx, cancel := mergeDone(runCtx, gctx)
				defer cancel()
				if err := h(hctx, a); err != nil {
					fail(fmt.Errorf("partition %d: %w", a.Partition, err))
				}
			})
		}
	}
	<-closed
	wg.Wait()
	return fatalErr
}

// mergeDone returns a context that ends when either a or b ends; values and
// deadline come from a.
func mergeDone(a, b context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(a)
	stop := context.AfterFunc(b, cancel)
	return ctx, func() { stop(); cancel() }
}

// repeatLog logs a failure that repeats every second or so (a group that
// cannot join) when it first happens, when its text changes, and then once
// a minute with the number of attempts in between.
type repeatLog struct {
	last     string
	lastAt   time.Time
	repeated int
}

func (r *repeatLog) log(logger *slog.Logger, err error) {
	msg := err.Error()
	r.repeated++
	if msg == r.last && time.Since(r.lastAt) < time.Minute {
		return
	}
	level, text := slog.LevelWarn, "consumer group join failed; retrying"
	if Permanent(err) {
		level, text = slog.LevelError, "consumer group join refused; retrying until an operator fixes it"
	}
	logger.Log(context.Background(), level, text, "err", err, "attempts", r.repeated)
	r.last, r.lastAt, r.repeated = msg, time.Now(), 0
}

func (r *repeatLog) reset() { *r = repeatLog{} }
