// chan_select.go: one goroutine receives N messages with select over K
// channels (K = 2 or 8) of capacity 16, each fed by its own producer
// goroutine; producer k sends k, k+K, k+2K, ... below N, then closes its
// channel. Peer of goheap's goroutines suite rows "chan-select-<K>"
// (workloads/suites.toml, issue 11).
//
// Usage: chan_select K [N]   (K 2 or 8; N default 2000000)
// stdout: `select over K channels: N messages, sum S`.
// stderr: `metric ns_per_op ...` (wall time per message).
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

const capacity = 16

func produce(ch chan<- int, first, step, n int) {
	for v := first; v < n; v += step {
		ch <- v
	}
	close(ch)
}

// receive2 and receive8 select over their channels until n messages came;
// a closed channel is set to nil, which select never chooses.
func receive2(chs []chan int, n int) (sum int) {
	a, b := chs[0], chs[1]
	for got := 0; got < n; {
		var v int
		var ok bool
		select {
		case v, ok = <-a:
			if !ok {
				a = nil
			}
		case v, ok = <-b:
			if !ok {
				b = nil
			}
		}
		if ok {
			sum += v
			got++
		}
	}
	return sum
}

func receive8(chs []chan int, n int) (sum int) {
	c0, c1, c2, c3, c4, c5, c6, c7 := chs[0], chs[1], chs[2], chs[3], chs[4], chs[5], chs[6], chs[7]
	for got := 0; got < n; {
		var v int
		var ok bool
		select {
		case v, ok = <-c0:
			if !ok {
				c0 = nil
			}
		case v, ok = <-c1:
			if !ok {
				c1 = nil
			}
		case v, ok = <-c2:
			if !ok {
				c2 = nil
			}
		case v, ok = <-c3:
			if !ok {
				c3 = nil
			}
		case v, ok = <-c4:
			if !ok {
				c4 = nil
			}
		case v, ok = <-c5:
			if !ok {
				c5 = nil
			}
		case v, ok = <-c6:
			if !ok {
				c6 = nil
			}
		case v, ok = <-c7:
			if !ok {
				c7 = nil
			}
		}
		if ok {
			sum += v
			got++
		}
	}
	return sum
}

func main() {
	if len(os.Args) < 2 || (os.Args[1] != "2" && os.Args[1] != "8") {
		fmt.Fprintln(os.Stderr, "usage: chan_select 2|8 [N]")
		os.Exit(2)
	}
	k, _ := strconv.Atoi(os.Args[1])
	n := 2000000
	if len(os.Args) > 2 {
		var err error
		if n, err = strconv.Atoi(os.Args[2]); err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "chan_select: bad count %q\n", os.Args[2])
			os.Exit(2)
		}
	}
	chs := make([]chan int, k)
	start := time.Now()
	for i := range chs {
		chs[i] = make(chan int, capacity)
		go produce(chs[i], i, k, n)
	}
	var sum int
	if k == 2 {
		sum = receive2(chs, n)
	} else {
		sum = receive8(chs, n)
	}
	elapsed := time.Since(start)
	fmt.Printf("select over %d channels: %d messages, sum %d\n", k, n, sum)
	fmt.Fprintf(os.Stderr, "metric ns_per_op %.1f\n", float64(elapsed)/float64(n))
}
