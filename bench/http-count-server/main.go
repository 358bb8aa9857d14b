// A fast HTTP/1.1 keep-alive server for the shadow benchmarks that counts what it receives, so
// requests/s is measured at the server, the same way for every replay tool.
//
//	http-count-server -listen ADDR -stats ADDR
//
// On -listen it answers like bench/record-http.sh's server, so a replay of those captures compares
// equal: /err/... gets 503 "unavailable", anything else 200 with 300 bytes of text. On -stats (a
// separate listener, so reading the counters adds no request): GET /stats returns
// {"requests","err","connections","first_ns","last_ns"} (first/last: Unix nanoseconds of the first
// and last request received) and POST /reset zeroes them.
package main

import (
	"encoding/json"
	"flag"
	"log"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

type counters struct {
	requests, err, connections, firstNs, lastNs atomic.Int64
}

func (c *counters) reset() {
	c.requests.Store(0)
	c.err.Store(0)
	c.connections.Store(0)
	c.firstNs.Store(0)
	c.lastNs.Store(0)
}

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "address the replayed requests come to")
	statsAddr := flag.String("stats", "127.0.0.1:8081", "address of the counters (GET /stats, POST /reset)")
	flag.Parse()

	var c counters
	body := []byte(strings.Repeat("x", 300))
	unavailable := []byte("unavailable")
	serve := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now().UnixNano()
		c.requests.Add(1)
		c.firstNs.CompareAndSwap(0, now)
		c.lastNs.Store(now)
		w.Header().Set("Content-Type", "text/plain")
		if strings.HasPrefix(r.URL.Path, "/err/") {
			c.err.Add(1)
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write(unavailable)
			return
		}
		w.Write(body)
	})
	server := &http.Server{
		Handler: serve,
		ConnState: func(_ net.Conn, state http.ConnState) {
			if state == http.StateNew {
				c.connections.Add(1)
			}
		},
	}

	stats := http.NewServeMux()
	stats.HandleFunc("/stats", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]int64{
			"requests": c.requests.Load(), "err": c.err.Load(), "connections": c.connections.Load(),
			"first_ns": c.firstNs.Load(), "last_ns": c.lastNs.Load(),
		})
	})
	stats.HandleFunc("/reset", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		c.reset()
	})

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("http-count-server: cannot listen on %s: %v", *listen, err)
	}
	sln, err := net.Listen("tcp", *statsAddr)
	if err != nil {
		log.Fatalf("http-count-server: cannot listen on %s: %v", *statsAddr, err)
	}
	go func() { log.Fatal(http.Serve(sln, stats)) }()
	log.Printf("ready: serving %s, stats on %s", ln.Addr(), sln.Addr())
	log.Fatal(server.Serve(ln))
}
