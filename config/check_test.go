package config

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestEveryProblemAtOnce: one file with many mistakes reports all of them,
// each with its YAML path and line, in the user's words.
func TestEveryProblemAtOnce(t *testing.T) {
	c := Default()
	err := c.LoadFile(filepath.Join("testdata", "many.bad.yaml"))
	if err == nil {
		t.Fatal("no error")
	}
	c.pending = append(c.pending, err.(Problems)...)
	got := c.Problems()
	want := []string{
		`kafka.session_timeout: "30": want a duration such as 500ms, 30s, 5m or 1h (line 4)`,
		`sink.s3.regoin: unknown key (line 7), did you mean region?`,
		`sink.s3.object_lock_days: "many": want a whole number (line 8)`,
		`batch.max_rows: set twice (first on line 10) (line 11)`,
		`enrich: want a mapping of keys (line 12)`,
		`kafka.start_offset: "middle": want earliest or latest (line 3)`,
		`batch.max_rows: must be positive (line 10)`,
	}
	var lines []string
	for _, p := range got {
		lines = append(lines, p.String())
	}
	for _, w := range want {
		if !slices.Contains(lines, w) {
			t.Errorf("missing %q in:\n%s", w, strings.Join(lines, "\n"))
		}
	}
	if len(lines) != len(want) {
		t.Errorf("got %d problems, want %d:\n%s", len(lines), len(want), strings.Join(lines, "\n"))
	}
	if !errors.Is(c.Validate(), ErrInvalid) {
		t.Error("Validate does not wrap ErrInvalid")
	}
}

// goTypeName matches what leaks from reflection-based decoders.
var goTypeName = regexp.MustCompile(`\b(config|source|sink|batch|encode|time)\.[A-Z]|\bunmarshal|\bint64\b|\[\]string|!!`)

// TestMessagesAreForUsers feeds every kind of wrong value into every
// setting and checks no message names a Go type.
func TestMessagesAreForUsers(t *testing.T) {
	d := Default()
	var b strings.Builder
	var walk func(prefix string, sets []setting)
	_ = walk
	for _, s := range d.settings() {
		// Nest the path back into YAML with a mapping as the wrong value.
		parts := strings.Split(s.path, ".")
		for i, p := range parts {
			b.WriteString(strings.Repeat("  ", i) + p + ":")
			if i < len(parts)-1 {
				b.WriteString("\n")
			}
		}
		b.WriteString(" {x: [1]}\n")
	}
	// Keys repeat across settings (kafka: twice): decode each separately.
	for _, doc := range strings.SplitAfter(b.String(), "]}\n") {
		if doc == "" {
			continue
		}
		c := Default()
		err := c.loadYAML([]byte(doc))
		if err == nil {
			t.Errorf("no error for %q", doc)
			continue
		}
		if goTypeName.MatchString(err.Error()) {
			t.Errorf("message names a Go type: %v", err)
		}
	}
}

// TestEveryKeyHasAFlag: each YAML key has a flag (and so a FLOWLAKE_*
// variable), or is listed in fileOnly with the reason why not.
func TestEveryKeyHasAFlag(t *testing.T) {
	d := Default()
	names := flagNames()
	for _, s := range d.settings() {
		_, hasFlag := names[s.path]
		_, exempt := fileOnly[s.path]
		if hasFlag == exempt {
			t.Errorf("%s: flag %v, file-only %v: want exactly one", s.path, hasFlag, exempt)
		}
	}
	// Every variable round-trips into its setting.
	for path, f := range names {
		if path == "kafka.auth.password_file" {
			continue
		}
		if _, ok := os.LookupEnv(EnvName(f)); ok {
			t.Fatalf("%s set in the test environment", EnvName(f))
		}
	}
	t.Setenv("FLOWLAKE_SESSION_TIMEOUT", "45s")
	t.Setenv("FLOWLAKE_S3_REQUEST_TIMEOUT", "7s")
	c, _, err := Parse("run", nil, RunFlags)
	if err != nil {
		t.Fatal(err)
	}
	if c.Kafka.SessionTimeout.String() != "45s" || c.Sink.S3.RequestTimeout.String() != "7s" {
		t.Fatalf("variables not applied: %v %v", c.Kafka.SessionTimeout, c.Sink.S3.RequestTimeout)
	}
}

func TestEnvProblems(t *testing.T) {
	t.Setenv("FLOWLAKE_EXIT_WHEN_IDLE", "xyz")
	t.Setenv("FLOWLAKE_START_OFFSET", "middle")
	c, _, err := Parse("run", []string{"--brokers", "k:1"}, RunFlags)
	if err != nil {
		t.Fatal(err)
	}
	got := c.Validate().Error()
	for _, w := range []string{
		`FLOWLAKE_EXIT_WHEN_IDLE (exit_when_idle): invalid value "xyz": want a duration`,
		`FLOWLAKE_START_OFFSET (kafka.start_offset): "middle": want earliest or latest`,
	} {
		if !strings.Contains(got, w) {
			t.Errorf("%q not in:\n%s", w, got)
		}
	}
}

