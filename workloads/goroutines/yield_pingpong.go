// yield_pingpong.go: the cost of a goroutine switch. Two goroutines on one P
// (GOMAXPROCS 1) call runtime.Gosched N times each, so that every yield
// switches to the other. Peer of goheap's goroutines suite row
// "yield-pingpong" (workloads/suites.toml, issue 10; goheap's variant runs
// with GOHEAP_MAXPROCS=1).
//
// Usage: yield_pingpong [N]   (default 5000000)
// stdout: `2 goroutines yielded N times each`. stderr: `metric ns_per_op ...`
// (wall time per yield, i.e. per switch).
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"
)

func main() {
	n := countArg(5000000)
	runtime.GOMAXPROCS(1)
	var wg sync.WaitGroup
	start := time.Now()
	for g := 0; g < 2; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < n; i++ {
				runtime.Gosched()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	fmt.Printf("2 goroutines yielded %d times each\n", n)
	fmt.Fprintf(os.Stderr, "metric ns_per_op %.1f\n", float64(elapsed)/float64(2*n))
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
