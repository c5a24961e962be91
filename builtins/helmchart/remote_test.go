package helmchart

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
)

// chartRepo serves a classic chart repo: index.yaml and each version's .tgz (a tiny chart
// with one ConfigMap naming its version). corrupt serves bytes that do not match the digest.
func chartRepo(t *testing.T, versions []string, corrupt bool) (*httptest.Server, *int) {
	t.Helper()
	dir := t.TempDir()
	files := map[string][]byte{}
	var index strings.Builder
	index.WriteString("apiVersion: v1\nentries:\n  demo:\n")
	for _, v := range versions {
		ch := &chart.Chart{
			Metadata:  &chart.Metadata{APIVersion: "v2", Name: "demo", Version: v},
			Templates: []*chart.File{{Name: "templates/cm.yaml", Data: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: {{ .Release.Name }}}\ndata: {version: " + v + "}\n")}},
		}
		path, err := chartutil.Save(ch, dir)
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		if corrupt {
			data = append(data, 0)
		}
		name := "demo-" + v + ".tgz"
		files["/charts/"+name] = data
		fmt.Fprintf(&index, "  - version: %s\n    urls: [charts/%s]\n    digest: %s\n", v, name, hex.EncodeToString(sum[:]))
	}
	files["/index.yaml"] = []byte(index.String())
	requests := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests++
		data, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(data)
	}))
	t.Cleanup(srv.Close)
	return srv, &requests
}

// With no version, the newest stable version is fetched; the cached chart then serves later
// fetches with no network at all. An exact version and a constraint are honoured.
func TestFetch(t *testing.T) {
	srv, requests := chartRepo(t, []string{"1.0.0", "1.2.0", "2.0.0-rc.1"}, false)
	cache := t.TempDir()
	o := FetchOptions{RepoURL: srv.URL, Chart: "demo", CacheDir: cache}
	path, err := Fetch(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := Render(Options{Chart: path, ReleaseName: "r"})
	if err != nil || !strings.Contains(string(out), "version: 1.2.0") {
		t.Fatalf("the newest stable version should be 1.2.0, rendered %s (%v)", out, err)
	}
	srv.Close()
	before := *requests
	if again, err := Fetch(context.Background(), o); err != nil || again != path || *requests != before {
		t.Fatalf("a second fetch must come from the cache: %s, %v, %d requests", again, err, *requests-before)
	}

	srv2, _ := chartRepo(t, []string{"1.0.0", "1.2.0", "2.0.0-rc.1"}, false)
	for _, tc := range []struct{ version, want string }{{"1.0.0", "1.0.0"}, {"~1.0", "1.0.0"}, {"2.0.0-rc.1", "2.0.0-rc.1"}} {
		p, err := Fetch(context.Background(), FetchOptions{RepoURL: srv2.URL + "/", Chart: "demo", Version: tc.version, CacheDir: cache})
		if err != nil {
			t.Fatalf("%s: %v", tc.version, err)
		}
		out, _, _ := Render(Options{Chart: p, ReleaseName: "r"})
		if !strings.Contains(string(out), "version: "+tc.want) {
			t.Errorf("version %q rendered %s, want %s", tc.version, out, tc.want)
		}
	}
	if _, err := Fetch(context.Background(), FetchOptions{RepoURL: srv2.URL, Chart: "demo", Version: "9.9.9", CacheDir: cache}); err == nil || !strings.Contains(err.Error(), "no version") {
		t.Errorf("a missing version: %v", err)
	}
	if _, err := Fetch(context.Background(), FetchOptions{RepoURL: srv2.URL, Chart: "other", CacheDir: cache}); err == nil || !strings.Contains(err.Error(), `no chart named "other"`) {
		t.Errorf("a missing chart: %v", err)
	}
}

// A download that does not match the index's digest, or is larger than the bound, is refused
// and nothing is cached.
func TestFetchRefusesBadDownloads(t *testing.T) {
	bad, _ := chartRepo(t, []string{"1.0.0"}, true)
	cache := t.TempDir()
	if _, err := Fetch(context.Background(), FetchOptions{RepoURL: bad.URL, Chart: "demo", CacheDir: cache}); err == nil || !strings.Contains(err.Error(), "does not match the digest") {
		t.Fatalf("a corrupt download: %v", err)
	}
	good, _ := chartRepo(t, []string{"1.0.0"}, false)
	if _, err := Fetch(context.Background(), FetchOptions{RepoURL: good.URL, Chart: "demo", CacheDir: cache, MaxBytes: 64}); err == nil || !strings.Contains(err.Error(), "larger than 64 bytes") {
		t.Fatalf("an oversized download: %v", err)
	}
	if _, err := Fetch(context.Background(), FetchOptions{RepoURL: "oci://registry/charts", Chart: "demo", CacheDir: cache}); err == nil || !strings.Contains(err.Error(), "OCI") {
		t.Fatalf("an OCI repo: %v", err)
	}
}
