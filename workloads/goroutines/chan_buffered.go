// chan_buffered.go: throughput of one buffered channel. spsc: 1 producer, 1
// consumer; mpsc: 4 producers, 1 consumer; mpmc: 4 producers, 4 consumers.
// Producer p of P sends p, p+P, p+2P, ... below N, then the channel closes;
// consumers sum what they receive. Peer of goheap's goroutines suite rows
// "chan-buffered-<mode>-<capacity>" (workloads/suites.toml, issue 11).
//
// Usage: chan_buffered MODE CAPACITY [N]   (MODE spsc|mpsc|mpmc; N default 2000000)
// stdout: `MODE capacity C: P producers, Q consumers, N messages, sum S`.
// stderr: `metric ns_per_op ...` (wall time per message).
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
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: chan_buffered spsc|mpsc|mpmc CAPACITY [N]")
		os.Exit(2)
	}
	mode := os.Args[1]
	producers, consumers := 1, 1
	switch mode {
	case "spsc":
	case "mpsc":
		producers = 4
	case "mpmc":
		producers, consumers = 4, 4
	default:
		fmt.Fprintf(os.Stderr, "chan_buffered: unknown mode %q\n", mode)
		os.Exit(2)
	}
	capacity, n := intArg(2, -1), intArg(3, 2000000)

	ch := make(chan int, capacity)
	var sum atomic.Int64
	var sent, received sync.WaitGroup
	start := time.Now()
	for p := 0; p < producers; p++ {
		sent.Add(1)
		go func(p int) {
			defer sent.Done()
			for v := p; v < n; v += producers {
				ch <- v
			}
		}(p)
	}
	for c := 0; c < consumers; c++ {
		received.Add(1)
		go func() {
			defer received.Done()
			local := 0
			for v := range ch {
				local += v
			}
			sum.Add(int64(local))
		}()
	}
	sent.Wait()
	close(ch)
	received.Wait()
	elapsed := time.Since(start)
	fmt.Printf("%s capacity %d: %d producers, %d consumers, %d messages, sum %d\n",
		mode, capacity, producers, consumers, n, sum.Load())
	fmt.Fprintf(os.Stderr, "metric ns_per_op %.1f\n", float64(elapsed)/float64(n))
}

// intArg returns argv[i] as a positive int, or def when absent (def < 0: required).
func intArg(i, def int) int {
	if len(os.Args) <= i && def >= 0 {
		return def
	}
	n := -1
	if len(os.Args) > i {
		n, _ = strconv.Atoi(os.Args[i])
	}
	if n < 1 {
		fmt.Fprintf(os.Stderr, "chan_buffered: argument %d must be a positive number\n", i)
		os.Exit(2)
	}
	return n
}
