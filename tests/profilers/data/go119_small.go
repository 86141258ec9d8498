// go119_small.go — the program that wrote go119_small.trace, the real Go
// execution trace trace_json_test converts: GOMAXPROCS 2, a task with a
// log and a region, two goroutines playing channel ping-pong, a forced GC.
// Regenerate (Go 1.19; the file must stay in 1.19's format):
//   mkdir /tmp/g && cp go119_small.go /tmp/g/main.go && cd /tmp/g &&
//   go mod init fixture && go build -o fixture . && ./fixture go119_small.trace
// The size varies from run to run (3 KB to 60 KB: runtime.GC often spins
// in its sweep wait, a GoSched per turn); run it until one is small, and
// check it with shared/tools/check_go_trace.sh.
package main

import (
	"context"
	"os"
	"runtime"
	"runtime/trace"
	"sync"
)

func pinger(ping, pong chan int, n int, wg *sync.WaitGroup) {
	defer wg.Done()
	for i := 0; i < n; i++ {
		ping <- i
		<-pong
	}
	close(ping)
}

func ponger(ping, pong chan int, wg *sync.WaitGroup) {
	defer wg.Done()
	for v := range ping {
		pong <- v
	}
}

var sink [][]byte

func main() {
	f, err := os.Create(os.Args[1])
	if err != nil {
		panic(err)
	}
	runtime.GOMAXPROCS(2)
	if err := trace.Start(f); err != nil {
		panic(err)
	}
	ctx, task := trace.NewTask(context.Background(), "pingpong")
	trace.Log(ctx, "phase", "start")
	var wg sync.WaitGroup
	ping, pong := make(chan int), make(chan int)
	wg.Add(2)
	trace.WithRegion(ctx, "exchange", func() {
		go pinger(ping, pong, 5, &wg)
		go ponger(ping, pong, &wg)
		wg.Wait()
	})
	for i := 0; i < 4; i++ {
		sink = append(sink, make([]byte, 4096))
	}
	runtime.GC()
	task.End()
	trace.Stop()
	f.Close()
}
