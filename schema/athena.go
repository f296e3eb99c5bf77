package schema

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// AthenaTable describes the Athena table over files written in the Hive
// layout of HiveDir.
type AthenaTable struct {
	// Name is the table name, optionally database.table.
	Name string
	// Location is the sink's s3://bucket/prefix (no trailing slash); the
	// table's LOCATION is its AWSLogs/ folder.
	Location string
	// Layouts are the layouts whose files the table reads; the columns are
	// their union, in the order they first appear.
	Layouts []*Layout
	// Accounts are the account ids to project; empty means injected: every
	// query must then name its accounts (WHERE aws_account_id = '...').
	Accounts []string
	// Regions are the regions to project.
	Regions []string
	// FirstYear and LastYear bound the projected years.
	FirstYear, LastYear int
}

// Partition columns of the table, in folder order. aws-service is always
// vpcflowlogs, so it is a constant of the template, not a column.
const (
	PartAccount = "aws_account_id"
	PartRegion  = "aws_region"
	PartYear    = "year"
	PartMonth   = "month"
	PartDay     = "day"
	PartHour    = "hour"
)

// bigintColumns are INT32 columns AWS's own Athena DDL declares bigint;
// Athena reads an INT32 column into a bigint.
var bigintColumns = map[FieldID]bool{Protocol: true}

// AthenaType is the Athena type of a column, as AWS's Parquet DDL for flow
// logs declares it: int for INT32 (bigint for protocol), bigint for INT64,
// string for strings.
func AthenaType(c Column) string {
	switch {
	case c.Kind == KindInt64, c.Kind == KindInt32 && bigintColumns[c.Field]:
		return "bigint"
	case c.Kind == KindInt32:
		return "int"
	}
	return "string"
}

// TableColumns is the union of the layouts' columns, in order of first
// appearance. It fails if one name has two types.
func TableColumns(layouts []*Layout) ([]Column, error) {
	var out []Column
	seen := map[string]Column{}
	for _, l := range layouts {
		for _, c := range l.Columns {
			if prev, ok := seen[c.Name]; ok {
				if AthenaType(prev) != AthenaType(c) {
					return nil, fmt.Errorf("column %s is %s in one format and %s in another", c.Name, AthenaType(prev), AthenaType(c))
				}
				continue
			}
			seen[c.Name] = c
			out = append(out, c)
		}
	}
	return out, nil
}

// LocationTemplate is the table's storage.location.template: HiveDir with
// each partition value replaced by ${column}.
func (t AthenaTable) LocationTemplate() string {
	return t.Location + "/AWSLogs/aws-account-id=${" + PartAccount + "}/aws-service=vpcflowlogs/aws-region=${" + PartRegion +
		"}/year=${" + PartYear + "}/month=${" + PartMonth + "}/day=${" + PartDay + "}/hour=${" + PartHour + "}"
}

