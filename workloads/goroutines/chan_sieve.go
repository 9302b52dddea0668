// chan_sieve.go: Go's concurrent prime sieve: a generator goroutine feeds
// 2, 3, 4, ... into a chain of filter goroutines, one per prime found, over
// unbuffered channels, until the Nth prime. Peer of goheap's goroutines
// suite row "chan-sieve" (workloads/suites.toml, issue 11).
//
// Usage: chan_sieve [N]   (default 5000)
// stdout: `N primes, the last P, sum S`. stderr: `metric ms ...`.
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

func generate(out chan<- int) {
	for i := 2; ; i++ {
		out <- i
	}
}

func filter(in <-chan int, out chan<- int, prime int) {
	for {
		if i := <-in; i%prime != 0 {
			out <- i
		}
	}
}

func main() {
	n := 5000
	if len(os.Args) > 1 {
		var err error
		if n, err = strconv.Atoi(os.Args[1]); err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "chan_sieve: bad count %q\n", os.Args[1])
			os.Exit(2)
		}
	}
	start := time.Now()
	ch := make(chan int)
	go generate(ch)
	prime, sum := 0, 0
	for i := 0; i < n; i++ {
		prime = <-ch
		sum += prime
		next := make(chan int)
		go filter(ch, next, prime)
		ch = next
	}
	elapsed := time.Since(start)
	fmt.Printf("%d primes, the last %d, sum %d\n", n, prime, sum)
	fmt.Fprintf(os.Stderr, "metric ms %.1f\n", float64(elapsed)/1e6)
}
