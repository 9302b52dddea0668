// spawn.go: goroutine spawn + exit. The main goroutine starts N goroutines
// one after another; each adds its number to a shared sum and exits; a
// WaitGroup waits for all. Peer of goheap's goroutines suite row "spawn"
// (workloads/suites.toml, issue 10).
//
// Usage: spawn [N]   (default 1000000)
// stdout: `spawned N goroutines, sum S`. stderr: `metric ns_per_op ...`
// (wall time per goroutine, spawn to exit).
package main

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	n := countArg(1000000)
	var sum atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int64) {
			sum.Add(i)
			wg.Done()
		}(int64(i))
	}
	wg.Wait()
	elapsed := time.Since(start)
	fmt.Printf("spawned %d goroutines, sum %d\n", n, sum.Load())
	fmt.Fprintf(os.Stderr, "metric ns_per_op %.1f\n", float64(elapsed)/float64(n))
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
