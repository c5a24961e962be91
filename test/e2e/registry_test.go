//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kindcluster "sigs.k8s.io/kind/pkg/cluster"
)

// newClusterName is the cluster TestRunNewKindClusterAndLocalRegistry creates and deletes.
const newClusterName = "kiln-e2e-new"

// TestRunNewKindClusterAndLocalRegistry: kind_cluster() creates a cluster that does not exist
// (with the project's kind config), and kiln run loads images into it; once the cluster
// advertises a local registry (KEP-1755), the next run pushes there instead and the node pulls
// from it.
func TestRunNewKindClusterAndLocalRegistry(t *testing.T) {
	// kind writes the new context into this kubeconfig, and makes it current: not the user's.
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "kubeconfig"))
	nodeImage := dockerOutput(t, "inspect", "-f", "{{.Config.Image}}", ClusterName()+"-control-plane")
	deleteCluster(t, newClusterName) // left by an interrupted run
	t.Cleanup(func() { deleteCluster(t, newClusterName) })

	// The registry: a real OCI distribution server, in memory, on every interface so that the
	// node reaches it through the kind network's gateway.
	lis, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: registry.New(registry.Logger(log.New(io.Discard, "", 0)))}
	go srv.Serve(lis)
	t.Cleanup(func() { srv.Close() })
	port := lis.Addr().(*net.TCPAddr).Port
	host := fmt.Sprintf("localhost:%d", port)

	// As kind's local-registry recipe: containerd reads per-registry hosts from certs.d.
	files := httpService("echo", "default")
	files["Kilnfile"] = fmt.Sprintf(`kind_cluster(name=%q, image=%q, config={
    # The offline node image brings a static bridge CNI config instead of kindnetd.
    'networking': {'disableDefaultCNI': True, 'podSubnet': '10.244.0.0/16'},
    'containerdConfigPatches': ['[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "/etc/containerd/certs.d"\n'],
})
docker_build('example.local/echo', 'echo')
k8s_yaml('echo.yaml')
`, newClusterName, nodeImage)
	files["echo/www/index.html"] = "first, in a new cluster\n"
	dir := writeProject(t, files)

	first := kiln(t, nil, "run", "-f", dir)
	if first.code != 0 {
		t.Fatalf("kiln run with a kind_cluster that does not exist yet:\n%s", first)
	}
	if !strings.Contains(first.stdout, "context kind-"+newClusterName+":") {
		t.Fatalf("want the run on kind-%s:\n%s", newClusterName, first)
	}
	if _, l, _ := counts(t, first); l != 1 {
		t.Fatalf("want the image loaded into the new cluster's node, loaded %d:\n%s", l, first)
	}
	c, err := Connect(newClusterName)
	if err != nil {
		t.Fatal(err)
	}
	serve(t, c, "default", "app=echo", 8080, "first, in a new cluster")

	// Advertise the registry: hosts.toml on the node, then the KEP-1755 ConfigMap.
	gateway := kindGateway(t)
	hostsToml := fmt.Sprintf("server = \"http://%s\"\n[host.\"http://%s:%d\"]\n  capabilities = [\"pull\", \"resolve\"]\n", host, gateway, port)
	dockerOutput(t, "exec", newClusterName+"-control-plane", "sh", "-c",
		fmt.Sprintf("mkdir -p /etc/containerd/certs.d/%[1]s && printf '%%s' '%[2]s' > /etc/containerd/certs.d/%[1]s/hosts.toml", host, hostsToml))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err = c.Client.CoreV1().ConfigMaps("kube-public").Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "local-registry-hosting"},
		Data:       map[string]string{"localRegistryHosting.v1": fmt.Sprintf("host: %q\n", host)},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	if err := os.WriteFile(filepath.Join(dir, "echo/www/index.html"), []byte("second, from the registry\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	second := kiln(t, nil, "run", "-f", dir)
	if second.code != 0 {
		t.Fatalf("kiln run on a cluster with a local registry:\n%s", second)
	}
	if b, l, _ := counts(t, second); b != 1 || l != 0 {
		t.Fatalf("want one build, pushed rather than loaded: built %d, loaded %d:\n%s", b, l, second)
	}
	if !strings.Contains(second.stdout, "push   "+host+"/") {
		t.Fatalf("want a push to %s:\n%s", host, second)
	}
	serve(t, c, "default", "app=echo", 8080, "second, from the registry")
	pods, err := c.WaitPodsReady(ctx, "default", "app=echo")
	if err != nil {
		t.Fatal(err)
	}
	if image := pods[0].Spec.Containers[0].Image; !strings.HasPrefix(image, host+"/") {
		t.Fatalf("the pod runs %s, want an image from %s", image, host)
	}
	catalog, err := HTTPGet(ctx, fmt.Sprintf("http://127.0.0.1:%d/v2/_catalog", port))
	if err != nil || !strings.Contains(catalog, "echo") {
		t.Fatalf("registry catalog %q (%v): want the pushed echo image", catalog, err)
	}

	if r := kiln(t, nil, "down", "-f", dir); r.code != 0 {
		t.Fatalf("kiln down:\n%s", r)
	}
}

// dockerOutput runs the docker CLI (which kind needs anyway) and returns its trimmed stdout.
func dockerOutput(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("docker", args...).Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, msg)
	}
	return strings.TrimSpace(string(out))
}

// kindGateway is the IPv4 gateway of the "kind" Docker network: this machine, as nodes see it.
func kindGateway(t *testing.T) string {
	t.Helper()
	for _, gw := range strings.Fields(dockerOutput(t, "network", "inspect", "kind", "-f", "{{range .IPAM.Config}}{{.Gateway}} {{end}}")) {
		if ip := net.ParseIP(gw); ip != nil && ip.To4() != nil {
			return gw
		}
	}
	t.Fatal("the kind network has no IPv4 gateway")
	return ""
}

// deleteCluster deletes kind cluster name if it exists.
func deleteCluster(t *testing.T, name string) {
	t.Helper()
	p := kindcluster.NewProvider(kindcluster.ProviderWithDocker())
	names, err := p.List()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(names, name) {
		return
	}
	if err := p.Delete(name, os.Getenv("KUBECONFIG")); err != nil {
		t.Errorf("delete kind cluster %s: %v", name, err)
	}
}
