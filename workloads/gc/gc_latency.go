// gc_latency.go: request latency beside a large, mutating live heap, on Go's
// garbage collector. Peer of goheap's gc suite row "gc-latency"
// (workloads/suites.toml, issue 9); a goheap or C port must follow the
// algorithm below exactly so that stdout matches.
//
// Usage: gc_latency [LIVE_MIB [MUTATORS]]   (defaults 256, 1)
//
// The live heap is a forest of complete binary trees of depth 16 (131071
// nodes of 64 bytes: left, right, a value and 5 words of padding), LIVE_MIB/8
// trees (at least one). Node values come from splitmix64 (below): tree t is
// built depth first, node before its left then right subtree, from a
// generator seeded with t. MUTATORS goroutines each own the trees whose index
// is congruent to their number modulo MUTATORS, and run OPS = nodes/8/MUTATORS
// operations with a generator seeded with 1000+number. One operation draws,
// in this order: the tree (r % owned trees, in index order), the new
// subtree's depth k = r % 8, then the path from the root to the node at
// level 15-k (one draw per level: bit 0 set goes right), then the side (bit 0
// set replaces the right child), then builds a fresh subtree of depth k with
// the same generator and stores it in place of that child (the old child
// becomes garbage). Live size stays constant; each operation allocates 1 to
// 255 nodes and writes one pointer into an old node.
//
// Meanwhile one more goroutine serves requests back to back until the
// mutators finish: a request builds a 63-node tree (depth 5) and sums it.
// Each request is timed; its latency includes whatever GC pause, assist or
// scheduling delay hits it.
//
// stdout: the forest's shape and the wrapping sum of all node values after
// the run (identical in every variant). stderr: `metric` lines: requests,
// latency p50/p99/p99.9/max in microseconds, GC cycles and pauses.
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

const (
	treeDepth    = 16
	nodesPerTree = 1<<(treeDepth+1) - 1
	maxSubtree   = 7
	requestDepth = 5
	histogramUs  = 1 << 17 // latency buckets of 1 µs; longer ones count in the last
	timeLimit    = 120 * time.Second
)

type node struct {
	left, right *node
	value       uint64
	_           [5]uint64
}

// splitmix64 is the generator every port uses.
type splitmix64 struct{ state uint64 }

func (g *splitmix64) next() uint64 {
	g.state += 0x9e3779b97f4a7c15
	z := g.state
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func build(depth int, g *splitmix64) *node {
	n := &node{value: g.next()}
	if depth > 0 {
		n.left = build(depth-1, g)
		n.right = build(depth-1, g)
	}
	return n
}

func (n *node) sum() uint64 {
	if n == nil {
		return 0
	}
	return n.value + n.left.sum() + n.right.sum()
}

func mutate(forest []*node, mutator, mutators, ops int) {
	var owned []*node
	for t := mutator; t < len(forest); t += mutators {
		owned = append(owned, forest[t])
	}
	if len(owned) == 0 {
		return
	}
	g := splitmix64{uint64(1000 + mutator)}
	for op := 0; op < ops; op++ {
		parent := owned[g.next()%uint64(len(owned))]
		k := int(g.next() % (maxSubtree + 1))
		for level := 0; level < treeDepth-k-1; level++ {
			if g.next()&1 == 1 {
				parent = parent.right
			} else {
				parent = parent.left
			}
		}
		if g.next()&1 == 1 {
			parent.right = build(k, &g)
		} else {
			parent.left = build(k, &g)
		}
	}
}

// serve runs requests until done is set and returns their latency histogram.
func serve(done *atomic.Bool) (hist []uint64, longest time.Duration) {
	hist = make([]uint64, histogramUs)
	g := splitmix64{7}
	var sink uint64
	for !done.Load() {
		start := time.Now()
		sink += build(requestDepth, &g).sum()
		took := time.Since(start)
		us := int(took / time.Microsecond)
		if us >= histogramUs {
			us = histogramUs - 1
		}
		hist[us]++
		if took > longest {
			longest = took
		}
	}
	if sink == 1 {
		fmt.Fprintln(os.Stderr, "gc_latency: unlikely request sum")
	}
	return hist, longest
}

func percentileUs(hist []uint64, total uint64, p float64) int {
	rank := uint64(p * float64(total))
	var seen uint64
	for us, n := range hist {
		seen += n
		if seen > rank {
			return us
		}
	}
	return len(hist) - 1
}

func main() {
	liveMiB, mutators := intArg(1, 256), intArg(2, 1)
	if liveMiB < 1 || mutators < 1 {
		fmt.Fprintln(os.Stderr, "gc_latency: LIVE_MIB and MUTATORS must be positive")
		os.Exit(2)
	}
	trees := liveMiB / 8
	if trees < 1 {
		trees = 1
	}
	forest := make([]*node, trees)
	for t := range forest {
		forest[t] = build(treeDepth, &splitmix64{uint64(t)})
	}
	nodes := trees * nodesPerTree
	ops := nodes / 8 / mutators

	watchdog := time.AfterFunc(timeLimit, func() {
		fmt.Fprintf(os.Stderr, "gc_latency: still running after %v\n", timeLimit)
		os.Exit(1)
	})
	var done atomic.Bool
	var wg sync.WaitGroup
	for m := 0; m < mutators; m++ {
		wg.Add(1)
		go func(m int) {
			defer wg.Done()
			mutate(forest, m, mutators, ops)
		}(m)
	}
	served := make(chan struct{})
	var hist []uint64
	var longest time.Duration
	go func() {
		hist, longest = serve(&done)
		close(served)
	}()
	wg.Wait()
	done.Store(true)
	<-served
	watchdog.Stop()

	var checksum uint64
	for _, tree := range forest {
		checksum += tree.sum()
	}
	fmt.Printf("forest of %d trees of depth %d: %d nodes, %d mutators, %d operations each\n",
		trees, treeDepth, nodes, mutators, ops)
	fmt.Printf("checksum %d\n", checksum)

	var requests uint64
	for _, n := range hist {
		requests += n
	}
	fmt.Fprintf(os.Stderr, "metric requests %d\n", requests)
	for _, q := range []struct {
		name string
		p    float64
	}{{"p50_us", 0.50}, {"p99_us", 0.99}, {"p999_us", 0.999}} {
		fmt.Fprintf(os.Stderr, "metric %s %d\n", q.name, percentileUs(hist, requests, q.p))
	}
	fmt.Fprintf(os.Stderr, "metric max_us %d\n", longest/time.Microsecond)
	printGCMetrics()
}

// intArg returns argv[i] as an int, or def when absent.
func intArg(i, def int) int {
	if len(os.Args) <= i {
		return def
	}
	n, err := strconv.Atoi(os.Args[i])
	if err != nil {
		fmt.Fprintf(os.Stderr, "gc_latency: bad argument %q\n", os.Args[i])
		os.Exit(2)
	}
	return n
}

// printGCMetrics prints the collector's cycle count and pauses. MemStats keeps
// the last 256 pauses: max_pause_ms is the longest of those.
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
