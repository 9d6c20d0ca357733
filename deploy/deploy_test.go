// Package deploy_test checks the deployment examples without a container
// engine: the files parse, and they keep the properties the docs promise
// (static non-root image, probes, read-only root, a PodDisruptionBudget
// that selects the pods, three replicas behind the load balancer).
package deploy_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

type doc = map[string]any

// at walks a decoded YAML value by map keys and list indexes.
func at(t *testing.T, v any, path ...any) any {
	t.Helper()
	for _, p := range path {
		switch p := p.(type) {
		case string:
			m, ok := v.(doc)
			if !ok {
				t.Fatalf("%v: not a mapping at %q", path, p)
			}
			v = m[p]
		case int:
			l, ok := v.([]any)
			if !ok || p >= len(l) {
				t.Fatalf("%v: no item %d", path, p)
			}
			v = l[p]
		}
	}
	return v
}

func readYAML(t *testing.T, path string) []doc {
	t.Helper()
	body, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(body))
	var docs []doc
	for {
		var d doc
		err := dec.Decode(&d)
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		docs = append(docs, d)
	}
}

func TestDockerfileBuildsAStaticNonRootImageWithoutAShell(t *testing.T) {
	body, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	src := string(body)
	froms := regexp.MustCompile(`(?m)^FROM\s+(\S+)`).FindAllStringSubmatch(src, -1)
	if len(froms) < 2 {
		t.Fatalf("want a multi-stage build, got %d FROM lines", len(froms))
	}
	if final := froms[len(froms)-1][1]; !strings.HasPrefix(final, "gcr.io/distroless/static") && final != "scratch" {
		t.Errorf("the final stage is %s: want distroless/static or scratch (no shell, no libc)", final)
	}
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath"} {
		if !strings.Contains(src, want) {
			t.Errorf("the build does not use %s", want)
		}
	}
	user := regexp.MustCompile(`(?m)^USER\s+(\S+)`).FindAllStringSubmatch(src, -1)
	if len(user) == 0 || strings.HasPrefix(user[len(user)-1][1], "0") || strings.HasPrefix(user[len(user)-1][1], "root") {
		t.Errorf("the image must run as a non-root user: USER lines %v", user)
	}
	// Exec form: no shell runs them.
	for _, directive := range []string{"ENTRYPOINT", "CMD"} {
		for _, m := range regexp.MustCompile(`(?m)^(?:HEALTHCHECK .*\n\s*)?`+directive+`\s+(.*)`).FindAllStringSubmatch(src, -1) {
			if !strings.HasPrefix(m[1], "[") {
				t.Errorf("%s %s is in shell form; the image has no shell", directive, m[1])
			}
		}
	}
	if !regexp.MustCompile(`HEALTHCHECK[^\n]*\\\n\s*CMD \["/tollgate", "healthcheck"`).MatchString(src) {
		t.Error("the HEALTHCHECK should run tollgate healthcheck in exec form")
	}
}

func TestComposeRunsThreeReplicasBehindTheLoadBalancer(t *testing.T) {
	docs := readYAML(t, "compose/compose.yaml")
	if len(docs) != 1 {
		t.Fatalf("%d documents", len(docs))
	}
	services := at(t, docs[0], "services").(doc)
	lbConf, err := os.ReadFile("compose/nginx-lb.conf")
	if err != nil {
		t.Fatal(err)
	}
	var replicas []string
	for name, svc := range services {
		if cmd, ok := at(t, svc, "command").([]any); ok && len(cmd) > 0 && cmd[0] == "serve" {
			replicas = append(replicas, name)
		}
	}
	slices.Sort(replicas)
	if len(replicas) != 3 {
		t.Fatalf("replicas %v, want three", replicas)
	}
	for _, name := range replicas {
		svc := services[name]
		args := strings.Join(toStrings(at(t, svc, "command")), " ")
		for _, want := range []string{"--keys=/keys", "--state=redis://redis:6379", "--bundle=http://bundles:8080/", "--addr=0.0.0.0:8080"} {
			if !strings.Contains(args, want) {
				t.Errorf("%s: command %q lacks %s", name, args, want)
			}
		}
		if at(t, svc, "read_only") != true {
			t.Errorf("%s: root filesystem not read-only", name)
		}
		if !slices.Contains(toStrings(at(t, svc, "volumes")), "keys:/keys:ro") {
			t.Errorf("%s: the shared keys volume is not mounted read-only: %v", name, at(t, svc, "volumes"))
		}
		if !strings.Contains(string(lbConf), "server "+name+":8080") {
			t.Errorf("the load balancer does not send requests to %s", name)
		}
	}
	if ports := toStrings(at(t, services, "lb", "ports")); !slices.Equal(ports, []string{"8080:8080"}) {
		t.Errorf("the load balancer publishes %v", ports)
	}
	for name, svc := range services {
		if name != "lb" && at(t, svc, "ports") != nil {
			t.Errorf("%s publishes ports: only the load balancer should", name)
		}
	}
	if at(t, services, "redis", "healthcheck", "test") == nil {
		t.Error("redis has no healthcheck for the replicas to wait on")
	}
	if cmd := toStrings(at(t, services, "keys", "command")); !slices.Equal(cmd[:2], []string{"keys", "rotate"}) {
		t.Errorf("the keys tool runs %v", cmd)
	}
}

