// Package metrics defines tollgate's Prometheus metrics and implements the
// engine's Observer with them. Every name starts with tollgate_ and follows
// the Prometheus naming conventions (units in the name, _total counters).
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds every collector, registered on its own registry so tests
// can run many servers in one process.
type Metrics struct {
	Registry *prometheus.Registry

	requests        *prometheus.CounterVec
	requestDuration *prometheus.HistogramVec
	authDuration    *prometheus.HistogramVec
	decideDuration  *prometheus.HistogramVec
	signDuration    prometheus.Histogram
	tokensIssued    *prometheus.CounterVec
	tokenRequests   *prometheus.CounterVec
	reloads         *prometheus.CounterVec
	reloadDuration  prometheus.Histogram
	lastReload      prometheus.Gauge
	snapshotSize    *prometheus.GaugeVec
	bundleFetches   *prometheus.CounterVec
	stateErrors     *prometheus.CounterVec
	stateUp         prometheus.Gauge

	// Children of the hot path, resolved once: a label lookup hashes
	// every label value on every call.
	authSuccess, authFailure prometheus.Observer
	decideCached, decideRun  prometheus.Observer
}

// Fine buckets: a token request takes tens to hundreds of microseconds.
var fastBuckets = []float64{.00001, .000025, .00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1}

// New creates and registers the metrics.
func New() *Metrics {
	m := &Metrics{Registry: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tollgate_http_requests_total",
		Help: "HTTP requests by endpoint, status code and OAuth error code.",
	}, []string{"endpoint", "code", "error"})
	m.requestDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "tollgate_http_request_duration_seconds", Help: "Time to answer an HTTP request, by endpoint.", Buckets: fastBuckets,
	}, []string{"endpoint"})
	m.authDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "tollgate_client_authentication_duration_seconds", Help: "Time to verify a client secret, by result.", Buckets: fastBuckets,
	}, []string{"result"})
	m.decideDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "tollgate_policy_evaluation_duration_seconds", Help: "Time to reach a policy decision, by whether it came from the decision cache.", Buckets: fastBuckets,
	}, []string{"cached"})
	m.signDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "tollgate_token_signing_duration_seconds", Help: "Time to sign an access token.", Buckets: fastBuckets,
	})
	m.tokensIssued = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tollgate_tokens_issued_total", Help: "Access tokens issued, by client and audience.",
	}, []string{"client", "audience"})
	m.tokenRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tollgate_token_requests_total",
		Help: "Token requests by authenticated client (empty when authentication failed) and OAuth error code (empty on success).",
	}, []string{"client", "error"})
	m.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tollgate_config_reloads_total", Help: "Configuration (re)loads by result (success, failure).",
	}, []string{"result"})
	m.reloadDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "tollgate_config_reload_duration_seconds",
		Help: "Time to (re)load the configuration, successful or not; a reload under load rests between the files it parses.",
		// 10 ms to 20 s: a small configuration loads in milliseconds, a
		// paced reload of every file of 10,000 clients takes seconds.
		Buckets: prometheus.ExponentialBuckets(0.01, 2, 12),
	})
	m.lastReload = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "tollgate_config_last_reload_success_timestamp_seconds", Help: "Unix time of the last configuration that loaded successfully.",
	})
	m.snapshotSize = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "tollgate_config_declarations", Help: "Declarations in the configuration being served, by kind.",
	}, []string{"kind"})
	m.bundleFetches = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tollgate_bundle_fetches_total", Help: "Polls of the --bundle server by result (changed, unchanged, error); a changed bundle that does not load is a failed reload.",
	}, []string{"result"})
	m.stateErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tollgate_state_errors_total",
		Help: "Failed calls to the state store (Redis with --state redis://), by operation: revoke, revoked, seen, use, rate_limit, throttle, ping.",
	}, []string{"op"})
	for _, op := range []string{"revoke", "revoked", "seen", "use", "rate_limit", "throttle", "ping"} {
		m.stateErrors.WithLabelValues(op) // every series exists from the start, at 0
	}
	m.stateUp = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "tollgate_state_up", Help: "1 when the state store answered its last health check (always 1 in memory), else 0.",
	})
	m.stateUp.Set(1)
	m.Registry.MustRegister(m.requests, m.requestDuration, m.authDuration, m.decideDuration, m.signDuration,
		m.tokensIssued, m.tokenRequests, m.reloads, m.reloadDuration, m.lastReload, m.snapshotSize, m.bundleFetches,
		m.stateErrors, m.stateUp,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.authSuccess, m.authFailure = m.authDuration.WithLabelValues("success"), m.authDuration.WithLabelValues("failure")
	m.decideCached, m.decideRun = m.decideDuration.WithLabelValues("true"), m.decideDuration.WithLabelValues("false")
	return m
}

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{})
}

