package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/engine/secret"
)

// The state part's server and clients, added to the 1,000-client
// configuration in a file of their own.
const (
	stateServer       = "state-api"
	stateServerSecret = "state-api-secret-0123456789abcdef0123456789abcdef"
	stateLimited      = "state-limited"
	stateLimitedSec   = "state-limited-secret-0123456789abcdef0123456789abcdef"
	stateHolder       = "state-holder"
	stateHolderSec    = "state-holder-secret-0123456789abcdef0123456789abcdef"
)

// writeStateConfig adds a server that may introspect (it has a secret), a
// client whose rate_limit is too high ever to refuse, so that every token
// spends from its bucket, and a client whose token is introspected.
func writeStateConfig(dir string) error {
	src := fmt.Sprintf(`server %q {
  audience = "https://state-api.example"
  scopes = ["read"]
  secret { hash = %q }
}

client %q {
  secret { hash = %q }
  rate_limit = "100000000/s"
  access %q { scopes = ["read"] }
}

client %q {
  secret { hash = %q }
  access %q { scopes = ["read"] }
}
`, stateServer, secret.SHA256Hash(stateServerSecret),
		stateLimited, secret.SHA256Hash(stateLimitedSec), stateServer,
		stateHolder, secret.SHA256Hash(stateHolderSec), stateServer)
	return os.WriteFile(filepath.Join(dir, "state.hcl"), []byte(src), 0o644)
}

// stateLoad is one workload of the state part, against one server.
type stateLoad struct {
	p                      *proc
	path, id, secret, body string
}

