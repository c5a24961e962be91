//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestRunHelmResource: load('ext://helm_resource') is answered natively. A local chart with
// the project's image injected through image_keys renders in-process (no helm binary), its
// Deployment becomes ready under kiln run as one resource named after the release, the pod
// serves the built page, and kiln down removes the release's objects.
func TestRunHelmResource(t *testing.T) {
	c := connect(t)
	ns := newNamespace(t, c)
	svc := httpService("web", ns)
	files := map[string]string{
		"web/Dockerfile":     svc["web/Dockerfile"],
		"web/www/index.html": "hello from the chart in " + ns + "\n",
		"chart/Chart.yaml":   "apiVersion: v2\nname: web\nversion: 0.1.0\nappVersion: '1.0'\n",
		"chart/values.yaml":  "replicaCount: 1\nimage: {repository: nginx, tag: ''}\n",
		"chart/templates/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata: {name: {{ .Release.Name }}-web}
spec:
  replicas: {{ .Values.replicaCount }}
  selector: {matchLabels: {app: {{ .Release.Name }}}}
  template:
    metadata: {labels: {app: {{ .Release.Name }}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: web
        image: "{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}"
        ports: [{containerPort: 8080}]
        readinessProbe: {httpGet: {path: /, port: 8080}, periodSeconds: 1}
`,
		"chart/templates/configmap.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: {{ .Release.Name }}-settings}\ndata: {mode: dev}\n",
		"Kilnfile": fmt.Sprintf(`load('ext://helm_resource', 'helm_resource', 'helm_repo')
helm_repo('stable', 'https://charts.example.com/stable')
docker_build('example.local/chartweb', 'web')
helm_resource('site', 'chart', namespace=%q, release_name='rel',
    image_deps=['example.local/chartweb'], image_keys=[('image.repository', 'image.tag')],
    resource_deps=['stable'])
`, ns),
	}
	dir := writeProject(t, files)
	r := kiln(t, nil, "run", "-f", dir, contextFlag(c))
	if r.code != 0 {
		t.Fatalf("kiln run:\n%s", r)
	}
	if !strings.Contains(r.stdout+r.stderr, "site") {
		t.Errorf("kiln run did not report the resource named after helm_resource:\n%s", r)
	}
	d, err := c.Client.AppsV1().Deployments(ns).Get(context.Background(), "rel-web", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the chart's Deployment: %v\n%s", err, r)
	}
	if img := d.Spec.Template.Spec.Containers[0].Image; !strings.HasPrefix(img, "example.local/chartweb:kiln-") {
		t.Fatalf("the chart runs %q, want the built example.local/chartweb:kiln-<hash> put in by image_keys", img)
	}
	if d.Status.ReadyReplicas != 1 {
		t.Fatalf("kiln run exited 0 before the chart's Deployment was ready: %+v\n%s", d.Status, r)
	}
	if _, err := c.Client.CoreV1().ConfigMaps(ns).Get(context.Background(), "rel-settings", metav1.GetOptions{}); err != nil {
		t.Fatalf("the chart's ConfigMap: %v", err)
	}
	serve(t, c, ns, "app=rel", 8080, "hello from the chart in "+ns)

	if r := kiln(t, nil, "down", "-f", dir, contextFlag(c)); r.code != 0 {
		t.Fatalf("kiln down:\n%s", r)
	}
	if _, err := c.Client.AppsV1().Deployments(ns).Get(context.Background(), "rel-web", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("kiln down left the chart's Deployment (err %v)", err)
	}
}
