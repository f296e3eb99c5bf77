package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"time"

	"flowlake/stages/sink"
)

// ErrSinkOwned is returned when another consumer group already writes the
// topic into the sink prefix.
var ErrSinkOwned = errors.New("sink prefix already written by another consumer group")

// owner is the record that ties a topic in a sink prefix to the consumer
// group writing it. Two groups writing one topic into one prefix would each
// write every record (their files are named by position, not by group, and
// they cut batches at different points), so duplicates would follow.
type owner struct {
	Version int    `json:"version"`
	Topic   string `json:"topic"`
	Group   string `json:"group"`
	Since   string `json:"since"`
}

func ownerKey(topic string) string { return "_flowlake/owners/" + url.PathEscape(topic) + ".json" }

// claimSink checks the sink's owner record for the topic: none yet, it
// writes one naming this group; another group's, it refuses to start unless
// allowShared. There are no conditional writes, so two groups started in
// the same instant can both claim a fresh prefix; the record is read back
// to narrow that window, and the check is about operator mistakes.
func (p *Pipeline) claimSink(ctx context.Context) error {
	topic, group := p.cfg.Source.Topic, p.cfg.Source.Group
	key := ownerKey(topic)
	cur, found, err := readOwner(ctx, p.sink, key)
	if err != nil {
		return err
	}
	if found && cur.Group != group {
		if p.cfg.AllowSharedSink {
			p.logger.Warn("another consumer group writes this topic into the same sink; rows will be duplicated (--allow-shared-sink)",
				"topic", topic, "owner_group", cur.Group, "owner_record", key)
			return nil
		}
		return fmt.Errorf("%w: %s holds topic %q for group %q (since %s, record %s), and this is group %q: both would write every record. "+
			"Reprocess into a new --sink prefix, or delete the old group's files and %s and its checkpoints under _flowlake/checkpoints/%s/ first; "+
			"--allow-shared-sink overrides this check", ErrSinkOwned, p.sink, topic, cur.Group, cur.Since, key, group, key, url.PathEscape(cur.Group))
	}
	if found {
		return nil
	}
	b, err := json.Marshal(owner{Version: 1, Topic: topic, Group: group, Since: time.Now().UTC().Format(time.RFC3339)})
	if err != nil {
		return fmt.Errorf("encode owner record: %w", err)
	}
	if err := p.sink.Put(ctx, key, b); err != nil {
		return fmt.Errorf("write owner record %s in %s: %w", key, p.sink, err)
	}
	back, found, err := readOwner(ctx, p.sink, key)
	if err != nil {
		return err
	}
	if found && back.Group != group && !p.cfg.AllowSharedSink {
		return fmt.Errorf("%w: group %q claimed topic %q in %s at the same time as this group %q", ErrSinkOwned, back.Group, topic, p.sink, group)
	}
	return nil
}

func readOwner(ctx context.Context, s sink.Sink, key string) (owner, bool, error) {
	b, err := s.Get(ctx, key)
	if errors.Is(err, sink.ErrNotFound) {
		return owner{}, false, nil
	}
	if err != nil {
		return owner{}, false, fmt.Errorf("read owner record %s in %s: %w", key, s, err)
	}
	var o owner
	if err := json.Unmarshal(b, &o); err != nil {
		return owner{}, false, fmt.Errorf("decode owner record %s in %s: %w", key, s, err)
	}
	return o, true, nil
}
