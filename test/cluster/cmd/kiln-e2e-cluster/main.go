// Command kiln-e2e-cluster brings kiln's e2e kind cluster up or down with the
// kind library. Used by test/cluster/cluster.mk:
//
//	kiln-e2e-cluster up -image kiln.local/kind-node:v1.34.4-<key> [-name kiln-e2e]
//	kiln-e2e-cluster down [-name kiln-e2e]
//
// `up` is idempotent: a ready cluster returns at once; a cluster whose node
// container stopped (the engine was restarted) is started again; one that is
// not ready then, or runs another node image, is deleted and created anew.
// The context kind-<name> is written to the default kubeconfig.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/kind/pkg/cluster"
	kindcmd "sigs.k8s.io/kind/pkg/cmd"

	"github.com/kiln-dev/kiln/test/e2e"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("[kiln-e2e-cluster] ")
	if len(os.Args) < 2 {
		log.Fatal("usage: kiln-e2e-cluster up|down [-name NAME] [-image IMAGE]")
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	name := fs.String("name", e2e.ClusterName(), "kind cluster name")
	image := fs.String("image", "", "kind node image (up)")
	wait := fs.Duration("wait", 4*time.Minute, "how long to wait for the cluster to be ready")
	_ = fs.Parse(os.Args[2:])

	provider := cluster.NewProvider(cluster.ProviderWithDocker(), cluster.ProviderWithLogger(kindcmd.NewLogger()))
	var err error
	switch os.Args[1] {
	case "up":
		if *image == "" {
			log.Fatal("up: -image is required")
		}
		err = up(provider, *name, *image, *wait)
	case "down":
		err = down(provider, *name)
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		log.Fatal(err)
	}
}

func up(p *cluster.Provider, name, image string, wait time.Duration) error {
	start := time.Now()
	clusters, err := p.List()
	if err != nil {
		return fmt.Errorf("list kind clusters: %w", err)
	}
	if slices.Contains(clusters, name) {
		ok, err := repair(p, name, image, wait)
		if err != nil {
			return err
		}
		if ok {
			log.Printf("cluster %s is ready (%.1fs)", name, time.Since(start).Seconds())
			return nil
		}
		log.Printf("deleting cluster %s to create it anew", name)
		if err := p.Delete(name, ""); err != nil {
			return fmt.Errorf("delete cluster %s: %w", name, err)
		}
	}

	t := time.Now()
	log.Printf("creating cluster %s from %s", name, image)
	cfg := &v1alpha4.Cluster{
		Networking: v1alpha4.Networking{
			// No kindnetd here: the node image has a static bridge CNI config.
			DisableDefaultCNI: true,
			PodSubnet:         "10.244.0.0/16",
		},
		Nodes: []v1alpha4.Node{{Role: v1alpha4.ControlPlaneRole, Image: image}},
	}
	v1alpha4.SetDefaultsCluster(cfg)
	if err := p.Create(name,
		cluster.CreateWithV1Alpha4Config(cfg),
		cluster.CreateWithNodeImage(image),
		cluster.CreateWithWaitForReady(wait),
		cluster.CreateWithDisplayUsage(false),
		cluster.CreateWithDisplaySalutation(false),
	); err != nil {
		return fmt.Errorf("create cluster %s: %w", name, err)
	}
	log.Printf("created cluster %s in %.1fs", name, time.Since(t).Seconds())
	if err := waitReady(name, wait); err != nil {
		return err
	}
	log.Printf("cluster %s is ready (%.1fs)", name, time.Since(start).Seconds())
	return nil
}

// repair brings an existing cluster back to ready; false means it should be
// created anew.
func repair(p *cluster.Provider, name, image string, wait time.Duration) (bool, error) {
	nodes, err := p.ListNodes(name)
	if err != nil {
		return false, fmt.Errorf("list nodes of %s: %w", name, err)
	}
	if len(nodes) != 1 {
		log.Printf("cluster %s has %d nodes, want 1", name, len(nodes))
		return false, nil
	}
	node := nodes[0].String()
	out, err := exec.Command("docker", "inspect", "-f", "{{.State.Running}} {{.Config.Image}}", node).Output()
	if err != nil {
		log.Printf("inspect node %s: %v", node, err)
		return false, nil
	}
	running, nodeImage, _ := strings.Cut(strings.TrimSpace(string(out)), " ")
	if nodeImage != image {
		log.Printf("cluster %s runs %s, want %s", name, nodeImage, image)
		return false, nil
	}
	restarted := false
	if running != "true" {
		t := time.Now()
		log.Printf("node %s is stopped; starting it", node)
		if out, err := exec.Command("docker", "start", node).CombinedOutput(); err != nil {
			log.Printf("docker start %s: %v: %s", node, err, out)
			return false, nil
		}
		restarted = true
		defer func() { log.Printf("restarted node %s in %.1fs", node, time.Since(t).Seconds()) }()
	}
	// The kubeconfig may be gone (or point at an old port): write it again.
	if err := p.ExportKubeConfig(name, "", false); err != nil {
		log.Printf("export kubeconfig: %v", err)
		return false, nil
	}
	if !restarted {
		// A cluster that was up should answer at once; don't wait long for it.
		wait = min(wait, time.Minute)
	}
	if err := waitReady(name, wait); err != nil {
		log.Printf("cluster %s not ready: %v", name, err)
		return false, nil
	}
	return true, nil
}

func waitReady(name string, wait time.Duration) error {
	t := time.Now()
	c, err := e2e.Connect(name)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := c.WaitReady(ctx); err != nil {
		return fmt.Errorf("cluster %s not ready after %s: %w", name, wait, err)
	}
	if d := time.Since(t); d > 2*time.Second {
		log.Printf("kube-system ready and default service account there after %.1fs", d.Seconds())
	}
	return nil
}

func down(p *cluster.Provider, name string) error {
	clusters, err := p.List()
	if err != nil {
		return err
	}
	if !slices.Contains(clusters, name) {
		log.Printf("no cluster %s", name)
		return nil
	}
	if err := p.Delete(name, ""); err != nil {
		return errors.Join(fmt.Errorf("delete cluster %s", name), err)
	}
	log.Printf("deleted cluster %s", name)
	return nil
}
