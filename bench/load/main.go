// Command load is the load half of `make bench`: it serves a realistic
// configuration (1,000 clients, 100 servers, groups, impersonation) with the
// real tollgate binary and the bare baseline handler (bench/baseline), drives
// both with wrk over loopback at 1, 16 and 64 connections, and prints
// tokens/s, p50/p99 latency, server CPU per token and peak RSS, with the
// ratio tollgate/baseline. It then loads and reloads 10,000 clients and
// measures time, memory, and serving while reloading.
//
// It needs wrk (Debian package wrk); it installs it with apt-get when it is
// missing and it runs as root.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	duration := flag.Duration("duration", 10*time.Second, "length of each wrk run")
	conns := flag.String("connections", "1,16,64", "connection counts to run")
	bin := flag.String("tollgate", "bin/tollgate", "the tollgate binary")
	flag.Parse()
	if err := run(*bin, *duration, *conns); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// result is one wrk run against one server.
type result struct {
	conns     int
	rps       float64
	p50, p99  time.Duration
	cpuPerTok time.Duration
	errors    int
}

func run(bin string, duration time.Duration, connList string) error {
	if err := ensureWrk(); err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "tollgate-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	baselineBin := filepath.Join(work, "baseline")
	if out, err := exec.Command("go", "build", "-o", baselineBin, "./bench/baseline").CombinedOutput(); err != nil {
		return fmt.Errorf("building the baseline: %v\n%s", err, out)
	}
	cfgDir := filepath.Join(work, "config")
	if err := writeConfig(cfgDir, 1000, 100); err != nil {
		return err
	}

	var counts []int
	for _, c := range strings.Split(connList, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(c))
		if err != nil {
			return fmt.Errorf("--connections: %v", err)
		}
		counts = append(counts, n)
	}

	fmt.Printf("machine: %d cores (GOMAXPROCS of the servers = all); wrk -t2, %s per run, loopback, load generator on the same cores\n", numCPU(), duration)
	fmt.Println("workload: repeated identical requests, client_secret_basic, one audience, one scope, ES256")
	fmt.Println()

	base, err := startProc(baselineBin, "--addr", "127.0.0.1:0")
	if err != nil {
		return err
	}
	baseResults, baseRSS, err := drive(base, counts, duration, "bench-client", "bench-client-secret-0123456789abcdef0123456789abcdef", "")
	base.stop()
	if err != nil {
		return err
	}

	tg, err := startProc(bin, "serve", "--config", cfgDir, "--policies", "policies", "--addr", "127.0.0.1:0",
		"--audit-log", filepath.Join(work, "audit.log"), "--watch=false")
	if err != nil {
		return err
	}
	tgResults, tgRSS, err := drive(tg, counts, duration, "client-0001", benchSecret(1), "audience=server-001&scope=read")
	tg.stop()
	if err != nil {
		return err
	}

	fmt.Printf("%-6s | %-28s | %-28s | %s\n", "conns", "baseline tok/s  p50  p99  cpu/tok", "tollgate tok/s  p50  p99  cpu/tok", "tollgate/baseline tok/s, cpu/tok, p99")
	for i := range counts {
		b, t := baseResults[i], tgResults[i]
		fmt.Printf("%-6d | %8.0f %6s %6s %7s | %8.0f %6s %6s %7s | %.2f, %.2f, %.2f\n", b.conns,
			b.rps, short(b.p50), short(b.p99), short(b.cpuPerTok),
			t.rps, short(t.p50), short(t.p99), short(t.cpuPerTok),
			t.rps/b.rps, float64(t.cpuPerTok)/float64(b.cpuPerTok), float64(t.p99)/float64(b.p99))
		if b.errors+t.errors > 0 {
			fmt.Printf("       non-2xx or socket errors: baseline %d, tollgate %d\n", b.errors, t.errors)
		}
	}
	fmt.Printf("peak RSS: baseline %d MiB, tollgate %d MiB (1,000 clients)\n\n", baseRSS>>10, tgRSS>>10)

	return bigConfig(bin, work, duration)
}

// bigConfig measures 10,000 clients: start-up load, RSS, reload time, and
// throughput while reloads run.
func bigConfig(bin, work string, duration time.Duration) error {
	cfgDir := filepath.Join(work, "config-10k")
	if err := writeConfig(cfgDir, 10000, 100); err != nil {
		return err
	}
	started := time.Now()
	tg, err := startProc(bin, "serve", "--config", cfgDir, "--policies", "policies", "--addr", "127.0.0.1:0",
		"--audit-log", filepath.Join(work, "audit-10k.log"), "--watch=false")
	if err != nil {
		return err
	}
	defer tg.stop()
	fmt.Printf("10,000 clients: start to listening %s, RSS %d MiB\n", time.Since(started).Round(time.Millisecond), rssKiB(tg.cmd.Process.Pid, "VmRSS")>>10)

	// Reload once, alone, and read how long it took from the log.
	reloads := tg.watchLog(regexp.MustCompile(`configuration reloaded .*took=(\S+)`))
	_ = tg.cmd.Process.Signal(syscall.SIGHUP)
	select {
	case took := <-reloads:
		fmt.Printf("10,000 clients: reload took %s, RSS after %d MiB\n", took, rssKiB(tg.cmd.Process.Pid, "VmRSS")>>10)
	case <-time.After(30 * time.Second):
		return fmt.Errorf("no reload logged within 30s")
	}

	// Throughput with and without a reload every second.
	quiet, err := wrk(tg.url, 16, duration, "client-0001", benchSecret(1), "audience=server-001&scope=read")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				_ = tg.cmd.Process.Signal(syscall.SIGHUP)
			}
		}
	}()
	busy, err := wrk(tg.url, 16, duration, "client-0001", benchSecret(1), "audience=server-001&scope=read")
	cancel()
	if err != nil {
		return err
	}
	fmt.Printf("10,000 clients, 16 conns: %.0f tok/s quiet, %.0f tok/s with a reload every second (%.2f), errors %d; peak RSS %d MiB\n",
		quiet.rps, busy.rps, busy.rps/quiet.rps, busy.errors, rssKiB(tg.cmd.Process.Pid, "VmHWM")>>10)
	return nil
}