// stateCompare serves the same configuration with --state memory and
// --state redis:// (a redis-server started on loopback for the run) and
// drives both in turns with three workloads: a token for a secret client
// without rate_limit (no round trip to Redis), a token for a client with
// a rate_limit (one script a token), and an introspection (one revocation
// look-up). redis-server's own CPU is counted too, since with --state
// redis:// it is part of what a request costs, and so are the commands it
// received, which show which path makes no round trip.
func stateCompare(bin, work string, duration time.Duration, connList string, rounds int) error {
	counts, err := connCounts(connList)
	if err != nil {
		return err
	}
	if err := ensureRedis(); err != nil {
		return err
	}
	cfgDir := filepath.Join(work, "config-state")
	if err := writeConfig(cfgDir, 1000, 100); err != nil {
		return err
	}
	if err := writeStateConfig(cfgDir); err != nil {
		return err
	}
	redis, addr, err := startRedis(work)
	if err != nil {
		return err
	}
	defer func() { _ = redis.Process.Kill(); _ = redis.Wait() }()

	servers := map[string]*proc{}
	for _, st := range []string{"memory", "redis://" + addr} {
		name := strings.SplitN(st, ":", 2)[0]
		p, err := startProc(bin, "serve", "--config", cfgDir, "--policies", "policies", "--addr", "127.0.0.1:0",
			"--audit-log", filepath.Join(work, "audit-state-"+name+".log"), "--watch=false", "--state", st)
		if err != nil {
			return err
		}
		defer p.stop()
		servers[name] = p
	}

	fmt.Printf("state: --state memory against --state redis://%s (redis-server on loopback, --save '' --appendonly no, on the same cores); wrk -t2, %s per run\n", addr, duration)
	fmt.Printf("same 1,000-client configuration; each figure the median of %d runs, the two servers taking turns; redis cpu/req is redis-server's CPU during the redis run\n\n", rounds)

	type workload struct {
		name string
		make func(p *proc) (stateLoad, error)
	}
	workloads := []workload{
		{"token, secret client without rate_limit (no round trip)", func(p *proc) (stateLoad, error) {
			return stateLoad{p, "/oauth2/token", "client-0001", benchSecret(1), "grant_type=client_credentials&audience=server-001&scope=read"}, nil
		}},
		{"token, secret client with rate_limit (one script a token)", func(p *proc) (stateLoad, error) {
			return stateLoad{p, "/oauth2/token", stateLimited, stateLimitedSec, "grant_type=client_credentials&audience=" + stateServer + "&scope=read"}, nil
		}},
		{"introspection by the server, with its secret (one revocation look-up)", func(p *proc) (stateLoad, error) {
			tok, err := fetchToken(p.url, stateHolder, stateHolderSec, stateServer)
			if err != nil {
				return stateLoad{}, err
			}
			return stateLoad{p, "/oauth2/introspect", stateServer, stateServerSecret, "token=" + url.QueryEscape(tok)}, nil
		}},
	}
	redisPid := redis.Process.Pid
	for _, w := range workloads {
		mem, err := w.make(servers["memory"])
		if err != nil {
			return err
		}
		red, err := w.make(servers["redis"])
		if err != nil {
			return err
		}
		// Each request is checked once, so that wrk measures answers, not
		// refusals.
		for _, l := range []stateLoad{mem, red} {
			if err := l.check(); err != nil {
				return fmt.Errorf("%s: %v", w.name, err)
			}
			if _, _, err := l.run(16, 2*time.Second, 0); err != nil {
				return err
			}
		}
		fmt.Printf("%s\n", w.name)
		cols := fmt.Sprintf("%8s %7s %7s %7s", "req/s", "p50", "p99", "cpu/req")
		fmt.Printf("%-6s | %-32s | %-32s | %-18s |\n", "", "--state memory", "--state redis://", "redis-server")
		fmt.Printf("%-6s | %s | %s | %7s %10s | %s\n", "conns", cols, cols, "cpu/req", "cmds/req", "redis/memory: req/s, cpu/req (tollgate + redis-server), p99")
		for _, c := range counts {
			var m, r []result
			var redisCPU, redisCmds []float64
			for round := range rounds {
				first := round%2 == 0
				for i := range 2 {
					if (i == 0) == first {
						res, _, err := mem.run(c, duration, 0)
						if err != nil {
							return err
						}
						m = append(m, res)
					} else {
						cmdsBefore, err := redisCommands(addr)
						if err != nil {
							return err
						}
						res, rc, err := red.run(c, duration, redisPid)
						if err != nil {
							return err
						}
						cmdsAfter, err := redisCommands(addr)
						if err != nil {
							return err
						}
						r = append(r, res)
						redisCPU = append(redisCPU, float64(rc))
						if total := res.rps * duration.Seconds(); total > 0 {
							// Less the INFO that read the count.
							redisCmds = append(redisCmds, float64(cmdsAfter-cmdsBefore-1)/total)
						}
					}
				}
			}
			mm, rm := median(m), median(r)
			rcpu := time.Duration(medianOf(redisCPU))
			var cmds float64
			if len(redisCmds) > 0 {
				cmds = medianOf(redisCmds)
			}
			fmt.Printf("%-6d | %8.0f %7s %7s %7s | %8.0f %7s %7s %7s | %7s %10.2f | %.2f, %.2f, %.2f\n", c,
				mm.rps, short(mm.p50), short(mm.p99), short(mm.cpuPerTok),
				rm.rps, short(rm.p50), short(rm.p99), short(rm.cpuPerTok), short(rcpu), cmds,
				rm.rps/mm.rps, float64(rm.cpuPerTok+rcpu)/float64(mm.cpuPerTok), float64(rm.p99)/float64(mm.p99))
			if mm.errors+rm.errors > 0 {
				fmt.Printf("       non-2xx or socket errors: memory %d, redis %d\n", mm.errors, rm.errors)
			}
		}
		fmt.Println()
	}
	return nil
}

// run drives the server with wrk and measures its CPU time per request,
// and redis-server's when redisPid is not 0.
func (l stateLoad) run(conns int, duration time.Duration, redisPid int) (result, time.Duration, error) {
	pid := l.p.cmd.Process.Pid
	before, redisBefore := cpuTicks(pid), int64(0)
	if redisPid != 0 {
		redisBefore = cpuTicks(redisPid)
	}
	r, err := wrkPost(l.p.url+l.path, conns, duration, l.id, l.secret, l.body)
	if err != nil {
		return r, 0, err
	}
	ticks := cpuTicks(pid) - before
	var redisTicks int64
	if redisPid != 0 {
		redisTicks = cpuTicks(redisPid) - redisBefore
	}
	var redisPerReq time.Duration
	if total := r.rps * duration.Seconds(); total > 0 {
		r.cpuPerTok = time.Duration(float64(ticks) * float64(time.Second) / clockTicks / total)
		redisPerReq = time.Duration(float64(redisTicks) * float64(time.Second) / clockTicks / total)
	}
	return r, redisPerReq, nil
}