// ClientAuthenticated implements authz.Observer.
func (m *Metrics) ClientAuthenticated(d time.Duration, ok bool) {
	if ok {
		m.authSuccess.Observe(d.Seconds())
		return
	}
	m.authFailure.Observe(d.Seconds())
}

// Decided implements authz.Observer.
func (m *Metrics) Decided(d time.Duration, cached bool) {
	if cached {
		m.decideCached.Observe(d.Seconds())
		return
	}
	m.decideRun.Observe(d.Seconds())
}

// Signed implements authz.Observer.
func (m *Metrics) Signed(d time.Duration) { m.signDuration.Observe(d.Seconds()) }

// TokenIssued implements authz.Observer. The engine hands it label values
// bounded by the declarations (decide.AudienceLabelOther for any audience
// that names no server), never what a policy or a caller made up.
func (m *Metrics) TokenIssued(client string, audience []string) {
	for _, aud := range audience {
		m.tokensIssued.WithLabelValues(client, aud).Inc()
	}
}

// TokenRequested implements authz.Observer.
func (m *Metrics) TokenRequested(client, errorCode string) {
	m.tokenRequests.WithLabelValues(client, errorCode).Inc()
}

// Reloaded records a configuration load attempt, how long it took and, on
// success, the sizes of what is now served.
func (m *Metrics) Reloaded(ok bool, took time.Duration, sizes map[string]int) {
	m.reloadDuration.Observe(took.Seconds())
	if !ok {
		m.reloads.WithLabelValues("failure").Inc()
		return
	}
	m.reloads.WithLabelValues("success").Inc()
	m.lastReload.SetToCurrentTime()
	for kind, n := range sizes {
		m.snapshotSize.WithLabelValues(kind).Set(float64(n))
	}
}

// BundleFetched records one poll of the bundle server: "changed",
// "unchanged" (a 304, or the same bytes) or "error".
func (m *Metrics) BundleFetched(result string) { m.bundleFetches.WithLabelValues(result).Inc() }

// StateFailed counts a failed call to the state store.
func (m *Metrics) StateFailed(op string) { m.stateErrors.WithLabelValues(op).Inc() }

// StateUp records whether the state store answered its health check.
func (m *Metrics) StateUp(up bool) {
	if up {
		m.stateUp.Set(1)
		return
	}
	m.stateUp.Set(0)
}

// Instrument wraps an endpoint's handler to count and time its requests.
// The error writer reports the OAuth error code through the recorder's
// SetErrorCode, so the code never travels in a header.
func (m *Metrics) Instrument(endpoint string, next http.Handler) http.Handler {
	duration := m.requestDuration.WithLabelValues(endpoint)
	ok := m.requests.WithLabelValues(endpoint, "200", "")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		duration.Observe(time.Since(start).Seconds())
		if rec.status == http.StatusOK && rec.errorCode == "" {
			ok.Inc()
			return
		}
		m.requests.WithLabelValues(endpoint, strconv.Itoa(rec.status), rec.errorCode).Inc()
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status    int
	errorCode string
}

func (r *statusRecorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}

// SetErrorCode lets the error writer report the OAuth error code.
func (r *statusRecorder) SetErrorCode(code string) { r.errorCode = code }

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
