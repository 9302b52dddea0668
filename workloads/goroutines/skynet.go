// skynet.go: the skynet benchmark on goroutines: a tree of goroutines with
// fan-out 10, each leaf sends its number, each inner goroutine sums its
// children's over an unbuffered channel. Peer of goheap's goroutines suite
// row "skynet" (workloads/suites.toml, issue 10).
//
// Usage: skynet [LEAVES]   (default 1000000, a power of 10)
// stdout: `skynet LEAVES: SUM`. stderr: `metric ms ...`.
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

const fanOut = 10

func skynet(out chan<- int, num, size int) {
	if size == 1 {
		out <- num
		return
	}
	children := make(chan int)
	for i := 0; i < fanOut; i++ {
		go skynet(children, num+i*(size/fanOut), size/fanOut)
	}
	sum := 0
	for i := 0; i < fanOut; i++ {
		sum += <-children
	}
	out <- sum
}

func main() {
	leaves := 1000000
	if len(os.Args) > 1 {
		n, err := strconv.Atoi(os.Args[1])
		if err != nil || !powerOf(n, fanOut) {
			fmt.Fprintf(os.Stderr, "skynet: LEAVES must be a power of %d, not %q\n", fanOut, os.Args[1])
			os.Exit(2)
		}
		leaves = n
	}
	start := time.Now()
	result := make(chan int)
	go skynet(result, 0, leaves)
	sum := <-result
	elapsed := time.Since(start)
	fmt.Printf("skynet %d: %d\n", leaves, sum)
	fmt.Fprintf(os.Stderr, "metric ms %.1f\n", float64(elapsed)/1e6)
}

func powerOf(n, base int) bool {
	for n > 1 && n%base == 0 {
		n /= base
	}
	return n == 1
}
