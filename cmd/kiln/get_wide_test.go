package main

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kiln-dev/kiln/runtime/status"
	"github.com/kiln-dev/kiln/runtime/statusapi"
)

// table prints the objects of one kind of the store as kiln get does.
func table(t *testing.T, store *status.Store, kind string, wide bool) string {
	t.Helper()
	objs, _ := store.List(kind)
	var b bytes.Buffer
	printTable(&b, objs, time.Now(), wide)
	return b.String()
}

// header is a table's column names, found by the two spaces (at least) that tabwriter
// leaves between columns: names like "LAST STEP" hold one.
func header(out string) []string {
	head, _, _ := strings.Cut(out, "\n")
	var cols []string
	for _, c := range strings.Split(head, "  ") {
		if c = strings.TrimSpace(c); c != "" {
			cols = append(cols, c)
		}
	}
	return cols
}

// cell is the value in column col of the row that has a cell key, read at the
// column's position in the header line (tabwriter aligns them).
func cell(t *testing.T, out, key, col string) string {
	t.Helper()
	lines := strings.Split(out, "\n")
	head := lines[0]
	start := -1
	for i := 0; i+len(col) <= len(head); i++ {
		if head[i:i+len(col)] == col && (i == 0 || head[i-1] == ' ') && (i+len(col) == len(head) || strings.HasPrefix(head[i+len(col):], "  ")) {
			start = i
			break
		}
	}
	if start < 0 {
		t.Fatalf("no column %s in:\n%s", col, out)
	}
	for _, l := range lines[1:] {
		if !slices.Contains(strings.Fields(l), key) {
			continue
		}
		end := len(l) // the last column runs to the end of the row
		if rest := strings.TrimLeft(head[start+len(col):], " "); rest != "" {
			end = min(len(head)-len(rest), len(l))
		}
		return strings.TrimSpace(l[min(start, len(l)):end])
	}
	t.Fatalf("no row %s in:\n%s", key, out)
	return ""
}

func sameColumns(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("%s columns = %q, want %q", what, got, want)
	}
}

func TestGetWideResources(t *testing.T) {
	store := projectStore(time.Now())
	out := table(t, store, status.KindResource, false)
	sameColumns(t, "resources", header(out), "NAME", "TYPE", "STATUS", "PODS", "RESTARTS", "FORWARD", "UPDATED", "ERROR")

	out = table(t, store, status.KindResource, true)
	sameColumns(t, "resources -o wide", header(out), "NAME", "TYPE", "STATUS", "PODS", "RESTARTS", "FORWARD", "UPDATED", "IMAGES", "LABELS", "LAST STEP", "ERROR")
	for _, c := range []struct{ row, col, want string }{
		{"web", "IMAGES", "example.local/web,example.local/sidecar"},
		{"web", "LABELS", "frontend"},
		{"web", "LAST STEP", "ready 2.512s"},
		{"web", "PODS", "0/1"},
		{"web", "ERROR", "deployment/web failed: CrashLoopBackOff …"},
		{"migrate", "LAST STEP", "run 1.234s"},
		{"api", "IMAGES", "-"},
		{"api", "LAST STEP", "-"},
	} {
		if got := cell(t, out, c.row, c.col); got != c.want {
			t.Errorf("%s %s = %q, want %q\n%s", c.row, c.col, got, c.want, out)
		}
	}
}

func TestGetWideOtherKinds(t *testing.T) {
	store := projectStore(time.Now())
	out := table(t, store, status.KindForward, false)
	sameColumns(t, "forwards", header(out), "NAME", "URL", "STATE", "POD", "CONTAINER PORT", "SINCE", "ERROR")
	out = table(t, store, status.KindForward, true)
	sameColumns(t, "forwards -o wide", header(out), "NAME", "URL", "STATE", "POD", "CONTAINER PORT", "SINCE", "HOST", "ERROR")
	if got := cell(t, out, "web:8000", "HOST"); got != "0.0.0.0" {
		t.Errorf("web:8000 HOST = %q\n%s", got, out)
	}
	if got := cell(t, out, "api:9000", "HOST"); got != "-" {
		t.Errorf("api:9000 HOST = %q\n%s", got, out)
	}

	out = table(t, store, status.KindDiscovery, false)
	sameColumns(t, "discovery", header(out), "RESOURCE", "POD", "PHASE", "READY", "RESTARTS", "AGE", "REASON")
	out = table(t, store, status.KindDiscovery, true)
	sameColumns(t, "discovery -o wide", header(out), "RESOURCE", "POD", "PHASE", "READY", "RESTARTS", "AGE", "REASON", "CONTAINERS")
	if got := cell(t, out, "web", "CONTAINERS"); got != "init-db(init):terminated,web:waiting" {
		t.Errorf("web CONTAINERS = %q\n%s", got, out)
	}
	if got := cell(t, out, "web", "READY"); got != "0/1" { // the init container is not counted
		t.Errorf("web READY = %q\n%s", got, out)
	}

	out = table(t, store, status.KindImage, false)
	sameColumns(t, "images", header(out), "KIND", "NAME", "UPDATED", "ERROR")
	for _, c := range []struct{ kind, name, want string }{
		{status.KindImage, "example.local/web", "built"},
		{status.KindImage, "example.local/other", "up to date"},
		{status.KindLiveUpdate, "example.local/web", "synced"},
		{status.KindLocal, "migrate", "running"},
		{status.KindLogStream, "web/dev/web-6d9f/web", "streaming"},
		{status.KindFileWatch, "project", "-"},
	} {
		out := table(t, store, c.kind, true)
		sameColumns(t, c.kind+" -o wide", header(out), "KIND", "NAME", "STATUS", "UPDATED", "ERROR")
		if got := cell(t, out, c.name, "STATUS"); got != c.want {
			t.Errorf("%s %s STATUS = %q, want %q\n%s", c.kind, c.name, got, c.want, out)
		}
	}
}

