// Package statusapi serves a kiln watch session's status store to `kiln get`, `kiln
// describe`, `kiln logs`, `kiln trigger`, `kiln wait` and the web page, and is the client
// those commands use.
//
// It listens on a unix socket (0600, in a 0700 directory) in the project's state directory,
// and on 127.0.0.1 at a random port for browsers. Every request needs the session's random
// token, kept in a 0600 file beside the socket: a bearer header, or a cookie the web page
// gets from its first link. Requests whose Host header is not the loopback address they
// came to are refused, which defeats DNS rebinding.
package statusapi

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kiln-dev/kiln/runtime/status"
)

// Handlers are what the API does beyond reading the store.
type Handlers struct {
	// Trigger runs a resource now (kiln trigger); nil refuses.
	Trigger func(name string) error
	// Logs serves log lines (kiln logs); nil answers with none.
	Logs LogSource
}

// Server is a running API.
type Server struct {
	dir      string
	token    string
	store    *status.Store
	handlers Handlers
	http     *http.Server
	tcp      net.Listener
	unix     net.Listener
	hosts    map[string]bool
}

// Info is what the server writes to api.json for its clients.
type Info struct {
	URL   string `json:"url"`
	Token string `json:"token"`
	PID   int    `json:"pid"`
	// Socket is the unix socket, "" when the state directory's path is too long for one.
	Socket string `json:"socket,omitempty"`
}

const (
	infoFile   = "api.json"
	socketFile = "api.sock"
	// maxSocketPath is what sockaddr_un holds on Linux, with its terminating NUL.
	maxSocketPath = 107
	// unixHost is the Host header clients send over the socket.
	unixHost = "kiln"
)

// ErrRunning says another kiln watch serves the project already.
var ErrRunning = errors.New("another kiln watch is running for this project")

// Start serves store from the state directory dir until Close.
func Start(dir string, store *status.Store, h Handlers) (*Server, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("status API: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("status API: %w", err)
	}
	if info, err := readInfo(dir); err == nil && answers(info) {
		return nil, fmt.Errorf("%w (pid %d, %s): stop it first, or use kiln get to see what it does", ErrRunning, info.PID, info.URL)
	}
	token, err := newToken()
	if err != nil {
		return nil, err
	}
	s := &Server{dir: dir, token: token, store: store, handlers: h}
	if s.tcp, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("status API: %w", err)
	}
	port := s.tcp.Addr().(*net.TCPAddr).Port
	s.hosts = map[string]bool{unixHost: true, fmt.Sprintf("127.0.0.1:%d", port): true, fmt.Sprintf("localhost:%d", port): true}
	info := Info{URL: fmt.Sprintf("http://127.0.0.1:%d", port), Token: token, PID: os.Getpid()}
	sock := filepath.Join(dir, socketFile)
	if len(sock) <= maxSocketPath {
		_ = os.Remove(sock) // left by a session that did not stop cleanly: it does not answer
		if s.unix, err = net.Listen("unix", sock); err != nil {
			s.tcp.Close()
			return nil, fmt.Errorf("status API: %w", err)
		}
		if err := os.Chmod(sock, 0o600); err != nil {
			s.Close()
			return nil, fmt.Errorf("status API: %w", err)
		}
		info.Socket = sock
	}
	if err := writeInfo(dir, info); err != nil {
		s.Close()
		return nil, err
	}
	s.http = &http.Server{Handler: s.routes(), ReadHeaderTimeout: 10 * time.Second}
	go s.http.Serve(s.tcp)
	if s.unix != nil {
		go s.http.Serve(s.unix)
	}
	return s, nil
}

// URL is the browser address of the API, with the token that sets its cookie.
func (s *Server) URL() string {
	return "http://" + s.tcp.Addr().String() + "/?token=" + s.token
}

// Close stops serving and removes the socket and api.json.
func (s *Server) Close() {
	if s.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = s.http.Shutdown(ctx) // long polls end with their contexts
		_ = s.http.Close()
	}
	if s.tcp != nil {
		s.tcp.Close()
	}
	if s.unix != nil {
		s.unix.Close()
		os.Remove(filepath.Join(s.dir, socketFile))
	}
	if info, err := readInfo(s.dir); err == nil && info.Token == s.token {
		os.Remove(filepath.Join(s.dir, infoFile))
	}
}

func newToken() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("status API token: %w", err)
	}
	return hex.EncodeToString(b), nil
}

