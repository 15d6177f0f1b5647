// Package deploy holds how relance is run outside a developer machine:
// grafana/ (provisioned data sources, generated dashboards and alert rules),
// prometheus/ (scrape configuration and pipeline-health alert rules), k8s/
// (scale-out manifests), and, at the repository root, docker-compose.yml and
// the Dockerfile. Its tests validate those files without a Docker engine or
// a cluster: `docker-compose config` (Debian package docker-compose),
// `promtool` (Debian package prometheus), and YAML checks of the manifests.
package deploy
