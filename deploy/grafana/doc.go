// Package grafana holds the Grafana provisioning of relance: the ClickHouse
// and Prometheus data sources, the dashboards and the collection-rate alert
// rules. The dashboards and the alert rules are code (package gen, built
// with the Grafana Foundation SDK over the named queries of sql/queries/)
// and generated to the committed files under dashboards/ and
// provisioning/alerting/; a test fails when those files are stale.
//
// Regenerate with:
//
//	go generate ./deploy/grafana
package grafana

//go:generate go run ./gen -dir .
