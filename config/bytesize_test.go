package config

import (
	"flag"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestParseByteSize(t *testing.T) {
	tests := []struct {
		in   string
		want ByteSize
		bad  bool
	}{
		{in: "0", want: 0},
		{in: "1048576", want: 1 << 20},
		{in: "128MiB", want: 128 << 20},
		{in: "128mib", want: 128 << 20},
		{in: "1GiB", want: 1 << 30},
		{in: "1.5GiB", want: 3 << 29},
		{in: "64KiB", want: 64 << 10},
		{in: "64k", want: 64 << 10},
		{in: "500MB", want: 500e6},
		{in: "2 GB", want: 2e9},
		{in: "10B", want: 10},
		{in: "", bad: true},
		{in: "MiB", bad: true},
		{in: "12XB", bad: true},
		{in: "-", bad: true},
		{in: "99999999999TiB", bad: true},
	}
	for _, tt := range tests {
		got, err := ParseByteSize(tt.in)
		if tt.bad {
			if err == nil {
				t.Errorf("%q: got %d, want an error", tt.in, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%q: got %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
	if s := ByteSize(256 << 20).String(); s != "256MiB" {
		t.Errorf("String: %q", s)
	}
}

func TestByteFlagsAndYAML(t *testing.T) {
	c, _, err := Parse("run", []string{"--brokers", "127.0.0.1:9092", "--memory-limit", "1GiB", "--fetch-buffer-bytes", "32MiB", "--fetch-max-bytes", "1MiB", "--batch-max-bytes", "64MiB", "--max-buffered-bytes", "512MiB"}, RunFlags)
	if err != nil {
		t.Fatal(err)
	}
	if c.Memory.Limit != 1<<30 || c.Memory.FetchBufferBytes != 32<<20 || c.Kafka.FetchMaxBytes != 1<<20 || c.Batch.MaxBytes != 64<<20 || c.Memory.MaxBufferedBytes != 512<<20 {
		t.Fatalf("parsed %+v, fetch max %d, batch max %d", c.Memory, c.Kafka.FetchMaxBytes, c.Batch.MaxBytes)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	var d Config
	RunFlags(fs, &d)
	if err := fs.Set("memory-limit", "lots"); err == nil {
		t.Fatal("--memory-limit lots accepted")
	}
	var m Memory
	if err := yaml.Unmarshal([]byte("limit: 512MiB\nfetch_buffer_bytes: 1048576\n"), &m); err != nil || m.Limit != 512<<20 || m.FetchBufferBytes != 1<<20 {
		t.Fatalf("yaml: %+v, %v", m, err)
	}
	small := Default()
	small.Kafka.Brokers = []string{"127.0.0.1:9092"}
	small.Memory.Limit = 1 << 20
	if err := small.Validate(); err == nil {
		t.Fatal("a 1 MiB memory limit was accepted")
	}
}
