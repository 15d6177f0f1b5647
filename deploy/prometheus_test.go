package deploy

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// Rule: the pipeline-health alert rules pass their unit tests
// (promtool test rules), and the Prometheus configuration that loads them
// is valid (promtool check config).
func TestPrometheus_RulesPassPromtool(t *testing.T) {
	bin := tool(t, "promtool", "prometheus")
	run := func(dir string, args ...string) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("prometheus/rules", "test", "rules", "relance.rules.test.yml")
	run("prometheus", "check", "config", "prometheus.yml")
}

// Rule: every alert (Prometheus and Grafana) carries a summary and a
// description, and every alert file opens with a header comment.
func TestAlerts_AnnotatedWithHeader(t *testing.T) {
	for _, path := range []string{"prometheus/rules/relance.rules.yml", "grafana/provisioning/alerting/collection-rate.yaml"} {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(b), "# ") {
			t.Errorf("%s: no header comment", path)
		}
		doc := yamlDocs(t, path)[0]
		n := 0
		for _, g := range toList(doc["groups"]) {
			for _, r := range toList(dig(g, "rules")) {
				n++
				name, _ := dig(r, "alert").(string)
				if name == "" {
					name, _ = dig(r, "title").(string)
				}
				for _, a := range []string{"summary", "description"} {
					if s, _ := dig(r, "annotations", a).(string); strings.TrimSpace(s) == "" {
						t.Errorf("%s: alert %q has no %s", path, name, a)
					}
				}
			}
		}
		if n == 0 {
			t.Errorf("%s: no alert rules", path)
		}
	}
}

// Rule: every PromQL expression of the pipeline-health dashboard parses
// (promtool check rules over them as recording rules), and uses only the
// metric names documented in deploy/grafana/README.md.
func TestPipelineHealth_ExpressionsParse(t *testing.T) {
	bin := tool(t, "promtool", "prometheus")
	b, err := os.ReadFile("grafana/dashboards/pipeline-health.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("grafana/README.md")
	if err != nil {
		t.Fatal(err)
	}
	var rules []map[string]string
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			if tg.Expr == "" {
				t.Errorf("panel %q: a target without a PromQL expression", p.Title)
				continue
			}
			e := strings.NewReplacer("$__rate_interval", "5m", "$instance", ".*").Replace(tg.Expr)
			rules = append(rules, map[string]string{"record": fmt.Sprintf("relance:dashboard_expr_%d", len(rules)), "expr": e})
			for _, f := range strings.FieldsFunc(e, func(r rune) bool {
				return !(r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9')
			}) {
				if strings.HasPrefix(f, "relance_") {
					base := strings.TrimSuffix(f, "_bucket")
					if !strings.Contains(string(readme), "`"+base+"`") {
						t.Errorf("panel %q uses %s, not documented in deploy/grafana/README.md", p.Title, base)
					}
				}
			}
		}
	}
	if len(rules) < 7 {
		t.Fatalf("only %d expressions on the pipeline-health dashboard", len(rules))
	}
	out, err := yaml.Marshal(map[string]any{"groups": []any{map[string]any{"name": "dashboard", "rules": rules}}})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "dashboard.rules.yml")
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "check", "rules", path).CombinedOutput(); err != nil {
		t.Errorf("promtool check rules: %v\n%s", err, out)
	}
}