// DDL returns the CREATE EXTERNAL TABLE statement, with partition
// projection, so no partition has to be added or repaired.
func (t AthenaTable) DDL() (string, error) {
	if !strings.HasPrefix(t.Location, "s3://") || strings.HasSuffix(t.Location, "/") {
		return "", fmt.Errorf("location %q: want s3://bucket/prefix without a trailing slash", t.Location)
	}
	if len(t.Regions) == 0 {
		return "", fmt.Errorf("no regions to project")
	}
	if t.FirstYear < 1970 || t.LastYear < t.FirstYear || t.LastYear > 9999 {
		return "", fmt.Errorf("years %d-%d: want a range within 1970-9999", t.FirstYear, t.LastYear)
	}
	for _, a := range t.Accounts {
		if !ValidAccount([]byte(a)) || a == "unknown" {
			return "", fmt.Errorf("account %q: want 12 digits", a)
		}
	}
	for _, r := range t.Regions {
		if !ValidRegion([]byte(r)) {
			return "", fmt.Errorf("region %q is not a region name", r)
		}
	}
	cols, err := TableColumns(t.Layouts)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE EXTERNAL TABLE IF NOT EXISTS %s (\n", quoteTable(t.Name))
	for i, c := range cols {
		sep := ","
		if i == len(cols)-1 {
			sep = ""
		}
		fmt.Fprintf(&b, "  %s %s%s\n", QuoteDDL(c.Name), AthenaType(c), sep)
	}
	b.WriteString(")\nPARTITIONED BY (\n")
	fmt.Fprintf(&b, "  %s string,\n  %s string,\n  %s int,\n  %s int,\n  %s int,\n  %s int\n)\n",
		PartAccount, PartRegion, QuoteDDL(PartYear), QuoteDDL(PartMonth), QuoteDDL(PartDay), QuoteDDL(PartHour))
	b.WriteString("STORED AS PARQUET\n")
	fmt.Fprintf(&b, "LOCATION '%s/AWSLogs/'\n", t.Location)
	b.WriteString("TBLPROPERTIES (\n")
	props := [][2]string{{"projection.enabled", "true"}}
	if len(t.Accounts) == 0 {
		props = append(props, [2]string{"projection." + PartAccount + ".type", "injected"})
	} else {
		props = append(props, [2]string{"projection." + PartAccount + ".type", "enum"},
			[2]string{"projection." + PartAccount + ".values", strings.Join(t.Accounts, ",")})
	}
	props = append(props,
		[2]string{"projection." + PartRegion + ".type", "enum"},
		[2]string{"projection." + PartRegion + ".values", strings.Join(t.Regions, ",")},
		[2]string{"projection." + PartYear + ".type", "integer"},
		[2]string{"projection." + PartYear + ".range", strconv.Itoa(t.FirstYear) + "," + strconv.Itoa(t.LastYear)},
		[2]string{"projection." + PartYear + ".digits", "4"},
		[2]string{"projection." + PartMonth + ".type", "integer"},
		[2]string{"projection." + PartMonth + ".range", "1,12"},
		[2]string{"projection." + PartMonth + ".digits", "2"},
		[2]string{"projection." + PartDay + ".type", "integer"},
		[2]string{"projection." + PartDay + ".range", "1,31"},
		[2]string{"projection." + PartDay + ".digits", "2"},
		[2]string{"projection." + PartHour + ".type", "integer"},
		[2]string{"projection." + PartHour + ".range", "0,23"},
		[2]string{"projection." + PartHour + ".digits", "2"},
		[2]string{"storage.location.template", t.LocationTemplate()},
	)
	for i, p := range props {
		sep := ","
		if i == len(props)-1 {
			sep = ""
		}
		fmt.Fprintf(&b, "  '%s'='%s'%s\n", p[0], p[1], sep)
	}
	b.WriteString(");\n")
	return b.String(), nil
}

func quoteTable(name string) string {
	parts := strings.Split(name, ".")
	for i, p := range parts {
		parts[i] = QuoteDDL(p)
	}
	return strings.Join(parts, ".")
}

// QuoteDDL backquotes an identifier that is reserved in Athena DDL (end,
// start, ...).
func QuoteDDL(name string) string {
	if slices.Contains(athenaDDLReserved, strings.ToUpper(name)) {
		return "`" + name + "`"
	}
	return name
}

// athenaDDLReserved are Athena's reserved keywords in DDL statements.
var athenaDDLReserved = strings.Fields(`ALL ALTER AND ARRAY AS AUTHORIZATION BETWEEN BIGINT BINARY BOOLEAN BOTH BY
CASE CASHE CAST CHAR COLUMN CONF CONSTRAINT COMMIT CREATE CROSS CUBE CURRENT CURRENT_DATE CURRENT_TIMESTAMP CURSOR
DATABASE DATE DAYOFWEEK DECIMAL DELETE DESCRIBE DISTINCT DIV DOUBLE DROP ELSE END EXCHANGE EXISTS EXTENDED EXTERNAL
EXTRACT FALSE FETCH FLOAT FLOOR FOLLOWING FOR FOREIGN FROM FULL FUNCTION GRANT GROUP GROUPING HAVING IF IMPORT IN
INNER INSERT INT INTEGER INTERSECT INTERVAL INTO IS JOIN LATERAL LEFT LESS LIKE LOCAL MACRO MAP MORE NONE NOT NULL
NUMERIC OF ON ONLY OR ORDER OUT OUTER OVER PARTIALSCAN PARTITION PERCENT PRECEDING PRECISION PRESERVE PRIMARY
PROCEDURE RANGE READS REDUCE REGEXP REFERENCES REVOKE RIGHT RLIKE ROLLBACK ROLLUP ROW ROWS SELECT SET SMALLINT START
TABLE TABLESAMPLE THEN TIME TIMESTAMP TO TRANSFORM TRIGGER TRUE TRUNCATE UNBOUNDED UNION UNIQUEJOIN UPDATE USER
USING UTC_TIMESTAMP VALUES VARCHAR VIEWS WHEN WHERE WINDOW WITH`)

// AWSRegions are the AWS regions (commercial, GovCloud and China) as of
// late 2026: the default region projection, since records can carry any
// region (their own field, or the interface's availability zone).
var AWSRegions = strings.Fields(`af-south-1 ap-east-1 ap-east-2 ap-northeast-1 ap-northeast-2 ap-northeast-3
ap-south-1 ap-south-2 ap-southeast-1 ap-southeast-2 ap-southeast-3 ap-southeast-4 ap-southeast-5 ap-southeast-6
ap-southeast-7 ca-central-1 ca-west-1 cn-north-1 cn-northwest-1 eu-central-1 eu-central-2 eu-north-1 eu-south-1
eu-south-2 eu-west-1 eu-west-2 eu-west-3 il-central-1 me-central-1 me-south-1 mx-central-1 sa-east-1 us-east-1
us-east-2 us-gov-east-1 us-gov-west-1 us-west-1 us-west-2`)
