package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/kiln-dev/kiln/internal/testenv"
)

const baseImage = "kiln.local/busybox:latest"

func connect(t *testing.T) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Connect(ctx)
	if err != nil {
		testenv.Missing(t, "no Docker engine: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestConnectUnreachable(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix:///nonexistent/kiln-test.sock")
	_, err := Connect(context.Background())
	if err == nil {
		t.Fatal("Connect succeeded")
	}
	for _, want := range []string{"Docker engine not reachable at unix:///nonexistent/kiln-test.sock", "start dockerd, or set DOCKER_HOST"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestJSONStreamError(t *testing.T) {
	ok := []byte(`{"stream":"Loaded image: x:y\n"}` + "\n")
	if got := jsonStreamError(ok); got != "" {
		t.Errorf("got %q", got)
	}
	bad := []byte(`{"stream":"a"}` + "\n" + `{"errorDetail":{"message":"unexpected EOF"},"error":"unexpected EOF"}` + "\n")
	if got := jsonStreamError(bad); got != "unexpected EOF" {
		t.Errorf("got %q", got)
	}
}

// TestImages tags, saves, removes and loads back an image with the real
// engine.
func TestImages(t *testing.T) {
	c := connect(t)
	ctx := context.Background()
	t.Logf("engine %s, API %s", c.Host(), c.APIVersion())
	if ok, err := c.ImageExists(ctx, baseImage); err != nil || !ok {
		testenv.Missing(t, "engine has no %s: %v", baseImage, err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	ref := "kiln-test/docker:t" + hex.EncodeToString(b)
	t.Cleanup(func() { _ = c.RemoveImage(context.Background(), ref, true) })

	if ok, err := c.ImageExists(ctx, ref); err != nil || ok {
		t.Fatalf("ImageExists(%s) before tagging = %v, %v", ref, ok, err)
	}
	if err := c.Tag(ctx, baseImage, ref); err != nil {
		t.Fatal(err)
	}
	if ok, err := c.ImageExists(ctx, ref); err != nil || !ok {
		t.Fatalf("ImageExists(%s) = %v, %v", ref, ok, err)
	}
	id1, err := c.ImageID(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}

	rc, err := c.SaveImages(ctx, []string{ref})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	_, err = io.Copy(&buf, rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	tr := tar.NewReader(bytes.NewReader(buf.Bytes()))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("saved tar: %v", err)
		}
		names[h.Name] = true
	}
	if !names["manifest.json"] {
		t.Errorf("saved tar has no manifest.json: %v", names)
	}

	if err := c.RemoveImage(ctx, ref, false); err != nil {
		t.Fatal(err)
	}
	if ok, _ := c.ImageExists(ctx, ref); ok {
		t.Fatalf("%s still exists after RemoveImage", ref)
	}
	if err := c.LoadImages(ctx, bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	id2, err := c.ImageID(ctx, ref)
	if err != nil || id2 != id1 {
		t.Fatalf("loaded image ID = %s, %v; want %s", id2, err, id1)
	}
	if err := c.LoadImages(ctx, strings.NewReader("not a tar")); err == nil {
		t.Error("LoadImages(garbage) succeeded")
	}
	if err := c.RemoveImage(ctx, "kiln-test/never:there", false); err != nil {
		t.Errorf("RemoveImage(missing) = %v", err)
	}
}

// TestBuildKit connects to the engine's embedded BuildKit and lists its
// workers (Info is not implemented by Docker 20.10's BuildKit).
func TestBuildKit(t *testing.T) {
	c := connect(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	bk, err := c.BuildKit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer bk.Close()
	ws, err := bk.ListWorkers(ctx)
	if err != nil {
		t.Fatalf("ListWorkers: %v", err)
	}
	if len(ws) == 0 {
		t.Fatal("no BuildKit workers")
	}
	t.Logf("worker %s: %d platforms", ws[0].ID, len(ws[0].Platforms))
}
