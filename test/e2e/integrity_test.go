//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRunEditDuringBuild: a file edited while its image builds never ends up under the tag of
// the content before the edit. kiln run notices the edit after the build, drops that result,
// re-hashes and builds again, and deploys the new content; a second run with the same content
// builds nothing, because the tag it computes names exactly what was built.
func TestRunEditDuringBuild(t *testing.T) {
	c := connect(t)
	ns := newNamespace(t, c)
	svc := httpService("edited", ns)
	// A slow step after the COPY gives the edit time to land mid-build.
	svc["edited/Dockerfile"] = "FROM " + BusyboxImage + "\nCOPY www /www\nRUN sleep 4\nCMD [\"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]\n"
	before := "before the edit in " + ns + "\n"
	after := "after the edit in " + ns + "\n"
	svc["edited/www/index.html"] = before
	dir := writeProject(t, merge(svc, map[string]string{
		"Kilnfile": "docker_build('example.local/edited', 'edited')\nk8s_yaml('edited.yaml')\n",
	}))
	t.Cleanup(func() { kiln(t, nil, "down", "-f", dir, contextFlag(c)) })

	bin, err := kilnBinary()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "run", "-f", dir, contextFlag(c))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The build has read the context by now and sleeps in its RUN step. Whether the edit lands
	// before or after the transfer, the end must be the same.
	time.Sleep(2 * time.Second)
	if err := os.WriteFile(filepath.Join(dir, "edited", "www", "index.html"), []byte(after), 0o644); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	r := kilnResult{stdout: stdout.String(), stderr: stderr.String()}
	if err != nil {
		t.Fatalf("kiln run: %v\n%s", err, r)
	}
	if !strings.Contains(r.stdout, "changed while example.local/edited was being built") {
		t.Errorf("kiln run did not report the edit during the build:\n%s", r)
	}
	serve(t, c, ns, "app=edited", 8080, after)

	again := kiln(t, nil, "run", "-f", dir, contextFlag(c))
	if again.code != 0 {
		t.Fatalf("second run:\n%s", again)
	}
	if built, _, _ := counts(t, again); built != 0 {
		t.Fatalf("the content that was deployed is not what its tag names: a second run built %d images:\n%s", built, again)
	}
}
