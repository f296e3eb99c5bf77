// Package testenv starts real external services for tests. Helpers take a
// testing.TB, fail the test on setup errors and clean up with t.Cleanup.
package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// VersityGWVersion is the Versity Gateway release the harness installs when
// bin/versitygw is missing.
const VersityGWVersion = "v1.8.0"

// VersityGWBinEnv names an environment variable that, when set, points at a
// versitygw binary to use instead of <module root>/bin/versitygw.
const VersityGWBinEnv = "FLOWLAKE_VERSITYGW"

// S3Region is the region the gateway serves and the clients sign for.
const S3Region = "us-east-1"

const vgwStartTimeout = 20 * time.Second

// S3Server is a Versity Gateway process serving a posix directory over the
// S3 API on 127.0.0.1. Each folder under Dir is a bucket.
type S3Server struct {
	Endpoint  string // http://127.0.0.1:PORT
	AccessKey string
	SecretKey string
	Dir       string // the posix root; one folder per bucket
	Addr      string // 127.0.0.1:PORT, kept across Stop and Start

	bin     string
	logPath string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// VersityGW starts a gateway on a free loopback port serving a fresh
// temporary directory, and stops it when the test ends. It builds
// bin/versitygw at the module root first if it is missing.
func VersityGW(t testing.TB) *S3Server {
	t.Helper()
	bin, err := vgwBinary()
	if err != nil {
		t.Fatalf("versitygw: %v", err)
	}
	s := &S3Server{
		AccessKey: "flowlake-test-access",
		SecretKey: "flowlake-test-secret-0123456789",
		Dir:       t.TempDir(),
		bin:       bin,
		logPath:   filepath.Join(t.TempDir(), "versitygw.log"),
	}
	t.Cleanup(s.Stop)
	// Another process can take the probed port before the gateway binds it,
	// so try a few ports.
	for try := 1; ; try++ {
		port, err := vgwFreePort()
		if err != nil {
			t.Fatalf("versitygw: find a free port: %v", err)
		}
		s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		s.Endpoint = "http://" + s.Addr
		err = s.start()
		if err == nil {
			return s
		}
		if try == 3 {
			t.Fatalf("versitygw: %v\n%s", err, s.logTail())
		}
	}
}

// Start restarts a stopped gateway on the same address and directory, and
// waits until it answers. It is a no-op when the gateway is running.
func (s *S3Server) Start() error {
	return s.start()
}

func (s *S3Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return nil
	}
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open gateway log: %w", err)
	}
	defer logf.Close()
	cmd := exec.Command(s.bin,
		"--access", s.AccessKey,
		"--secret", s.SecretKey,
		"--region", S3Region,
		"--port", s.Addr,
		"--quiet",
		"posix", s.Dir,
	)
	// A file, not a pipe: a pipe held open by an orphaned gateway would keep
	// `go test` waiting for output.
	cmd.Stdout = logf
	cmd.Stderr = logf
	// Keep the ROOT_* variables of the environment from overriding the flags.
	cmd.Env = vgwFilterEnv(os.Environ(), "ROOT_ACCESS_KEY_ID", "ROOT_ACCESS_KEY", "ROOT_SECRET_ACCESS_KEY", "ROOT_SECRET_KEY", "VGW_PORT", "VGW_REGION")
	cmd.SysProcAttr = vgwProcAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", s.bin, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	if err := vgwWaitReady(s.Endpoint, done); err != nil {
		_ = cmd.Process.Kill()
		<-done
		return err
	}
	s.cmd, s.done = cmd, done
	return nil
}

// Stop ends the gateway process and waits for it to exit. The directory and
// address are kept, so Start brings the same buckets back. Stop is
// idempotent.
func (s *S3Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(3 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	s.cmd, s.done = nil, nil
}

// Env returns the variables a child process needs to reach the gateway
// through the standard AWS credential chain.
func (s *S3Server) Env() []string {
	return []string{
		"AWS_ACCESS_KEY_ID=" + s.AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + s.SecretKey,
		"AWS_REGION=" + S3Region,
	}
}

// Client returns an S3 client for the gateway with path-style addressing,
// for tests that list, read or prepare objects directly.
func (s *S3Server) Client(t testing.TB) *s3.Client {
	t.Helper()
	return s3.New(s3.Options{
		Region:       S3Region,
		BaseEndpoint: aws.String(s.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
	})
}

// CreateBucket creates a bucket on the gateway and fails the test on error.
func (s *S3Server) CreateBucket(t testing.TB, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.Client(t).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("create bucket %q: %v", name, err)
	}
}

func (s *S3Server) logTail() string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return ""
	}
	if len(b) > 4096 {
		b = b[len(b)-4096:]
	}
	return "gateway output:\n" + string(b)
}

// vgwWaitReady polls the endpoint until it answers HTTP (any status: an
// unsigned request gets 403) or the process exits.
func vgwWaitReady(endpoint string, exited <-chan struct{}) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(vgwStartTimeout)
	for {
		select {
		case <-exited:
			return errors.New("gateway exited during startup")
		default:
		}
		resp, err := client.Get(endpoint + "/")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("gateway at %s not ready after %s: %w", endpoint, vgwStartTimeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func vgwFreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func vgwFilterEnv(env []string, drop ...string) []string {
	out := env[:0:0]
next:
	for _, kv := range env {
		for _, d := range drop {
			if len(kv) > len(d) && kv[:len(d)+1] == d+"=" {
				continue next
			}
		}
		out = append(out, kv)
	}
	return out
}

// vgwBinary returns the gateway binary, installing it into
// <module root>/bin when missing.
func vgwBinary() (string, error) {
	return toolBinary(VersityGWBinEnv, "versitygw", "github.com/versity/versitygw/cmd/versitygw", VersityGWVersion)
}
