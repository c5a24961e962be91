//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// helperEnv, when set, makes the test binary act as a k8s_custom_deploy command instead of
// running tests: "apply" or "delete". A user's deploy tool would be kubectl, helm or an
// operator's CLI; this one applies with client-go, so that no such binary is needed here.
const helperEnv = "KILN_E2E_DEPLOY_HELPER"

func TestMain(m *testing.M) {
	if verb := os.Getenv(helperEnv); verb != "" {
		if err := deployHelper(verb, os.Args[1:]); err != nil {
			fmt.Fprintln(os.Stderr, "deploy helper:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// deployHelper applies or deletes the Deployment in args[0] (namespace args[1]). apply sets
// its image to $TILT_IMAGE_0, as a custom deploy tool does with the image kiln built, and
// prints the applied object as YAML: that is how kiln learns what to wait for.
func deployHelper(verb string, args []string) error {
	if len(args) != 2 {
		return fmt.Errorf("usage: %s=apply|delete <deployment.yaml> <namespace>", helperEnv)
	}
	text, err := os.ReadFile(args[0])
	if err != nil {
		return err
	}
	var d appsv1.Deployment
	if err := yaml.UnmarshalStrict(text, &d); err != nil {
		return err
	}
	c, err := Connect(ClusterName())
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	deployments := c.Client.AppsV1().Deployments(args[1])
	switch verb {
	case "delete":
		err := deployments.Delete(ctx, d.Name, metav1.DeleteOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	case "apply":
		image := os.Getenv("TILT_IMAGE_0")
		if image == "" {
			return fmt.Errorf("TILT_IMAGE_0 is not set")
		}
		d.Namespace = args[1]
		d.Spec.Template.Spec.Containers[0].Image = image
		applied, err := deployments.Create(ctx, &d, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			current, getErr := deployments.Get(ctx, d.Name, metav1.GetOptions{})
			if getErr != nil {
				return getErr
			}
			d.ResourceVersion = current.ResourceVersion
			applied, err = deployments.Update(ctx, &d, metav1.UpdateOptions{})
		}
		if err != nil {
			return err
		}
		applied.TypeMeta = metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"}
		applied.ManagedFields = nil
		out, err := yaml.Marshal(applied)
		if err != nil {
			return err
		}
		_, err = os.Stdout.Write(out)
		return err
	}
	return fmt.Errorf("unknown verb %q", verb)
}

// TestRunCustomDeploy: k8s_custom_deploy builds its image_deps, runs apply_cmd with the built
// image in $TILT_IMAGE_0, waits for the workloads apply_cmd printed, and kiln down runs
// delete_cmd.
func TestRunCustomDeploy(t *testing.T) {
	c := connect(t)
	ns := newNamespace(t, c)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	service := httpService("custom", ns)
	// The page names the namespace so that the image is new to the engine on every run.
	service["custom/www/index.html"] = "hello from custom in " + ns + "\n"
	deployment, _, _ := strings.Cut(service["custom.yaml"], "---")
	service["custom.yaml"] = deployment
	service["Kilnfile"] = fmt.Sprintf(`docker_build('example.local/custom', 'custom')
k8s_custom_deploy('custom',
    apply_cmd=[%[1]q, 'custom.yaml', %[2]q],
    delete_cmd=[%[1]q, 'custom.yaml', %[2]q],
    apply_env={%[3]q: 'apply'},
    delete_env={%[3]q: 'delete'},
    deps=['custom.yaml'],
    image_deps=['example.local/custom'])
`, self, ns, helperEnv)
	dir := writeProject(t, service)

	r := kiln(t, nil, "run", "-f", dir, contextFlag(c))
	if r.code != 0 {
		t.Fatalf("kiln run:\n%s", r)
	}
	if b, l, _ := counts(t, r); b != 1 || l != 1 {
		t.Fatalf("want the image_deps image built and loaded once, got built %d, loaded %d:\n%s", b, l, r)
	}
	// kiln run returned only once the Deployment apply_cmd reported was rolled out.
	d, err := c.Client.AppsV1().Deployments(ns).Get(context.Background(), "custom", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("apply_cmd's Deployment: %v\n%s", err, r)
	}
	if !strings.HasPrefix(d.Spec.Template.Spec.Containers[0].Image, "example.local/custom:kiln-") {
		t.Fatalf("apply_cmd got image %q, want the built example.local/custom:kiln-<hash>", d.Spec.Template.Spec.Containers[0].Image)
	}
	if d.Status.UpdatedReplicas != 1 || d.Status.ReadyReplicas != 1 {
		t.Fatalf("kiln run exited 0 before the Deployment was ready: %+v\n%s", d.Status, r)
	}
	serve(t, c, ns, "app=custom", 8080, "hello from custom in "+ns)

	if r := kiln(t, nil, "down", "-f", dir, contextFlag(c)); r.code != 0 {
		t.Fatalf("kiln down:\n%s", r)
	}
	if _, err := c.Client.AppsV1().Deployments(ns).Get(context.Background(), "custom", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("kiln down did not run delete_cmd: the Deployment is still there (err %v)", err)
	}
}

// TestWatchCustomDeployLiveUpdate: a k8s_custom_deploy's own live_update, aimed by
// container_selector as in Tilt, syncs an edit into the container its apply_cmd deployed,
// with no new pod.
func TestWatchCustomDeployLiveUpdate(t *testing.T) {
	c := connect(t)
	ns := newNamespace(t, c)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	local, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	service := httpService("custom", ns)
	service["custom/www/index.html"] = "custom one in " + ns + "\n"
	deployment, _, _ := strings.Cut(service["custom.yaml"], "---")
	service["custom.yaml"] = deployment
	service["Kilnfile"] = fmt.Sprintf(`docker_build('example.local/custom', 'custom')
k8s_custom_deploy('custom',
    apply_cmd=[%[1]q, 'custom.yaml', %[2]q],
    delete_cmd=[%[1]q, 'custom.yaml', %[2]q],
    apply_env={%[3]q: 'apply'},
    delete_env={%[3]q: 'delete'},
    deps=['custom.yaml'],
    image_deps=['example.local/custom'],
    container_selector='custom',
    live_update=[sync('custom/www', '/www')])
k8s_resource('custom', port_forwards=['%[4]d:8080'])
`, self, ns, helperEnv, local)
	dir := writeProject(t, service)
	t.Cleanup(func() { kiln(t, nil, "down", "-f", dir, contextFlag(c)) })
	w := startWatch(t, "-f", dir, contextFlag(c))
	w.waitFor("update (start) done", 4*time.Minute)
	url := fmt.Sprintf("http://localhost:%d/", local)
	waitServed(t, w, url, "custom one in "+ns)
	uid := podUID(t, c, ns, "custom")
	write(t, filepath.Join(dir, "custom", "www", "index.html"), "custom two in "+ns+"\n")
	waitServed(t, w, url, "custom two in "+ns)
	w.waitFor("live update:", 30*time.Second) // printed once every target has the files
	if out := w.stdout.String(); strings.Contains(out, "redeploying instead") {
		t.Fatalf("the edit was not live-updated:\n%s", tail(out, 30))
	}
	if got := podUID(t, c, ns, "custom"); got != uid {
		t.Errorf("the live update replaced the pod (%s → %s)", uid, got)
	}
}