// check sends the request once and wants 200, and for an introspection an
// active token: an inactive answer is a 200 too, and far cheaper.
func (l stateLoad) check() error {
	req, err := http.NewRequest(http.MethodPost, l.p.url+l.path, strings.NewReader(l.body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Basic "+basic(l.id, l.secret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var body struct {
		Active *bool `json:"active"`
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %d", l.path, resp.StatusCode)
	}
	if l.path == "/oauth2/introspect" {
		if err := json.Unmarshal(raw, &body); err != nil || body.Active == nil || !*body.Active {
			return fmt.Errorf("introspection did not say active")
		}
	}
	return nil
}

// fetchToken gets one access token for audience from the server at base.
func fetchToken(base, id, sec, audience string) (string, error) {
	req, err := http.NewRequest(http.MethodPost, base+"/oauth2/token",
		strings.NewReader("grant_type=client_credentials&scope=read&audience="+url.QueryEscape(audience)))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Basic "+basic(id, sec))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("token request for the introspection answered %d", resp.StatusCode)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&body); err != nil || body.AccessToken == "" {
		return "", fmt.Errorf("token request for the introspection: no access_token")
	}
	return body.AccessToken, nil
}

// redisCommands reads redis-server's count of commands processed (INFO
// stats), to show which requests reach it at all. The count takes in the
// calls a script makes, so one script run counts for more than one.
func redisCommands(addr string) (int64, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("INFO stats\r\n")); err != nil {
		return 0, err
	}
	rd := bufio.NewReader(c)
	head, err := rd.ReadString('\n')
	if err != nil || !strings.HasPrefix(head, "$") {
		return 0, fmt.Errorf("redis INFO: unexpected answer %q", head)
	}
	n, err := strconv.Atoi(strings.TrimSpace(head[1:]))
	if err != nil {
		return 0, fmt.Errorf("redis INFO: %v", err)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(rd, body); err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(body), "\r\n") {
		if v, ok := strings.CutPrefix(line, "total_commands_processed:"); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, fmt.Errorf("redis INFO: no total_commands_processed")
}

// ensureRedis installs redis-server (Debian's package) when it is missing,
// as ensureWrk does wrk.
func ensureRedis() error {
	if _, err := exec.LookPath("redis-server"); err == nil {
		return nil
	}
	fmt.Fprintln(os.Stderr, "redis-server not found: installing the Debian package")
	for _, args := range [][]string{{"update", "-qq"}, {"install", "-y", "-qq", "redis-server"}} {
		cmd := exec.Command("apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("redis-server is needed for --only state: apt-get %s: %v\n%s", args[0], err, out)
		}
	}
	if _, err := exec.LookPath("redis-server"); err != nil {
		return fmt.Errorf("redis-server is needed for --only state and is still missing after apt-get install")
	}
	return nil
}

// startRedis starts a redis-server that keeps nothing on disk on a free
// loopback port, and waits until it answers PING.
func startRedis(work string) (*exec.Cmd, string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command("redis-server", "--bind", "127.0.0.1", "--port", strconv.Itoa(port),
		"--save", "", "--appendonly", "no", "--dir", work)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		return nil, "", fmt.Errorf("starting redis-server: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			_ = c.SetDeadline(time.Now().Add(time.Second))
			_, _ = c.Write([]byte("PING\r\n"))
			line, _ := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if strings.HasPrefix(line, "+PONG") {
				return cmd, addr, nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	return nil, "", fmt.Errorf("redis-server on %s did not answer PING within 10s", addr)
}
