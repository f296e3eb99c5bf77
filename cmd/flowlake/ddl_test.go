package main

import (
	"bytes"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"flowlake/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestDDLGolden: the statement for a few configurations, byte for byte.
// Regenerate with go test ./cmd/flowlake -run TestDDLGolden -update.
func TestDDLGolden(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"default", []string{"--sink", "s3://my-lake/vpcflowlogs", "--years", "2025-2035"}},
		{"enriched", []string{"--config", "testdata/ddl/enriched.yaml", "--table", "flows.vpc_flow_logs",
			"--accounts", "123456789012,210987654321", "--regions", "us-east-1,eu-west-1", "--years", "2024-2030"}},
		{"location", []string{"--sink", "file:///var/lake", "--location", "s3://archive/compacted/", "--format",
			"${version} ${vpc-id} ${srcaddr} ${dstaddr} ${start} ${end} ${bytes} ${action}", "--regions", "eu-west-1", "--years", "2026-2026"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := ddlCmd(tt.args, &out); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "ddl", tt.name+".sql")
			if *update {
				if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if out.String() != string(want) {
				t.Fatalf("ddl differs from %s:\n%s", golden, out.String())
			}
		})
	}
	var out bytes.Buffer
	if err := ddlCmd([]string{"--sink", "file:///var/lake"}, &out); err == nil || !strings.Contains(err.Error(), "--location") {
		t.Fatalf("a directory sink without --location: %v", err)
	}
}

// ddlTable is what a test reads back from a statement.
type ddlTable struct {
	columns  map[string]string // name -> type
	order    []string
	props    map[string]string
	location string
}

var (
	ddlColumn = regexp.MustCompile("(?m)^  `?([a-z0-9_]+)`? (int|bigint|string),?$")
	ddlProp   = regexp.MustCompile(`(?m)^  '([^']+)'='([^']*)',?$`)
)

func parseDDL(t *testing.T, ddl string) ddlTable {
	t.Helper()
	cols, _, _ := strings.Cut(ddl, "PARTITIONED BY")
	d := ddlTable{columns: map[string]string{}, props: map[string]string{}}
	for _, m := range ddlColumn.FindAllStringSubmatch(cols, -1) {
		d.columns[m[1]] = m[2]
		d.order = append(d.order, m[1])
	}
	for _, m := range ddlProp.FindAllStringSubmatch(ddl, -1) {
		d.props[m[1]] = m[2]
	}
	if m := regexp.MustCompile(`(?m)^LOCATION '([^']+)'$`).FindStringSubmatch(ddl); m != nil {
		d.location = m[1]
	}
	if len(d.order) == 0 || len(d.props) == 0 || d.location == "" {
		t.Fatalf("cannot read the statement:\n%s", ddl)
	}
	return d
}

// project expands the statement's storage.location.template for one
// folder's partition values, formatting each as its projection says, and
// fails if a value is outside its projection.
func (d ddlTable) project(t *testing.T, vals map[string]string) string {
	t.Helper()
	out := d.props["storage.location.template"]
	for col, v := range vals {
		typ := d.props["projection."+col+".type"]
		switch typ {
		case "injected":
		case "enum":
			if !slices.Contains(strings.Split(d.props["projection."+col+".values"], ","), v) {
				t.Errorf("%s=%s is not in the enum %s", col, v, d.props["projection."+col+".values"])
			}
		case "integer":
			n, err := strconv.Atoi(v)
			lo, hi, _ := strings.Cut(d.props["projection."+col+".range"], ",")
			l, _ := strconv.Atoi(lo)
			h, _ := strconv.Atoi(hi)
			if err != nil || n < l || n > h {
				t.Errorf("%s=%s is outside %s", col, v, d.props["projection."+col+".range"])
			}
			digits, _ := strconv.Atoi(d.props["projection."+col+".digits"])
			v = strconv.Itoa(n)
			for len(v) < digits {
				v = "0" + v
			}
		default:
			t.Fatalf("partition column %s has projection type %q", col, typ)
		}
		out = strings.ReplaceAll(out, "${"+col+"}", v)
	}
	if strings.Contains(out, "${") {
		t.Fatalf("template %s left unexpanded", out)
	}
	return out
}

