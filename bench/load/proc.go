package main

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

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
