// Package redistest runs a real redis-server on loopback for tests: the
// shared state of a fleet is tested against the server it runs on, not a
// stand-in. Without redis-server on PATH the tests that need it skip,
// unless TOLLGATE_REQUIRE_REDIS=1 (as CI sets it) makes that a failure.
package redistest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// RequireEnv is the variable that turns a missing redis-server into a
// failure instead of a skip.
const RequireEnv = "TOLLGATE_REQUIRE_REDIS"

// Options say how a Server runs.
type Options struct {
	// Persist writes every change to an append-only file, fsynced, so that
	// a Restart finds the data again; without it Redis keeps nothing on
	// disk and a restart starts empty.
	Persist bool
	// Cluster starts the server as a Redis Cluster node.
	Cluster bool
	// SentinelOf starts a Sentinel instead, watching the primary at this
	// address under the name SentinelMaster.
	SentinelOf string
}

// SentinelMaster is the name Sentinels started here know their primary by.
const SentinelMaster = "tollgate"

// Server is a redis-server process on 127.0.0.1.
type Server struct {
	t    testing.TB
	opts Options
	dir  string
	port int

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	log    *bytes.Buffer
}

// Binary returns the path of redis-server, or skips t (fails it when
// RequireEnv is 1) when there is none.
func Binary(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("redis-server")
	if err == nil {
		return path
	}
	if os.Getenv(RequireEnv) == "1" {
		t.Fatalf("redis-server is not on PATH and %s=1: install it (apt-get install redis-server)", RequireEnv)
	}
	t.Skipf("redis-server is not on PATH: skipping the tests against Redis (apt-get install redis-server; %s=1 makes this a failure)", RequireEnv)
	return ""
}

