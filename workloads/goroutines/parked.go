// parked.go: N goroutines parked at once, each blocked receiving from one
// shared channel, then released by closing it. Reports the resident memory
// each parked goroutine costs. Peer of goheap's goroutines suite row
// "parked" (workloads/suites.toml, issue 10).
//
// Usage: parked [N]   (default 1000000)
// stdout: `parked N goroutines, released N`. stderr: `metric
// rss_per_goroutine_bytes ...` (growth of VmRSS from before the first spawn
// to when all are parked, divided by N) and `metric ms ...`.
package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	n := countArg(1000000)
	before := residentBytes()
	start := time.Now()
	release := make(chan struct{})
	var started, finished sync.WaitGroup
	var released atomic.Int64
	for i := 0; i < n; i++ {
		started.Add(1)
		finished.Add(1)
		go func() {
			started.Done()
			<-release
			released.Add(1)
			finished.Done()
		}()
	}
	started.Wait()
	runtime.Gosched() // the last ones reach the receive
	perGoroutine := float64(residentBytes()-before) / float64(n)
	close(release)
	finished.Wait()
	elapsed := time.Since(start)
	fmt.Printf("parked %d goroutines, released %d\n", n, released.Load())
	fmt.Fprintf(os.Stderr, "metric rss_per_goroutine_bytes %.0f\n", perGoroutine)
	fmt.Fprintf(os.Stderr, "metric ms %.1f\n", float64(elapsed)/1e6)
}

// residentBytes reads VmRSS from /proc/self/status.
func residentBytes() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		fmt.Fprintln(os.Stderr, "parked:", err)
		os.Exit(1)
	}
	defer f.Close()
	lines := bufio.NewScanner(f)
	for lines.Scan() {
		fields := strings.Fields(lines.Text()) // "VmRSS:", size, "kB"
		if len(fields) == 3 && fields[0] == "VmRSS:" {
			if kb, err := strconv.ParseInt(fields[1], 10, 64); err == nil {
				return kb * 1024
			}
		}
	}
	fmt.Fprintln(os.Stderr, "parked: no VmRSS in /proc/self/status")
	os.Exit(1)
	return 0
}

// countArg returns argv[1] as a positive count, or def when absent.
func countArg(def int) int {
	if len(os.Args) < 2 {
		return def
	}
	n, err := strconv.Atoi(os.Args[1])
	if err != nil || n < 1 {
		fmt.Fprintf(os.Stderr, "%s: bad count %q\n", os.Args[0], os.Args[1])
		os.Exit(2)
	}
	return n
}
