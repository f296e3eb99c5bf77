package pipeline

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"flowlake/internal/broker"
	"flowlake/stages/generate"
)

// embeddedPartitions is the partition count of the demo topic.
const embeddedPartitions = 8

// startEmbedded starts the demo: an in-process Kafka-protocol broker on
// 127.0.0.1 and a side job that fills the topic from the generator. The
// generator's ENI inventory is written beside the output and used for
// enrichment unless an inventory is configured.
func (a *App) startEmbedded(ctx context.Context) error {
	c := a.cfg
	b, err := broker.Start(ctx, broker.Config{Addr: "127.0.0.1:0", Topics: map[string]int32{c.Kafka.Topic: embeddedPartitions}}, a.logger.With("stage", "embedded-broker"))
	if err != nil {
		return fmt.Errorf("start embedded broker: %w", err)
	}
	a.closers = append(a.closers, b.Close)
	c.Kafka.Brokers = b.Addrs()
	format, err := c.ParsedFormat()
	if err != nil {
		return err
	}
	gen, err := generate.New(generate.Config{Records: c.EmbeddedRecords, LinesPerMsg: 10, Format: format, Seed: 1})
	if err != nil {
		return fmt.Errorf("generator: %w", err)
	}
	if !c.Enrich.Enabled() {
		dir, err := os.MkdirTemp("", "flowlake-demo-inventory-")
		if err != nil {
			return err
		}
		a.closers = append(a.closers, func() { _ = os.RemoveAll(dir) })
		enis, subnets := filepath.Join(dir, "enis.json"), filepath.Join(dir, "subnets.json")
		if err := os.WriteFile(enis, gen.Inventory(), 0o644); err != nil {
			return err
		}
		if err := os.WriteFile(subnets, gen.Subnets(), 0o644); err != nil {
			return err
		}
		c.Enrich.ENIInventory, c.Enrich.SubnetInventory = []string{enis}, []string{subnets}
		c.Enrich.TagKeys = []string{"Name", "team"}
	}
	a.logger.Info("embedded demo: in-process Kafka broker", "brokers", c.Kafka.Brokers, "topic", c.Kafka.Topic,
		"partitions", embeddedPartitions, "records", c.EmbeddedRecords)
	a.sideJobs = append(a.sideJobs, func(ctx context.Context) error {
		st, err := generate.Produce(ctx, gen, c.Kafka.Brokers, c.Kafka.Topic, a.logger.With("stage", "generate"))
		if err != nil {
			return fmt.Errorf("embedded generator: %w", err)
		}
		a.logger.Info("embedded generator done", "records", st.Records, "messages", st.Messages)
		return nil
	})
	return nil
}
