// Package docker is the Docker engine client kiln uses: it checks for, tags,
// saves and loads images, and connects the BuildKit client to the engine's
// embedded BuildKit.
//
// The connection follows the Docker CLI's environment: DOCKER_HOST,
// DOCKER_TLS_VERIFY, DOCKER_CERT_PATH and DOCKER_API_VERSION. The API version
// is negotiated with the engine, so Docker 20.10 (API 1.41) and newer engines
// both work.
package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	bkclient "github.com/moby/buildkit/client"
	"github.com/moby/moby/client"
)

// connectTimeout bounds the first ping, so a missing engine is reported
// quickly instead of hanging on a dead socket or TCP address.
const connectTimeout = 10 * time.Second

// Client is a connection to a Docker engine.
type Client struct {
	api *client.Client
}

// Connect connects to the engine named by the environment (DOCKER_HOST,
// default unix:///var/run/docker.sock), negotiates the API version and
// checks that the engine answers.
func Connect(ctx context.Context) (*Client, error) {
	api, err := client.New(client.FromEnv)
	if err != nil {
		return nil, fmt.Errorf("Docker engine client: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	if _, err := api.Ping(pctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		_ = api.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("Docker engine not reachable at %s: %w — start dockerd, or set DOCKER_HOST", api.DaemonHost(), err)
	}
	return &Client{api: api}, nil
}

// API returns the underlying moby client, for operations this package does
// not wrap.
func (c *Client) API() *client.Client { return c.api }

// Host is the engine address in use (e.g. unix:///var/run/docker.sock).
func (c *Client) Host() string { return c.api.DaemonHost() }

// APIVersion is the negotiated API version (e.g. "1.41").
func (c *Client) APIVersion() string { return c.api.ClientVersion() }

// Close releases the client's idle connections.
func (c *Client) Close() error { return c.api.Close() }

// ImageExists reports whether the engine has an image with this reference
// (repo:tag, ID or digest). It is one inspect call.
func (c *Client) ImageExists(ctx context.Context, ref string) (bool, error) {
	_, err := c.api.ImageInspect(ctx, ref)
	if err == nil {
		return true, nil
	}
	if cerrdefs.IsNotFound(err) {
		return false, nil
	}
	return false, fmt.Errorf("inspect image %s: %w", ref, err)
}

// ImageID returns the ID (sha256:...) of the image with this reference.
func (c *Client) ImageID(ctx context.Context, ref string) (string, error) {
	res, err := c.api.ImageInspect(ctx, ref)
	if err != nil {
		return "", fmt.Errorf("inspect image %s: %w", ref, err)
	}
	return res.ID, nil
}

// Tag gives the image src the additional reference dst.
func (c *Client) Tag(ctx context.Context, src, dst string) error {
	if _, err := c.api.ImageTag(ctx, client.ImageTagOptions{Source: src, Target: dst}); err != nil {
		return fmt.Errorf("tag %s as %s: %w", src, dst, err)
	}
	return nil
}

// SaveImages streams the images as a `docker save` tar (for loading them
// into a kind node). The caller closes the reader.
func (c *Client) SaveImages(ctx context.Context, refs []string) (io.ReadCloser, error) {
	if len(refs) == 0 {
		return nil, errors.New("save images: no image given")
	}
	rc, err := c.api.ImageSave(ctx, refs)
	if err != nil {
		return nil, fmt.Errorf("save images %v: %w", refs, err)
	}
	return rc, nil
}

// LoadImages loads a `docker save` (or BuildKit docker exporter) tar into the
// engine, like `docker load`, and waits for the engine to finish.
func (c *Client) LoadImages(ctx context.Context, tar io.Reader) error {
	res, err := c.api.ImageLoad(ctx, tar, client.ImageLoadWithQuiet(true))
	if err != nil {
		return fmt.Errorf("load images: %w", err)
	}
	defer res.Close()
	// The engine reports errors inside the JSON message stream.
	body, err := io.ReadAll(res)
	if err != nil {
		return fmt.Errorf("load images: %w", err)
	}
	if msg := jsonStreamError(body); msg != "" {
		return fmt.Errorf("load images: %s", msg)
	}
	return nil
}

// RemoveImage removes an image reference (like `docker rmi`); force also
// removes it when other tags or stopped containers use it. A missing image
// is not an error.
func (c *Client) RemoveImage(ctx context.Context, ref string, force bool) error {
	_, err := c.api.ImageRemove(ctx, ref, client.ImageRemoveOptions{Force: force, PruneChildren: true})
	if err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("remove image %s: %w", ref, err)
	}
	return nil
}

// BuildKit connects a BuildKit client to the engine's embedded BuildKit, the
// way buildx's "docker" driver does: gRPC and the build session are both
// tunnelled over hijacked HTTP connections to the engine API (/grpc and
// /session). The engine exports build results with its "moby" exporter.
//
// Engines as old as 20.10 work; their BuildKit does not implement Info, so
// callers must not depend on it.
func (c *Client) BuildKit(ctx context.Context) (*bkclient.Client, error) {
	bk, err := bkclient.New(ctx, "",
		bkclient.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			return c.api.DialHijack(ctx, "/grpc", "h2c", nil)
		}),
		bkclient.WithSessionDialer(func(ctx context.Context, proto string, meta map[string][]string) (net.Conn, error) {
			return c.api.DialHijack(ctx, "/session", proto, meta)
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("connect to the BuildKit of the Docker engine at %s: %w", c.Host(), err)
	}
	return bk, nil
}

// Push pushes ref to its registry (a local registry needs no credentials: the empty auth
// "{}" is sent). Errors the engine reports inside its progress stream are returned.
func (c *Client) Push(ctx context.Context, ref string) error {
	res, err := c.api.ImagePush(ctx, ref, client.ImagePushOptions{RegistryAuth: "e30="})
	if err != nil {
		return fmt.Errorf("push %s: %w", ref, err)
	}
	defer res.Close()
	if err := res.Wait(ctx); err != nil {
		return fmt.Errorf("push %s: %w", ref, err)
	}
	return nil
}
