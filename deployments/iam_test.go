package deployments

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// apiActions maps each AWS API flowlake may call to the IAM actions it
// needs. A call the code makes that is not here fails the test: add it
// here and to iam-policy.json (and the README).
var apiActions = map[string][]string{
	"s3.HeadBucket":                  {"s3:ListBucket"},
	"s3.ListObjectsV2":               {"s3:ListBucket"},
	"s3.GetObject":                   {"s3:GetObject"},
	"s3.HeadObject":                  {"s3:GetObject"},
	"s3.PutObject":                   {"s3:PutObject"},
	"s3.CreateMultipartUpload":       {"s3:PutObject"},
	"s3.UploadPart":                  {"s3:PutObject"},
	"s3.CompleteMultipartUpload":     {"s3:PutObject"},
	"s3.AbortMultipartUpload":        {"s3:AbortMultipartUpload"},
	"ec2.DescribeNetworkInterfaces":  {"ec2:DescribeNetworkInterfaces"},
	"ec2.DescribeSubnets":            {"ec2:DescribeSubnets"},
	"stscreds.NewAssumeRoleProvider": {"sts:AssumeRole"},
	"s3 Object Lock retention":       {"s3:PutObjectRetention"},
	"s3 SSE-KMS":                     {"kms:GenerateDataKey", "kms:Decrypt"},
	"MSK IAM consumer":               {"kafka-cluster:Connect", "kafka-cluster:DescribeTopic", "kafka-cluster:ReadData", "kafka-cluster:DescribeGroup", "kafka-cluster:AlterGroup"},
	"MSK IAM dead-letter producer":   {"kafka-cluster:WriteData"},
}

// codeAPIs finds the AWS APIs the product calls: every SDK input struct
// (s3.PutObjectInput{...} is a PutObject call), the role provider, Object
// Lock and KMS options, and MSK IAM.
func codeAPIs(t *testing.T) map[string][]string {
	t.Helper()
	input := regexp.MustCompile(`\b(s3|ec2|sts)\.(\w+)Input\{`)
	out := map[string][]string{}
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && slices.Contains([]string{"internal", "deployments", ".git", "bin", "data"}, d.Name()) {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		src := string(b)
		for _, m := range input.FindAllStringSubmatch(src, -1) {
			out[m[1]+"."+m[2]] = append(out[m[1]+"."+m[2]], path)
		}
		for api, marker := range map[string]string{
			"stscreds.NewAssumeRoleProvider": "stscreds.NewAssumeRoleProvider(",
			"s3 Object Lock retention":       "ObjectLockRetainUntilDate:",
			"s3 SSE-KMS":                     "ServerSideEncryptionAwsKms",
			"MSK IAM consumer":               "aws_msk_iam_v2.NewMechanism(",
		} {
			if strings.Contains(src, marker) {
				out[api] = append(out[api], path)
			}
		}
		if strings.Contains(src, "aws_msk_iam_v2.NewMechanism(") && len(out["MSK IAM consumer"]) > 0 {
			if b, err := os.ReadFile("../stages/deadletter/kafka.go"); err == nil && strings.Contains(string(b), "kafka.Writer") {
				out["MSK IAM dead-letter producer"] = []string{"stages/deadletter/kafka.go"}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestIAMPolicy: the documented policy grants every action the code needs
// and nothing it does not.
func TestIAMPolicy(t *testing.T) {
	var policy struct {
		Statement []struct {
			Effect string
			Action []string
		}
	}
	b, err := os.ReadFile("iam-policy.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &policy); err != nil {
		t.Fatal(err)
	}
	granted := map[string]bool{}
	for _, s := range policy.Statement {
		for _, a := range s.Action {
			granted[a] = s.Effect == "Allow"
		}
	}
	needed := map[string]bool{}
	apis := codeAPIs(t)
	for api, where := range apis {
		actions, ok := apiActions[api]
		if !ok {
			t.Errorf("%s (called in %v) is not in apiActions: which IAM actions does it need?", api, where)
			continue
		}
		for _, a := range actions {
			needed[a] = true
			if !granted[a] {
				t.Errorf("%s (called in %v) needs %s, which iam-policy.json does not grant", api, where, a)
			}
		}
	}
	for a := range granted {
		if !needed[a] {
			t.Errorf("iam-policy.json grants %s, which no code needs", a)
		}
	}
	for _, must := range []string{"s3.HeadBucket", "s3.PutObject", "ec2.DescribeSubnets", "s3 Object Lock retention", "s3 SSE-KMS"} {
		if len(apis[must]) == 0 {
			t.Errorf("found no %s in the code: the scan is broken", must)
		}
	}
}
