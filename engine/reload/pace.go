package reload

import (
	"runtime/debug"
	"time"
)

// rest keeps a reload that parses many files from slowing the requests
// it runs beside: between two files, when requests arrived since the last
// rest (or, for the first, since the last reload), it sleeps reloadPause
// times as long as the last parse took, so the parsing takes at most
// 1/(1+reloadPause) of a core while the server is busy. An idle server
// reloads at full speed. A file is parsed in one go, so a single huge
// file is not spread out.
func (r *Reloader) rest(took time.Duration) {
	if r.requests.Swap(0) == 0 {
		return
	}
	r.sleep(reloadPause * took)
}

// reloadPause is how many times its parse time a busy reload rests after
// each file. Parsing, with the garbage collection it causes, is nearly
// all of a reload's cost (10,000 clients in 100 files: about 0.6 s of a
// core when every file changed). Measured with such reloads back to back
// on 2 cores under load, a pause of 3 kept 0.86 of the quiet throughput
// and 8 kept 0.96, each reload then taking 4 to 9 s instead of 0.6 s.
const reloadPause = 8

// returnLoadGarbage hands the memory a big reload used and dropped back
// to the operating system, once reloads pause for freeDelay. Parsing HCL
// allocates about 100 times the size of the files (10,000 clients:
// 2.7 MB of HCL, ~270 MB of garbage); left to the runtime's background scavenger,
// the process would keep that footprint for minutes. The forced
// collection costs tens of milliseconds of CPU and the pages given back
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
