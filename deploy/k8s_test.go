package deploy

import (
	"fmt"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// Rule: the Kubernetes manifests scale relance out correctly: a Deployment
// of several replicas sharing one consumer group (from the mounted
// configuration), probes on /healthz and /readyz at :9464, Prometheus
// scrape annotations, the ClickHouse password from the Secret, a
// PodDisruptionBudget and a metrics Service selecting the same pods, a Job
// applying the migrations the replicas do not apply (see
// checkMigrateJob), and a kustomization listing every manifest.
func TestK8s_ManifestsScaleOut(t *testing.T) {
	objs := map[string]map[string]any{} // kind/name -> object
	kust := yamlDocs(t, "k8s/kustomization.yaml")[0]
	var listed []string
	for _, r := range toStrings(kust["resources"]) {
		listed = append(listed, r)
		for _, d := range yamlDocs(t, filepath.Join("k8s", r)) {
			kind, _ := d["kind"].(string)
			name, _ := dig(d, "metadata", "name").(string)
			if kind == "" || name == "" || d["apiVersion"] == nil {
				t.Errorf("%s: a document without apiVersion, kind or metadata.name", r)
				continue
			}
			objs[kind+"/"+name] = d
		}
	}
	files, _ := filepath.Glob("k8s/*.yaml")
	for _, f := range files {
		if b := filepath.Base(f); b != "kustomization.yaml" && !contains(listed, b) {
			t.Errorf("k8s/%s is not listed in kustomization.yaml", b)
		}
	}

	dep := objs["Deployment/relance"]
	if dep == nil {
		t.Fatalf("no Deployment relance in %v", keys(objs))
	}
	if n, _ := dig(dep, "spec", "replicas").(int); n < 2 {
		t.Errorf("replicas = %v, want several (one consumer group)", dig(dep, "spec", "replicas"))
	}
	sel := dig(dep, "spec", "selector", "matchLabels")
	podLabels := dig(dep, "spec", "template", "metadata", "labels").(map[string]any)
	for k, v := range sel.(map[string]any) {
		if podLabels[k] != v {
			t.Errorf("selector %s=%v does not match the pod labels %v", k, v, podLabels)
		}
	}
	ann := dig(dep, "spec", "template", "metadata", "annotations")
	for k, want := range map[string]string{"prometheus.io/scrape": "true", "prometheus.io/port": "9464", "prometheus.io/path": "/metrics"} {
		if got := dig(ann, k); got != want {
			t.Errorf("pod annotation %s = %v, want %q", k, got, want)
		}
	}
	c := dig(dep, "spec", "template", "spec", "containers", 0)
	if args := toStrings(dig(c, "args")); len(args) == 0 || args[0] != "run" {
		t.Errorf("container args %v, want run …", args)
	}
	if p := dig(c, "ports", 0); dig(p, "containerPort") != 9464 || dig(p, "name") != "metrics" {
		t.Errorf("container port %v, want 9464 named metrics", p)
	}
	for probe, path := range map[string]string{"livenessProbe": "/healthz", "readinessProbe": "/readyz"} {
		if got := dig(c, probe, "httpGet", "path"); got != path {
			t.Errorf("%s path %v, want %s", probe, got, path)
		}
		if got := dig(c, probe, "httpGet", "port"); got != "metrics" && got != 9464 {
			t.Errorf("%s port %v, want metrics (9464)", probe, got)
		}
	}
	if g, _ := dig(dep, "spec", "template", "spec", "terminationGracePeriodSeconds").(int); g <= 30 {
		t.Errorf("terminationGracePeriodSeconds %d: relance's last flush may take 30 s", g)
	}

	// The configuration: mounted from the ConfigMap, found via RELANCE_CONFIG,
	// one group for every replica, the password from the Secret file.
	env := map[string]string{}
	for _, e := range toList(dig(c, "env")) {
		env[dig(e, "name").(string)], _ = dig(e, "value").(string)
	}
	checkMemLimit(t, env["GOMEMLIMIT"], dig(c, "resources", "limits", "memory"))
	cm := objs["ConfigMap/relance"]
	if cm == nil {
		t.Fatal("no ConfigMap relance")
	}
	mounts := map[string]string{} // volume -> mountPath
	for _, m := range toList(dig(c, "volumeMounts")) {
		mounts[dig(m, "name").(string)] = dig(m, "mountPath").(string)
	}
	volumes := map[string]any{}
	for _, v := range toList(dig(dep, "spec", "template", "spec", "volumes")) {
		volumes[dig(v, "name").(string)] = v
	}
	var cfgVolume string
	for name, v := range volumes {
		if dig(v, "configMap", "name") == "relance" {
			cfgVolume = name
		}
	}
	file := strings.TrimPrefix(env["RELANCE_CONFIG"], mounts[cfgVolume]+"/")
	text, _ := dig(cm, "data", file).(string)
	if cfgVolume == "" || text == "" {
		t.Fatalf("RELANCE_CONFIG=%q is not a file of the mounted ConfigMap relance (mounts %v)", env["RELANCE_CONFIG"], mounts)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal([]byte(text), &cfg); err != nil {
		t.Fatalf("ConfigMap relance %s: %v", file, err)
	}
	if g, _ := dig(cfg, "kafka", "group").(string); g == "" {
		t.Error("relance.yaml: no kafka.group: every replica must share one")
	}
	if l := dig(cfg, "http", "listen"); l != ":9464" {
		t.Errorf("relance.yaml http.listen = %v, want :9464 (probes and scraping)", l)
	}
	sec := objs["Secret/relance"]
	if sec == nil {
		t.Fatal("no Secret relance")
	}
	pwFile, _ := dig(cfg, "store", "clickhouse", "password_file").(string)
	var secVolume string
	for name, v := range volumes {
		if dig(v, "secret", "secretName") == "relance" {
			secVolume = name
		}
	}
	key := strings.TrimPrefix(pwFile, mounts[secVolume]+"/")
	if secVolume == "" || dig(sec, "stringData", key) == nil && dig(sec, "data", key) == nil {
		t.Errorf("store.clickhouse.password_file %q is not a key of the mounted Secret relance", pwFile)
	}
	if dig(cfg, "store", "clickhouse", "password") != nil {
		t.Error("relance.yaml carries a password: use the Secret")
	}

	pdb := objs["PodDisruptionBudget/relance"]
	if pdb == nil {
		t.Fatal("no PodDisruptionBudget relance")
	}
	if dig(pdb, "spec", "maxUnavailable") == nil && dig(pdb, "spec", "minAvailable") == nil {
		t.Error("PodDisruptionBudget sets neither maxUnavailable nor minAvailable")
	}
	if !reflect.DeepEqual(dig(pdb, "spec", "selector", "matchLabels"), sel) {
		t.Errorf("PodDisruptionBudget selects %v, the Deployment %v", dig(pdb, "spec", "selector", "matchLabels"), sel)
	}
	svc := objs["Service/relance-metrics"]
	if svc == nil || !reflect.DeepEqual(dig(svc, "spec", "selector"), sel) || dig(svc, "spec", "ports", 0, "port") != 9464 {
		t.Errorf("metrics Service: want port 9464 selecting %v, got %v", sel, svc)
	}
	checkMigrateJob(t, objs, cfg, sel.(map[string]any))
}

// checkMigrateJob: the replicas do not migrate at start (store.migrate:
// false), so a Job runs `relance migrate up` against the store they use —
// same address, database and user (migrate takes flags, not the
// configuration file) and the password file of the same Secret — and its
// pod is not one of the consumers the PodDisruptionBudget and the metrics
// Service select.
func checkMigrateJob(t *testing.T, objs map[string]map[string]any, cfg map[string]any, consumers map[string]any) {
	t.Helper()
	if m := dig(cfg, "store", "migrate"); m != false {
		t.Errorf("relance.yaml store.migrate = %v: with several replicas the Job migrates, not each replica", m)
	}
	var job map[string]any
	for k, o := range objs {
		if strings.HasPrefix(k, "Job/") {
			if job != nil {
				t.Errorf("two Jobs: %v", keys(objs))
			}
			job = o
		}
	}
	if job == nil {
		t.Fatalf("no Job running relance migrate up in %v", keys(objs))
	}
	pod := dig(job, "spec", "template", "spec")
	if p := dig(pod, "restartPolicy"); p != "OnFailure" && p != "Never" {
		t.Errorf("Job restartPolicy %v, want OnFailure or Never", p)
	}
	if dig(job, "spec", "ttlSecondsAfterFinished") == nil {
		t.Error("Job has no ttlSecondsAfterFinished: its pod template is immutable, so the next apply with a new image would fail")
	}
	labels, _ := dig(job, "spec", "template", "metadata", "labels").(map[string]any)
	selected := true
	for k, v := range consumers {
		if labels[k] != v {
			selected = false
		}
	}
	if selected {
		t.Errorf("the Job's pod labels %v match the consumers' selector %v", labels, consumers)
	}

	c := dig(pod, "containers", 0)
	args := toStrings(dig(c, "args"))
	if len(args) < 2 || args[0] != "migrate" || args[1] != "up" {
		t.Fatalf("Job args %v, want migrate up …", args)
	}
	flags := map[string]string{}
	for i := 2; i < len(args); i++ {
		name, value, ok := strings.Cut(strings.TrimLeft(args[i], "-"), "=")
		if !ok && i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
			value, i = args[i+1], i+1
		}
		flags[name] = value
	}
	for flag, key := range map[string]string{"clickhouse-addr": "addr", "database": "database", "clickhouse-user": "user"} {
		want, _ := dig(cfg, "store", "clickhouse", key).(string)
		if want == "" {
			t.Errorf("relance.yaml has no store.clickhouse.%s", key)
		} else if flags[flag] != want {
			t.Errorf("Job --%s = %q, relance.yaml store.clickhouse.%s = %q", flag, flags[flag], key, want)
		}
	}
	env := map[string]string{}
	for _, e := range toList(dig(c, "env")) {
		env[dig(e, "name").(string)], _ = dig(e, "value").(string)
	}
	pwFile := env["RELANCE_CLICKHOUSE_PASSWORD_FILE"]
	if want, _ := dig(cfg, "store", "clickhouse", "password_file").(string); pwFile != want {
		t.Errorf("Job RELANCE_CLICKHOUSE_PASSWORD_FILE = %q, relance.yaml password_file = %q", pwFile, want)
	}
	mounted := false
	for _, m := range toList(dig(c, "volumeMounts")) {
		if !strings.HasPrefix(pwFile, dig(m, "mountPath").(string)+"/") {
			continue
		}
		for _, v := range toList(dig(pod, "volumes")) {
			if dig(v, "name") == dig(m, "name") && dig(v, "secret", "secretName") == "relance" {
				mounted = true
			}
		}
	}
	if !mounted {
		t.Errorf("Job: the password file %q is not in a mount of the Secret relance", pwFile)
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func keys(m map[string]map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// checkMemLimit: the Go soft memory limit is set and leaves the pod's
// memory limit some room (the GC collects before the kernel kills), but not
// so much that the GC runs all the time: 70 % to 95 % of it.
func checkMemLimit(t *testing.T, goLimit string, podLimit any) {
	t.Helper()
	pod, ok := bytesOf(fmt.Sprint(podLimit), map[string]float64{"Mi": 1 << 20, "Gi": 1 << 30, "M": 1e6, "G": 1e9})
	if podLimit == nil || !ok {
		t.Errorf("resources.limits.memory %v: want a quantity such as 2Gi", podLimit)
		return
	}
	soft, ok := bytesOf(goLimit, map[string]float64{"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "B": 1})
	if !ok {
		t.Errorf("GOMEMLIMIT %q: want a size such as 1740MiB (the join state would grow the heap to twice its size before a GC)", goLimit)
		return
	}
	if r := soft / pod; r < 0.70 || r > 0.95 {
		t.Errorf("GOMEMLIMIT %s is %.0f %% of limits.memory %v, want 70 %% to 95 %%", goLimit, 100*r, podLimit)
	}
}

// bytesOf reads a number with one of units' suffixes.
func bytesOf(s string, units map[string]float64) (float64, bool) {
	for u, f := range units {
		if n, err := strconv.ParseFloat(strings.TrimSuffix(s, u), 64); err == nil && strings.HasSuffix(s, u) {
			return n * f, true
		}
	}
	return 0, false
}
