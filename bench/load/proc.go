package main

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tollgate-dev/tollgate/engine/secret"
)

// clockTicks is USER_HZ, the unit of /proc/PID/stat times (100 on Linux).
const clockTicks = 100

func numCPU() int { return runtime.NumCPU() }

// cpuTicks is the process's user + system time in clock ticks.
func cpuTicks(pid int) int64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name may hold spaces; fields start after its ")".
	fields := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+1:]))
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	return utime + stime
}

// rssKiB reads VmRSS or VmHWM (peak) from /proc/PID/status.
func rssKiB(pid int, field string) int {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(line, field+":") {
			n, _ := strconv.Atoi(strings.Fields(line)[1])
			return n
		}
	}
	return 0
}

func basic(id, secret string) string {
	return base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id) + ":" + url.QueryEscape(secret)))
}

func benchSecret(i int) string {
	return fmt.Sprintf("bench-secret-%05d-0123456789abcdef0123456789abcdef", i)
}

// writeConfig writes a realistic configuration: servers with scopes, every
// client with a sha256 secret and access to a few servers, groups giving
// more access, and one client in ten impersonating a service account.
// Clients and their accounts go in files of 100, as teams keep them.
func writeConfig(dir string, clients, servers int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString("settings {\n  default_token_ttl = \"1h\"\n  max_token_ttl = \"24h\"\n}\n\n")
	for s := 1; s <= servers; s++ {
		fmt.Fprintf(&b, "server \"server-%03d\" {\n  audience = \"https://api-%03d.example\"\n  scopes = [\"read\", \"write\", \"admin\"]\n}\n\n", s, s)
	}
	groups := servers / 5
	for g := 1; g <= groups; g++ {
		var members []string
		for c := g; c <= clients; c += groups * 3 {
			members = append(members, strconv.Quote(fmt.Sprintf("client-%04d", c)))
		}
		for a := g; a <= clients/10; a += groups {
			members = append(members, strconv.Quote(fmt.Sprintf("account-%04d", a)))
		}
		fmt.Fprintf(&b, "group \"group-%03d\" {\n  members = [%s]\n  access \"server-%03d\" { scopes = [\"read\", \"write\"] }\n}\n\n",
			g, strings.Join(members, ", "), (g*5)%servers+1)
	}
	if err := os.WriteFile(filepath.Join(dir, "servers.hcl"), []byte(b.String()), 0o644); err != nil {
		return err
	}
	for first := 1; first <= clients; first += 100 {
		b.Reset()
		for c := first; c < first+100 && c <= clients; c++ {
			id := fmt.Sprintf("client-%04d", c)
			fmt.Fprintf(&b, "client %q {\n  name = \"Bench client %d\"\n  secret { hash = %q }\n", id, c, secret.SHA256Hash(benchSecret(c)))
			fmt.Fprintf(&b, "  access \"server-001\" { scopes = [\"read\"] }\n")
			fmt.Fprintf(&b, "  access \"server-%03d\" { scopes = [\"read\", \"write\"] }\n", c%(servers-1)+2)
			if c%10 == 0 {
				fmt.Fprintf(&b, "  impersonate = \"account-%04d\"\n", c/10)
			}
			b.WriteString("}\n\n")
			if c%10 == 0 {
				fmt.Fprintf(&b, "account \"account-%04d\" {\n  impersonators = [%q]\n  attributes = { team = \"team-%d\" }\n}\n\n", c/10, id, (c/10)%7)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("clients-%05d.hcl", first)), []byte(b.String()), 0o644); err != nil {
			return err
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
