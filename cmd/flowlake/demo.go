package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"flowlake/cmd/flowlake/app"
	"flowlake/config"
	"flowlake/internal/broker"
	"flowlake/stages/generate"
)

// demoCmd runs the pipeline on an in-process broker fed by the generator
// (`make run`). The broker and the generator start only here: the
// production `run` path (package app) does not import them.
func demoCmd(ctx context.Context, args []string) error {
	return runWith(ctx, "demo", args, config.DemoFlags, startDemo)
}

// demoPartitions is the partition count of the demo topic.
const demoPartitions = 8

// startDemo starts an in-process Kafka-protocol broker on 127.0.0.1 and
// points cfg at it. The generator's ENI inventory is written to a
// temporary folder and used for enrichment unless an inventory is
// configured. attach adds the generator, which fills the topic, as a side
// job of the app; cleanup stops the broker and removes the inventory.
func startDemo(ctx context.Context, c *config.Config, logger *slog.Logger) (attach func(*app.App), cleanup func(), err error) {
	var closers []func()
	cleanup = func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	defer func() {
		if err != nil {
			cleanup()
		}
	}()
	b, err := broker.Start(ctx, broker.Config{Addr: "127.0.0.1:0", Topics: map[string]int32{c.Kafka.Topic: demoPartitions}}, logger.With("stage", "embedded-broker"))
	if err != nil {
		return nil, nil, fmt.Errorf("start embedded broker: %w", err)
	}
	closers = append(closers, b.Close)
	c.Kafka.Brokers = b.Addrs()
	format, err := c.ParsedFormat()
	if err != nil {
		return nil, nil, err
	}
	gen, err := generate.New(generate.Config{Records: c.EmbeddedRecords, LinesPerMsg: 10, Format: format, Seed: 1})
	if err != nil {
		return nil, nil, fmt.Errorf("generator: %w", err)
	}
	if !c.Enrich.Enabled() {
		dir, err := os.MkdirTemp("", "flowlake-demo-inventory-")
		if err != nil {
			return nil, nil, fmt.Errorf("demo inventory: %w", err)
		}
		closers = append(closers, func() { _ = os.RemoveAll(dir) })
		enis, subnets := filepath.Join(dir, "enis.json"), filepath.Join(dir, "subnets.json")
		if err := os.WriteFile(enis, gen.Inventory(), 0o644); err != nil {
			return nil, nil, fmt.Errorf("demo inventory: %w", err)
		}
		if err := os.WriteFile(subnets, gen.Subnets(), 0o644); err != nil {
			return nil, nil, fmt.Errorf("demo inventory: %w", err)
		}
		c.Enrich.ENIInventory, c.Enrich.SubnetInventory = []string{enis}, []string{subnets}
		c.Enrich.TagKeys = []string{"Name", "team"}
	}
	logger.Info("embedded demo: in-process Kafka broker", "brokers", c.Kafka.Brokers, "topic", c.Kafka.Topic,
		"partitions", demoPartitions, "records", c.EmbeddedRecords)
	attach = func(a *app.App) {
		a.Go("embedded generator", func(ctx context.Context) error {
			st, err := generate.Produce(ctx, gen, c.Kafka.Brokers, c.Kafka.Topic, logger.With("stage", "generate"))
			if err != nil {
				return err
			}
			logger.Info("embedded generator done", "records", st.Records, "messages", st.Messages)
			return nil
		})
	}
	return attach, cleanup, nil
}
