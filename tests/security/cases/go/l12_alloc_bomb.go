// L12: a goroutine and allocation bomb: 100 goroutines keep 1 MiB slices
// forever; the garbage collector can free nothing and the cgroup's OOM
// killer ends it.
package main

import (
	"fmt"
	"sync"
)

var (
	mu   sync.Mutex
	keep [][]byte
)

func main() {
	fmt.Println("allocating")
	var wg sync.WaitGroup
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				b := make([]byte, 1<<20)
				for j := range b {
					b[j] = 1
				}
				mu.Lock()
				keep = append(keep, b)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}