func writeInfo(dir string, info Info) error {
	b, err := json.Marshal(info)
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, infoFile+".tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("status API: %w", err)
	}
	return os.Rename(tmp, filepath.Join(dir, infoFile))
}

func readInfo(dir string) (Info, error) {
	var info Info
	b, err := os.ReadFile(filepath.Join(dir, infoFile))
	if err != nil {
		return info, err
	}
	if err := json.Unmarshal(b, &info); err != nil {
		return info, fmt.Errorf("%s: %w", filepath.Join(dir, infoFile), err)
	}
	return info, nil
}

// answers reports whether a server is listening at info (one that crashed leaves its file).
func answers(info Info) bool {
	c, err := clientFor(info)
	if err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err = c.List(ctx, status.KindFileWatch)
	return err == nil
}

// authorize checks the Host header and the token, and turns a ?token= link into a cookie.
func (s *Server) authorize(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.hosts[r.Host] {
			http.Error(w, "kiln: this API answers only to its own loopback address", http.StatusForbidden)
			return
		}
		token := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		if c, err := r.Cookie("kiln_token"); err == nil && token == "" {
			token = c.Value
		}
		if q := r.URL.Query().Get("token"); q != "" && r.Method == http.MethodGet {
			if subtle.ConstantTimeCompare([]byte(q), []byte(s.token)) == 1 {
				http.SetCookie(w, &http.Cookie{Name: "kiln_token", Value: s.token, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
				token = q
			}
		}
		if subtle.ConstantTimeCompare([]byte(token), []byte(s.token)) != 1 {
			http.Error(w, "kiln: missing or wrong token; kiln get reads it from the project's state directory", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/objects/{kind}", s.list)
	mux.HandleFunc("GET /api/v1/objects/{kind}/{name...}", s.get)
	mux.HandleFunc("GET /api/v1/changes", s.changes)
	mux.HandleFunc("POST /api/v1/trigger/{name...}", s.trigger)
	mux.HandleFunc("GET /api/v1/logs", s.logs)
	return s.authorize(mux)
}

// List is the answer to a listing.
type List struct {
	Version uint64          `json:"version"`
	Items   []status.Object `json:"items"`
	// Complete is false in a changes answer when the reader must list again.
	Complete bool `json:"complete"`
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	kind := r.PathValue("kind")
	if kind == "all" {
		kind = ""
	} else if !knownKind(kind) {
		http.Error(w, fmt.Sprintf("unknown kind %q; one of %s", kind, strings.Join(status.Kinds, ", ")), http.StatusNotFound)
		return
	}
	items, v := s.store.List(kind)
	writeJSON(w, List{Version: v, Items: items, Complete: true})
}

func (s *Server) get(w http.ResponseWriter, r *http.Request) {
	o, ok := s.store.Get(r.PathValue("kind"), r.PathValue("name"))
	if !ok {
		http.Error(w, fmt.Sprintf("no %s named %q", r.PathValue("kind"), r.PathValue("name")), http.StatusNotFound)
		return
	}
	writeJSON(w, o)
}

// maxWait bounds a long poll, so that proxies and clients see an answer now and then.
const maxWait = time.Minute

// changes is a long poll: what changed after ?since=, answered at once if anything did,
// else when something does or after ?wait= (at most a minute).
func (s *Server) changes(w http.ResponseWriter, r *http.Request) {
	since, _ := strconv.ParseUint(r.URL.Query().Get("since"), 10, 64)
	wait, _ := time.ParseDuration(r.URL.Query().Get("wait"))
	wait = min(max(wait, 0), maxWait)
	sub := s.store.Subscribe()
	defer sub.Close()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		items, v, complete := s.store.Since(since)
		if len(items) > 0 || !complete || wait == 0 {
			writeJSON(w, List{Version: v, Items: items, Complete: complete})
			return
		}
		select {
		case <-sub.C:
		case <-timer.C:
			wait = 0
		case <-r.Context().Done():
			return
		}
	}
}

func (s *Server) trigger(w http.ResponseWriter, r *http.Request) {
	if s.handlers.Trigger == nil {
		http.Error(w, "this session cannot trigger resources", http.StatusNotImplemented)
		return
	}
	if err := s.handlers.Trigger(r.PathValue("name")); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

func knownKind(kind string) bool {
	for _, k := range status.Kinds {
		if k == kind {
			return true
		}
	}
	return false
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
