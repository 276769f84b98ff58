// L12: legitimate Go with 20 OS threads (goroutines locked to threads) runs
// fine under the default process limit.
package main

import (
	"fmt"
	"runtime"
	"sync"
)

func main() {
	var wg sync.WaitGroup
	var mu sync.Mutex
	sum := 0
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(k int) {
			defer wg.Done()
			runtime.LockOSThread()
			s := 0
			for j := 0; j <= 100000; j++ {
				s += j % (k + 1)
			}
			mu.Lock()
			sum += s
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	fmt.Printf("threads=20 sum=%d\n", sum)
}
