package config

import (
	"os"
	"path/filepath"
	"testing"
)

// TestExamples keeps every file in examples/ valid, and each what its name
// promises. Secret files named in them are replaced by a temporary one.
func TestExamples(t *testing.T) {
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("examples/*.yaml")
	if len(files) < 3 {
		t.Fatalf("examples: %v", files)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			args := []string{"--config", f}
			c, _, err := Parse("run", args, RunFlags)
			if err != nil {
				t.Fatal(err)
			}
			if c.Kafka.Auth.PasswordFile != "" {
				c, _, err = Parse("run", append(args, "--kafka-password-file", pw), RunFlags)
				if err != nil {
					t.Fatal(err)
				}
			}
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
			if w := c.Warnings(); len(w) > 0 {
				t.Fatalf("warnings: %v", w)
			}
			switch filepath.Base(f) {
			case "msk-iam.yaml":
				if c.Kafka.Auth.SASL != "aws-msk-iam" || !c.Kafka.Auth.TLS {
					t.Fatal("not MSK IAM")
				}
			case "s3-kms-object-lock.yaml":
				if c.Sink.S3.SSE != "aws:kms" || c.Sink.S3.ObjectLockMode != "COMPLIANCE" || c.Kafka.Auth.Password != "s3cret" {
					t.Fatal("not KMS + Object Lock + password file")
				}
			}
		})
	}
}
