package schema

import (
	"hash/fnv"
	"strings"
)

// Column is one output column of a Layout.
type Column struct {
	Field FieldID
	Name  string
	Kind  Kind
}

// Enrichment says which enrichment columns a layout gains.
type Enrichment struct {
	// Enabled adds the AWS columns the format lacks (vpc_id, subnet_id,
	// instance_id, region, az_id) and the eni_*/peer_* columns.
	Enabled bool
	// TagKeys become eni_tag_<key> columns, at most MaxTagColumns.
	TagKeys []string
}

// Layout is the output schema of a file: the format's columns in its order,
// then the enrichment columns. Layouts are immutable and identified by a
// stable ID derived from their column names and kinds.
type Layout struct {
	ID      uint64
	Format  *Format
	Columns []Column
}

// enrichAWS are AWS columns that enrichment fills when the format lacks them.
var enrichAWS = []FieldID{VpcID, SubnetID, InstanceID, Region, AzID}

var enrichExtra = []FieldID{ENIType, ENIDescription, ENISecurityGroupIDs, PeerSubnetID, PeerVpcID}

// NewLayout builds the layout of files holding records of f.
func NewLayout(f *Format, e Enrichment) *Layout {
	l := &Layout{Format: f}
	for _, id := range f.fields {
		l.Columns = append(l.Columns, Column{Field: id, Name: Fields[id].Column, Kind: Fields[id].Kind})
	}
	if e.Enabled {
		for _, id := range enrichAWS {
			if !f.Has(id) {
				l.Columns = append(l.Columns, Column{Field: id, Name: Fields[id].Column, Kind: Fields[id].Kind})
			}
		}
		for _, id := range enrichExtra {
			l.Columns = append(l.Columns, Column{Field: id, Name: Fields[id].Column, Kind: KindString})
		}
		for i, key := range e.TagKeys {
			if i >= MaxTagColumns {
				break
			}
			l.Columns = append(l.Columns, Column{Field: ENITag0 + FieldID(i), Name: TagColumn(key), Kind: KindString})
		}
	}
	h := fnv.New64a()
	for _, c := range l.Columns {
		_, _ = h.Write([]byte(c.Name))
		_, _ = h.Write([]byte{0, byte(c.Kind)})
	}
	l.ID = h.Sum64()
	return l
}

// TagColumn is the column name of an ENI tag key: eni_tag_ then the key in
// lowercase with every character outside [a-z0-9_] turned into '_'.
func TagColumn(key string) string {
	var b strings.Builder
	b.WriteString("eni_tag_")
	for _, r := range strings.ToLower(key) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}
