// goserver is the e2e test image kiln.local/goserver:latest: a static HTTP
// server, built FROM scratch. It answers every path with a greeting, has
// /healthz for probes, and listens on $PORT (default 8080). With $STATIC_DIR set it serves
// that directory's files instead of the greeting (the FROM scratch live-update test); with
// $GREETING_FILE, the greeting is that file's content when it starts.
package main

import (
	"fmt"
	"log"
	"net/http"
	"os"
	"strings"
)

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	greeting := os.Getenv("GREETING")
	if f := os.Getenv("GREETING_FILE"); f != "" {
		// Read once, at start: only a restart shows a new greeting (restart_container test).
		b, err := os.ReadFile(f)
		if err != nil {
			log.Fatal(err)
		}
		greeting = strings.TrimSpace(string(b))
	}
	if greeting == "" {
		greeting = "hello from kiln goserver"
	}
	host, _ := os.Hostname()

	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	if dir := os.Getenv("STATIC_DIR"); dir != "" {
		mux.Handle("/", http.FileServer(http.Dir(dir)))
		log.Printf("goserver serving %s on :%s", dir, port)
		log.Fatal(http.ListenAndServe(":"+port, mux))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		log.Printf("%s %s", r.Method, r.URL.Path)
		fmt.Fprintf(w, "%s (host %s, path %s)\n", greeting, host, r.URL.Path)
	})
	log.Printf("goserver listening on :%s", port)
	log.Fatal(http.ListenAndServe(":"+port, mux))
}
