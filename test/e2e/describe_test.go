//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestDescribe: under kiln watch, kiln describe shows one resource whole (its state, its
// pod, its forward's URL, its image's tag), kiln get -o wide adds the IMAGES column, and
// -o jsonpath prints one field of the objects; describing an unknown resource exits 1
// naming it.
func TestDescribe(t *testing.T) {
	c := connect(t)
	ns := newNamespace(t, c)
	local, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	files := httpService("web", ns)
	files["Kilnfile"] = fmt.Sprintf("docker_build('example.local/web', 'web')\nk8s_yaml('web.yaml')\nk8s_resource('web', port_forwards=['%d:8080'])\n", local)
	dir := writeProject(t, files)
	t.Cleanup(func() { kiln(t, nil, "down", "-f", dir, contextFlag(c)) })

	w := startWatch(t, "-f", dir, contextFlag(c))
	w.waitFor("update (start) done", 4*time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pods, err := c.WaitPodsReady(ctx, ns, "app=web")
	if err != nil {
		t.Fatal(err)
	}
	pod := ns + "/" + pods[0].Name
	url := fmt.Sprintf("http://localhost:%d/", local)

	r := kiln(t, nil, "get", "images", "example.local/web", "-f", dir, "-o", "jsonpath={.status.tag}")
	tag := r.stdout
	if r.code != 0 || !strings.HasPrefix(tag, "example.local/web:") {
		t.Fatalf("kiln get images example.local/web -o jsonpath={.status.tag}:\n%s", r)
	}

	// Discovery and the forward follow the pod a moment after the update: wait for them.
	want := []*regexp.Regexp{
		regexp.MustCompile(`(?m)^State: +ready$`),
		regexp.MustCompile(`(?m)^Pods:\n  ` + regexp.QuoteMeta(pod) + `  Running  ready  age `),
		regexp.MustCompile(`(?m)^Forwards:\n  web:\d+\n    URL: +` + regexp.QuoteMeta(url) + `\n    State: +active since .*\n    Pod: +` + regexp.QuoteMeta(pod) + `$`),
		regexp.MustCompile(`(?m)^  example\.local/web\n    Tag: +` + regexp.QuoteMeta(tag) + `$`),
	}
	err = pollUntil(ctx, func() error {
		r = kiln(t, nil, "describe", "web", "-f", dir)
		if r.code != 0 {
			return fmt.Errorf("exit %d: %s", r.code, r.stderr)
		}
		for _, re := range want {
			if !re.MatchString(r.stdout) {
				return fmt.Errorf("no match for %s", re)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("kiln describe web: %v\n%s", err, r)
	}

	r = kiln(t, nil, "get", "resources", "-f", dir, "-o", "wide")
	if r.code != 0 || !regexp.MustCompile(`(?m)^NAME\s.*\sIMAGES\s`).MatchString(r.stdout) ||
		!regexp.MustCompile(`(?m)^web\s+k8s\s+ready\s.*\sexample\.local/web\s`).MatchString(r.stdout) {
		t.Errorf("kiln get resources -o wide has no IMAGES column with example.local/web:\n%s", r)
	}
	if r = kiln(t, nil, "get", "forwards", "-f", dir, "-o", "jsonpath={.items[0].status.url}"); r.code != 0 || r.stdout != url {
		t.Errorf("kiln get forwards -o jsonpath={.items[0].status.url}: want %q\n%s", url, r)
	}
	if r = kiln(t, nil, "describe", "nope", "-f", dir); r.code != 1 || !strings.Contains(r.stderr, `no resource named "nope"`) {
		t.Errorf("kiln describe nope:\n%s", r)
	}
}
