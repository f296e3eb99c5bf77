package enrich

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestBadFiles(t *testing.T) {
	tests := []struct {
		name       string
		interfaces []string
		subnets    []string
		wantErr    []string // substrings
	}{
		{
			name:       "truncated JSON",
			interfaces: []string{"testdata/bad/truncated.json"},
			wantErr:    []string{"testdata/bad/truncated.json", "network interface 1", "invalid character"},
		},
		{
			name:       "interface without id",
			interfaces: []string{"testdata/bad/missing-id.json"},
			wantErr:    []string{"testdata/bad/missing-id.json", "network interface 1", "missing NetworkInterfaceId"},
		},
		{
			name:    "bad CIDR",
			subnets: []string{"testdata/bad/bad-cidr.json"},
			wantErr: []string{"testdata/bad/bad-cidr.json", "subnet 1", "subnet-0bb22cc33dd44ee55", "bad CIDR"},
		},
		{
			name:    "subnet without id",
			subnets: []string{"testdata/bad/no-id-subnet.json"},
			wantErr: []string{"testdata/bad/no-id-subnet.json", "subnet 0", "missing SubnetId"},
		},
		{
			name:       "subnets file given as interfaces",
			interfaces: []string{"testdata/bad/subnets-as-interfaces.json"},
			wantErr:    []string{"testdata/bad/subnets-as-interfaces.json", `no "NetworkInterfaces" member`},
		},
		{
			name:       "missing file",
			interfaces: []string{"testdata/nope.json"},
			wantErr:    []string{"testdata/nope.json"},
		},
		{
			name:       "good files before a bad one",
			interfaces: []string{"testdata/interfaces", "testdata/bad/missing-id.json"},
			wantErr:    []string{"testdata/bad/missing-id.json"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadFiles(tt.interfaces, tt.subnets, nil)
			if err == nil {
				t.Fatal("no error")
			}
			for _, s := range tt.wantErr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
		})
	}
}

func TestJSONShapes(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		wantLen int
		wantErr string
	}{
		{"empty array", `{"NetworkInterfaces": []}`, 0, ""},
		{"null array", `{"NetworkInterfaces": null}`, 0, ""},
		{"other members skipped", `{"NextToken": "x", "Meta": {"a": [1, {"b": 2}]}, "NetworkInterfaces": [{"NetworkInterfaceId": "eni-01"}]}`, 1, ""},
		{"not an object", `[{"NetworkInterfaceId": "eni-01"}]`, 0, "decode JSON"},
		{"not an array", `{"NetworkInterfaces": {"NetworkInterfaceId": "eni-01"}}`, 0, "not an array"},
		{"trailing data", `{"NetworkInterfaces": []} {}`, 0, "unexpected data"},
		{"wrong type", `{"NetworkInterfaces": [{"NetworkInterfaceId": 7}]}`, 0, "network interface 0"},
		{"bad address", `{"NetworkInterfaces": [{"NetworkInterfaceId": "eni-01", "PrivateIpAddress": "10.0.0.300"}]}`, 0, "network interface 0: interface eni-01"},
		{"empty file", ``, 0, "decode JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "eni.json")
			if err := os.WriteFile(path, []byte(tt.body), 0o600); err != nil {
				t.Fatal(err)
			}
			snap, err := loadFiles([]string{path}, nil, nil)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), path) {
					t.Fatalf("error = %v, want one naming the file and containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := newInventory(snap).Len(); got != tt.wantLen {
				t.Errorf("Len() = %d, want %d", got, tt.wantLen)
			}
		})
	}
}

func TestExpandPaths(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"b.json", "a.json", "notes.txt", "c.json.bak"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(`{}`), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "sub.json"), 0o700); err != nil {
		t.Fatal(err)
	}
	single := filepath.Join(dir, "notes.txt")
	got, err := expandPaths([]string{dir, single})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(dir, "a.json"), filepath.Join(dir, "b.json"), single}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("expandPaths = %v, want %v", got, want)
	}
	if _, err := expandPaths([]string{filepath.Join(dir, "missing")}); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing path: err = %v", err)
	}
}
