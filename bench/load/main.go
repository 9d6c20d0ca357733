// Command load is the load half of `make bench`: it serves a realistic
// configuration (1,000 clients, 100 servers, groups, impersonation) with the
// real tollgate binary and the bare baseline handler (bench/baseline), drives
// both with wrk over loopback at 1, 16 and 64 connections, and prints
// tokens/s, p50/p99 latency, server CPU per token and peak RSS, with the
// ratio tollgate/baseline. It then serves the same configuration with
// --state memory and with --state redis:// (a redis-server of its own on
// loopback) and compares tokens with and without rate_limit and
// introspections, counting redis-server's CPU too. Last it loads and
// reloads 10,000 clients and measures time, memory, and serving while
// reloading.
//
// It needs wrk and redis-server (Debian packages wrk, redis-server); it
// installs them with apt-get when they are missing and it runs as root.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

func main() {
	duration := flag.Duration("duration", 5*time.Second, "length of each wrk run")
	conns := flag.String("connections", "1,16,64", "connection counts to run")
	rounds := flag.Int("rounds", 3, "runs per server and connection count, alternating servers; medians are reported")
	bin := flag.String("tollgate", "bin/tollgate", "the tollgate binary")
	only := flag.String("only", "", `run one part: "compare" (tollgate against the baseline), "state" (--state memory against --state redis://) or "10k" (10,000 clients: load, memory, reloads)`)
	writeDir := flag.String("write-config", "", "only write the 10,000-client configuration into this folder (for timing `tollgate check`, access, plan by hand) and exit")
	flag.Parse()
	if *writeDir != "" {
		if err := writeConfig(*writeDir, 10000, 100); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if *only != "" && *only != "compare" && *only != "state" && *only != "10k" {
		fmt.Fprintln(os.Stderr, `bench: --only: want "compare", "state" or "10k"`)
		os.Exit(2)
	}
	if err := run(*bin, *duration, *conns, *rounds, *only); err != nil {
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

func run(bin string, duration time.Duration, connList string, rounds int, only string) error {
	if err := ensureWrk(); err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "tollgate-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	if only == "" || only == "compare" {
		if err := compare(bin, work, duration, connList, rounds); err != nil {
			return err
		}
	}
	if only == "" || only == "state" {
		if err := stateCompare(bin, work, duration, connList, rounds); err != nil {
			return err
		}
	}
	if only == "" || only == "10k" {
		return bigConfig(bin, work, duration, rounds)
	}
	return nil
}

// compare runs the baseline and tollgate in turns at each connection
// count and prints both with their ratios.
func compare(bin, work string, duration time.Duration, connList string, rounds int) error {
	baselineBin := filepath.Join(work, "baseline")
	if out, err := exec.Command("go", "build", "-o", baselineBin, "./bench/baseline").CombinedOutput(); err != nil {
		return fmt.Errorf("building the baseline: %v\n%s", err, out)
	}
	cfgDir := filepath.Join(work, "config")
	if err := writeConfig(cfgDir, 1000, 100); err != nil {
		return err
	}

	counts, err := connCounts(connList)
	if err != nil {
		return err
	}

	fmt.Printf("machine: %d cores (GOMAXPROCS of the servers = all); wrk -t2, %s per run, loopback, load generator on the same cores\n", numCPU(), duration)
	fmt.Printf("workload: repeated identical requests, client_secret_basic, one audience, one scope, ES256; 1,000 clients\n")
	fmt.Printf("each figure is the median of %d runs, the two servers taking turns, so that the machine's drift hits both alike\n\n", rounds)

	base, err := startProc(baselineBin, "--addr", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer base.stop()
	tg, err := startProc(bin, "serve", "--config", cfgDir, "--policies", "policies", "--addr", "127.0.0.1:0",
		"--audit-log", filepath.Join(work, "audit.log"), "--watch=false")
	if err != nil {
		return err
	}
	defer tg.stop()
	baseLoad := load{p: base, id: "bench-client", secret: "bench-client-secret-0123456789abcdef0123456789abcdef"}
	tgLoad := load{p: tg, id: "client-0001", secret: benchSecret(1), params: "audience=server-001&scope=read"}
	// Warm up: caches, connection pools, the runtime's heap.
	for _, l := range []load{baseLoad, tgLoad} {
		if _, err := l.run(16, 2*time.Second); err != nil {
			return err
		}
	}

	fmt.Printf("%-6s | %-30s | %-30s | %s\n", "conns", "baseline tok/s   p50    p99 cpu/tok", "tollgate tok/s   p50    p99 cpu/tok", "tollgate/baseline: tok/s, cpu/tok, p99")
	for _, c := range counts {
		var b, t []result
		for r := range rounds {
			order := []*[]result{&b, &t}
			loads := []load{baseLoad, tgLoad}
			if r%2 == 1 {
				order[0], order[1], loads[0], loads[1] = order[1], order[0], loads[1], loads[0]
			}
			for i, l := range loads {
				res, err := l.run(c, duration)
				if err != nil {
					return err
				}
				*order[i] = append(*order[i], res)
			}
		}
		bm, tm := median(b), median(t)
		fmt.Printf("%-6d | %8.0f %7s %7s %7s | %8.0f %7s %7s %7s | %.2f, %.2f, %.2f\n", c,
			bm.rps, short(bm.p50), short(bm.p99), short(bm.cpuPerTok),
			tm.rps, short(tm.p50), short(tm.p99), short(tm.cpuPerTok),
			tm.rps/bm.rps, float64(tm.cpuPerTok)/float64(bm.cpuPerTok), float64(tm.p99)/float64(bm.p99))
		if bm.errors+tm.errors > 0 {
			fmt.Printf("       non-2xx or socket errors: baseline %d, tollgate %d\n", bm.errors, tm.errors)
		}
	}
	fmt.Printf("peak RSS: baseline %d MiB, tollgate %d MiB (1,000 clients)\n\n",
		rssKiB(base.cmd.Process.Pid, "VmHWM")>>10, rssKiB(tg.cmd.Process.Pid, "VmHWM")>>10)
	return nil
}

// connCounts reads the --connections list.
func connCounts(list string) ([]int, error) {
	var counts []int
	for _, c := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(c))
		if err != nil {
			return nil, fmt.Errorf("--connections: %v", err)
		}
		counts = append(counts, n)
	}
	return counts, nil
}

// median takes each figure's median over runs (errors are summed).
func median(rs []result) result {
	pick := func(f func(result) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		sort.Float64s(v)
		return v[len(v)/2]
	}
	out := result{conns: rs[0].conns}
	out.rps = pick(func(r result) float64 { return r.rps })
	out.p50 = time.Duration(pick(func(r result) float64 { return float64(r.p50) }))
	out.p99 = time.Duration(pick(func(r result) float64 { return float64(r.p99) }))
	out.cpuPerTok = time.Duration(pick(func(r result) float64 { return float64(r.cpuPerTok) }))
	for _, r := range rs {
		out.errors += r.errors
	}
	return out
}

// load is a token request to drive one server with.
type load struct {
	p                  *proc
	id, secret, params string
}

// run drives the server with wrk and measures its CPU time per token.
func (l load) run(conns int, duration time.Duration) (result, error) {
	before := cpuTicks(l.p.cmd.Process.Pid)
	r, err := wrk(l.p.url, conns, duration, l.id, l.secret, l.params)
	if err != nil {
		return r, err
	}
	ticks := cpuTicks(l.p.cmd.Process.Pid) - before
	if total := r.rps * duration.Seconds(); total > 0 {
		r.cpuPerTok = time.Duration(float64(ticks) * float64(time.Second) / clockTicks / total)
	}
	return r, nil
}

func medianOf(v []float64) float64 {
	v = append([]float64(nil), v...)
	sort.Float64s(v)
	return v[len(v)/2]
}

func medianDuration(v []time.Duration) time.Duration {
	if len(v) == 0 {
		return 0
	}
	v = append([]time.Duration(nil), v...)
	sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
	return v[len(v)/2]
}

func short(d time.Duration) string {
	switch {
	case d >= time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%dµs", d/time.Microsecond)
	}
}
