// gc_server.go: a cache server on loopback, one goroutine per connection,
// serving GET and PUT requests from a shared cache on Go's heap, each
// request building request-scoped heap objects. Peer of goheap's gc suite
// row "gc-server" (examples/gc_server.rs, issue 12: same protocol, sizes
// and generator).
//
//   - The cache: slots entries, one per key, each an atomic pointer to an
//     entry (key, version, 64-byte value); about 30 MiB live. A PUT makes a
//     new entry and stores it; the old one becomes garbage.
//   - A request (80 bytes: op, key, value) is parsed into a chain of
//     tokens heap objects (the request-scoped garbage), checksummed, and
//     served from the cache; the response is 72 bytes.
//   - Clients are goroutines too: CONNECTIONS of them, each sending
//     REQUESTS requests, 90% GET and 10% PUT of random keys, checking
//     every response (the entry's key matches).
//
// Usage: gc_server [CONNECTIONS [REQUESTS]]   (defaults 200, 2000)
// stdout: `gc_server: N requests on C connections, all answered right`.
// stderr: `metric requests_per_s`, `metric p50_us`, `metric p99_us`,
// `metric p999_us`, `metric gc_count`, `metric max_pause_ms`,
// `metric total_pause_ms`.
package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"math/bits"
	"net"
	"os"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

const (
	slots        = 1 << 18
	valueSize    = 64
	requestSize  = 16 + valueSize
	responseSize = 8 + valueSize
	tokens       = 16
	opGet        = 0
	opPut        = 1
	deadline     = 120 * time.Second
)

type entry struct {
	key, version uint64
	value        [valueSize]byte
}

var cache [slots]atomic.Pointer[entry]

// token is one parsed piece of a request (64 bytes with its link).
type token struct {
	next  *token
	word  uint64
	bytes [40]byte
}

// splitMix64 is the generator every port uses.
type splitMix64 uint64

func (s *splitMix64) next() uint64 {
	*s += 0x9e3779b97f4a7c15
	z := uint64(*s)
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func valueOf(key, version uint64) (v [valueSize]byte) {
	binary.LittleEndian.PutUint64(v[0:], key)
	binary.LittleEndian.PutUint64(v[8:], version)
	return v
}

func newEntry(key, version uint64) *entry {
	return &entry{key: key, version: version, value: valueOf(key, version)}
}

// buildTokens parses the request into its token chain, on the heap (the
// chain is returned, so it escapes).
//
//go:noinline
func buildTokens(req *[requestSize]byte) *token {
	var head *token
	for t := 0; t < tokens; t++ {
		start := (t * 5) % (requestSize - 8)
		tk := &token{next: head, word: binary.LittleEndian.Uint64(req[start:])}
		copy(tk.bytes[:requestSize-40], req[40:])
		head = tk
	}
	return head
}

// parse checksums the request's token chain.
func parse(req *[requestSize]byte) uint64 {
	var sum uint64
	for t := buildTokens(req); t != nil; t = t.next {
		sum = bits.RotateLeft64(sum, 5) ^ t.word ^ uint64(t.bytes[t.word%40])
	}
	return sum
}

func serveOne(req *[requestSize]byte, resp *[responseSize]byte) {
	key := binary.LittleEndian.Uint64(req[8:]) % slots
	checksum := parse(req)
	slot := &cache[key]
	var e *entry
	if req[0] == opPut {
		var version uint64 = 1
		if old := slot.Load(); old != nil {
			version = old.version + 1
		}
		e = newEntry(key, version)
		slot.Store(e)
	} else {
		e = slot.Load()
	}
	binary.LittleEndian.PutUint64(resp[0:], checksum)
	copy(resp[8:], e.value[:])
}

func connection(conn net.Conn) {
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(deadline))
	var req [requestSize]byte
	var resp [responseSize]byte
	for {
		if _, err := io.ReadFull(conn, req[:]); err != nil {
			return
		}
		serveOne(&req, &resp)
		if _, err := conn.Write(resp[:]); err != nil {
			return
		}
	}
}

func serve(listener net.Listener) {
	for {
		conn, err := listener.Accept()
		if err != nil {
			return // closed at the end of the run
		}
		go connection(conn)
	}
}

func client(addr string, id uint64, requests int) ([]time.Duration, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(deadline))
	g := splitMix64(id)
	var req [requestSize]byte
	var resp [responseSize]byte
	latencies := make([]time.Duration, 0, requests)
	for i := 0; i < requests; i++ {
		r := g.next()
		key := g.next() % slots
		req[0] = opGet
		if r%10 == 0 {
			req[0] = opPut
		}
		binary.LittleEndian.PutUint64(req[8:], key)
		v := valueOf(key, r)
		copy(req[16:], v[:])
		start := time.Now()
		if _, err := conn.Write(req[:]); err != nil {
			return nil, err
		}
		if _, err := io.ReadFull(conn, resp[:]); err != nil {
			return nil, err
		}
		latencies = append(latencies, time.Since(start))
		if binary.LittleEndian.Uint64(resp[8:]) != key {
			return nil, fmt.Errorf("connection %d: the entry for key %d has another key", id, key)
		}
	}
	return latencies, nil
}

func main() {
	connections, requests := intArg(1, 200), intArg(2, 2000)
	for k := uint64(0); k < slots; k++ {
		cache[k].Store(newEntry(k, 0))
	}
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "gc_server:", err)
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
			latencies, err := client(listener.Addr().String(), uint64(c)+1, requests)
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
		fmt.Fprintln(os.Stderr, "gc_server:", err)
		os.Exit(1)
	}

	var all []time.Duration
	for _, latencies := range results {
		all = append(all, latencies...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	fmt.Printf("gc_server: %d requests on %d connections, all answered right\n", len(all), connections)
	fmt.Fprintf(os.Stderr, "metric requests_per_s %.0f\n", float64(len(all))/elapsed.Seconds())
	fmt.Fprintf(os.Stderr, "metric p50_us %.1f\n", microseconds(all[len(all)/2]))
	fmt.Fprintf(os.Stderr, "metric p99_us %.1f\n", microseconds(all[len(all)*99/100]))
	fmt.Fprintf(os.Stderr, "metric p999_us %.1f\n", microseconds(all[len(all)*999/1000]))
	printGCMetrics()
}

func microseconds(d time.Duration) float64 { return float64(d) / 1e3 }

// printGCMetrics prints the collector's cycle count and pauses (the longest
// of the last 256).
func printGCMetrics() {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	var longest uint64
	for _, p := range ms.PauseNs {
		if p > longest {
			longest = p
		}
	}
	fmt.Fprintf(os.Stderr, "metric gc_count %d\n", ms.NumGC)
	fmt.Fprintf(os.Stderr, "metric max_pause_ms %.3f\n", float64(longest)/1e6)
	fmt.Fprintf(os.Stderr, "metric total_pause_ms %.3f\n", float64(ms.PauseTotalNs)/1e6)
}

// intArg returns argv[i] as a positive int, or def when absent.
func intArg(i, def int) int {
	if len(os.Args) <= i {
		return def
	}
	n, err := strconv.Atoi(os.Args[i])
	if err != nil || n < 1 {
		fmt.Fprintf(os.Stderr, "gc_server: bad argument %q\n", os.Args[i])
		os.Exit(2)
	}
	return n
}
