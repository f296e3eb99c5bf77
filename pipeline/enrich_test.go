package pipeline_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"flowlake/internal/testenv"
	"flowlake/pipeline"
	"flowlake/schema"
	"flowlake/stages/enrich"
	"flowlake/stages/generate"
)

type eniDoc struct {
	NetworkInterfaces []struct {
		NetworkInterfaceID, VpcID, SubnetID, AvailabilityZone, AvailabilityZoneID, InterfaceType string
		Attachment                                                                               *struct {
			InstanceID string `json:"InstanceId"`
		}
		TagSet []struct{ Key, Value string }
	}
}

func startEnricher(t *testing.T, cfg enrich.Config) *enrich.Enricher {
	t.Helper()
	mgr, err := enrich.NewManager(cfg, testLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := mgr.Load(ctx); err != nil {
		t.Fatal(err)
	}
	go func() { _ = mgr.Run(ctx) }()
	return enrich.NewEnricher(mgr.Current, cfg.TagKeys, testLogger(t), nil)
}

// TestEnrichmentEndToEnd: default-format records gain every enrichment
// column from the inventory, and the region in the key comes from the
// interface's availability zone.
func TestEnrichmentEndToEnd(t *testing.T) {
	env := testenv.Kafka(t, "flows", 2)
	gcfg := generate.Config{Records: 20_000, LinesPerMsg: 5, Accounts: 3, Hours: 2, Seed: 5, Regions: []string{"eu-west-1", "ap-southeast-2"}}
	want := produceGenerated(t, env, gcfg)
	g, err := generate.New(gcfg)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	enis, subnets := filepath.Join(dir, "enis.json"), filepath.Join(dir, "subnets.json")
	if err := os.WriteFile(enis, g.Inventory(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(subnets, g.Subnets(), 0o644); err != nil {
		t.Fatal(err)
	}
	var doc eniDoc
	if err := json.Unmarshal(g.Inventory(), &doc); err != nil {
		t.Fatal(err)
	}
	byID := map[string]int{}
	for i, e := range doc.NetworkInterfaces {
		byID[e.NetworkInterfaceID] = i
	}
	tags := []string{"Name", "team"}
	enr := startEnricher(t, enrich.Config{InterfaceFiles: []string{enis}, SubnetFiles: []string{subnets}, TagKeys: tags})
	out := localSink(t, filepath.Join(dir, "lake"))
	cfg := testConfig(env, "enrich")
	cfg.Parse.Enrichment.Enabled = true
	cfg.Parse.Enrichment.TagKeys = tags
	runToIdle(t, cfg, pipeline.Deps{Sink: out, Enricher: enr})

	got, files := readLake(t, filepath.Join(dir, "lake"), schema.DefaultFormat)
	diffMultisets(t, want, got)
	peers := 0
	for rel, f := range files {
		var names []string
		for _, c := range f.Columns {
			names = append(names, c.Name)
		}
		wantCols := strings.ReplaceAll(schema.DefaultFormat.Header(), "-", "_") +
			" vpc_id subnet_id instance_id region az_id eni_interface_type eni_description eni_security_group_ids peer_subnet_id peer_vpc_id eni_tag_name eni_tag_team"
		if strings.Join(names, " ") != wantCols {
			t.Fatalf("%s: columns\n%s\nwant\n%s", rel, strings.Join(names, " "), wantCols)
		}
		for _, row := range f.Rows {
			e := doc.NetworkInterfaces[byID[row["interface_id"].(string)]]
			region := strings.TrimRight(e.AvailabilityZone, "abcdefghijklmnopqrstuvwxyz")
			if row["vpc_id"] != e.VpcID || row["subnet_id"] != e.SubnetID || row["az_id"] != e.AvailabilityZoneID ||
				row["region"] != region || row["eni_interface_type"] != e.InterfaceType {
				t.Fatalf("%s: row %v does not match interface %+v", rel, row, e)
			}
			if e.Attachment != nil && e.Attachment.InstanceID != "" && row["instance_id"] != e.Attachment.InstanceID {
				t.Fatalf("%s: instance %v, want %s", rel, row["instance_id"], e.Attachment.InstanceID)
			}
			if !strings.Contains(rel, "aws-region="+region+"/") {
				t.Fatalf("%s holds a row of region %s", rel, region)
			}
			for _, tag := range e.TagSet {
				if col := schema.TagColumn(tag.Key); (tag.Key == "Name" || tag.Key == "team") && row[col] != tag.Value {
					t.Fatalf("%s: %s = %v, want %q", rel, col, row[col], tag.Value)
				}
			}
			if row["peer_subnet_id"] != nil {
				peers++
				if row["peer_vpc_id"] == nil {
					t.Fatalf("%s: peer subnet without peer VPC: %v", rel, row)
				}
			}
		}
	}
	if peers == 0 {
		t.Fatal("no row was attributed to a peer subnet")
	}
	t.Logf("%d rows, %d with a peer subnet", len(got), peers)
}

// TestInventoryReloadWhileRunning moves an interface to another subnet while
// the pipeline runs: records after the swap carry the new subnet, records
// before it the old one, and none is lost.
func TestInventoryReloadWhileRunning(t *testing.T) {
	env := testenv.Kafka(t, "flows", 1)
	dir := t.TempDir()
	inv := filepath.Join(dir, "enis.json")
	writeInv := func(subnet string) {
		doc := fmt.Sprintf(`{"NetworkInterfaces":[{"NetworkInterfaceId":"eni-0123456789abcdef0","OwnerId":"123456789012","VpcId":"vpc-0a","SubnetId":%q,"AvailabilityZone":"eu-west-1b","AvailabilityZoneId":"euw1-az2","InterfaceType":"interface","PrivateIpAddress":"10.0.1.5"}]}`, subnet)
		tmp := inv + ".tmp"
		if err := os.WriteFile(tmp, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, inv); err != nil {
			t.Fatal(err)
		}
	}
	writeInv("subnet-before")
	mgr, err := enrich.NewManager(enrich.Config{InterfaceFiles: []string{inv}, PollInterval: 50 * time.Millisecond}, testLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := mgr.Load(ctx); err != nil {
		t.Fatal(err)
	}
	go func() { _ = mgr.Run(ctx) }()
	enr := enrich.NewEnricher(mgr.Current, nil, testLogger(t), nil)

	line := func(port int) string {
		return fmt.Sprintf("2 123456789012 eni-0123456789abcdef0 10.0.1.5 52.1.2.3 %d 443 6 1 100 1700000000 1700000060 ACCEPT OK", port)
	}
	produce := func(from, n int) {
		msgs := make([]kafka.Message, n)
		for i := range msgs {
			msgs[i] = kafka.Message{Value: []byte(line(from + i))}
		}
		env.Produce(t, msgs)
	}
	out := localSink(t, filepath.Join(dir, "lake"))
	cfg := testConfig(env, "reload")
	cfg.Parse.Enrichment.Enabled = true
	cfg.ExitWhenIdle = 0
	p, err := pipeline.New(cfg, pipeline.Deps{Sink: out, Enricher: enr}, testLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	pctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(pctx) }()
	waitRecords := func(n int64) {
		deadline := time.Now().Add(time.Minute)
		for p.Stats().Records < n {
			if time.Now().After(deadline) {
				t.Fatalf("pipeline saw %d records, want %d", p.Stats().Records, n)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	produce(1000, 500)
	waitRecords(500)
	writeInv("subnet-after")
	deadline := time.Now().Add(30 * time.Second)
	for {
		if ifc, ok := mgr.Current().Interface([]byte("eni-0123456789abcdef0")); ok && ifc.SubnetID() == "subnet-after" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the inventory did not reload")
		}
		time.Sleep(20 * time.Millisecond)
	}
	produce(2000, 500)
	waitRecords(1000)
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	files := testenv.ReadParquetDir(t, filepath.Join(dir, "lake"))
	seen := map[int32]string{}
	for _, f := range files {
		for _, row := range f.Rows {
			port := row["srcport"].(int32)
			if _, dup := seen[port]; dup {
				t.Fatalf("port %d twice", port)
			}
			seen[port] = row["subnet_id"].(string)
		}
	}
	if len(seen) != 1000 {
		t.Fatalf("%d rows, want 1000", len(seen))
	}
	for port, subnet := range seen {
		want := "subnet-before"
		if port >= 2000 {
			want = "subnet-after"
		}
		if subnet != want {
			t.Fatalf("record %d has %s, want %s", port, subnet, want)
		}
	}
}