// TestDDLMatchesARealRun runs the pipeline (embedded broker, enrichment,
// tag columns), then checks the statement for the same flags against what
// it wrote: every folder is the template expanded for its own values, and
// every file's columns and types are the table's.
func TestDDLMatchesARealRun(t *testing.T) {
	bin := binary(t)
	dir := t.TempDir()
	enis, subnets := filepath.Join(dir, "enis.json"), filepath.Join(dir, "subnets.json")
	if _, _, code := run(t, bin, nil, "gen", "--records", "1", "--seed", "1", "--inventory-out", enis, "--subnets-out", subnets); code != 0 {
		t.Fatalf("gen exit %d", code)
	}
	lake := filepath.Join(dir, "lake")
	flags := []string{"--sink", "file://" + lake, "--eni-inventory", enis, "--subnet-inventory", subnets, "--eni-tag-keys", "Name,team"}
	_, stderr, code := run(t, bin, nil, append([]string{"run", "--embedded", "--embedded-records", "20000", "--exit-when-idle", "2s"}, flags...)...)
	if code != 0 {
		t.Fatalf("run exit %d:\n%s", code, stderr)
	}
	ddl, stderr, code := run(t, bin, nil, append([]string{"ddl", "--location", "s3://bucket/prefix"}, flags...)...)
	if code != 0 {
		t.Fatalf("ddl exit %d:\n%s", code, stderr)
	}
	d := parseDDL(t, ddl)
	if d.location != "s3://bucket/prefix/AWSLogs/" {
		t.Fatalf("LOCATION %s", d.location)
	}
	keyRE := regexp.MustCompile(`aws-account-id=([^/]+)/aws-service=vpcflowlogs/aws-region=([^/]+)/year=(\d+)/month=(\d+)/day=(\d+)/hour=(\d+)$`)
	folders, files := 0, 0
	err := filepath.WalkDir(lake, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(lake, path)
		if e.IsDir() {
			m := keyRE.FindStringSubmatch(rel)
			if m == nil {
				return nil
			}
			folders++
			got := d.project(t, map[string]string{"aws_account_id": m[1], "aws_region": m[2], "year": m[3], "month": m[4], "day": m[5], "hour": m[6]})
			if want := "s3://bucket/prefix/" + rel; got != want {
				t.Errorf("template gives %s for folder %s", got, want)
			}
			if !strings.HasPrefix(got, d.location) {
				t.Errorf("%s is outside LOCATION %s", got, d.location)
			}
			return nil
		}
		if !strings.HasSuffix(path, ".parquet") {
			return nil
		}
		files++
		pf := testenv.ReadParquet(t, path)
		var names []string
		for _, c := range pf.Columns {
			names = append(names, c.Name)
			want := map[string][]string{"INT32": {"int", "bigint"}, "INT64": {"bigint"}, "BYTE_ARRAY": {"string"}}[c.Physical]
			if c.Physical == "INT32" && d.columns[c.Name] == "bigint" && c.Name != "protocol" {
				t.Errorf("%s: INT32 declared bigint; only protocol is, as in AWS's DDL", c.Name)
			}
			if !slices.Contains(want, d.columns[c.Name]) {
				t.Errorf("%s: column %s is %s %s, the table says %q", rel, c.Name, c.Physical, c.Logical, d.columns[c.Name])
			}
		}
		if !slices.Equal(names, d.order) {
			t.Errorf("%s: file columns %v, table columns %v", rel, names, d.order)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if folders < 5 || files < folders || !slices.Contains(d.order, "eni_tag_team") {
		t.Fatalf("%d folders, %d files, columns %v", folders, files, d.order)
	}
}
