package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"flowlake/config"
	"flowlake/schema"
)

// ddlOptions are the flags ddl adds to run's.
type ddlOptions struct {
	location, table, accounts, regions, years string
}

// ddlCmd prints the Athena CREATE EXTERNAL TABLE over the sink's Hive
// layout for the columns flowlake writes with the same configuration as
// `run` (file, env, flags). It connects to nothing.
func ddlCmd(args []string, stdout io.Writer) error {
	var o ddlOptions
	bind := func(fs *flag.FlagSet, c *config.Config) {
		config.RunFlags(fs, c)
		fs.StringVar(&o.location, "location", "", "s3://bucket/prefix of any tree in flowlake's Hive layout (default: --sink)")
		fs.StringVar(&o.table, "table", "vpc_flow_logs", "table name, optionally database.table")
		fs.StringVar(&o.accounts, "accounts", "injected", "account ids to project, comma separated, or injected (queries must name their accounts)")
		fs.StringVar(&o.regions, "regions", "", "regions to project, comma separated (default: every AWS region, --region and --eni-regions)")
		fs.StringVar(&o.years, "years", "", "projected years FROM-TO (default: last year to ten years ahead)")
	}
	c, fs, err := config.Parse("ddl", args, bind)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "usage: flowlake ddl [run flags] [--location s3://bucket/prefix] [--accounts ...] [--regions ...] [--years FROM-TO]")
		printDefaults(fs)
		return err
	}
	if err != nil {
		return err
	}
	var ps config.Problems
	for _, p := range c.Problems() {
		if p.Path != "kafka.brokers" { // ddl reads no topic
			ps = append(ps, p)
		}
	}
	if len(ps) > 0 {
		return ps
	}
	t, err := athenaTable(c, o, time.Now().UTC().Year())
	if err != nil {
		return fmt.Errorf("%w: %w", config.ErrUsage, err)
	}
	ddl, err := t.DDL()
	if err != nil {
		return fmt.Errorf("%w: %w", config.ErrUsage, err)
	}
	_, err = io.WriteString(stdout, ddl)
	return err
}

// athenaTable maps the configuration and ddl's flags onto the table.
func athenaTable(c *config.Config, o ddlOptions, thisYear int) (schema.AthenaTable, error) {
	t := schema.AthenaTable{Name: o.table, Location: strings.TrimSuffix(o.location, "/")}
	if t.Location == "" {
		if !strings.HasPrefix(c.Sink.URL, "s3://") {
			return t, fmt.Errorf("--sink %s is not on S3: give the table's --location s3://bucket/prefix", c.Sink.URL)
		}
		t.Location = strings.TrimSuffix(c.Sink.URL, "/")
	}
	formats := []string{c.Format}
	for _, topic := range slices.Sorted(maps.Keys(c.Formats)) {
		formats = append(formats, c.Formats[topic])
	}
	enrich := schema.Enrichment{Enabled: c.Enrich.Enabled(), TagKeys: c.Enrich.TagKeys}
	for _, s := range formats {
		f, err := schema.ParseFormat(s, schema.AllowNewerFields(c.AllowNewerFields))
		if err != nil {
			return t, err
		}
		t.Layouts = append(t.Layouts, schema.NewLayout(f, enrich))
	}
	if o.accounts != "injected" {
		t.Accounts = splitList(o.accounts)
	}
	t.Regions = splitList(o.regions)
	if len(t.Regions) == 0 {
		t.Regions = append(append(slices.Clone(schema.AWSRegions), c.Region), c.Enrich.Regions...)
		slices.Sort(t.Regions)
		t.Regions = slices.Compact(t.Regions)
	}
	t.FirstYear, t.LastYear = thisYear-1, thisYear+10
	if o.years != "" {
		from, to, ok := strings.Cut(o.years, "-")
		a, err1 := strconv.Atoi(from)
		b, err2 := strconv.Atoi(to)
		if !ok || err1 != nil || err2 != nil {
			return t, fmt.Errorf("--years %q: want FROM-TO, e.g. 2024-2035", o.years)
		}
		t.FirstYear, t.LastYear = a, b
	}
	return t, nil
}

func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}
