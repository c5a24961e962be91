package helmchart

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	"sigs.k8s.io/yaml"
)

// FetchOptions names a chart in a classic (HTTP) chart repository, as helm_remote does.
type FetchOptions struct {
	RepoURL, Chart, Version string
	Username, Password      string
	// CacheDir holds fetched charts: CacheDir/<repo hash>/<chart>-<version>.tgz.
	CacheDir string
	// Timeout bounds the whole fetch (default 1 minute); MaxBytes each download (default 64 MiB).
	Timeout  time.Duration
	MaxBytes int64
	// Client is the HTTP client (default http.DefaultClient, which honours HTTP(S)_PROXY).
	Client *http.Client
}

// Fetch returns the path of the chart's .tgz, downloading it when the cache lacks it. With
// Version "" the newest stable version in the repo's index is taken, and remembered: a later
// Fetch with no version uses the cached chart with no network, so that an evaluation is
// repeatable offline. The download is checked against the index's sha256 digest.
func Fetch(ctx context.Context, o FetchOptions) (string, error) {
	if o.CacheDir == "" {
		return "", errors.New("there is no cache directory to fetch charts into (set KILN_CACHE_DIR)")
	}
	if strings.HasPrefix(o.RepoURL, "oci://") {
		return "", fmt.Errorf("OCI chart registries (%s) are not supported; use the chart's HTTP repo, or vendor the chart and use helm()", o.RepoURL)
	}
	if o.Timeout == 0 {
		o.Timeout = time.Minute
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = 64 << 20
	}
	if o.Client == nil {
		o.Client = http.DefaultClient
	}
	sum := sha256.Sum256([]byte(strings.TrimSuffix(o.RepoURL, "/")))
	dir := filepath.Join(o.CacheDir, "charts", hex.EncodeToString(sum[:8]))
	want := o.Version
	if want == "" {
		want = "latest"
	}
	cached := filepath.Join(dir, o.Chart+"-"+want+".tgz")
	if _, err := os.Stat(cached); err == nil {
		return cached, nil
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	index, err := o.get(ctx, strings.TrimSuffix(o.RepoURL, "/")+"/index.yaml")
	if err != nil {
		return "", err
	}
	cv, err := pick(index, o.Chart, o.Version)
	if err != nil {
		return "", fmt.Errorf("repo %s: %v", o.RepoURL, err)
	}
	if len(cv.URLs) == 0 {
		return "", fmt.Errorf("repo %s: %s %s has no download URL in index.yaml", o.RepoURL, o.Chart, cv.Version)
	}
	chartURL, err := resolve(o.RepoURL, cv.URLs[0])
	if err != nil {
		return "", err
	}
	data, err := o.get(ctx, chartURL)
	if err != nil {
		return "", err
	}
	if cv.Digest != "" {
		got := sha256.Sum256(data)
		if hex.EncodeToString(got[:]) != strings.TrimPrefix(cv.Digest, "sha256:") {
			return "", fmt.Errorf("%s: the download does not match the digest in the repo's index.yaml (%s); the repo may be changing, try again", chartURL, cv.Digest)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(dir, ".fetch-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	if err := os.Rename(tmp.Name(), cached); err != nil {
		return "", err
	}
	return cached, nil
}

type indexFile struct {
	Entries map[string][]chartVersion `json:"entries"`
}

type chartVersion struct {
	Version string   `json:"version"`
	URLs    []string `json:"urls"`
	Digest  string   `json:"digest"`
}

// pick finds version (exact, or a semver constraint such as "~1.2") of chart in the index,
// or its newest stable version when version is "".
func pick(data []byte, chart, version string) (chartVersion, error) {
	var idx indexFile
	if err := yaml.Unmarshal(data, &idx); err != nil {
		return chartVersion{}, fmt.Errorf("index.yaml: %v", err)
	}
	versions := idx.Entries[chart]
	if len(versions) == 0 {
		return chartVersion{}, fmt.Errorf("no chart named %q", chart)
	}
	var constraint *semver.Constraints
	if version != "" {
		for _, v := range versions {
			if v.Version == version {
				return v, nil
			}
		}
		c, err := semver.NewConstraint(version)
		if err != nil {
			return chartVersion{}, fmt.Errorf("chart %s has no version %q", chart, version)
		}
		constraint = c
	}
	var best chartVersion
	var bestV *semver.Version
	for _, v := range versions {
		sv, err := semver.NewVersion(v.Version)
		if err != nil {
			continue
		}
		if constraint != nil && !constraint.Check(sv) || constraint == nil && sv.Prerelease() != "" {
			continue
		}
		if bestV == nil || sv.GreaterThan(bestV) {
			best, bestV = v, sv
		}
	}
	if bestV == nil {
		return chartVersion{}, fmt.Errorf("chart %s has no version matching %q", chart, version)
	}
	return best, nil
}

func resolve(base, ref string) (string, error) {
	r, err := url.Parse(ref)
	if err != nil {
		return "", err
	}
	if r.IsAbs() {
		return ref, nil
	}
	b, err := url.Parse(strings.TrimSuffix(base, "/") + "/")
	if err != nil {
		return "", err
	}
	return b.ResolveReference(r).String(), nil
}

// get downloads url, at most MaxBytes of it.
func (o FetchOptions) get(ctx context.Context, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	if o.Username != "" || o.Password != "" {
		req.SetBasicAuth(o.Username, o.Password)
	}
	resp, err := o.Client.Do(req)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, fmt.Errorf("GET %s: gave up after %s", redactURL(u), o.Timeout)
		}
		return nil, fmt.Errorf("GET %s: %v", redactURL(u), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", redactURL(u), resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, o.MaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %v", redactURL(u), err)
	}
	if int64(len(data)) > o.MaxBytes {
		return nil, fmt.Errorf("GET %s: larger than %d bytes; kiln stops there", redactURL(u), o.MaxBytes)
	}
	return data, nil
}

// redactURL drops credentials from a URL for messages.
func redactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.User == nil {
		return u
	}
	p.User = url.User("xxxxx")
	return p.String()
}
