package kafka

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
)

// Errors that tell an operator (and an exit code) what is wrong with the
// Kafka side. Each is wrapped with the detail: the brokers, the topic, the
// broker's message.
var (
	// ErrUnreachable means no broker answered.
	ErrUnreachable = errors.New("no Kafka broker reachable")
	// ErrTopicNotFound means the topic does not exist.
	ErrTopicNotFound = errors.New("Kafka topic does not exist")
	// ErrAuth means the brokers refused the credentials or the permissions
	// (SASL authentication, topic or group authorization).
	ErrAuth = errors.New("Kafka refused access")
)

// Permanent reports whether err is one that retrying will not fix without
// an operator: failed authentication or authorization, or a missing topic.
func Permanent(err error) bool {
	return errors.Is(err, ErrAuth) || errors.Is(err, ErrTopicNotFound)
}

// classify wraps err, from any request to the brokers, with the sentinel
// that says what it means.
func (s *Source) classify(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrUnreachable), errors.Is(err, ErrAuth), errors.Is(err, ErrTopicNotFound):
		return err
	case errors.Is(err, kafka.SASLAuthenticationFailed), errors.Is(err, kafka.UnsupportedSASLMechanism),
		errors.Is(err, kafka.IllegalSASLState):
		return fmt.Errorf("%w: SASL %s as %q: %w", ErrAuth, s.cfg.Auth.SASL, s.cfg.Auth.Username, err)
	case errors.Is(err, kafka.TopicAuthorizationFailed):
		return fmt.Errorf("%w: not authorized for topic %q: %w", ErrAuth, s.cfg.Topic, err)
	case errors.Is(err, kafka.GroupAuthorizationFailed):
		return fmt.Errorf("%w: not authorized for group %q: %w", ErrAuth, s.cfg.Group, err)
	case errors.Is(err, kafka.ClusterAuthorizationFailed):
		return fmt.Errorf("%w: not authorized for the cluster: %w", ErrAuth, err)
	case errors.Is(err, kafka.UnknownTopicOrPartition):
		return fmt.Errorf("%w: %q (brokers %s)", ErrTopicNotFound, s.cfg.Topic, strings.Join(s.cfg.Brokers, ","))
	}
	var kerr kafka.Error
	if errors.As(err, &kerr) {
		return err // a broker answered: not a reachability problem
	}
	hint := ""
	if s.cfg.Auth.SASL != "" && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)) {
		// Some brokers drop the connection instead of answering
		// SASL_AUTHENTICATION_FAILED.
		hint = " (the broker closed the connection: check the SASL credentials)"
	}
	return fmt.Errorf("%w (%s): %w%s", ErrUnreachable, strings.Join(s.cfg.Brokers, ","), err, hint)
}

// client returns a kafka-go client for metadata, offsets and group
// requests, with the source's TLS and SASL settings.
func (s *Source) client(timeout time.Duration) *kafka.Client {
	return &kafka.Client{Addr: kafka.TCP(s.cfg.Brokers...), Timeout: timeout, Transport: s.transport}
}

// Partitions asks the brokers for the topic's partitions. Its errors wrap
// ErrUnreachable, ErrTopicNotFound or ErrAuth where they mean that.
func (s *Source) Partitions(ctx context.Context) ([]int, error) {
	resp, err := s.client(10*time.Second).Metadata(ctx, &kafka.MetadataRequest{Topics: []string{s.cfg.Topic}})
	if err != nil {
		s.transport.CloseIdleConnections()
		return nil, s.classify(err)
	}
	for _, t := range resp.Topics {
		if t.Name != s.cfg.Topic {
			continue
		}
		if t.Error != nil {
			return nil, s.classify(t.Error)
		}
		ids := make([]int, 0, len(t.Partitions))
		for _, p := range t.Partitions {
			ids = append(ids, p.ID)
		}
		if len(ids) == 0 {
			return nil, s.classify(kafka.UnknownTopicOrPartition)
		}
		slices.Sort(ids)
		return ids, nil
	}
	return nil, s.classify(kafka.UnknownTopicOrPartition)
}