func TestFlagsBeatEnvLists(t *testing.T) {
	t.Setenv("FLOWLAKE_BROKERS", "env:1")
	c, _, err := Parse("run", []string{"--brokers", "flag:1"}, RunFlags)
	if err != nil || strings.Join(c.Kafka.Brokers, ",") != "flag:1" {
		t.Fatalf("brokers %v %v: the flag replaces the variable's list", c.Kafka.Brokers, err)
	}
}

// TestSecrets: a password from a file; never in --help, print, or errors.
func TestSecrets(t *testing.T) {
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwFile, []byte("hunter2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, _, err := Parse("run", []string{"--brokers", "k:1", "--kafka-sasl", "plain", "--kafka-username", "u", "--kafka-password-file", pwFile}, RunFlags)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil || c.Kafka.Auth.Password != "hunter2" {
		t.Fatalf("password file: %v", err)
	}
	var out bytes.Buffer
	if err := c.Print(&out); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "hunter2") || !strings.Contains(out.String(), "password: <redacted>") {
		t.Fatalf("print:\n%s", out.String())
	}

	// A password in the file never shows in --help, and is warned about.
	cfgFile := filepath.Join(dir, "secret.yaml")
	if err := os.WriteFile(cfgFile, []byte("kafka:\n  auth: {sasl: plain, username: u, password: hunter2}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, fs, err := Parse("run", []string{"--config", cfgFile, "--help"}, RunFlags)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatal(err)
	}
	var help bytes.Buffer
	fs.SetOutput(&help)
	fs.PrintDefaults()
	if strings.Contains(help.String(), "hunter2") || !strings.Contains(help.String(), "-kafka-password-file") {
		t.Fatalf("help:\n%s", help.String())
	}
	c, _, err = Parse("run", []string{"--config", cfgFile, "--brokers", "k:1"}, RunFlags)
	if err != nil {
		t.Fatal(err)
	}
	if w := c.Warnings(); len(w) != 1 || !strings.Contains(w[0].String(), "(line 2)") {
		t.Fatalf("warnings %v", w)
	}
	// Both a password and a file, or an unreadable file: errors without it.
	t.Setenv("FLOWLAKE_KAFKA_PASSWORD_FILE", filepath.Join(dir, "missing"))
	c, _, err = Parse("run", []string{"--brokers", "k:1", "--kafka-sasl", "plain", "--kafka-username", "u"}, RunFlags)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "FLOWLAKE_KAFKA_PASSWORD_FILE (kafka.auth.password_file): cannot read the password") {
		t.Fatalf("missing file: %v", err)
	}
	t.Setenv("FLOWLAKE_KAFKA_PASSWORD", "hunter2")
	c, _, _ = Parse("run", []string{"--brokers", "k:1", "--kafka-sasl", "plain", "--kafka-username", "u"}, RunFlags)
	if err := c.Validate(); err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "not both") {
		t.Fatalf("both: %v", err)
	}
}

func TestPrintOrigins(t *testing.T) {
	t.Setenv("FLOWLAKE_TOPIC", "from-env")
	c, _, err := Parse("run", []string{"--config", filepath.Join("testdata", "full.good.yaml"), "--region", "us-west-2"}, RunFlags)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := c.Print(&out); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{
		"topic: from-env # env FLOWLAKE_TOPIC",
		"region: us-west-2 # flag --region",
		"group: lake # file, line 4",
		"session_timeout: 30s\n",
		"max_age: 2m0s # file, line 14",
	} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("%q not in:\n%s", w, out.String())
		}
	}
	// What print writes loads back to the same configuration.
	back := Default()
	if err := back.loadYAML(out.Bytes()); err != nil {
		t.Fatal(err)
	}
	if back.Kafka.Topic != "from-env" || back.Batch.MaxAge != c.Batch.MaxAge || back.Formats["flows-v5"] != c.Formats["flows-v5"] {
		t.Fatalf("round trip: %+v", back)
	}
}

// bytesFlag is a custom flag.Value of the kind other packages add.
type bytesFlag struct{ p *int64 }

func (b bytesFlag) String() string     { return "" }
func (b bytesFlag) Set(s string) error { *b.p = int64(len(s)); return nil }

func TestFlagPathsCustomValue(t *testing.T) {
	c := Default()
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.Var(&bytesFlag{p: (*int64)(&c.Memory.MaxBufferedBytes)}, "budget", "")
	fs.Var(&list{p: &c.Enrich.Regions}, "regions", "")
	got := flagPaths(fs, &c)
	if got["budget"] != "memory.max_buffered_bytes" || got["regions"] != "enrich.regions" {
		t.Fatalf("%v", got)
	}
}
