package main

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestVersionAndConfigCommands(t *testing.T) {
	bin := binary(t)
	dir := t.TempDir()
	for _, args := range [][]string{{"version"}, {"--version"}} {
		out, _, code := run(t, bin, nil, args...)
		if code != 0 || !strings.HasPrefix(out, "flowlake ") || !strings.Contains(out, runtime.Version()) {
			t.Fatalf("%v: exit %d %q", args, code, out)
		}
	}

	bad := filepath.Join(dir, "bad.yaml")
	write(t, bad, "kafka:\n  brokers: [k:9092]\n  start_offset: middle\nsink:\n  url: s3://b/p\n  s3:\n    regoin: us-east-1\nbatch: {max_age: soon}\n")
	out, _, code := run(t, bin, []string{"FLOWLAKE_GROUP="}, "config", "check", bad)
	for _, w := range []string{
		"sink.s3.regoin: unknown key (line 7), did you mean region?",
		`kafka.start_offset: "middle": want earliest or latest (line 3)`,
		`batch.max_age: "soon": want a duration`,
		"FLOWLAKE_GROUP (kafka.group): required",
		"4 problem(s)",
	} {
		if code != 2 || !strings.Contains(out, w) {
			t.Errorf("config check: exit %d, %q not in:\n%s", code, w, out)
		}
	}
	for _, f := range []string{"local.yaml", "msk-iam.yaml"} {
		out, _, code = run(t, bin, nil, "config", "check", filepath.Join("..", "..", "config", "examples", f))
		if code != 0 || !strings.Contains(out, ": ok") {
			t.Errorf("config check %s: exit %d\n%s", f, code, out)
		}
	}

	// A password in a config file shows nowhere: not in --help, print or check.
	secret := filepath.Join(dir, "secret.yaml")
	write(t, secret, "kafka:\n  brokers: [k:9092]\n  auth: {sasl: plain, username: u, password: hunter2}\n")
	for _, args := range [][]string{
		{"run", "--config", secret, "--help"},
		{"config", "print", "--config", secret},
		{"config", "check", secret},
	} {
		out, errOut, code := run(t, bin, nil, args...)
		if code != 0 || strings.Contains(out+errOut, "hunter2") {
			t.Errorf("%v: exit %d, output:\n%s%s", args, code, out, errOut)
		}
	}
	out, _, _ = run(t, bin, nil, "config", "print", "--config", secret, "--topic", "t2")
	if !strings.Contains(out, "password: <redacted> # file, line 3") || !strings.Contains(out, "topic: t2 # flag --topic") {
		t.Errorf("config print:\n%s", out)
	}
}

func write(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}
