package app

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"flowlake/config"
	"flowlake/stages/enrich"
	"flowlake/stages/parse"
)

// newEnricher loads the ENI inventory (an error here is fatal) and returns
// the record enricher and the refresh loop to run beside the pipeline.
func newEnricher(ctx context.Context, c *config.Config, logger *slog.Logger, reg prometheus.Registerer) (parse.Enricher, func(context.Context) error, error) {
	e := c.Enrich
	mgr, err := enrich.NewManager(enrich.Config{
		InterfaceFiles: e.ENIInventory, SubnetFiles: e.SubnetInventory, Regions: e.Regions, RoleARNs: e.RoleARNs,
		EC2Endpoint: e.EC2Endpoint, RefreshInterval: e.RefreshInterval, PollInterval: e.PollInterval, TagKeys: e.TagKeys,
	}, logger.With("stage", "enrich"), reg)
	if err != nil {
		return nil, nil, fmt.Errorf("inventory: %w", err)
	}
	if err := mgr.Load(ctx); err != nil {
		return nil, nil, fmt.Errorf("load inventory: %w", err)
	}
	inv := mgr.Current()
	logger.Info("inventory loaded", "interfaces", inv.Len(), "subnets", inv.Subnets())
	return enrich.NewEnricher(mgr.Current, e.TagKeys, logger.With("stage", "enrich"), reg), mgr.Run, nil
}
