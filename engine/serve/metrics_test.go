package serve_test

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/engine/serve"
)

// TestMetricsAreNotOnThePublicListener: /metrics names every client and
// audience (SPEC §6), so the listener clients reach answers it 404, with
// or without a metrics listener.
func TestMetricsAreNotOnThePublicListener(t *testing.T) {
	for _, metricsAddr := range []string{"", "127.0.0.1:0"} {
		srv := start(t, serve.Config{MetricsAddr: metricsAddr})
		tokenStatus(t, srv.url, "client1", client1Secret)
		resp, err := http.Get(srv.url + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound || strings.Contains(string(body), "tollgate_") {
			t.Errorf("--metrics-addr %q: the public /metrics answers %d:\n%.300s", metricsAddr, resp.StatusCode, body)
		}
	}
}

// TestMetricsListener: with --metrics-addr, a second listener serves
// /metrics, its address logged as "metrics on URL" once it listens, and
// nothing else.
func TestMetricsListener(t *testing.T) {
	base, logs, _ := runServe(t, serve.Config{ConfigDir: copyConfig(t), MetricsAddr: "127.0.0.1:0"})
	metrics := metricsURL(t, logs)
	if strings.HasPrefix(metrics, base) {
		t.Fatalf("the metrics listener is the public one: %s", metrics)
	}
	tokenStatus(t, base, "client1", client1Secret)
	if body := get(t, metrics); !strings.Contains(body, `tollgate_tokens_issued_total{audience="client1",client="client1"} 1`) {
		t.Errorf("the metrics listener does not serve the metrics:\n%.500s", body)
	}
	for _, path := range []string{"/oauth2/token", "/", "/metrics/x"} {
		resp, err := http.Get(strings.TrimSuffix(metrics, "/metrics") + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("the metrics listener answers %s with %d", path, resp.StatusCode)
		}
	}
}

// TestMetricsListenerStopsWithTheServer: shutting down closes the metrics
// listener too.
func TestMetricsListenerStopsWithTheServer(t *testing.T) {
	srv := start(t, serve.Config{MetricsAddr: "127.0.0.1:0"})
	if metrics := get(t, srv.MetricsURL()); !strings.Contains(metrics, "tollgate_config_reloads_total") {
		t.Fatalf("no metrics at %s", srv.MetricsURL())
	}
	srv.stop()
	if resp, err := http.Get(srv.MetricsURL()); err == nil {
		resp.Body.Close()
		t.Error("the metrics listener still answers after shutdown")
	}
}

// metricsURL is the address a server run by runServe with a MetricsAddr
// logged for its metrics.
func metricsURL(t *testing.T, logs *syncBuffer) string {
	t.Helper()
	m := regexp.MustCompile(`metrics on (http://\S+/metrics)`).FindStringSubmatch(logs.String())
	if m == nil {
		t.Fatalf("no metrics address in the log:\n%s", logs.String())
	}
	return m[1]
}
