// binary_trees.go: the benchmarks game's binary-trees on Go's garbage
// collector, sequential (one goroutine). Peer of goheap's gc suite row
// "binary-trees" (workloads/suites.toml, issue 8).
//
// Usage: binary_trees [DEPTH]   (default 21)
// stdout: the benchmarks game's output, identical in every variant of the row.
// stderr: `metric NAME VALUE` lines from runtime.ReadMemStats.
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
)

const minDepth = 4

type node struct{ left, right *node }

func bottomUp(depth int) *node {
	if depth <= 0 {
		return &node{}
	}
	return &node{bottomUp(depth - 1), bottomUp(depth - 1)}
}

func (n *node) check() int {
	if n.left == nil {
		return 1
	}
	return 1 + n.left.check() + n.right.check()
}

func main() {
	maxDepth := depthArg()
	stretch := maxDepth + 1
	fmt.Printf("stretch tree of depth %d\t check: %d\n", stretch, bottomUp(stretch).check())
	longLived := bottomUp(maxDepth)
	for depth := minDepth; depth <= maxDepth; depth += 2 {
		iterations := 1 << uint(maxDepth-depth+minDepth)
		check := 0
		for i := 0; i < iterations; i++ {
			check += bottomUp(depth).check()
		}
		fmt.Printf("%d\t trees of depth %d\t check: %d\n", iterations, depth, check)
	}
	fmt.Printf("long lived tree of depth %d\t check: %d\n", maxDepth, longLived.check())
	printGCMetrics()
}

// depthArg returns the tree depth from argv (default 21), at least minDepth+2.
func depthArg() int {
	depth := 21
	if len(os.Args) > 1 {
		n, err := strconv.Atoi(os.Args[1])
		if err != nil {
			fmt.Fprintf(os.Stderr, "binary_trees: bad depth %q\n", os.Args[1])
			os.Exit(2)
		}
		depth = n
	}
	if depth < minDepth+2 {
		depth = minDepth + 2
	}
	return depth
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