// Connect checks that a broker answers for the topic, retrying with backoff
// for up to timeout (forever when timeout is 0) while no broker answers.
// A missing topic or refused credentials end it at once when timeout is
// set; with no timeout they are retried too (an operator may fix them),
// and onErr sees every failure so the caller can report it.
func (s *Source) Connect(ctx context.Context, timeout time.Duration, onErr func(error)) ([]int, error) {
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	var prev error
	for attempt := 1; ; attempt++ {
		actx, cancel := ctx, context.CancelFunc(func() {})
		if !deadline.IsZero() {
			actx, cancel = context.WithDeadline(ctx, deadline)
		}
		ids, err := s.dialAny(actx)
		if err == nil {
			ids, err = s.Partitions(actx)
		}
		cut := actx.Err() != nil
		cancel()
		if err == nil {
			return ids, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if cut && prev != nil {
			err = prev // the attempt the deadline cut short says less than the one before
		}
		prev = err
		if onErr != nil {
			onErr(err)
		}
		if !deadline.IsZero() && (Permanent(err) || !time.Now().Before(deadline)) {
			if errors.Is(err, ErrUnreachable) {
				return nil, fmt.Errorf("%w (gave up after %v, --connect-timeout)", err, timeout)
			}
			return nil, err
		}
		d := time.Duration(min(30_000, 250<<min(attempt, 7))) * time.Millisecond
		d = d/2 + rand.N(d/2+1)
		if !deadline.IsZero() {
			d = min(d, max(time.Until(deadline), 0))
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(d):
		}
	}
}

// dialAny connects to the first broker that accepts a connection,
// authenticating with SASL when configured. It exists to tell refused
// credentials apart: kafka-go's connection pool reports a broker that drops
// the connection after a failed SASL exchange as a bare EOF, its dialer as
// SASL_AUTHENTICATION_FAILED.
func (s *Source) dialAny(ctx context.Context) ([]int, error) {
	var errs []string
	for _, addr := range s.cfg.Brokers {
		conn, err := s.dialer.DialContext(ctx, "tcp", addr)
		if err == nil {
			_ = conn.Close()
			return nil, nil
		}
		if c := s.classify(err); !errors.Is(c, ErrUnreachable) {
			return nil, c
		}
		errs = append(errs, err.Error())
	}
	return nil, s.classify(errors.New(strings.Join(errs, "; ")))
}

// PartitionOffsets is what the brokers say about one partition.
type PartitionOffsets struct {
	Partition int
	// Start is the first offset still in the log, End the high watermark
	// (the offset the next record will get).
	Start, End int64
	// Committed is the group's committed offset, -1 when there is none.
	Committed int64
}

// Offsets returns, for every partition of the topic, its start, high
// watermark and the group's committed offset, as the brokers answer now.
func (s *Source) Offsets(ctx context.Context) ([]PartitionOffsets, error) {
	ids, err := s.Partitions(ctx)
	if err != nil {
		return nil, err
	}
	c := s.client(10 * time.Second)
	reqs := make([]kafka.OffsetRequest, 0, 2*len(ids))
	for _, id := range ids {
		reqs = append(reqs, kafka.FirstOffsetOf(id), kafka.LastOffsetOf(id))
	}
	lo, err := c.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{s.cfg.Topic: reqs}})
	if err != nil {
		s.transport.CloseIdleConnections()
		return nil, s.classify(fmt.Errorf("list offsets: %w", err))
	}
	out := make([]PartitionOffsets, len(ids))
	index := make(map[int]int, len(ids))
	for i, id := range ids {
		out[i] = PartitionOffsets{Partition: id, Start: -1, End: -1, Committed: -1}
		index[id] = i
	}
	for _, p := range lo.Topics[s.cfg.Topic] {
		if p.Error != nil {
			return nil, s.classify(fmt.Errorf("list offsets of partition %d: %w", p.Partition, p.Error))
		}
		if i, ok := index[p.Partition]; ok {
			out[i].Start, out[i].End = p.FirstOffset, p.LastOffset
		}
	}
	for _, o := range out {
		if o.End < 0 || o.Start < 0 {
			return nil, fmt.Errorf("list offsets: no answer for partition %d", o.Partition)
		}
	}
	of, err := c.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: s.cfg.Group, Topics: map[string][]int{s.cfg.Topic: ids}})
	if err != nil {
		s.transport.CloseIdleConnections()
		return nil, s.classify(fmt.Errorf("fetch committed offsets: %w", err))
	}
	if of.Error != nil && !errors.Is(of.Error, kafka.GroupIdNotFound) {
		return nil, s.classify(fmt.Errorf("fetch committed offsets: %w", of.Error))
	}
	for _, p := range of.Topics[s.cfg.Topic] {
		if p.Error != nil {
			return nil, s.classify(fmt.Errorf("committed offset of partition %d: %w", p.Partition, p.Error))
		}
		if i, ok := index[p.Partition]; ok && p.CommittedOffset >= 0 {
			out[i].Committed = p.CommittedOffset
		}
	}
	return out, nil
}

// Owners returns, per partition of the topic, the group member that holds
// it as the coordinator describes the group: "member-id at host:port" (a
// member id starts with the client id).
// Partitions nobody holds are absent.
func (s *Source) Owners(ctx context.Context) (map[int]string, error) {
	resp, err := s.client(10*time.Second).DescribeGroups(ctx, &kafka.DescribeGroupsRequest{GroupIDs: []string{s.cfg.Group}})
	if err != nil {
		s.transport.CloseIdleConnections()
		return nil, s.classify(fmt.Errorf("describe group: %w", err))
	}
	out := map[int]string{}
	for _, g := range resp.Groups {
		if g.Error != nil {
			return nil, s.classify(fmt.Errorf("describe group: %w", g.Error))
		}
		for _, m := range g.Members {
			who := m.MemberID + " at " + strings.TrimPrefix(m.ClientHost, "/")
			for _, t := range m.MemberAssignments.Topics {
				if t.Topic != s.cfg.Topic {
					continue
				}
				for _, p := range t.Partitions {
					out[p] = who
				}
			}
		}
	}
	return out, nil
}
