package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// TestGolden renders every project under testdata/ through the CLI and compares the output
// with its golden files:
//   - render.golden: `kiln render` stdout, when it succeeds;
//   - plan.golden:   `kiln render -o json` stdout;
//   - stderr.golden: stderr (print() output and warnings), when anything;
//   - error.golden:  stderr when it fails (exit 1).
//
// A file named "args" holds extra command-line arguments, one per line. Each case renders
// twice: the output must be byte-identical.
func TestGolden(t *testing.T) {
	cases, err := filepath.Glob("../../testdata/*")
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) == 0 {
		t.Fatal("no golden cases found under testdata/")
	}
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "no-kubeconfig"))
	t.Setenv("KILN_CACHE_DIR", t.TempDir())
	for _, dir := range cases {
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			continue
		}
		dir := dir
		t.Run(filepath.Base(dir), func(t *testing.T) {
			var extra []string
			if data, err := os.ReadFile(filepath.Join(dir, "args")); err == nil {
				extra = strings.Fields(string(data))
			}
			yamlOut, yamlErr, code := renderCase(t, dir, nil, extra)
			if code == exitUsage {
				t.Fatalf("usage error: %s", yamlErr)
			}
			if code != exitOK {
				checkGolden(t, filepath.Join(dir, "error.golden"), yamlErr)
				mustNotExist(t, filepath.Join(dir, "render.golden"))
				return
			}
			mustNotExist(t, filepath.Join(dir, "error.golden"))
			checkGolden(t, filepath.Join(dir, "render.golden"), yamlOut)
			if len(yamlErr) > 0 {
				checkGolden(t, filepath.Join(dir, "stderr.golden"), yamlErr)
			} else {
				mustNotExist(t, filepath.Join(dir, "stderr.golden"))
			}
			jsonOut, _, code := renderCase(t, dir, []string{"-o", "json"}, extra)
			if code != exitOK {
				t.Fatalf("-o json failed where yaml succeeded")
			}
			checkGolden(t, filepath.Join(dir, "plan.golden"), jsonOut)
		})
	}
}

// renderCase runs `kiln render` twice and fails the test if the two runs differ.
func renderCase(t *testing.T, dir string, flags, extra []string) (stdout, stderr []byte, code int) {
	t.Helper()
	args := append([]string{"render", "-f", dir}, flags...)
	scriptArgs := []string{}
	for _, a := range extra {
		if a == "--" {
			scriptArgs = append(scriptArgs, "--")
			continue
		}
		scriptArgs = append(scriptArgs, a)
	}
	args = append(args, scriptArgs...)
	var out1, err1, out2, err2 bytes.Buffer
	code = run(args, &out1, &err1)
	code2 := run(args, &out2, &err2)
	if code != code2 || !bytes.Equal(out1.Bytes(), out2.Bytes()) || !bytes.Equal(err1.Bytes(), err2.Bytes()) {
		t.Fatalf("two renders differ (exit %d vs %d):\n--- first\n%s%s\n--- second\n%s%s", code, code2, out1.String(), err1.String(), out2.String(), err2.String())
	}
	return out1.Bytes(), err1.Bytes(), code
}

func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/kiln -update to create it); got:\n%s", err, got)
	}
	if !bytes.Equal(want, got) {
		t.Errorf("%s differs (run go test ./cmd/kiln -update and review the diff)\n--- want\n%s\n--- got\n%s", path, want, got)
	}
}

func mustNotExist(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat(path); err == nil {
		if *update {
			os.Remove(path)
			return
		}
		t.Errorf("%s exists but the case did not produce it", path)
	}
}