func drive(p *proc, counts []int, duration time.Duration, id, secret, params string) ([]result, int, error) {
	// Warm up: caches, connection pools, the JIT-free Go runtime's heap.
	if _, err := wrk(p.url, 16, 2*time.Second, id, secret, params); err != nil {
		return nil, 0, err
	}
	var out []result
	for _, c := range counts {
		before := cpuTicks(p.cmd.Process.Pid)
		r, err := wrk(p.url, c, duration, id, secret, params)
		if err != nil {
			return nil, 0, err
		}
		ticks := cpuTicks(p.cmd.Process.Pid) - before
		total := r.rps * duration.Seconds()
		if total > 0 {
			r.cpuPerTok = time.Duration(float64(ticks) * float64(time.Second) / clockTicks / total)
		}
		out = append(out, r)
	}
	return out, rssKiB(p.cmd.Process.Pid, "VmHWM"), nil
}

func short(d time.Duration) string {
	switch {
	case d >= time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%dµs", d/time.Microsecond)
	}
}

func ensureWrk() error {
	if _, err := exec.LookPath("wrk"); err == nil {
		return nil
	}
	fmt.Fprintln(os.Stderr, "wrk not found: installing the Debian package")
	for _, args := range [][]string{{"update", "-qq"}, {"install", "-y", "-qq", "wrk"}} {
		cmd := exec.Command("apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("apt-get %s: %v\n%s", args[0], err, out)
		}
	}
	return nil
}

// proc is a server process started for the run.
type proc struct {
	cmd   *exec.Cmd
	url   string
	lines chan string
}

func startProc(bin string, args ...string) (*proc, error) {
	cmd := exec.Command(bin, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &proc{cmd: cmd, lines: make(chan string, 1024)}
	found := make(chan string, 1)
	listening := regexp.MustCompile(`listening on (http://\S+)`)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			if m := listening.FindStringSubmatch(line); m != nil {
				found <- m[1]
			}
			select {
			case p.lines <- line:
			default:
			}
		}
	}()
	select {
	case p.url = <-found:
		return p, nil
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		return nil, fmt.Errorf("%s did not start listening within 60s", bin)
	}
}

// watchLog returns the first submatch of each later log line matching re.
func (p *proc) watchLog(re *regexp.Regexp) <-chan string {
	out := make(chan string, 16)
	go func() {
		for line := range p.lines {
			if m := re.FindStringSubmatch(line); m != nil {
				out <- m[1]
			}
		}
	}()
	return out
}

func (p *proc) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
	}
}

var (
	reRPS     = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)
	reLatency = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([\d.]+)(us|ms|s)`)
	reNon2xx  = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	reSockErr = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
)

func wrk(url string, conns int, duration time.Duration, id, secret, params string) (result, error) {
	script, err := os.CreateTemp("", "wrk-*.lua")
	if err != nil {
		return result{}, err
	}
	defer os.Remove(script.Name())
	body := "grant_type=client_credentials"
	if params != "" {
		body += "&" + params
	}
	fmt.Fprintf(script, "wrk.method = \"POST\"\nwrk.body = %q\nwrk.headers[\"Content-Type\"] = \"application/x-www-form-urlencoded\"\nwrk.headers[\"Authorization\"] = \"Basic %s\"\n",
		body, basic(id, secret))
	script.Close()
	threads := 2
	if conns < threads {
		threads = conns
	}
	out, err := exec.Command("wrk", "-t", strconv.Itoa(threads), "-c", strconv.Itoa(conns), "-d", duration.String(),
		"--latency", "-s", script.Name(), url+"/oauth2/token").CombinedOutput()
	if err != nil {
		return result{}, fmt.Errorf("wrk: %v\n%s", err, out)
	}
	r := result{conns: conns}
	if m := reRPS.FindSubmatch(out); m != nil {
		r.rps, _ = strconv.ParseFloat(string(m[1]), 64)
	}
	for _, m := range reLatency.FindAllSubmatch(out, -1) {
		v, _ := strconv.ParseFloat(string(m[2]), 64)
		unit := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second}[string(m[3])]
		d := time.Duration(v * float64(unit))
		if string(m[1]) == "50" {
			r.p50 = d
		} else {
			r.p99 = d
		}
	}
	if m := reNon2xx.FindSubmatch(out); m != nil {
		r.errors, _ = strconv.Atoi(string(m[1]))
	}
	if m := reSockErr.FindSubmatch(out); m != nil {
		for _, g := range m[1:] {
			n, _ := strconv.Atoi(string(g))
			r.errors += n
		}
	}
	return r, nil
}
