package schema

import (
	"reflect"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/encoding"
	"github.com/parquet-go/parquet-go/format"
)

// dictionaryColumns are low-cardinality string columns, dictionary-encoded.
var dictionaryColumns = map[FieldID]bool{
	AccountID: true, InterfaceID: true, Action: true, LogStatus: true, VpcID: true, SubnetID: true,
	InstanceID: true, Type: true, Region: true, AzID: true, SublocationType: true, SublocationID: true,
	PktSrcAWSService: true, PktDstAWSService: true, FlowDirection: true, RejectReason: true,
	ECSClusterARN: true, ECSClusterName: true, ECSServiceName: true, ECSTaskDefinitionARN: true,
	ENIType: true, ENIDescription: true, ENISecurityGroupIDs: true, PeerSubnetID: true, PeerVpcID: true,
	ENITag0: true, ENITag1: true, ENITag2: true, ENITag3: true, ENITag4: true, ENITag5: true, ENITag6: true, ENITag7: true,
}

// ParquetSchema returns the Parquet schema of files of this layout: the
// columns in layout order, all OPTIONAL, INT32/INT64 without logical types
// and strings as BYTE_ARRAY with the STRING annotation, as AWS delivers.
func (l *Layout) ParquetSchema() *parquet.Schema {
	g := make(orderedGroup, len(l.Columns))
	for i, c := range l.Columns {
		var n parquet.Node
		switch c.Kind {
		case KindInt32:
			n = parquet.Leaf(plainInt{parquet.Int32Type})
		case KindInt64:
			n = parquet.Leaf(plainInt{parquet.Int64Type})
		default:
			n = parquet.String()
			if dictionaryColumns[c.Field] {
				n = parquet.Encoded(n, &parquet.RLEDictionary)
			} else {
				n = parquet.Encoded(n, &parquet.Plain)
			}
		}
		g[i] = orderedField{Node: parquet.Optional(n), name: c.Name}
	}
	return parquet.NewSchema("schema", g)
}

// plainInt is an INT32/INT64 type without a logical type annotation, as in
// AWS's files (parquet-go annotates its integers as INT(bits, signed)).
type plainInt struct{ parquet.Type }

func (plainInt) LogicalType() *format.LogicalType { return nil }

// orderedGroup is a group node whose fields keep their order; parquet.Group
// sorts them by name, but AWS's files follow the format's order.
type orderedGroup []orderedField

type orderedField struct {
	parquet.Node
	name string
}

func (f orderedField) Name() string                      { return f.name }
func (f orderedField) Value(reflect.Value) reflect.Value { return reflect.Value{} }

func (g orderedGroup) ID() int                     { return 0 }
func (g orderedGroup) String() string              { return parquet.Group(g.asMap()).String() }
func (g orderedGroup) Type() parquet.Type          { return parquet.Group{}.Type() }
func (g orderedGroup) Optional() bool              { return false }
func (g orderedGroup) Repeated() bool              { return false }
func (g orderedGroup) Required() bool              { return true }
func (g orderedGroup) Leaf() bool                  { return false }
func (g orderedGroup) Encoding() encoding.Encoding { return nil }
func (g orderedGroup) Compression() compress.Codec { return nil }
func (g orderedGroup) GoType() reflect.Type        { return reflect.TypeOf(map[string]any{}) }
func (g orderedGroup) Fields() []parquet.Field {
	out := make([]parquet.Field, len(g))
	for i := range g {
		out[i] = g[i]
	}
	return out
}

func (g orderedGroup) asMap() map[string]parquet.Node {
	m := make(map[string]parquet.Node, len(g))
	for _, f := range g {
		m[f.name] = f.Node
	}
	return m
}
