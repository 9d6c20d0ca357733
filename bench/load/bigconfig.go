package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/tollgate-dev/tollgate/engine/secret"
)

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
