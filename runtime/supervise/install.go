package supervise

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path"
	"runtime"
	"sync"

	"github.com/kiln-dev/kiln/runtime/liveupdate"
	"github.com/moby/moby/client"
)

// SupervisorEnv names an environment variable: the path of a static kiln binary to put in
// containers as the supervisor, when kiln's own binary is not static.
const SupervisorEnv = "KILN_SUPERVISOR"

// Installer puts kiln's own binary into kind nodes, under HostDir, named by its content hash
// so that pods of another kiln version keep theirs.
type Installer struct {
	API     *client.Client
	Cluster string // the kind cluster: only its nodes are written to

	once   sync.Once
	binary string // kiln-<hash>
	exe    string
	err    error
	done   sync.Map // node → true
}

// Binary names the supervisor binary in HostDir, or says why kiln cannot supervise: it must
// be a static Linux executable, since it runs inside the containers (FROM scratch too).
func (in *Installer) Binary() (string, error) {
	in.once.Do(func() { in.exe, in.binary, in.err = selfBinary() })
	return in.binary, in.err
}

func selfBinary() (exe, name string, err error) {
	if runtime.GOOS != "linux" {
		return "", "", fmt.Errorf("restart_container() needs kiln built for Linux, whose binary runs in the containers; this kiln is for %s", runtime.GOOS)
	}
	// KILN_SUPERVISOR names a static kiln binary to use instead of this one: for a kiln built
	// with cgo (the race detector needs it), whose own binary cannot run in a container.
	if exe = os.Getenv(SupervisorEnv); exe == "" {
		if exe, err = os.Executable(); err != nil {
			return "", "", err
		}
	}
	f, err := elf.Open(exe)
	if err != nil {
		return "", "", fmt.Errorf("read kiln's own binary: %w", err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return "", "", fmt.Errorf("restart_container() needs a statically linked kiln, whose binary runs in the containers; %s is linked dynamically: build it with CGO_ENABLED=0, as make build does, or set %s to a static kiln", exe, SupervisorEnv)
		}
	}
	r, err := os.Open(exe)
	if err != nil {
		return "", "", err
	}
	defer r.Close()
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return "", "", err
	}
	return exe, "kiln-" + hex.EncodeToString(h.Sum(nil))[:16], nil
}

// Install makes sure node has the supervisor binary, copying it through the Docker engine
// (once per node and kiln binary).
func (in *Installer) Install(ctx context.Context, node string) error {
	binary, err := in.Binary()
	if err != nil {
		return err
	}
	if _, ok := in.done.Load(node); ok {
		return nil
	}
	if err := liveupdate.CheckKindNode(ctx, in.API, node, in.Cluster); err != nil {
		return err
	}
	f, err := os.Open(in.exe)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	// A copy cut short (kiln killed during it) has the wrong size, and is copied again.
	dest := path.Join(HostDir, binary)
	if have, err := in.API.ContainerStatPath(ctx, node, client.ContainerStatPathOptions{Path: dest}); err == nil && have.Stat.Size == st.Size() {
		in.done.Store(node, true)
		return nil
	}
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		err := func() error {
			dir := ""
			for _, part := range []string{"var", "lib", "kiln", "supervisor"} {
				dir = path.Join(dir, part)
				if err := tw.WriteHeader(&tar.Header{Name: dir + "/", Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
					return err
				}
			}
			if err := tw.WriteHeader(&tar.Header{Name: path.Join(dir, binary), Typeflag: tar.TypeReg, Mode: 0o755, Size: st.Size()}); err != nil {
				return err
			}
			if _, err := io.CopyN(tw, f, st.Size()); err != nil {
				return err
			}
			return tw.Close()
		}()
		pw.CloseWithError(err)
	}()
	if _, err := in.API.CopyToContainer(ctx, node, client.CopyToContainerOptions{DestinationPath: "/", Content: pr}); err != nil {
		pr.CloseWithError(err)
		return fmt.Errorf("copy kiln's supervisor into kind node %s: %w", node, err)
	}
	in.done.Store(node, true)
	return nil
}
