package ready

import (
	"context"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

// isCustom says whether an object is a custom resource: its group is a DNS name outside
// Kubernetes' own *.k8s.io groups. Built-in objects that are not workloads (Services,
// ConfigMaps, PVCs waiting for a consumer) are ready once applied, as in Tilt.
func isCustom(o *unstructured.Unstructured) bool {
	group := o.GroupVersionKind().Group
	return strings.Contains(group, ".") && !strings.HasSuffix(group, ".k8s.io")
}

// customReady reads a custom resource's status with kstatus, the rules Kubernetes tools
// agree on for status conditions: Ready=False or Reconciling=True is in progress, Stalled=True
// has failed, and an observedGeneration behind the generation is not yet looked at. An object
// whose controller reports nothing is ready once applied.
func (c *Checker) customReady(ctx context.Context, o *unstructured.Unstructured) (bool, string, error) {
	gvk := o.GroupVersionKind()
	m, err := c.Cluster.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return false, "", fmt.Errorf("read %s: %w", describe(o), err)
	}
	live, err := c.Cluster.Dynamic.Resource(m.Resource).Namespace(o.GetNamespace()).Get(ctx, o.GetName(), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false, "waiting for " + describe(o) + " to exist", nil
	}
	if err != nil {
		return false, "", fmt.Errorf("read %s: %w", describe(o), err)
	}
	return customState(live)
}

// customState is kstatus's verdict on a live custom resource.
func customState(live *unstructured.Unstructured) (bool, string, error) {
	o := live
	res, err := kstatus.Compute(live)
	if err != nil {
		return false, "", fmt.Errorf("status of %s: %w", describe(o), err)
	}
	switch res.Status {
	case kstatus.CurrentStatus:
		return true, "", nil
	case kstatus.FailedStatus:
		return false, "", &Failure{Object: describe(o), Reason: res.Message}
	}
	msg := describe(o) + ": " + strings.ToLower(string(res.Status))
	if res.Message != "" {
		msg += " (" + res.Message + ")"
	}
	return false, msg, nil
}
