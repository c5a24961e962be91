// Command server is the go-service example: a tiny HTTP service that uses only the standard
// library. It answers / with a greeting and /healthz for the readiness probe.
//
// On SIGHUP it re-executes its own binary, so a live update can sync a freshly built binary
// into the container and restart the process without restarting the container:
//
//	live_update=[sync('./build', '/app/build'), run('kill -HUP 1')]
package main

import (
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	addr := ":" + getenv("PORT", "8080")
	greeting := getenv("GREETING", "Hello from go-service")
	started := time.Now()

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s (up %s)\n", greeting, time.Since(started).Round(time.Second))
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})

	go reexecOnHangup()

	log.Printf("go-service listening on %s", addr)
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

// reexecOnHangup replaces the process with a fresh copy of its binary on SIGHUP. The PID
// stays the same, so the container keeps running; the listening socket is close-on-exec.
func reexecOnHangup() {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	<-hup
	exe, err := os.Executable()
	if err != nil {
		log.Fatalf("SIGHUP: cannot find my binary: %v", err)
	}
	log.Printf("SIGHUP: restarting %s", exe)
	if err := syscall.Exec(exe, os.Args, os.Environ()); err != nil {
		log.Fatalf("SIGHUP: exec %s: %v", exe, err)
	}
}

func getenv(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
