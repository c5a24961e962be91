// Package compose runs docker_compose() services through the Docker engine API, as
// docker compose would, without its binary: one network per project (PROJECT_default, the
// service name as DNS alias), one container per service (PROJECT-SERVICE-1), named volumes
// PROJECT_NAME. Every object carries the kiln project's label, which is how kiln down finds
// them, and the hash of the service's config, so that an unchanged service is left running.
package compose

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"path/filepath"
	"strings"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/kiln-dev/kiln/runtime/plan"
)

// Labels on every container, network and volume kiln creates.
const (
	LabelProject        = "dev.kiln.project" // the kiln project (apply.ProjectID)
	LabelConfig         = "dev.kiln.compose-config"
	labelComposeProject = "com.docker.compose.project"
	labelComposeService = "com.docker.compose.service"
)

// Runner runs the services of one kiln project.
type Runner struct {
	API *client.Client
	// ProjectID is the kiln project's label value; Dir its directory (bind mounts are
	// relative to it).
	ProjectID, Dir string
}

// ContainerName is the container of a service, as docker compose names it.
func ContainerName(s *plan.ComposeService) string { return s.Project + "-" + s.Name + "-1" }

// Up makes the service's container run image (the built repo:tag for a kiln image, else
// the service's own image). A container of the same config that still runs is kept, and
// Up reports changed=false; any other is replaced.
func (r *Runner) Up(ctx context.Context, s *plan.ComposeService, image string) (id string, changed bool, err error) {
	hash, err := configHash(s, image)
	if err != nil {
		return "", false, err
	}
	name := ContainerName(s)
	if cur, err := r.API.ContainerInspect(ctx, name, client.ContainerInspectOptions{}); err == nil {
		c := cur.Container
		if c.Config != nil && c.Config.Labels[LabelConfig] == hash && c.State != nil && c.State.Running {
			return c.ID, false, nil
		}
		if c.Config == nil || c.Config.Labels[LabelProject] != r.ProjectID {
			return "", false, fmt.Errorf("a container named %s exists and is not this project's (it has no %s=%s label); remove it, or rename the service", name, LabelProject, r.ProjectID)
		}
		if _, err := r.API.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true}); err != nil {
			return "", false, fmt.Errorf("replace %s: %w", name, err)
		}
	}
	netName, err := r.network(ctx, s.Project)
	if err != nil {
		return "", false, err
	}
	labels := map[string]string{LabelProject: r.ProjectID, LabelConfig: hash, labelComposeProject: s.Project, labelComposeService: s.Name}
	cfg := &container.Config{Image: image, Env: env(s.Env), WorkingDir: s.WorkingDir, User: s.User, Labels: labels, ExposedPorts: network.PortSet{}}
	if len(s.Command) > 0 {
		cfg.Cmd = s.Command
	}
	if len(s.Entrypoint) > 0 {
		cfg.Entrypoint = s.Entrypoint
	}
	if h := s.Healthcheck; h != nil {
		cfg.Healthcheck = &container.HealthConfig{Test: h.Test, Interval: ms(h.IntervalMS), Timeout: ms(h.TimeoutMS), StartPeriod: ms(h.StartPeriodMS), Retries: h.Retries}
	}
	host := &container.HostConfig{PortBindings: network.PortMap{}}
	for _, p := range s.Ports {
		proto := p.Protocol
		if proto == "" {
			proto = "tcp"
		}
		port, err := network.ParsePort(fmt.Sprintf("%d/%s", p.Container, proto))
		if err != nil {
			return "", false, fmt.Errorf("port %d: %w", p.Container, err)
		}
		cfg.ExposedPorts[port] = struct{}{}
		b := network.PortBinding{HostPort: p.Host}
		if p.HostIP != "" {
			if b.HostIP, err = netip.ParseAddr(p.HostIP); err != nil {
				return "", false, fmt.Errorf("port %d: host_ip %q: %w", p.Container, p.HostIP, err)
			}
		}
		host.PortBindings[port] = append(host.PortBindings[port], b)
	}
	for _, v := range s.Volumes {
		m := mount.Mount{Target: v.Target, ReadOnly: v.ReadOnly}
		switch v.Type {
		case "bind":
			m.Type, m.Source = mount.TypeBind, v.Source
			if !filepath.IsAbs(m.Source) {
				m.Source = filepath.Join(r.Dir, filepath.FromSlash(v.Source))
			}
		default:
			m.Type = mount.TypeVolume
			m.Source = s.Project + "_" + v.Source
			m.VolumeOptions = &mount.VolumeOptions{Labels: map[string]string{LabelProject: r.ProjectID, labelComposeProject: s.Project}}
		}
		host.Mounts = append(host.Mounts, m)
	}
	netCfg := &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{netName: {Aliases: []string{s.Name}}}}
	created, err := r.API.ContainerCreate(ctx, client.ContainerCreateOptions{Name: name, Config: cfg, HostConfig: host, NetworkingConfig: netCfg})
	if err != nil {
		return "", false, fmt.Errorf("create %s: %w", name, err)
	}
	if _, err := r.API.ContainerStart(ctx, created.ID, client.ContainerStartOptions{}); err != nil {
		return "", false, fmt.Errorf("start %s: %w", name, err)
	}
	return created.ID, true, nil
}

