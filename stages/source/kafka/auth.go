package kafka

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/aws_msk_iam_v2"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"

	"flowlake/stages/awslog"
)

// Secret is a string that never prints.
type Secret string

func (Secret) String() string { return "<redacted>" }

// GoString keeps %#v from printing the value too.
func (Secret) GoString() string { return "<redacted>" }

// Auth is how flowlake authenticates to the brokers.
type Auth struct {
	// TLS enables TLS with the system roots.
	TLS bool `yaml:"tls"`
	// SASL is "", "plain", "scram-sha-256", "scram-sha-512" or "aws-msk-iam".
	SASL     string `yaml:"sasl"`
	Username string `yaml:"username"`
	Password Secret `yaml:"password"`
	// PasswordFile names a file holding the password (a mounted Kubernetes
	// Secret), so it never sits in argv, the environment or the config.
	// The command line reads it into Password.
	PasswordFile string `yaml:"password_file"`
}

// Validate checks the mechanism and its credentials.
func (a Auth) Validate() error {
	switch a.SASL {
	case "", "aws-msk-iam":
		return nil
	case "plain", "scram-sha-256", "scram-sha-512":
		if a.Username == "" || a.Password == "" {
			return fmt.Errorf("SASL %s needs a username and a password", a.SASL)
		}
		return nil
	default:
		return fmt.Errorf("SASL mechanism %q: want plain, scram-sha-256, scram-sha-512 or aws-msk-iam", a.SASL)
	}
}

// mechanism builds the SASL mechanism; nil when SASL is off. MSK IAM signs
// with the standard AWS credential chain.
func (a Auth) mechanism(ctx context.Context) (sasl.Mechanism, error) {
	switch a.SASL {
	case "":
		return nil, nil
	case "plain":
		return plain.Mechanism{Username: a.Username, Password: string(a.Password)}, nil
	case "scram-sha-256", "scram-sha-512":
		algo := scram.SHA256
		if a.SASL == "scram-sha-512" {
			algo = scram.SHA512
		}
		m, err := scram.Mechanism(algo, a.Username, string(a.Password))
		if err != nil {
			return nil, fmt.Errorf("SASL %s: %w", a.SASL, err)
		}
		return m, nil
	case "aws-msk-iam":
		cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithLogger(awslog.New(nil)))
		if err != nil {
			return nil, fmt.Errorf("AWS config for MSK IAM: %w", err)
		}
		return aws_msk_iam_v2.NewMechanism(cfg), nil
	}
	return nil, errors.New("unknown SASL mechanism " + a.SASL)
}

func (a Auth) tlsConfig() *tls.Config {
	if !a.TLS {
		return nil
	}
	return &tls.Config{MinVersion: tls.VersionTLS12}
}

// Dialer returns a kafka-go dialer with a's TLS and SASL settings.
func (a Auth) Dialer(ctx context.Context) (*kafka.Dialer, error) {
	m, err := a.mechanism(ctx)
	if err != nil {
		return nil, err
	}
	return &kafka.Dialer{Timeout: 10 * time.Second, DualStack: true, ClientID: "flowlake", TLS: a.tlsConfig(), SASLMechanism: m}, nil
}

// Transport returns a kafka-go transport (for writers) with a's settings.
func (a Auth) Transport(ctx context.Context) (*kafka.Transport, error) {
	m, err := a.mechanism(ctx)
	if err != nil {
		return nil, err
	}
	return &kafka.Transport{ClientID: "flowlake", DialTimeout: 10 * time.Second, TLS: a.tlsConfig(), SASL: m}, nil
}
