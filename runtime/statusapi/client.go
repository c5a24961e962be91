package statusapi

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kiln-dev/kiln/runtime/status"
)

// ErrNotRunning says no kiln watch serves the project.
var ErrNotRunning = errors.New("no kiln watch is running for this project")

// Client talks to the API of one project's kiln watch.
type Client struct {
	base  string
	token string
	http  *http.Client
}

// Dial connects to the kiln watch whose state directory is dir.
func Dial(dir string) (*Client, error) {
	info, err := readInfo(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w (no %s): start one with kiln watch", ErrNotRunning, filepath.Join(dir, infoFile))
	}
	if err != nil {
		return nil, err
	}
	return clientFor(info)
}

func clientFor(info Info) (*Client, error) {
	if info.Token == "" {
		return nil, errors.New("status API: no token in api.json")
	}
	c := &Client{token: info.Token, http: &http.Client{}}
	if info.Socket != "" {
		// The socket, with its 0600 mode, is the way in for this user's commands.
		c.base = "http://" + unixHost
		c.http.Transport = &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", info.Socket)
		}}
	} else {
		u, err := url.Parse(info.URL)
		if err != nil || u.Hostname() != "127.0.0.1" {
			return nil, fmt.Errorf("status API: api.json names %q, not a loopback address", info.URL)
		}
		c.base = info.URL
	}
	return c, nil
}

func (c *Client) do(ctx context.Context, method, path string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w (its API does not answer: %v): start one with kiln watch", ErrNotRunning, err)
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("%s", strings.TrimSpace(string(msg)))
	}
	return resp, nil
}

func (c *Client) getJSON(ctx context.Context, path string, v any) error {
	resp, err := c.do(ctx, http.MethodGet, path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}

// List returns the objects of a kind ("all" or "" for every kind).
func (c *Client) List(ctx context.Context, kind string) (List, error) {
	if kind == "" {
		kind = "all"
	}
	var l List
	err := c.getJSON(ctx, "/api/v1/objects/"+url.PathEscape(kind), &l)
	return l, err
}

// Get returns one object.
func (c *Client) Get(ctx context.Context, kind, name string) (status.Object, error) {
	var o status.Object
	err := c.getJSON(ctx, "/api/v1/objects/"+url.PathEscape(kind)+"/"+url.PathEscape(name), &o)
	return o, err
}

// Changes waits up to wait for changes after version since.
func (c *Client) Changes(ctx context.Context, since uint64, wait time.Duration) (List, error) {
	var l List
	err := c.getJSON(ctx, fmt.Sprintf("/api/v1/changes?since=%d&wait=%s", since, wait), &l)
	return l, err
}

// Trigger asks the session to run a resource now.
func (c *Client) Trigger(ctx context.Context, name string) error {
	resp, err := c.do(ctx, http.MethodPost, "/api/v1/trigger/"+url.PathEscape(name))
	if err != nil {
		return err
	}
	return resp.Body.Close()
}

// Logs calls fn with each line that matches q, oldest first; with follow, it goes on with
// new lines until ctx ends.
func (c *Client) Logs(ctx context.Context, q LogQuery, follow bool, fn func(LogLine) error) error {
	v := url.Values{}
	for _, r := range q.Resources {
		v.Add("resource", r)
	}
	if q.Container != "" {
		v.Set("container", q.Container)
	}
	if !q.Since.IsZero() {
		v.Set("since", q.Since.Format(time.RFC3339Nano))
	}
	if follow {
		v.Set("follow", "1")
	}
	resp, err := c.do(ctx, http.MethodGet, "/api/v1/logs?"+v.Encode())
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		var l LogLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return fmt.Errorf("status API logs: %w", err)
		}
		if err := fn(l); err != nil {
			return err
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	return sc.Err()
}

// StateDir is where a project's kiln watch keeps its API socket and token: under
// $KILN_STATE_DIR, else $XDG_STATE_HOME/kiln, else ~/.local/state/kiln, one directory per
// project ID.
func StateDir(projectID string) (string, error) {
	base := os.Getenv("KILN_STATE_DIR")
	if base == "" {
		if x := os.Getenv("XDG_STATE_HOME"); x != "" {
			base = filepath.Join(x, "kiln")
		} else {
			home, err := os.UserHomeDir()
			if err != nil {
				return "", fmt.Errorf("no state directory: set KILN_STATE_DIR (%w)", err)
			}
			base = filepath.Join(home, ".local", "state", "kiln")
		}
	}
	return filepath.Join(base, projectID), nil
}