// jsonPath evaluates a template as kiln get -o jsonpath does.
func jsonPath(t *testing.T, tmpl string, allowMissing bool, whole any) (string, error) {
	t.Helper()
	o, err := parseOutput("jsonpath="+tmpl, allowMissing)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	err = o.write(&b, nil, whole, time.Now())
	return b.String(), err
}

func TestGetJSONPath(t *testing.T) {
	store := projectStore(time.Now())
	items, version := store.List(status.KindForward)
	list := statusapi.List{Version: version, Items: items}
	for _, c := range []struct{ tmpl, want string }{
		{"{.items[0].status.url}", "http://localhost:9000/"},
		{`{range .items[*]}{.name}={.spec.localPort}{"\n"}{end}`, "api:9000=9000\nweb:8000=8000\n"},
		{"{.items[?(@.spec.resource==\"web\")].status.state}", "waiting"},
		{"{.items[0].status.nope}", ""}, // missing keys print nothing, as in kubectl
		{"url: {.items[1].status.url}", "url: http://localhost:8000/"},
	} {
		got, err := jsonPath(t, c.tmpl, true, list)
		if err != nil || got != c.want {
			t.Errorf("jsonpath %s = %q, %v; want %q", c.tmpl, got, err, c.want)
		}
	}
	one, _ := store.Get(status.KindImage, "example.local/web")
	if got, err := jsonPath(t, "{.status.tag}", true, one); err != nil || got != "example.local/web:kiln-5d2f0c8a" {
		t.Errorf("jsonpath of one object = %q, %v", got, err)
	}
	if got, err := jsonPath(t, "{.items[0].status.nope}", false, list); err == nil || !strings.Contains(err.Error(), "nope is not found") || got != "" {
		t.Errorf("a missing key with --allow-missing-template-keys=false = %q, %v", got, err)
	}
	if _, err := jsonPath(t, "{.items[5].name}", true, list); err == nil || !strings.Contains(err.Error(), "array index out of bounds") {
		t.Errorf("an index past the end = %v", err)
	}
}

func TestGetOutputErrors(t *testing.T) {
	for _, c := range []struct{ output, want string }{
		{"xml", `--output must be table (default), wide, json, yaml or jsonpath=TEMPLATE, not "xml"`},
		{"jsonpath", `--output must be table (default), wide, json, yaml or jsonpath=TEMPLATE, not "jsonpath"`},
		{"jsonpath=", "-o jsonpath= needs a template"},
		{"jsonpath={.items[0]", `bad jsonpath template "{.items[0]": unclosed action`},
		{"jsonpath={.items[?(@.x==)]}", `bad jsonpath template "{.items[?(@.x==)]}"`},
	} {
		code, _, errOut := runKiln("get", "resources", "-o", c.output)
		if code != exitUsage || !strings.Contains(errOut, c.want) {
			t.Errorf("kiln get -o %s: exit %d, stderr %q; want exit %d and %q", c.output, code, errOut, exitUsage, c.want)
		}
	}
	for _, o := range []string{"", "table", "wide", "json", "yaml", "jsonpath={.items}"} {
		if _, err := parseOutput(o, true); err != nil {
			t.Errorf("-o %q: %v", o, err)
		}
	}
}

// TestGetCommandOutputs runs kiln get against a served store: -o wide, -o jsonpath, and a
// jsonpath that fails when run (exit 1).
func TestGetCommandOutputs(t *testing.T) {
	dir := serveProject(t, projectStore(time.Now()), nil)
	code, out, errOut := runKiln("get", "resources", "-f", dir, "-o", "wide")
	if code != exitOK || cell(t, out, "web", "IMAGES") != "example.local/web,example.local/sidecar" {
		t.Errorf("kiln get resources -o wide: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = runKiln("get", "forwards", "web:8000", "-f", dir, "-o=jsonpath={.status.url}")
	if code != exitOK || out != "http://localhost:8000/" {
		t.Errorf("kiln get forwards web:8000 -o jsonpath: exit %d, %q %s", code, out, errOut)
	}
	code, out, errOut = runKiln("get", "forwards", "-f", dir, "-o", "jsonpath={.items[0].nope}", "--allow-missing-template-keys=false")
	if code != exitFail || out != "" || !strings.Contains(errOut, "Error: jsonpath {.items[0].nope}: nope is not found") {
		t.Errorf("kiln get -o jsonpath with a missing key: exit %d, %q %s", code, out, errOut)
	}
}