// Remove removes the service's container, if it is this project's.
func (r *Runner) Remove(ctx context.Context, s *plan.ComposeService) error {
	cur, err := r.API.ContainerInspect(ctx, ContainerName(s), client.ContainerInspectOptions{})
	if err != nil || cur.Container.Config == nil || cur.Container.Config.Labels[LabelProject] != r.ProjectID {
		return nil // gone already, or not ours
	}
	_, err = r.API.ContainerRemove(ctx, cur.Container.ID, client.ContainerRemoveOptions{Force: true})
	return err
}

// network returns the project's network, created on first use.
func (r *Runner) network(ctx context.Context, project string) (string, error) {
	name := project + "_default"
	list, err := r.API.NetworkList(ctx, client.NetworkListOptions{Filters: client.Filters{}.Add("name", name)})
	if err != nil {
		return "", err
	}
	for _, n := range list.Items {
		if n.Name == name {
			return name, nil
		}
	}
	_, err = r.API.NetworkCreate(ctx, name, client.NetworkCreateOptions{Driver: "bridge",
		Labels: map[string]string{LabelProject: r.ProjectID, labelComposeProject: project, "com.docker.compose.network": "default"}})
	if err != nil && !strings.Contains(err.Error(), "already exists") {
		return "", fmt.Errorf("create network %s: %w", name, err)
	}
	return name, nil
}

// WaitReady waits until the container runs, and passes its healthcheck when it has one. A
// container that exits is an error carrying its last log lines.
func (r *Runner) WaitReady(ctx context.Context, id string) error {
	for {
		res, err := r.API.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
		if err != nil {
			return err
		}
		st := res.Container.State
		switch {
		case st == nil:
		case st.Status == container.StateExited || st.Status == container.StateDead:
			return fmt.Errorf("the container exited with code %d%s", st.ExitCode, r.lastLines(ctx, id))
		case st.Running && (st.Health == nil || st.Health.Status == container.Healthy):
			return nil
		case st.Health != nil && st.Health.Status == container.Unhealthy:
			return fmt.Errorf("the container is unhealthy%s", r.lastLines(ctx, id))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not ready: %w", context.Cause(ctx))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// lastLines is the end of the container's output, for an error message.
func (r *Runner) lastLines(ctx context.Context, id string) string {
	rc, err := r.API.ContainerLogs(ctx, id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Tail: "10"})
	if err != nil {
		return ""
	}
	defer rc.Close()
	var b strings.Builder
	_, _ = stdcopy.StdCopy(&b, &b, io.LimitReader(rc, 64<<10))
	if strings.TrimSpace(b.String()) == "" {
		return ""
	}
	return "; its last output:\n" + strings.TrimRight(b.String(), "\n")
}

// Logs copies the container's output, line by line, to w until ctx ends or the container
// stops.
func (r *Runner) Logs(ctx context.Context, id string, w io.Writer) error {
	rc, err := r.API.ContainerLogs(ctx, id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Follow: true})
	if err != nil {
		return err
	}
	defer rc.Close()
	pr, pw := io.Pipe()
	go func() {
		_, err := stdcopy.StdCopy(pw, pw, rc)
		pw.CloseWithError(err)
	}()
	sc := bufio.NewScanner(pr)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if _, err := fmt.Fprintln(w, sc.Text()); err != nil {
			return err
		}
	}
	return sc.Err()
}

// Down removes every container, then network, of the kiln project (volumes stay, as with
// docker compose down). It returns what it removed.
func (r *Runner) Down(ctx context.Context) ([]string, error) {
	f := client.Filters{}.Add("label", LabelProject+"="+r.ProjectID)
	list, err := r.API.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	for _, c := range list.Items {
		if _, err := r.API.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true}); err != nil {
			errs = append(errs, err)
			continue
		}
		name := c.ID[:12]
		if len(c.Names) > 0 {
			name = strings.TrimPrefix(c.Names[0], "/")
		}
		removed = append(removed, "container "+name)
	}
	nets, err := r.API.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		return removed, errors.Join(append(errs, err)...)
	}
	for _, n := range nets.Items {
		if _, err := r.API.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{}); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, "network "+n.Name)
	}
	return removed, errors.Join(errs...)
}

// configHash names everything that shapes the container: a change to any of it replaces it.
func configHash(s *plan.ComposeService, image string) (string, error) {
	c := *s // only what the container is made of: not kiln's resource options
	c.Pos, c.ResourceDeps, c.Links, c.Labels, c.TriggerMode, c.AutoInit, c.DependsOn = "", nil, nil, nil, "", false, nil
	b, err := json.Marshal(struct {
		S     plan.ComposeService
		Image string
	}{c, image})
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:12]), nil
}

func env(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	return out
}

func ms(n int64) time.Duration { return time.Duration(n) * time.Millisecond }
