// Command gen writes relance's Grafana dashboards (JSON) and collection-rate
// alert rules (provisioning YAML) from code: the Grafana Foundation SDK for
// the dashboards, the named queries of sql/queries/ for every ClickHouse
// panel and rule. The output is committed; a test fails when it is stale.
//
//	go run ./deploy/grafana/gen -dir deploy/grafana
//	go generate ./deploy/grafana
//
// The alert knobs are flags (-max-drop, -min-invoices, -recent-days,
// -baseline-days, -rate-drop-horizon, -dimensions, -every): an operator
// writes rules with their own thresholds into their own folder; the
// committed files use the defaults.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

func main() {
	dir := flag.String("dir", "deploy/grafana", "the deploy/grafana folder: files are written under it")
	registerKnobs(flag.CommandLine)
	flag.Parse()
	if err := checkKnobs(); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(2)
	}
	files, err := Files()
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		path := filepath.Join(*dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			fmt.Fprintln(os.Stderr, "gen:", err)
			os.Exit(1)
		}
		if err := os.WriteFile(path, files[name], 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "gen:", err)
			os.Exit(1)
		}
		fmt.Println("wrote", path)
	}
}

// Files returns every generated file, by path relative to deploy/grafana.
func Files() (map[string][]byte, error) {
	out := map[string][]byte{}
	for name, b := range map[string]*dashboard.DashboardBuilder{
		"dashboards/reminder-impact.json": ReminderImpact(),
		"dashboards/pipeline-health.json": PipelineHealth(),
	} {
		d, err := b.Build()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(d); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out[name] = buf.Bytes()
	}
	rules, err := AlertRules()
	if err != nil {
		return nil, fmt.Errorf("alert rules: %w", err)
	}
	out["provisioning/alerting/collection-rate.yaml"] = rules
	return out, nil
}
