package deployments

import (
	"encoding/json"
	"flag"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	promparser "github.com/prometheus/prometheus/promql/parser"
	"gopkg.in/yaml.v3"

	"flowlake/config"
)

func decodeYAMLFile(t *testing.T, path string, into any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, into); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// codeStrings returns every string literal of flowlake's non-test Go code
// (the product, not test harnesses), with the files they appear in.
func codeStrings(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	fset := token.NewFileSet()
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case "internal", "deployments", "testdata", ".git", "bin", "data":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if s, err := strconv.Unquote(lit.Value); err == nil {
					out[s] = append(out[s], path)
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var metricName = regexp.MustCompile(`^flowlake_[a-z0-9_]*[a-z0-9]$`)

// codeMetrics are the metric names flowlake's code defines, plus the Go
// and process collectors' when the code registers them.
func codeMetrics(t *testing.T, strs map[string][]string) map[string]bool {
	out := map[string]bool{"up": true}
	for s := range strs {
		if metricName.MatchString(s) {
			out[s] = true
		}
	}
	if len(out) < 10 {
		t.Fatalf("found only %d metric names in the code", len(out))
	}
	b, err := os.ReadFile("../cmd/flowlake/app/telemetry.go") // where the registry is made
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "NewProcessCollector") {
		for _, n := range []string{"process_start_time_seconds", "process_resident_memory_bytes", "process_cpu_seconds_total"} {
			out[n] = true
		}
	}
	return out
}

// exprMetrics lists the metric names a PromQL expression selects.
func exprMetrics(t *testing.T, expr string) []string {
	t.Helper()
	e, err := promParser.ParseExpr(expr)
	if err != nil {
		t.Fatalf("%q: %v", expr, err)
	}
	var names []string
	promparser.Inspect(e, func(n promparser.Node, _ []promparser.Node) error {
		if vs, ok := n.(*promparser.VectorSelector); ok {
			names = append(names, vs.Name)
		}
		return nil
	})
	return names
}

// TestMetricNamesExist: every metric an alert or dashboard panel uses is
// one the code defines (histogram series by their base name).
func TestMetricNamesExist(t *testing.T) {
	defined := codeMetrics(t, codeStrings(t))
	check := func(where, expr string) {
		for _, n := range exprMetrics(t, expr) {
			base := n
			for _, suf := range []string{"_bucket", "_sum", "_count"} {
				if b, ok := strings.CutSuffix(n, suf); ok && defined[b] {
					base = b
				}
			}
			if !defined[base] {
				t.Errorf("%s uses %s, which no code defines", where, n)
			}
		}
	}
	for _, r := range loadRules(t) {
		check("alert "+r.Alert, r.Expr)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	b, err := os.ReadFile(filepath.Join(chartDir, "files", "dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatal(err)
	}
	grafana := strings.NewReplacer("$__rate_interval", "5m", "$namespace", ".*")
	n := 0
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			check("panel "+p.Title, grafana.Replace(tg.Expr))
			n++
		}
	}
	if n < 10 {
		t.Fatalf("dashboard has %d queries", n)
	}
}

// TestEveryFileParses: every YAML and JSON file in deployments/ (chart
// templates are checked by rendering).
func TestEveryFileParses(t *testing.T) {
	n := 0
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.Contains(path, "templates") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		switch filepath.Ext(path) {
		case ".yaml", ".yml":
			dec := yaml.NewDecoder(strings.NewReader(string(b)))
			for {
				var v any
				if err := dec.Decode(&v); err != nil {
					if err.Error() == "EOF" {
						break
					}
					t.Errorf("%s: %v", path, err)
					break
				}
			}
			n++
		case ".json":
			var v any
			if err := json.Unmarshal(b, &v); err != nil {
				t.Errorf("%s: %v", path, err)
			}
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 6 {
		t.Fatalf("only %d files", n)
	}
}

func runFlags() *flag.FlagSet {
	c := config.Default()
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	config.RunFlags(fs, &c)
	return fs
}

// checkArgs fails on a flag `flowlake run` does not define.
func checkArgs(t *testing.T, where string, args []string) {
	t.Helper()
	fs := runFlags()
	for _, a := range args {
		if name, ok := strings.CutPrefix(a, "--"); ok {
			name, _, _ = strings.Cut(name, "=")
			if fs.Lookup(name) == nil {
				t.Errorf("%s: flowlake run has no flag --%s", where, name)
			}
		}
	}
}

// checkEnv fails on a FLOWLAKE_* variable that is no flag's.
func checkEnv(t *testing.T, where, name string) {
	t.Helper()
	if !strings.HasPrefix(name, "FLOWLAKE_") || name == "FLOWLAKE_CONFIG" {
		return
	}
	ok := false
	runFlags().VisitAll(func(f *flag.Flag) { ok = ok || config.EnvName(f.Name) == name })
	if !ok {
		t.Errorf("%s: %s is no flag's variable", where, name)
	}
}

// TestChart renders the chart with its defaults and with every option on,
// and checks it against the code.
func TestChart(t *testing.T) {
	strs := codeStrings(t)
	for _, opts := range []map[string]any{
		nil,
		{"kafkaPassword.secretName": "kafka-sasl", "keda.enabled": true, "config.kafka.auth": map[string]any{"tls": true, "sasl": "scram-sha-512", "username": "flowlake"}},
	} {
		ms := render(t, opts)
		kinds := map[string]int{}
		for _, m := range ms {
			kinds[m.kind()]++
		}
		for _, k := range []string{"Deployment", "ConfigMap", "ServiceAccount", "PodDisruptionBudget", "Service", "ServiceMonitor", "PrometheusRule"} {
			if kinds[k] == 0 {
				t.Errorf("no %s rendered", k)
			}
		}
		dep := find(ms, "Deployment")[0].obj
		pod := get(dep, "spec.template.spec")
		c := get(pod, "containers.0")
		if str(pod, "securityContext.seccompProfile.type") != "RuntimeDefault" || get(pod, "securityContext.runAsNonRoot") != true {
			t.Error("pod security context: want seccompProfile RuntimeDefault and runAsNonRoot")
		}
		if img := str(c, "image"); img != "ghcr.io/example/flowlake:0.1.0" {
			t.Errorf("image %s: want the repository and the chart's appVersion", img)
		}
		// Probes: paths the code serves, on the metrics port.
		port := get(c, "ports.0.containerPort")
		for probe, path := range map[string]string{"startupProbe": "/healthz", "livenessProbe": "/healthz", "readinessProbe": "/readyz"} {
			if got := str(c, probe+".httpGet.path"); got != path {
				t.Errorf("%s path %q, want %s", probe, got, path)
			}
			if len(strs[path]) == 0 {
				t.Errorf("%s: the code serves no %s", probe, path)
			}
			if str(c, probe+".httpGet.port") != str(c, "ports.0.name") {
				t.Errorf("%s is not on the metrics port", probe)
			}
		}
		if get(pod, "serviceAccountName") != get(find(ms, "ServiceAccount")[0].obj, "metadata.name") ||
			!strings.HasPrefix(str(find(ms, "ServiceAccount")[0].obj, "metadata.annotations.eks\\.amazonaws\\.com/role-arn"), "") {
			t.Error("the pod does not run as the chart's ServiceAccount")
		}
		if sa := get(find(ms, "ServiceAccount")[0].obj, "metadata.annotations").(map[string]any); !strings.HasPrefix(sa["eks.amazonaws.com/role-arn"].(string), "arn:aws:iam::") {
			t.Error("no IRSA annotation")
		}
		for _, e := range get(c, "env").([]any) {
			checkEnv(t, "deployment", str(e, "name"))
		}
		var args []string
		for _, a := range get(c, "args").([]any) {
			args = append(args, a.(string))
		}
		checkArgs(t, "deployment", args)

		// The ConfigMap is a valid flowlake config whose metrics address is
		// the container port.
		var cfgText string
		for _, m := range find(ms, "ConfigMap") {
			if s := str(m.obj, "data.flowlake\\.yaml"); s != "" {
				cfgText = s
			}
			if s, ok := get(m.obj, "data").(map[string]any)["flowlake.yaml"].(string); ok {
				cfgText = s
			}
		}
		dir := t.TempDir()
		cfgFile, pw := filepath.Join(dir, "flowlake.yaml"), filepath.Join(dir, "pw")
		_ = os.WriteFile(cfgFile, []byte(cfgText), 0o600)
		_ = os.WriteFile(pw, []byte("secret\n"), 0o600)
		cargs := []string{"--config", cfgFile}
		if i := slices.Index(args, "--kafka-password-file"); i >= 0 {
			cargs = append(cargs, "--kafka-password-file", pw)
			// The file is where the Secret is mounted.
			mounted := false
			for _, vm := range get(c, "volumeMounts").([]any) {
				if strings.HasPrefix(args[i+1], str(vm, "mountPath")+"/") && str(vm, "name") == "kafka-password" {
					mounted = true
				}
			}
			if !mounted || !strings.HasSuffix(args[i+1], "/"+str(pod, "volumes.1.secret.items.0.path")) {
				t.Errorf("--kafka-password-file %s is not the mounted Secret", args[i+1])
			}
		}
		cfg, _, err := config.Parse("run", cargs, config.RunFlags)
		if err != nil {
			t.Fatal(err)
		}
		if err := cfg.Validate(); err != nil {
			t.Errorf("the ConfigMap's flowlake.yaml:\n%v", err)
		}
		if cfg.MetricsAddr != ":"+strconv.Itoa(port.(int)) {
			t.Errorf("metrics_addr %q, container port %v", cfg.MetricsAddr, port)
		}
		sm := find(ms, "ServiceMonitor")[0].obj
		if str(sm, "spec.endpoints.0.port") != str(c, "ports.0.name") || str(sm, "spec.endpoints.0.path") != "/metrics" || len(strs["/metrics"]) == 0 {
			t.Error("ServiceMonitor endpoint does not match the metrics port and path")
		}
		groups := get(find(ms, "PrometheusRule")[0].obj, "spec.groups.0.rules").([]any)
		if len(groups) != len(loadRules(t)) {
			t.Errorf("PrometheusRule has %d rules, alerts.yaml %d", len(groups), len(loadRules(t)))
		}
		if so := find(ms, "ScaledObject"); len(so) == 1 {
			md := get(so[0].obj, "spec.triggers.0.metadata")
			if str(md, "consumerGroup") != cfg.Kafka.Group || str(md, "topic") != cfg.Kafka.Topic || str(md, "bootstrapServers") != strings.Join(cfg.Kafka.Brokers, ",") {
				t.Errorf("ScaledObject watches %v, flowlake consumes %s/%s", md, cfg.Kafka.Topic, cfg.Kafka.Group)
			}
			if get(dep, "spec.replicas") != nil {
				t.Error("with KEDA the Deployment must not set replicas")
			}
		}
	}
}

// TestDockerAndCompose: the image's port, version stamp and the compose
// file's flags and variables agree with the code.
func TestDockerAndCompose(t *testing.T) {
	docker, _ := os.ReadFile("Dockerfile")
	makefile, _ := os.ReadFile("../Makefile")
	ldflag := regexp.MustCompile(`-X (flowlake/[\w/]+)\.(\w+)=`)
	d, m := ldflag.FindStringSubmatch(string(docker)), ldflag.FindStringSubmatch(string(makefile))
	if d == nil || m == nil || d[0] != m[0] {
		t.Fatalf("version stamp: Dockerfile %v, Makefile %v", d, m)
	}
	src, _ := filepath.Glob(filepath.Join("..", strings.TrimPrefix(d[1], "flowlake/"), "*.go"))
	found := false
	for _, f := range src {
		b, _ := os.ReadFile(f)
		found = found || regexp.MustCompile(`(?m)^var `+d[2]+` = `).Match(b)
	}
	if !found {
		t.Errorf("-X %s.%s: no such variable", d[1], d[2])
	}
	if !strings.Contains(string(docker), "EXPOSE 9108") {
		t.Error("Dockerfile does not expose 9108")
	}
	var compose struct {
		Services map[string]struct {
			Command     any               `yaml:"command"`
			Environment map[string]string `yaml:"environment"`
		} `yaml:"services"`
	}
	decodeYAMLFile(t, "docker-compose.yaml", &compose)
	fl := compose.Services["flowlake"]
	var args []string
	for _, a := range fl.Command.([]any) {
		args = append(args, a.(string))
	}
	checkArgs(t, "compose", args)
	for k := range fl.Environment {
		checkEnv(t, "compose", k)
	}
	if fl.Environment["FLOWLAKE_METRICS_ADDR"] != ":9108" {
		t.Error("compose: metrics not on :9108")
	}
}
