package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// Rule: docker-compose.yml is a valid Compose file (docker-compose config
// resolves it), and it runs the whole stack: Kafka, its topics, the schema
// registry, ClickHouse, relance exposing :9464, Prometheus scraping it with
// the rules mounted, and Grafana with the ClickHouse plugin and the
// provisioning mounted from folders that exist.
func TestCompose_ConfigIsValidAndComplete(t *testing.T) {
	bin := tool(t, "docker-compose", "docker-compose")
	cmd := exec.Command(bin, "-f", "docker-compose.yml", "config")
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "CLICKHOUSE_PASSWORD=test-only")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("docker-compose config: %v\n%s", err, out)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(out, &cfg); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"kafka", "kafka-init", "schema-registry", "clickhouse", "relance", "demo-data", "prometheus", "grafana"} {
		if dig(cfg, "services", s) == nil {
			t.Errorf("service %s missing", s)
		}
	}
	if c := strings.Join(toStrings(dig(cfg, "services", "demo-data", "command")), " "); !strings.HasPrefix(c, "produce --brokers kafka:9092 --registry http://schema-registry:8081") {
		t.Errorf("demo-data does not produce to the compose Kafka and registry: %q", c)
	}
	if e := dig(cfg, "services", "relance", "expose"); !strings.Contains(strings.Join(toStrings(e), ","), "9464") {
		t.Errorf("relance does not expose 9464 (metrics): %v", e)
	}
	plugin, _ := dig(cfg, "services", "grafana", "environment", "GF_PLUGINS_PREINSTALL").(string)
	if !strings.Contains(plugin, "grafana-clickhouse-datasource") {
		t.Errorf("grafana does not install grafana-clickhouse-datasource: %q", plugin)
	}
	mounts := func(svc string) map[string]string { // container path -> host path
		m := map[string]string{}
		for _, v := range toList(dig(cfg, "services", svc, "volumes")) {
			switch v := v.(type) {
			case string: // short syntax (docker-compose v1): source:target[:mode]
				if parts := strings.Split(v, ":"); len(parts) >= 2 {
					m[parts[1]] = parts[0]
				}
			case map[string]any: // long syntax (Compose v2)
				src, _ := v["source"].(string)
				target, _ := v["target"].(string)
				m[target] = src
			}
		}
		return m
	}
	for svc, want := range map[string]map[string]string{
		"grafana":    {"/etc/grafana/provisioning": "deploy/grafana/provisioning", "/var/lib/grafana/dashboards": "deploy/grafana/dashboards"},
		"prometheus": {"/etc/prometheus": "deploy/prometheus"},
	} {
		got := mounts(svc)
		for target, rel := range want {
			src := got[target]
			if src == "" || !strings.HasSuffix(filepath.ToSlash(src), rel) {
				t.Errorf("%s: %s mounted from %q, want …/%s", svc, target, src, rel)
				continue
			}
			if _, err := os.Stat(filepath.Join("..", rel)); err != nil {
				t.Errorf("%s mounts %s: %v", svc, rel, err)
			}
		}
	}
	// Prometheus scrapes relance where compose runs it.
	prom := yamlDocs(t, "prometheus/prometheus.yml")[0]
	if got := dig(prom, "scrape_configs", 0, "static_configs", 0, "targets", 0); got != "relance:9464" {
		t.Errorf("prometheus scrapes %v, want relance:9464", got)
	}
}

func toList(v any) []any {
	l, _ := v.([]any)
	return l
}

func toStrings(v any) []string {
	var out []string
	for _, x := range toList(v) {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}
