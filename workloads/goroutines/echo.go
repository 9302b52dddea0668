// echo.go: a TCP echo server on loopback, one goroutine per connection, and
// as many client goroutines, each making ROUNDS round trips of a 64-byte
// message and checking every echo. Peer of goheap's goroutines suite row
// "echo" (workloads/suites.toml, issue 10). Bounded: every connection has a
// 60 s deadline; traffic stays on 127.0.0.1.
//
// Usage: echo [CONNECTIONS [ROUNDS]]   (defaults 1000, 100)
// stdout: `echo: C connections x R round trips of 64 bytes, all intact`.
// stderr: `metric round_trips_per_s ...`, `metric p50_us ...`, `metric p99_us ...`.
package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strconv"
	"sync"
	"time"
)

const (
	messageSize = 64
	deadline    = 60 * time.Second
)

func serve(listener net.Listener) {
	for {
		conn, err := listener.Accept()
		if err != nil {
			return // closed at the end of the run
		}
		go func() {
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(deadline))
			io.Copy(conn, conn)
		}()
	}
}

// client makes rounds round trips on one connection and returns their
// latencies; message bytes depend on the client and the round.
func client(addr string, id, rounds int) ([]time.Duration, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(deadline))
	out := make([]byte, messageSize)
	in := make([]byte, messageSize)
	latencies := make([]time.Duration, 0, rounds)
	for r := 0; r < rounds; r++ {
		for i := range out {
			out[i] = byte(id*31 + r*7 + i)
		}
		start := time.Now()
		if _, err := conn.Write(out); err != nil {
			return nil, err
		}
		if _, err := io.ReadFull(conn, in); err != nil {
			return nil, err
		}
		latencies = append(latencies, time.Since(start))
		if string(in) != string(out) {
			return nil, fmt.Errorf("connection %d round %d: echo differs", id, r)
		}
	}
	return latencies, nil
}

func main() {
	connections, rounds := intArg(1, 1000), intArg(2, 100)
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "echo:", err)
		os.Exit(1)
	}
	go serve(listener)

	start := time.Now()
	results := make([][]time.Duration, connections)
	errs := make(chan error, connections)
	var wg sync.WaitGroup
	for c := 0; c < connections; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			latencies, err := client(listener.Addr().String(), c, rounds)
			if err != nil {
				errs <- err
			}
			results[c] = latencies
		}(c)
	}
	wg.Wait()
	elapsed := time.Since(start)
	listener.Close()
	close(errs)
	for err := range errs {
		fmt.Fprintln(os.Stderr, "echo:", err)
		os.Exit(1)
	}

	var all []time.Duration
	for _, latencies := range results {
		all = append(all, latencies...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	fmt.Printf("echo: %d connections x %d round trips of %d bytes, all intact\n", connections, rounds, messageSize)
	fmt.Fprintf(os.Stderr, "metric round_trips_per_s %.0f\n", float64(len(all))/elapsed.Seconds())
	fmt.Fprintf(os.Stderr, "metric p50_us %.1f\n", microseconds(all[len(all)/2]))
	fmt.Fprintf(os.Stderr, "metric p99_us %.1f\n", microseconds(all[len(all)*99/100]))
}

func microseconds(d time.Duration) float64 { return float64(d) / 1e3 }

// intArg returns argv[i] as a positive int, or def when absent.
func intArg(i, def int) int {
	if len(os.Args) <= i {
		return def
	}
	n, err := strconv.Atoi(os.Args[i])
	if err != nil || n < 1 {
		fmt.Fprintf(os.Stderr, "echo: bad argument %q\n", os.Args[i])
		os.Exit(2)
	}
	return n
}
