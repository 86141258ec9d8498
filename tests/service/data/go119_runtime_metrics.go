// go119_runtime_metrics.go writes go119_runtime_metrics.txt: the
// runtime/metrics families of client_golang 1.14's Go collector
// (collectors.WithGoCollectorRuntimeMetrics(collectors.MetricsAll)) as a
// Go 1.19 program exports them, after some allocation and one forced GC.
// gortd_metrics_test compares gortd's families with it: names, HELP, TYPE
// and every histogram's le values (the sample values are this program's).
//
//	GOPATH=/usr/share/gocode GO111MODULE=off go run go119_runtime_metrics.go > go119_runtime_metrics.txt
package main

import (
	"os"
	"runtime"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/common/expfmt"
)

var sink [][]byte

func main() {
	for i := 0; i < 100000; i++ {
		sink = append(sink, make([]byte, i%5000))
		if len(sink) > 1000 {
			sink = nil
		}
	}
	runtime.GC()
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(
		collectors.WithGoCollectorMemStatsMetricsDisabled(),
		collectors.WithGoCollectorRuntimeMetrics(collectors.MetricsAll)))
	mfs, err := r.Gather()
	if err != nil {
		panic(err)
	}
	// The base collector's families (go_goroutines, go_threads, go_info,
	// go_gc_duration_seconds, go_memstats_last_gc_time_seconds) are not
	// runtime/metrics ones.
	base := map[string]bool{"go_goroutines": true, "go_threads": true, "go_info": true, "go_gc_duration_seconds": true}
	for _, mf := range mfs {
		if base[mf.GetName()] || strings.HasPrefix(mf.GetName(), "go_memstats_") {
			continue
		}
		if _, err := expfmt.MetricFamilyToText(os.Stdout, mf); err != nil {
			panic(err)
		}
	}
}