// Start runs a redis-server for t on a free loopback port; it is stopped
// when t ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	Binary(t)
	s := &Server{t: t, opts: opts, dir: t.TempDir()}
	if err := s.startOnFreePort(); err != nil {
		t.Fatalf("starting redis-server: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

// shared is the one Server of a test binary that Shared hands out.
var shared struct {
	mu      sync.Mutex
	srv     *Server
	cluster []*Server
}

// Shared returns the test binary's one redis-server, started on first
// use, emptied (FLUSHALL) for t. Tests using it must not run in parallel
// with each other; Main stops it.
func Shared(t testing.TB) *Server {
	t.Helper()
	Binary(t)
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.srv == nil {
		s := &Server{t: t, dir: mustTemp(t)}
		if err := s.startOnFreePort(); err != nil {
			t.Fatalf("starting redis-server: %v", err)
		}
		shared.srv = s
	}
	c := shared.srv.Client(t)
	if err := c.FlushAll(context.Background()).Err(); err != nil {
		t.Fatalf("FLUSHALL: %v", err)
	}
	return shared.srv
}

// Main runs a package's tests and then stops the Shared server and the
// SharedCluster.
func Main(m *testing.M) int {
	code := m.Run()
	shared.mu.Lock()
	for _, s := range append([]*Server{shared.srv}, shared.cluster...) {
		if s != nil {
			s.kill()
			_ = os.RemoveAll(s.dir)
		}
	}
	shared.mu.Unlock()
	return code
}

// SharedCluster returns the test binary's one Redis Cluster of three
// primaries, started on first use (redis-cli --cluster create), emptied
// for t, as a URL with every node.
func SharedCluster(t testing.TB) string {
	t.Helper()
	Binary(t)
	if _, err := exec.LookPath("redis-cli"); err != nil {
		t.Fatalf("redis-cli is not on PATH (it comes with redis-server): %v", err)
	}
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.cluster == nil {
		var addrs []string
		for range 3 {
			s := &Server{t: t, dir: mustTemp(t), opts: Options{Cluster: true}}
			if err := s.startOnFreePort(); err != nil {
				t.Fatalf("starting a cluster node: %v", err)
			}
			shared.cluster = append(shared.cluster, s)
			addrs = append(addrs, s.Addr())
		}
		out, err := exec.Command("redis-cli", append(append([]string{"--cluster", "create"}, addrs...), "--cluster-replicas", "0", "--cluster-yes")...).CombinedOutput()
		if err != nil {
			t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
		}
		for _, s := range shared.cluster {
			c := s.Client(t)
			deadline := time.Now().Add(10 * time.Second)
			for {
				info, _ := c.ClusterInfo(context.Background()).Result()
				if strings.Contains(info, "cluster_state:ok") {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the cluster is not ok after 10s:\n%s", info)
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
	}
	url := "redis://" + shared.cluster[0].Addr() + "?cluster=true"
	for _, s := range shared.cluster {
		if err := s.Client(t).FlushAll(context.Background()).Err(); err != nil {
			t.Fatalf("FLUSHALL: %v", err)
		}
		url += "&addr=" + s.Addr()
	}
	return url
}

func mustTemp(t testing.TB) string {
	dir, err := os.MkdirTemp("", "redistest-")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) start() error {
	args := []string{
		"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--dir", s.dir, "--save", "", "--daemonize", "no", "--loglevel", "warning",
	}
	if s.opts.Cluster {
		args = append(args, "--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(s.dir, "nodes.conf"))
	}
	if s.opts.Persist {
		args = append(args, "--appendonly", "yes", "--appendfsync", "always")
	} else {
		args = append(args, "--appendonly", "no")
	}
	if s.opts.SentinelOf != "" {
		host, port, _ := net.SplitHostPort(s.opts.SentinelOf)
		conf := filepath.Join(s.dir, "sentinel.conf")
		body := fmt.Sprintf("sentinel monitor %s %s %s 1\nsentinel down-after-milliseconds %s 1000\n", SentinelMaster, host, port, SentinelMaster)
		if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
			return err
		}
		args = []string{conf, "--sentinel", "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1", "--dir", s.dir, "--daemonize", "no", "--loglevel", "warning"}
	}
	cmd := exec.Command("redis-server", args...)
	log := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = log, log
	// The server dies with the test binary, even one killed by a timeout.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	s.mu.Lock()
	s.cmd, s.exited, s.log = cmd, exited, log
	s.mu.Unlock()

	c := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case <-exited:
			return fmt.Errorf("redis-server exited at start: %s", strings.TrimSpace(log.String()))
		default:
		}
		if c.Ping(context.Background()).Err() == nil {
			// The port may have been taken between freePort and the
			// start, by another test binary's server: that one answers
			// while this one exits.
			info, err := c.Info(context.Background(), "server").Result()
			if err != nil || !strings.Contains(info, fmt.Sprintf("process_id:%d\r", cmd.Process.Pid)) {
				s.kill()
				return errors.New("another server answers on the port")
			}
			return nil
		}
		if time.Now().After(deadline) {
			s.kill()
			return errors.New("redis-server did not answer PING within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Addr is host:port.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// URL is the redis:// URL of the server.
func (s *Server) URL() string { return "redis://" + s.Addr() }

// Client returns a client of the server for t, closed when t ends.
func (s *Server) Client(t testing.TB) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: s.Addr()})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Stop ends the server (SIGKILL: an outage, not a shutdown); a stopped
// server may be started again with Restart.
func (s *Server) Stop() { s.kill() }

func (s *Server) kill() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-exited
}

// Restart starts a stopped server again on the same port; with
// Options.Persist it finds its data again.
func (s *Server) Restart() {
	s.t.Helper()
	s.kill()
	var err error
	for range 50 {
		if err = s.start(); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond) // the port may be a moment in TIME_WAIT
	}
	s.t.Fatalf("restarting redis-server: %v", err)
}

// startOnFreePort starts the server on a free loopback port, trying
// another port when one is taken between choosing it and binding it.
func (s *Server) startOnFreePort() error {
	var err error
	for range 5 {
		if s.port, err = freePort(); err != nil {
			continue
		}
		if err = s.start(); err == nil {
			return nil
		}
	}
	return err
}

// CommandCalls returns how many times each command ran since the server
// started (INFO commandstats), by lower-case name.
func (s *Server) CommandCalls(t testing.TB) map[string]int {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: s.Addr()})
	defer c.Close()
	info, err := c.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatalf("INFO commandstats: %v", err)
	}
	calls := map[string]int{}
	for line := range strings.Lines(info) {
		name, stats, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || !strings.HasPrefix(name, "cmdstat_") {
			continue
		}
		for field := range strings.SplitSeq(stats, ",") {
			if v, found := strings.CutPrefix(field, "calls="); found {
				calls[strings.TrimPrefix(name, "cmdstat_")], _ = strconv.Atoi(v)
			}
		}
	}
	return calls
}

// Dir is the server's working folder (its append-only file, with Persist).
func (s *Server) Dir() string { return filepath.Clean(s.dir) }
