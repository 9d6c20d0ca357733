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
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tollgate-dev/tollgate/engine/secret"
)

func main() {
	duration := flag.Duration("duration", 5*time.Second, "length of each wrk run")
	conns := flag.String("connections", "1,16,64", "connection counts to run")
	rounds := flag.Int("rounds", 3, "runs per server and connection count, alternating servers; medians are reported")
	bin := flag.String("tollgate", "bin/tollgate", "the tollgate binary")
	only := flag.String("only", "", `run one part: "compare" (tollgate against the baseline), "state" (--state memory against --state redis://) or "10k" (10,000 clients: load, memory, reloads)`)
	flag.Parse()
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

// bigConfig measures 10,000 clients: start-up load, memory, reload time,
// and throughput while reloads run back to back. It runs the server twice:
// as it comes, and with GOMEMLIMIT=140MiB (the README's advice for
// holding memory down through reloads).
func bigConfig(bin, work string, duration time.Duration, rounds int) error {
	cfgDir := filepath.Join(work, "config-10k")
	if err := writeConfig(cfgDir, 10000, 100); err != nil {
		return err
	}
	for _, memLimit := range []string{"", "140MiB"} {
		if err := bigRun(bin, work, cfgDir, memLimit, duration, rounds); err != nil {
			return err
		}
	}
	return nil
}

func bigRun(bin, work, cfgDir, memLimit string, duration time.Duration, rounds int) error {
	label := "10,000 clients"
	var env []string
	if memLimit != "" {
		label += ", GOMEMLIMIT=" + memLimit
		env = append(env, "GOMEMLIMIT="+memLimit)
	}
	started := time.Now()
	tg, err := startProcEnv(env, bin, "serve", "--config", cfgDir, "--policies", "policies", "--addr", "127.0.0.1:0",
		"--audit-log", filepath.Join(work, "audit-10k.log"), "--watch=false")
	if err != nil {
		return err
	}
	defer tg.stop()
	pid := tg.cmd.Process.Pid
	fmt.Printf("%s: start to listening %s, RSS %d MiB\n", label, time.Since(started).Round(time.Millisecond), rssKiB(pid, "VmRSS")>>10)

	// Reload once after an edit of one file (what a commit usually is),
	// then once after an edit of every file (a new bundle may be that),
	// and read how long each took from the log.
	reloads := tg.watchLog(regexp.MustCompile(`configuration reloaded.*took=(\S+)`))
	ed, err := newEditor(cfgDir)
	if err != nil {
		return err
	}
	for _, all := range []bool{false, true} {
		what := "one file"
		if all {
			what = "every file"
		}
		if err := ed.edit(all); err != nil {
			return err
		}
		_ = tg.cmd.Process.Signal(syscall.SIGHUP)
		select {
		case took := <-reloads:
			// A big reload's garbage goes back to the OS once reloads
			// pause for a second.
			time.Sleep(2 * time.Second)
			fmt.Printf("%s: reload after editing %s took %s, RSS 2 s after %d MiB, peak RSS %d MiB\n", label, what, took, rssKiB(pid, "VmRSS")>>10, rssKiB(pid, "VmHWM")>>10)
		case <-time.After(30 * time.Second):
			return fmt.Errorf("no reload logged within 30s")
		}
	}
	if memLimit != "" {
		return nil
	}

	// Throughput quiet, then while the configuration keeps changing: an
	// edit and a SIGHUP every second, or as soon as the last reload is
	// done when it took longer; first of one file each time, then of
	// every file. The three runs alternate for rounds rounds, and each
	// busy run is compared with the quiet run of its round.
	kinds := []string{"one file", "every file"}
	ratios := make([][]float64, len(kinds))
	reloadCount := make([]int, len(kinds))
	took := make([][]time.Duration, len(kinds))
	var quietRPS []float64
	for range rounds {
		quiet, err := wrk(tg.url, 16, duration, "client-0001", benchSecret(1), "audience=server-001&scope=read")
		if err != nil {
			return err
		}
		quietRPS = append(quietRPS, quiet.rps)
		for k, what := range kinds {
			busy, times, err := whileReloading(tg, reloads, ed, what == "every file", duration)
			if err != nil {
				return err
			}
			if busy.errors > 0 {
				return fmt.Errorf("%d failed requests while reloading after editing %s", busy.errors, what)
			}
			ratios[k] = append(ratios[k], busy.rps/quiet.rps)
			reloadCount[k] += len(times)
			took[k] = append(took[k], times...)
		}
	}
	fmt.Printf("%s, 16 conns: %.0f tok/s quiet (median of %d)\n", label, medianOf(quietRPS), rounds)
	for k, what := range kinds {
		fmt.Printf("%s, 16 conns: while reloading after editing %s (%d reloads, median %s each): %.2f of quiet (median of %d), no failed request; peak RSS %d MiB\n",
			label, what, reloadCount[k], medianDuration(took[k]).Round(time.Millisecond), medianOf(ratios[k]), rounds, rssKiB(pid, "VmHWM")>>10)
	}
	for len(reloads) > 0 {
		<-reloads
	}
	return nil
}

// whileReloading runs wrk at 16 connections while the configuration is
// edited and reloaded without pause (at most one reload a second), and
// returns the run and how long each reload took.
func whileReloading(tg *proc, reloads <-chan string, ed *editor, all bool, duration time.Duration) (result, []time.Duration, error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan []time.Duration)
	go func() {
		var took []time.Duration
		defer func() { done <- took }()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for ctx.Err() == nil {
			if err := ed.edit(all); err != nil {
				return
			}
			_ = tg.cmd.Process.Signal(syscall.SIGHUP)
			select {
			case s := <-reloads:
				d, _ := time.ParseDuration(s)
				took = append(took, d)
			case <-ctx.Done():
				// The reload under way is waited for, so the next run
				// starts with none in flight.
				select {
				case s := <-reloads:
					d, _ := time.ParseDuration(s)
					took = append(took, d)
				case <-time.After(30 * time.Second):
				}
				return
			}
			select {
			case <-tick.C:
			case <-ctx.Done():
				return
			}
		}
	}()
	busy, err := wrk(tg.url, 16, duration, "client-0001", benchSecret(1), "audience=server-001&scope=read")
	cancel()
	return busy, <-done, err
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

// editor changes the 10,000-client configuration the way a team would:
// each edit adds a client to a file and removes the one the last edit
// added there, so every reload sees new content and a new client.
type editor struct {
	dir   string
	files []string
	n     int
}

func newEditor(dir string) (*editor, error) {
	files, err := filepath.Glob(filepath.Join(dir, "clients-*.hcl"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no client files in %s: %v", dir, err)
	}
	return &editor{dir: dir, files: files}, nil
}

// edit changes the next file, or every file when all is true.
func (e *editor) edit(all bool) error {
	files := []string{e.files[e.n%len(e.files)]}
	if all {
		files = e.files
	}
	e.n++
	for _, path := range files {
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if i := bytes.Index(src, []byte("\n# edit ")); i >= 0 {
			src = src[:i+1]
		}
		id := fmt.Sprintf("edit-%s-%d", strings.TrimSuffix(filepath.Base(path), ".hcl"), e.n)
		src = fmt.Appendf(src, "# edit %d\nclient %q {\n  secret { hash = %q }\n  access \"server-001\" { scopes = [\"read\"] }\n}\n", e.n, id, secret.SHA256Hash(id))
		// Written aside and renamed over, as editors and git do, so a
		// reload never reads half a file.
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, src, 0o644); err != nil {
			return err
		}
		if err := os.Rename(tmp, path); err != nil {
			return err
		}
	}
	return nil
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

func startProc(bin string, args ...string) (*proc, error) { return startProcEnv(nil, bin, args...) }

// startProcEnv starts bin with extra environment variables.
func startProcEnv(env []string, bin string, args ...string) (*proc, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
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

// wrk drives url's token endpoint with a client_credentials request
// authenticated with client_secret_basic.
func wrk(url string, conns int, duration time.Duration, id, secret, params string) (result, error) {
	body := "grant_type=client_credentials"
	if params != "" {
		body += "&" + params
	}
	return wrkPost(url+"/oauth2/token", conns, duration, id, secret, body)
}

// wrkPost drives endpoint with one form POST, repeated, authenticated with
// HTTP Basic.
func wrkPost(endpoint string, conns int, duration time.Duration, id, secret, body string) (result, error) {
	script, err := os.CreateTemp("", "wrk-*.lua")
	if err != nil {
		return result{}, err
	}
	defer os.Remove(script.Name())
	fmt.Fprintf(script, "wrk.method = \"POST\"\nwrk.body = %q\nwrk.headers[\"Content-Type\"] = \"application/x-www-form-urlencoded\"\nwrk.headers[\"Authorization\"] = \"Basic %s\"\n",
		body, basic(id, secret))
	script.Close()
	threads := 2
	if conns < threads {
		threads = conns
	}
	out, err := exec.Command("wrk", "-t", strconv.Itoa(threads), "-c", strconv.Itoa(conns), "-d", duration.String(),
		"--latency", "-s", script.Name(), endpoint).CombinedOutput()
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
