//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRunDockerCompose: a docker_compose() project with one image kiln builds and one plain
// service comes up under kiln run through the Docker engine API (no docker compose binary):
// both answer on their published ports, the built one runs kiln's content-tagged image, and
// the plain one is reached from it by its service name. A second run keeps both containers;
// kiln down removes them and the project's network.
func TestRunDockerCompose(t *testing.T) {
	c := connect(t)
	ports := freePorts(t, 2)
	webPort, plainPort := ports[0], ports[1]
	project := fmt.Sprintf("kilne2e%d", time.Now().UnixNano()%1000000)
	files := map[string]string{
		"web/Dockerfile":     "FROM " + BusyboxImage + "\nCOPY www /www\nCMD [\"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]\n",
		"web/www/index.html": "hello from the compose web in " + project + "\n",
		"docker-compose.yml": fmt.Sprintf(`services:
  web:
    image: example.local/composeweb
    ports: ["127.0.0.1:%d:8080"]
    depends_on: [plain]
  plain:
    image: %s
    command: ["sh", "-c", "mkdir -p /www && echo plain page > /www/index.html && exec httpd -f -p 8081 -h /www"]
    ports: ["127.0.0.1:%d:8081"]
`, webPort, BusyboxImage, plainPort),
		"Kilnfile": fmt.Sprintf("docker_compose('docker-compose.yml', project_name=%q)\ndocker_build('example.local/composeweb', 'web')\n", project),
	}
	dir := writeProject(t, files)
	t.Cleanup(func() { kiln(t, nil, "down", "-f", dir, contextFlag(c)) })
	r := kiln(t, nil, "run", "-f", dir, contextFlag(c))
	if r.code != 0 {
		t.Fatalf("kiln run:\n%s", r)
	}
	if got := get(t, fmt.Sprintf("http://127.0.0.1:%d/", webPort)); got != "hello from the compose web in "+project {
		t.Fatalf("the built service answers %q", got)
	}
	if got := get(t, fmt.Sprintf("http://127.0.0.1:%d/", plainPort)); got != "plain page" {
		t.Fatalf("the plain service answers %q", got)
	}
	web := project + "-web-1"
	if img := dockerOutput(t, "inspect", "-f", "{{.Config.Image}}", web); !strings.HasPrefix(img, "example.local/composeweb:kiln-") {
		t.Fatalf("the web container runs %q, want kiln's example.local/composeweb:kiln-<hash>", img)
	}
	if out := dockerOutput(t, "exec", web, "wget", "-qO-", "http://plain:8081/"); strings.TrimSpace(out) != "plain page" {
		t.Fatalf("web reaches plain by its service name: %q", out)
	}
	id := dockerOutput(t, "inspect", "-f", "{{.Id}}", web)

	r = kiln(t, nil, "run", "-f", dir, contextFlag(c))
	if r.code != 0 || !strings.Contains(r.stdout+r.stderr, "up to date") {
		t.Fatalf("second kiln run:\n%s", r)
	}
	if again := dockerOutput(t, "inspect", "-f", "{{.Id}}", web); again != id {
		t.Errorf("an unchanged service was replaced (%s → %s)", id, again)
	}

	if r := kiln(t, nil, "down", "-f", dir, contextFlag(c)); r.code != 0 {
		t.Fatalf("kiln down:\n%s", r)
	}
	if left := dockerOutput(t, "ps", "-a", "-q", "--filter", "label=com.docker.compose.project="+project); left != "" {
		t.Errorf("kiln down left containers: %s", left)
	}
	if left := dockerOutput(t, "network", "ls", "-q", "--filter", "name="+project+"_default"); left != "" {
		t.Errorf("kiln down left the network: %s", left)
	}
}

