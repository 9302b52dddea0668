// chan_pingpong.go: unbuffered channel round trips between two goroutines
// (ping, then pong). Peer of goheap's goroutines suite row "chan-pingpong"
// (workloads/suites.toml, issue 11).
//
// Usage: chan_pingpong [N]   (default 1000000)
// stdout: `N round trips, sum S`. stderr: `metric ns_per_op ...` (per round trip).
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

func main() {
	n := countArg(1000000)
	ping, pong := make(chan int), make(chan int)
	go func() {
		for v := range ping {
			pong <- v + 1
		}
		close(pong)
	}()
	start := time.Now()
	sum := 0
	for i := 0; i < n; i++ {
		ping <- i
		sum += <-pong
	}
	elapsed := time.Since(start)
	close(ping)
	fmt.Printf("%d round trips, sum %d\n", n, sum)
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
