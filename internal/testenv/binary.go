package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

var flowlakeBuild struct {
	once sync.Once
	path string
	err  error
}

// FlowlakeBinary builds the flowlake command into dir once per test binary
// and returns its path; later calls return the same path (dir is then
// ignored). Tests run the binary as users do: exit codes, signals, logs.
func FlowlakeBinary(tb testing.TB, dir string) string {
	tb.Helper()
	b := &flowlakeBuild
	b.once.Do(func() {
		path := filepath.Join(dir, "flowlake")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		start := time.Now()
		out, err := exec.CommandContext(ctx, GoTool(), "build", "-o", path, "flowlake/cmd/flowlake").CombinedOutput()
		if err != nil {
			b.err = fmt.Errorf("go build flowlake/cmd/flowlake: %w\n%s", err, out)
			return
		}
		b.path = path
		tb.Logf("built %s in %v", path, time.Since(start).Round(time.Millisecond))
	})
	if b.err != nil {
		tb.Fatal(b.err)
	}
	return b.path
}

// GoTool is the go command: from PATH, else GOROOT's.
func GoTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	if root := os.Getenv("GOROOT"); root != "" {
		return filepath.Join(root, "bin", "go")
	}
	return "go"
}
