package generate

import "flowlake/schema"

// Formats used by the tests, built from AWS's documented flow log formats.
var (
	formatV3 = schema.MustParseFormat("${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status} ${vpc-id} ${subnet-id} ${instance-id} ${tcp-flags} ${type} ${pkt-srcaddr} ${pkt-dstaddr}")
	// formatV5 is the field order of AWS's fourth documented example record
	// (a custom v5 format).
	formatV5 = schema.MustParseFormat("${version} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${start} ${end} ${type} ${packets} ${bytes} ${account-id} ${vpc-id} ${subnet-id} ${instance-id} ${interface-id} ${region} ${az-id} ${sublocation-type} ${sublocation-id} ${action} ${tcp-flags} ${pkt-srcaddr} ${pkt-dstaddr} ${pkt-src-aws-service} ${pkt-dst-aws-service} ${traffic-path} ${flow-direction} ${log-status}")
	formatV7 = schema.MustParseFormat("${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status} ${ecs-cluster-arn} ${ecs-cluster-name} ${ecs-container-instance-arn} ${ecs-container-instance-id} ${ecs-container-id} ${ecs-second-container-id} ${ecs-service-name} ${ecs-task-definition-arn} ${ecs-task-arn} ${ecs-task-id}")
	formatV8 = func() *schema.Format {
		text := ""
		for id := schema.FieldID(0); id <= schema.RejectReason; id++ {
			text += "${" + schema.Fields[id].Token + "} "
		}
		return schema.MustParseFormat(text)
	}()
	// formatNewer has every field of the catalogue, the post-v8 ones too.
	formatNewer = func() *schema.Format {
		text := ""
		for id := schema.FieldID(0); id < schema.NumFlowFields; id++ {
			text += "${" + schema.Fields[id].Token + "} "
		}
		return schema.MustParseFormat(text)
	}()
)