// TestRunDockerComposeWithoutCluster: a project of Docker Compose services only needs the
// Docker engine, not Kubernetes: with no kubeconfig at all, kiln run brings it up and kiln
// down removes it.
func TestRunDockerComposeWithoutCluster(t *testing.T) {
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	project := fmt.Sprintf("kilnnocluster%d", time.Now().UnixNano()%1000000)
	dir := writeProject(t, map[string]string{
		"web/Dockerfile":     "FROM " + BusyboxImage + "\nCOPY www /www\nCMD [\"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]\n",
		"web/www/index.html": "no cluster needed for " + project + "\n",
		"docker-compose.yml": fmt.Sprintf("services:\n  web:\n    build: ./web\n    ports: [\"127.0.0.1:%d:8080\"]\n", port),
		"Kilnfile":           fmt.Sprintf("docker_compose('docker-compose.yml', project_name=%q)\nlocal_resource('check-no-context', cmd='test \"$KUBECONFIG\" = /dev/null')\n", project),
	})
	env := []string{"KUBECONFIG=" + filepath.Join(t.TempDir(), "none")}
	t.Cleanup(func() { kiln(t, env, "down", "-f", dir) })
	r := kiln(t, env, "run", "-f", dir)
	if r.code != 0 {
		t.Fatalf("kiln run with no kubeconfig:\n%s", r)
	}
	if got := get(t, fmt.Sprintf("http://127.0.0.1:%d/", port)); got != "no cluster needed for "+project {
		t.Fatalf("the service answers %q", got)
	}
	if r := kiln(t, env, "down", "-f", dir); r.code != 0 {
		t.Fatalf("kiln down with no kubeconfig:\n%s", r)
	}
	if left := dockerOutput(t, "ps", "-a", "-q", "--filter", "label=com.docker.compose.project="+project); left != "" {
		t.Errorf("kiln down left containers: %s", left)
	}
}

// TestWatchDockerComposeWithoutCluster: kiln watch on Docker Compose services alone, with no
// kubeconfig at all. An edit in a service's build context rebuilds its image and re-runs the
// service with it; a service added to the compose file starts, and one removed is removed;
// Ctrl-C leaves the services up.
func TestWatchDockerComposeWithoutCluster(t *testing.T) {
	ports := freePorts(t, 2)
	webPort, plainPort := ports[0], ports[1]
	project := fmt.Sprintf("kilnwatchnocluster%d", time.Now().UnixNano()%1000000)
	composeFile := func(extra string) string {
		return fmt.Sprintf("services:\n  web:\n    build: ./web\n    ports: [\"127.0.0.1:%d:8080\"]\n", webPort) + extra
	}
	plain := fmt.Sprintf("  plain:\n    image: %s\n    command: [\"sh\", \"-c\", \"mkdir -p /www && echo plain page > /www/index.html && exec httpd -f -p 8081 -h /www\"]\n    ports: [\"127.0.0.1:%d:8081\"]\n", BusyboxImage, plainPort)
	dir := writeProject(t, map[string]string{
		"web/Dockerfile":     "FROM " + BusyboxImage + "\nCOPY www /www\nCMD [\"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]\n",
		"web/www/index.html": "one\n",
		"docker-compose.yml": composeFile(""),
		"Kilnfile":           fmt.Sprintf("docker_compose('docker-compose.yml', project_name=%q)\n", project),
	})
	write := func(rel, text string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, rel), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	answers := func(url, want string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := pollUntil(ctx, func() error {
			if got, err := try(url); err != nil || got != want {
				return fmt.Errorf("GET %s: %q, %v; want %q", url, got, err, want)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	env := []string{"KUBECONFIG=" + filepath.Join(t.TempDir(), "none")}
	t.Cleanup(func() { kiln(t, env, "down", "-f", dir) })

	w := startWatchEnv(t, env, "-f", dir)
	w.waitFor("update (start) done", 3*time.Minute)
	web := fmt.Sprintf("http://127.0.0.1:%d/", webPort)
	answers(web, "one")

	write("web/www/index.html", "two\n")
	w.waitFor("done in", 2*time.Minute)
	answers(web, "two")

	write("docker-compose.yml", composeFile(plain))
	w.waitFor("done in", 2*time.Minute)
	answers(fmt.Sprintf("http://127.0.0.1:%d/", plainPort), "plain page")

	write("docker-compose.yml", composeFile(""))
	w.waitFor("done in", 2*time.Minute)
	if left := dockerOutput(t, "ps", "-a", "-q", "--filter", "name="+project+"-plain-1"); left != "" {
		t.Errorf("the service removed from the compose file still has a container: %s", left)
	}

	if err := w.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := w.cmd.Wait(); err != nil {
		t.Fatalf("kiln watch after Ctrl-C: %v\n%s", err, w.stderr.String())
	}
	answers(web, "two")
}

// freePorts returns n free local ports.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	out := make([]int, n)
	for i := range out {
		p, err := FreePort()
		if err != nil {
			t.Fatal(err)
		}
		out[i] = p
	}
	return out
}
