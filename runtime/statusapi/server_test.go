package statusapi

import (
	"context"
	"errors"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kiln-dev/kiln/runtime/status"
)

func start(t *testing.T, h Handlers) (*Server, *status.Store, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "p")
	store := status.New()
	s, err := Start(dir, store, h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, store, dir
}

func TestClientReadsTheStoreOverTheSocket(t *testing.T) {
	triggered := ""
	_, store, dir := start(t, Handlers{Trigger: func(name string) error {
		if name != "api" {
			return errors.New("no resource " + name)
		}
		triggered = name
		return nil
	}})
	for _, f := range []string{infoFile, socketFile} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v, mode %v; want 0600", f, err, st.Mode())
		}
	}
	store.Put(status.KindResource, "api", status.ResourceSpec{Type: "k8s"}, status.ResourceStatus{State: status.StateReady})
	c, err := Dial(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	l, err := c.List(ctx, status.KindResource)
	if err != nil || len(l.Items) != 1 || l.Items[0].Name != "api" {
		t.Fatalf("List = %+v, %v", l, err)
	}
	if _, err := c.Get(ctx, status.KindResource, "nope"); err == nil || !strings.Contains(err.Error(), `no resources named "nope"`) {
		t.Fatalf("Get of a missing object: %v", err)
	}
	if _, err := c.List(ctx, "pods"); err == nil || !strings.Contains(err.Error(), "unknown kind") {
		t.Fatalf("List of an unknown kind: %v", err)
	}
	// A long poll answers when something changes.
	go func() {
		time.Sleep(50 * time.Millisecond)
		store.Put(status.KindImage, "web", nil, status.ImageStatus{State: "built"})
	}()
	ch, err := c.Changes(ctx, l.Version, 10*time.Second)
	if err != nil || len(ch.Items) != 1 || ch.Items[0].Name != "web" {
		t.Fatalf("Changes = %+v, %v", ch, err)
	}
	if err := c.Trigger(ctx, "api"); err != nil || triggered != "api" {
		t.Fatalf("Trigger: %v, triggered %q", err, triggered)
	}
	if err := c.Trigger(ctx, "db"); err == nil || !strings.Contains(err.Error(), "no resource db") {
		t.Fatalf("Trigger of an unknown resource: %v", err)
	}
}

func TestRequestsWithoutTokenOrWithAForeignHostAreRefused(t *testing.T) {
	s, _, _ := start(t, Handlers{})
	base := "http://" + s.tcp.Addr().String() + "/api/v1/objects/all"
	get := func(host, auth string) int {
		req, _ := http.NewRequest(http.MethodGet, base, nil)
		if host != "" {
			req.Host = host
		}
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get("", ""); code != http.StatusUnauthorized {
		t.Fatalf("no token: %d", code)
	}
	if code := get("", "wrong"); code != http.StatusUnauthorized {
		t.Fatalf("wrong token: %d", code)
	}
	if code := get("", s.token); code != http.StatusOK {
		t.Fatalf("right token: %d", code)
	}
	if code := get("evil.example:80", s.token); code != http.StatusForbidden {
		t.Fatalf("rebound host name: %d", code)
	}
	// The browser link sets a cookie that later requests carry.
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	resp, err := client.Get(s.URL())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	resp, err = client.Get(base)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("with the cookie from the link: %d", resp.StatusCode)
	}
}

func TestOneSessionPerProject(t *testing.T) {
	s, _, dir := start(t, Handlers{})
	if _, err := Start(dir, status.New(), Handlers{}); !errors.Is(err, ErrRunning) {
		t.Fatalf("second session: %v, want ErrRunning", err)
	}
	s.Close()
	if _, err := Dial(dir); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("after Close, Dial: %v, want ErrNotRunning", err)
	}
	// A session that crashed leaves api.json behind; a new one starts anyway.
	if err := writeInfo(dir, Info{URL: "http://127.0.0.1:1", Token: "x"}); err != nil {
		t.Fatal(err)
	}
	s2, err := Start(dir, status.New(), Handlers{})
	if err != nil {
		t.Fatalf("after a crashed session: %v", err)
	}
	s2.Close()
}
