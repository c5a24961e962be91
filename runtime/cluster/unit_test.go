package cluster

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"sigs.k8s.io/yaml"

	"github.com/kiln-dev/kiln/runtime/plan"
)

func TestKindName(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
		ok   bool
	}{
		{"kind-foo", "foo", true},
		{"kind-kiln-e2e", "kiln-e2e", true},
		{"kind-", "", false},
		{"kind", "", false},
		{"k3d-foo", "", false},
		{"", "", false},
		{"xkind-foo", "", false},
	} {
		got, ok := KindName(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("KindName(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestContainerdName(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"example/web:tag", "docker.io/example/web:tag"},
		{"example/web", "docker.io/example/web:latest"},
		{"busybox", "docker.io/library/busybox:latest"},
		{"busybox:1.36", "docker.io/library/busybox:1.36"},
		{"docker.io/library/busybox:1.36", "docker.io/library/busybox:1.36"},
		{"kiln.local/x:y", "kiln.local/x:y"},
		{"kiln.local/a/b/c:y", "kiln.local/a/b/c:y"},
		{"localhost:5000/web:abc123", "localhost:5000/web:abc123"},
		{"localhost/web:1", "localhost/web:1"},
	} {
		got, err := ContainerdName(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ContainerdName(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{
		"",
		"web/UPPER:x",
		"a b",
		"busybox@sha256:0e92f34bb6b858972cfafa36fc422abc5d03467162857a0e58a2cb61fea32475",
		"busybox:1@sha256:0e92f34bb6b858972cfafa36fc422abc5d03467162857a0e58a2cb61fea32475",
	} {
		if got, err := ContainerdName(bad); err == nil {
			t.Errorf("ContainerdName(%q) = %q, want an error", bad, got)
		}
	}
}

func TestNormalizeRefsDedupes(t *testing.T) {
	imgs, err := normalizeRefs([]string{"busybox", "docker.io/library/busybox:latest", "kiln.local/x:1", "busybox:latest"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, im := range imgs {
		got = append(got, im.ref+"="+im.name)
	}
	want := "busybox=docker.io/library/busybox:latest kiln.local/x:1=kiln.local/x:1"
	if strings.Join(got, " ") != want {
		t.Errorf("normalizeRefs = %v, want %s", got, want)
	}
}

func TestParseCtrImages(t *testing.T) {
	// Real output of containerd 1.6's `ctr images ls` (widths trimmed).
	out := `REF                                                                     TYPE                                                 DIGEST                                                                  SIZE    PLATFORMS   LABELS
docker.io/kiln-test/manual:x1                                           application/vnd.docker.distribution.manifest.v2+json sha256:9a925847adaa64cb4e9e3b1da725fdbff8dcd60771003cc59ff225db88081666 2.0 MiB linux/amd64 io.cri-containerd.image=managed
sha256:d05176c035947134c18e4b48dfd01323f9c40ae1c697c8cc0557c1dfc2210fad application/vnd.docker.distribution.manifest.v2+json sha256:9a925847adaa64cb4e9e3b1da725fdbff8dcd60771003cc59ff225db88081666 2.0 MiB linux/amd64 io.cri-containerd.image=managed
`
	got := parseCtrImages(out)
	want := map[string]string{
		"docker.io/kiln-test/manual:x1":                                           "sha256:9a925847adaa64cb4e9e3b1da725fdbff8dcd60771003cc59ff225db88081666",
		"sha256:d05176c035947134c18e4b48dfd01323f9c40ae1c697c8cc0557c1dfc2210fad": "sha256:9a925847adaa64cb4e9e3b1da725fdbff8dcd60771003cc59ff225db88081666",
	}
	if len(got) != len(want) {
		t.Fatalf("parseCtrImages = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("parseCtrImages[%s] = %q, want %q", k, got[k], v)
		}
	}
	if m := parseCtrImages("REF TYPE DIGEST SIZE PLATFORMS LABELS\n"); len(m) != 0 {
		t.Errorf("header only: got %v", m)
	}
}

func decodeConfig(t *testing.T, raw []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal(raw, &m); err != nil {
		t.Fatalf("config YAML: %v\n%s", err, raw)
	}
	return m
}

func TestCreateConfig(t *testing.T) {
	const img = "kiln.local/kind-node:test"

	t.Run("empty config gets type meta and the node image option", func(t *testing.T) {
		raw, useImage, err := createConfig(&plan.Cluster{Name: "x"}, img)
		if err != nil {
			t.Fatal(err)
		}
		m := decodeConfig(t, raw)
		if m["apiVersion"] != kindAPIVersion || m["kind"] != "Cluster" || !useImage {
			t.Errorf("got %v useImage=%v", m, useImage)
		}
	})

	t.Run("config without node images", func(t *testing.T) {
		in := map[string]any{
			"kind": "Cluster", "apiVersion": kindAPIVersion,
			"networking": map[string]any{"disableDefaultCNI": true, "podSubnet": "10.244.0.0/16"},
			"nodes":      []any{map[string]any{"role": "control-plane"}, map[string]any{"role": "worker"}},
		}
		raw, useImage, err := createConfig(&plan.Cluster{Name: "x", Config: in}, img)
		if err != nil {
			t.Fatal(err)
		}
		if !useImage {
			t.Error("want the node image option when no node names an image")
		}
		m := decodeConfig(t, raw)
		if n := m["networking"].(map[string]any); n["disableDefaultCNI"] != true || n["podSubnet"] != "10.244.0.0/16" {
			t.Errorf("networking = %v", n)
		}
		// The plan is not mutated.
		if _, ok := in["nodes"].([]any)[0].(map[string]any)["image"]; ok {
			t.Error("createConfig changed the plan's config")
		}
	})

	t.Run("config naming an image keeps it and fills the others", func(t *testing.T) {
		in := map[string]any{
			"nodes": []any{
				map[string]any{"role": "control-plane", "image": "mine:1"},
				map[string]any{"role": "worker"},
			},
		}
		raw, useImage, err := createConfig(&plan.Cluster{Name: "x", Config: in}, img)
		if err != nil {
			t.Fatal(err)
		}
		if useImage {
			t.Error("the node image option would override the config's image")
		}
		nodes := decodeConfig(t, raw)["nodes"].([]any)
		if got := nodes[0].(map[string]any)["image"]; got != "mine:1" {
			t.Errorf("node 0 image = %v", got)
		}
		if got := nodes[1].(map[string]any)["image"]; got != img {
			t.Errorf("node 1 image = %v, want %s", got, img)
		}
	})

	t.Run("bad configs", func(t *testing.T) {
		for _, in := range []map[string]any{
			{"apiVersion": "kind.x-k8s.io/v1alpha3"},
			{"kind": "Pod"},
			{"nodes": "control-plane"},
			{"nodes": []any{"control-plane"}},
		} {
			if _, _, err := createConfig(&plan.Cluster{Name: "x", Config: in}, img); err == nil {
				t.Errorf("createConfig(%v): want an error", in)
			}
		}
	})

	t.Run("config file", func(t *testing.T) {
		f := t.TempDir() + "/kind.yaml"
		writeFile(t, f, "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n  image: file:1\n")
		raw, useImage, err := createConfig(&plan.Cluster{Name: "x", ConfigFile: f}, img)
		if err != nil || useImage {
			t.Fatalf("err=%v useImage=%v", err, useImage)
		}
		if got := decodeConfig(t, raw)["nodes"].([]any)[0].(map[string]any)["image"]; got != "file:1" {
			t.Errorf("image = %v", got)
		}
	})
}

func TestLocalRegistryFake(t *testing.T) {
	ctx := context.Background()
	cm := func(data map[string]string) runtime.Object {
		return &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: RegistryConfigMapName, Namespace: RegistryConfigMapNamespace},
			Data:       data,
		}
	}
	for _, tc := range []struct {
		name    string
		objs    []runtime.Object
		host    string
		ok      bool
		wantErr bool
	}{
		{name: "absent"},
		{name: "no key", objs: []runtime.Object{cm(map[string]string{"other": "x"})}},
		{name: "kind's example", objs: []runtime.Object{cm(map[string]string{RegistryConfigMapKey: `host: "localhost:5001"
help: "https://kind.sigs.k8s.io/docs/user/local-registry/"
`})}, host: "localhost:5001", ok: true},
		{name: "all fields", objs: []runtime.Object{cm(map[string]string{RegistryConfigMapKey: `host: "localhost:5000"
hostFromContainerRuntime: "kind-registry:5000"
hostFromClusterNetwork: "kind-registry:5000"
`})}, host: "localhost:5000", ok: true},
		{name: "no host", objs: []runtime.Object{cm(map[string]string{RegistryConfigMapKey: `help: "https://example.com"`})}},
		{name: "bad YAML", objs: []runtime.Object{cm(map[string]string{RegistryConfigMapKey: "host: [unclosed"})}, wantErr: true},
		{name: "other namespace", objs: []runtime.Object{&corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: RegistryConfigMapName, Namespace: "default"},
			Data:       map[string]string{RegistryConfigMapKey: `host: "localhost:5000"`},
		}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			host, ok, err := LocalRegistry(ctx, fake.NewClientset(tc.objs...))
			if (err != nil) != tc.wantErr || host != tc.host || ok != tc.ok {
				t.Errorf("LocalRegistry = %q, %v, %v; want %q, %v, err=%v", host, ok, err, tc.host, tc.ok, tc.wantErr)
			}
		})
	}

	t.Run("hosting fields", func(t *testing.T) {
		cs := fake.NewClientset(cm(map[string]string{RegistryConfigMapKey: "host: localhost:5000\nhostFromContainerRuntime: kind-registry:5000\n"}))
		h, err := LocalRegistryHosting(ctx, cs)
		if err != nil || h == nil || h.Host != "localhost:5000" || h.HostFromContainerRuntime != "kind-registry:5000" {
			t.Errorf("LocalRegistryHosting = %+v, %v", h, err)
		}
	})

	t.Run("API error", func(t *testing.T) {
		cs := fake.NewClientset()
		cs.PrependReactor("get", "configmaps", func(k8stesting.Action) (bool, runtime.Object, error) {
			return true, nil, errors.New("boom")
		})
		if _, ok, err := LocalRegistry(ctx, cs); err == nil || ok {
			t.Errorf("want an error, got ok=%v err=%v", ok, err)
		}
	})
}

func TestKindLogger(t *testing.T) {
	var buf bytes.Buffer
	l := newKindLogger(&buf, "kind: ")
	l.V(0).Infof(" • %s  ...\n", "Preparing nodes 📦")
	l.V(0).Infof(" ✓ %s\n", "Preparing nodes 📦")
	l.V(1).Info("debug detail")
	l.Warn("careful")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("got %q", buf.String())
	}
	if lines[0] != "kind: • Preparing nodes 📦" || !strings.HasPrefix(lines[1], "kind: ✓ Preparing nodes 📦 (") ||
		lines[2] != "kind: WARNING: careful" {
		t.Errorf("got %q", lines)
	}
	if l.V(1).Enabled() || !l.V(0).Enabled() {
		t.Error("levels")
	}
}