// TestKubernetesManifests: probes, a read-only non-root container,
// resources, the mounts the docs name, a PodDisruptionBudget and Services
// that select the Deployment's pods, and Redis.
func TestKubernetesManifests(t *testing.T) {
	byKind := map[string]doc{}
	for _, file := range []string{"kubernetes/tollgate.yaml", "kubernetes/redis.yaml"} {
		for _, d := range readYAML(t, file) {
			byKind[d["kind"].(string)+"/"+at(t, d, "metadata", "name").(string)] = d
		}
	}
	for _, r := range toStrings(at(t, readYAML(t, "kubernetes/kustomization.yaml")[0], "resources")) {
		if _, err := os.Stat("kubernetes/" + r); err != nil {
			t.Errorf("kustomization names %s: %v", r, err)
		}
	}
	deploy := byKind["Deployment/tollgate"]
	if deploy == nil {
		t.Fatalf("no Deployment tollgate: %v", keys(byKind))
	}
	if n := at(t, deploy, "spec", "replicas").(int); n < 3 {
		t.Errorf("replicas %d", n)
	}
	pod := at(t, deploy, "spec", "template")
	labels := at(t, pod, "metadata", "labels").(doc)
	if at(t, pod, "spec", "securityContext", "runAsNonRoot") != true {
		t.Error("the pod does not require a non-root user")
	}
	c := at(t, pod, "spec", "containers", 0)
	for probe, path := range map[string]string{"livenessProbe": "/healthz", "readinessProbe": "/readyz", "startupProbe": "/healthz"} {
		if got := at(t, c, probe, "httpGet", "path"); got != path {
			t.Errorf("%s path %v, want %s", probe, got, path)
		}
	}
	sc := at(t, c, "securityContext")
	if at(t, sc, "readOnlyRootFilesystem") != true || at(t, sc, "allowPrivilegeEscalation") != false || at(t, sc, "runAsNonRoot") != true {
		t.Errorf("container securityContext %v", sc)
	}
	if !slices.Contains(toStrings(at(t, sc, "capabilities", "drop")), "ALL") {
		t.Error("capabilities are not all dropped")
	}
	if at(t, c, "resources", "requests", "cpu") == nil || at(t, c, "resources", "limits", "memory") == nil {
		t.Errorf("resources %v", at(t, c, "resources"))
	}
	volumes := map[string]doc{}
	for _, v := range at(t, pod, "spec", "volumes").([]any) {
		volumes[v.(doc)["name"].(string)] = v.(doc)
	}
	wantMounts := map[string]string{"/config": "configMap", "/policies": "configMap", "/keys": "secret"}
	for _, m := range at(t, c, "volumeMounts").([]any) {
		m := m.(doc)
		source, ok := wantMounts[m["mountPath"].(string)]
		if !ok {
			continue
		}
		delete(wantMounts, m["mountPath"].(string))
		if volumes[m["name"].(string)][source] == nil {
			t.Errorf("%s is not a %s", m["mountPath"], source)
		}
		if m["readOnly"] != true || m["subPath"] != nil {
			t.Errorf("%s: mount %v: want read-only and whole (a subPath mount never sees updates)", m["mountPath"], m)
		}
	}
	if len(wantMounts) > 0 {
		t.Errorf("missing mounts %v", wantMounts)
	}
	args := toStrings(at(t, c, "args"))
	for _, want := range []string{"--config=/config", "--policies=/policies", "--keys=/keys", "--state=redis://tollgate-redis:6379/0"} {
		if !slices.Contains(args, want) {
			t.Errorf("args %v lack %s", args, want)
		}
	}
	// The pod must outlive its drain: delay, then in-flight requests.
	grace := time.Duration(at(t, pod, "spec", "terminationGracePeriodSeconds").(int)) * time.Second
	if drain := flagDuration(t, args, "--shutdown-delay") + flagDuration(t, args, "--shutdown-timeout"); grace <= drain {
		t.Errorf("terminationGracePeriodSeconds %v does not cover the drain %v", grace, drain)
	}
	for _, name := range []string{"PodDisruptionBudget/tollgate", "Service/tollgate", "Service/tollgate-metrics"} {
		obj := byKind[name]
		if obj == nil {
			t.Errorf("no %s", name)
			continue
		}
		selector := at(t, obj, "spec", "selector")
		if m, ok := selector.(doc)["matchLabels"]; ok {
			selector = m
		}
		for k, v := range selector.(doc) {
			if labels[k] != v {
				t.Errorf("%s selects %s=%v, the pods have %v", name, k, v, labels[k])
			}
		}
	}
	if at(t, byKind["PodDisruptionBudget/tollgate"], "spec", "maxUnavailable") != 1 {
		t.Error("the PodDisruptionBudget should let one replica go at a time")
	}
	for _, name := range []string{"Deployment/tollgate-redis", "Service/tollgate-redis"} {
		if byKind[name] == nil {
			t.Errorf("no %s", name)
		}
	}
	redis := at(t, byKind["Deployment/tollgate-redis"], "spec", "template", "spec")
	if at(t, redis, "securityContext", "runAsNonRoot") != true || at(t, redis, "containers", 0, "readinessProbe") == nil {
		t.Errorf("redis pod spec %v", redis)
	}
}

func flagDuration(t *testing.T, args []string, name string) time.Duration {
	t.Helper()
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			d, err := time.ParseDuration(v)
			if err != nil {
				t.Fatal(err)
			}
			return d
		}
	}
	t.Fatalf("no %s in %v", name, args)
	return 0
}

func toStrings(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, x := range l {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

func keys(m map[string]doc) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
