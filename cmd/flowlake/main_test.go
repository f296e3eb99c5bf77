package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// binary builds flowlake once for the package's tests.
func binary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "flowlake")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func run(t *testing.T, bin string, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), code
}

func TestCommandLine(t *testing.T) {
	bin := binary(t)
	tests := []struct {
		name string
		env  []string
		args []string
		code int
		want string
	}{
		{"unknown command", nil, []string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{"unknown flag", nil, []string{"run", "--bogus"}, 2, "-bogus"},
		{"bad value", nil, []string{"run", "--brokers", "k:9092", "--exit-when-idle", "soon"}, 2, "exit-when-idle"},
		{"bad env", []string{"FLOWLAKE_BATCH_MAX_ROWS=lots"}, []string{"run", "--brokers", "k:9092"}, 2, "FLOWLAKE_BATCH_MAX_ROWS"},
		{"no brokers", nil, []string{"run"}, 2, "--brokers"},
		{"bad region", nil, []string{"run", "--brokers", "k:9092", "--region", "mars/1"}, 2, "--region"},
		{"bad format", nil, []string{"run", "--brokers", "k:9092", "--format", "${version} ${nope}"}, 2, `"nope"`},
		{"help", nil, []string{"run", "--help"}, 0, "-exit-when-idle"},
		{"gen bad flag", nil, []string{"gen", "--records", "x"}, 2, "-records"},
		{"negative seal lateness", nil, []string{"run", "--brokers", "k:9092", "--seal-lateness", "-1m"}, 2, "--seal-lateness"},
		{"verify without store", nil, []string{"verify"}, 2, "want one lake or archive URL"},
		{"verify missing directory", nil, []string{"verify", "/nonexistent/lake"}, 2, "not a directory"},
		{"verify bad since", nil, []string{"verify", "/tmp", "--since", "yesterday"}, 2, "--since"},
		{"verify help", nil, []string{"verify", "--help"}, 0, "-accounts"},
		{"archive without destination", nil, []string{"archive", "--from", "/tmp"}, 2, "--to"},
		{"archive help", nil, []string{"archive", "--help"}, 0, "-target-file-size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, code := run(t, bin, tt.env, tt.args...)
			if code != tt.code || !strings.Contains(stderr, tt.want) {
				t.Fatalf("exit %d, stderr:\n%s\nwant exit %d and %q", code, stderr, tt.code, tt.want)
			}
			if tt.code == 2 && strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Fatalf("usage errors are one line, got:\n%s", stderr)
			}
		})
	}
}

func TestGenAndInspect(t *testing.T) {
	bin := binary(t)
	dir := t.TempDir()
	out, _, code := run(t, bin, nil, "gen", "--records", "500", "--seed", "3", "--inventory-out", filepath.Join(dir, "enis.json"))
	if code != 0 {
		t.Fatalf("gen exit %d", code)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 500 || len(strings.Fields(lines[0])) != 14 {
		t.Fatalf("gen wrote %d lines; first %q", len(lines), lines[0])
	}
	again, _, _ := run(t, bin, nil, "gen", "--records", "500", "--seed", "3")
	if again != out {
		t.Fatal("gen is not deterministic for a seed")
	}
	if b, err := os.ReadFile(filepath.Join(dir, "enis.json")); err != nil || !bytes.Contains(b, []byte(`"NetworkInterfaces"`)) {
		t.Fatalf("inventory: %v", err)
	}
	// The embedded demo end to end, then inspect its output.
	lake := filepath.Join(dir, "lake")
	_, stderr, code := run(t, bin, nil, "demo", "--embedded-records", "30000", "--sink", "file://"+lake, "--exit-when-idle", "2s")
	if code != 0 || !strings.Contains(stderr, "records_in=30000 rows_written=30000") {
		t.Fatalf("demo exit %d:\n%s", code, stderr)
	}
	out, _, code = run(t, bin, nil, "inspect", lake)
	if code != 0 || !strings.Contains(out, "30000") || !strings.Contains(out, "aws-account-id=") {
		t.Fatalf("inspect exit %d:\n%s", code, out)
	}
}
