package reload

import (
	"runtime/debug"
	"time"
)

// yieldToRequests keeps a reload that parses many files from slowing the requests
// it runs beside: between two files, when requests arrived since the last
// call (or, for the first, since the last reload), it sleeps reloadPause
// times as long as the last parse took, so the parsing takes at most
// 1/(1+reloadPause) of a core while the server is busy. An idle server
// reloads at full speed. A file is parsed in one go, so a single huge
// file is not spread out.
func (r *Reloader) yieldToRequests(took time.Duration) {
	if r.requests.Swap(0) == 0 {
		return
	}
	r.sleep(reloadPause * took)
}

// reloadPause is how many times its parse time a busy reload rests after
// each file. Parsing, with the garbage collection it causes, is nearly
// all of a reload's cost, so the pause trades the reload's wall time for
// the throughput of the requests beside it; docs/performance.md has the
// measurement that chose it.
const reloadPause = 8

// returnLoadGarbage hands the memory a big reload used and dropped back
// to the operating system, once reloads pause for freeDelay. Parsing HCL
// allocates many times the size of the files; left to the runtime's
// background scavenger, the process would keep that footprint for
// minutes. The forced collection costs CPU and the pages given back
// are faulted in again by the next big load, so it is skipped after a
// small reload (one edited file: its garbage is left to the scavenger),
// and put off while big reloads follow each other.
func (r *Reloader) returnLoadGarbage(parsed int) {
	if parsed < bigParse {
		return
	}
	if r.freeLater == nil {
		r.freeLater = time.AfterFunc(freeDelay, debug.FreeOSMemory)
		return
	}
	r.freeLater.Reset(freeDelay)
}

// bigParse is the HCL a load must parse for its garbage to be returned:
// about 50 MB of garbage, or 2,000 clients of `make bench`'s kind.
const bigParse = 512 << 10

// freeDelay is how long reloads must pause before a big one's garbage is
// returned.
const freeDelay = time.Second
