package app

import (
	"os/exec"
	"strings"
	"testing"

	"flowlake/internal/testenv"
)

// goList runs `go list` with args and returns its output lines.
func goList(t *testing.T, args ...string) []string {
	t.Helper()
	out, err := exec.Command(testenv.GoTool(), append([]string{"list"}, args...)...).Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("go list %v: %v\n%s", args, err, stderr)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

// TestRunPathImports: the production path (this package, which `run` and
// `backfill` use, and the pipeline) links neither the demo's in-process
// broker nor the generator nor kfake; only `flowlake demo` (package main)
// starts them. The pipeline imports neither the Kafka client nor the
// configuration: its dependencies are handed to it.
func TestRunPathImports(t *testing.T) {
	banned := []string{"flowlake/internal/", "flowlake/stages/generate", "github.com/twmb/franz-go"}
	for _, pkg := range []string{"flowlake/cmd/flowlake/app", "flowlake/pipeline"} {
		deps := goList(t, "-deps", pkg)
		if len(deps) < 10 {
			t.Fatalf("go list -deps %s: %d packages, want its whole import graph", pkg, len(deps))
		}
		for _, d := range deps {
			for _, b := range banned {
				if strings.HasPrefix(d, b) {
					t.Errorf("%s depends on %s", pkg, d)
				}
			}
		}
	}
	// The pipeline core sees sources through flowlake's types only: no
	// Kafka client type crosses into it.
	for _, imp := range strings.Fields(goList(t, "-f", "{{join .Imports \" \"}}", "flowlake/pipeline")[0]) {
		if strings.HasPrefix(imp, "github.com/segmentio/kafka-go") || imp == "flowlake/config" {
			t.Errorf("flowlake/pipeline imports %s", imp)
		}
	}
	// The demo itself still gets them (or this test checks nothing).
	if deps := strings.Join(goList(t, "-deps", "flowlake/cmd/flowlake"), " "); !strings.Contains(deps, "flowlake/internal/broker") {
		t.Error("flowlake/cmd/flowlake does not import the demo broker: is the demo gone?")
	}
}

// stageOrder ranks the stages along the data path, upstream first. A
// stage may import stages of a lower rank and, within a family, its parent
// (stages/source/archive imports stages/source's interfaces); never a
// stage downstream of it or beside it.
var stageOrder = map[string]int{
	// Shared by every stage: retry pacing, the AWS SDK's logger, and the
	// object store that data, dead letters and every stage's durable state
	// (checkpoints, manifests, archive progress) are written through.
	"stages/backoff": 0,
	"stages/awslog":  0,
	"stages/sink":    0,

	"stages/generate":       1, // makes input for demos and tests
	"stages/source":         1,
	"stages/source/kafka":   1,
	"stages/source/archive": 1,
	"stages/parse":          2,
	"stages/enrich":         3,
	"stages/batch":          4,
	"stages/encode":         5,
	"stages/output":         6,
	"stages/deadletter":     6,
	"stages/checkpoint":     7,
	"stages/seal":           8,
	"stages/verify":         9,
	"stages/archive":        10,
}

// TestStageImportsFollowDataPath fails when a stage imports a stage
// downstream of it (or beside it), the pipeline, the app wiring, the
// configuration or a test harness: stages share types through schema and
// get their dependencies injected.
func TestStageImportsFollowDataPath(t *testing.T) {
	const mod = "flowlake/"
	lines := goList(t, "-f", "{{.ImportPath}}{{range .Imports}} {{.}}{{end}}", "flowlake/stages/...")
	if len(lines) < len(stageOrder)-1 {
		t.Fatalf("go list found %d stage packages, want about %d", len(lines), len(stageOrder))
	}
	for _, line := range lines {
		f := strings.Fields(line)
		pkg := strings.TrimPrefix(f[0], mod)
		rank, ok := stageOrder[pkg]
		if !ok {
			t.Errorf("%s is not in stageOrder: place it on the data path", pkg)
			continue
		}
		for _, imp := range f[1:] {
			if !strings.HasPrefix(imp, mod) {
				continue
			}
			dep := strings.TrimPrefix(imp, mod)
			switch {
			case dep == "schema":
			case !strings.HasPrefix(dep, "stages/"):
				t.Errorf("%s imports %s: a stage imports only schema and upstream stages", pkg, dep)
			case strings.HasPrefix(pkg, dep+"/"): // its family's interfaces
			default:
				r, known := stageOrder[dep]
				if known && (r < rank || r == 0) {
					continue
				}
				t.Errorf("%s (rank %d) imports %s (rank %d): not upstream of it", pkg, rank, dep, r)
			}
		}
	}
}
