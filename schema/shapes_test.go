package schema

import (
	"strings"
	"testing"
)

func TestValueShapes(t *testing.T) {
	format := MustParseFormat("${version} ${interface-id} ${srcaddr} ${vpc-id} ${subnet-id} ${instance-id} ${az-id} ${type} ${flow-direction} ${sublocation-type} ${pkt-src-aws-service} ${ecs-task-arn} ${start}")
	p := NewParser(format, 0)
	good := []string{"5", "eni-1235b8ca123456789", "fe80::1", "vpc-abcdefab012345678", "subnet-aaaaaaaa", "i-0c50d5961bcb2d47b",
		"usw2-lax1-az1", "IPv6", "egress", "localzone", "ROUTE53_HEALTHCHECKS", "arn:aws:ecs:us-east-1:123456789012:task/c/0a1b", "1700000000"}
	var r Record
	if err := p.Parse([]byte(strings.Join(good, " ")), &r); err != nil {
		t.Fatalf("good line rejected: %v", err)
	}
	tests := []struct {
		field int
		value string
		want  Reason
	}{
		{1, "../../etc/passwd", ReasonBadID},
		{1, "eni-\x1b[31m", ReasonBadID},
		{1, "eni-" + strings.Repeat("a", 60000), ReasonBadID},
		{1, "ENI-1235B8CA", ReasonBadID},
		{2, "fe80::1%eth0", ReasonBadAddr},
		{2, "fe80::1%../../x", ReasonBadAddr},
		{3, "vpc-", ReasonBadID},
		{4, "subnet-xyz", ReasonBadID},
		{5, "i-../x", ReasonBadID},
		{6, "use1", ReasonBadID},
		{6, "use1-az", ReasonBadID},
		{7, "ipv4", ReasonBadEnum},
		{8, "sideways", ReasonBadEnum},
		{9, "moon", ReasonBadEnum},
		{10, "s3", ReasonBadEnum},
		{11, "arn:aws:ecs:../../x", ReasonBadValue},
		{11, "a\x7fb", ReasonBadValue},
		{11, "a\u0085b", ReasonBadValue},
		{11, "a\x00b", ReasonBadValue},
		{11, "..", ReasonBadValue},
		{11, strings.Repeat("x", 3000), ReasonBadValue},
	}
	for _, tt := range tests {
		vals := append([]string(nil), good...)
		vals[tt.field] = tt.value
		err := p.Parse([]byte(strings.Join(vals, " ")), &r)
		pe, ok := err.(*ParseError)
		if !ok || pe.Reason != tt.want {
			t.Errorf("%s = %q: error %v, want reason %s", format.Fields()[tt.field], clip([]byte(tt.value)), err, tt.want)
		}
	}
}
