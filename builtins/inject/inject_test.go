package inject

import (
	"fmt"
	"strings"
	"testing"

	"github.com/kiln-dev/kiln/builtins/k8syaml"
	"github.com/kiln-dev/kiln/runtime/plan"
)

func decodeOne(t testing.TB, s string) plan.Object {
	objs, err := k8syaml.DecodeObjects("t.yaml", []byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return objs[0]
}

const cronJob = `apiVersion: batch/v1
kind: CronJob
metadata: {name: c}
spec:
  jobTemplate:
    spec:
      template:
        spec:
          initContainers:
          - name: init
            image: docker.io/example/web:v1
          containers:
          - name: main
            image: example/api
            env:
            - {name: WEB_IMAGE, value: example/web}
            - {name: OTHER, value: example/other}
          - name: side
            image: example/api:pinned
`

func TestInjectMatchesRepoAnyTagAndExactTag(t *testing.T) {
	inj, err := New([]Image{
		{Ref: "example/web", FullRef: "example/web:kiln-1", MatchInEnvVars: true, Entrypoint: []string{"/server", "--dev"}},
		{Ref: "example/api", MatchTag: "pinned", FullRef: "example/api:kiln-2"},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	obj := decodeOne(t, cronJob)
	res, err := inj.Inject(obj)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := k8syaml.EncodeObjects([]plan.Object{obj})
	s := string(out)
	for _, want := range []string{
		"- command:\n            - /server\n            - --dev\n            image: example/web:kiln-1\n            imagePullPolicy: IfNotPresent\n            name: init",
		"value: example/web:kiln-1",
		"value: example/other",
		"image: example/api\n", // untagged ref doesn't match an image that names a tag
		"image: example/api:kiln-2\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("missing %q in:\n%s", want, s)
		}
	}
	if fmt.Sprint(res.Used) != "[0 1]" {
		t.Errorf("used = %v", res.Used)
	}
}

func TestInjectConventionAndKindPaths(t *testing.T) {
	inj, err := New([]Image{{Ref: "web", FullRef: "web:kiln-9"}}, []Path{
		{Kind: "Thing", JSONPath: "{.spec.images[*].ref}"},
		{Kind: "Split", JSONPath: "{.spec.image}", RepoField: "repository", TagField: "tag"},
	})
	if err != nil {
		t.Fatal(err)
	}
	inj.Convention = func(name string) (int, error) {
		if name == "web" {
			return 0, nil
		}
		return -1, fmt.Errorf("kiln://%s: no such image", name)
	}
	thing := decodeOne(t, "apiVersion: x/v1\nkind: Thing\nmetadata: {name: t}\nspec:\n  images:\n  - ref: web:latest\n  - ref: nginx\n  note: kiln://web\n")
	if _, err := inj.Inject(thing); err != nil {
		t.Fatal(err)
	}
	spec := thing["spec"].(map[string]any)
	if got := spec["images"].([]any)[0].(map[string]any)["ref"]; got != "web:kiln-9" {
		t.Errorf("jsonpath injection: %v", got)
	}
	if got := spec["images"].([]any)[1].(map[string]any)["ref"]; got != "nginx" {
		t.Errorf("non-matching image changed: %v", got)
	}
	if spec["note"] != "web:kiln-9" {
		t.Errorf("kiln:// not resolved: %v", spec["note"])
	}
	split := decodeOne(t, "apiVersion: x/v1\nkind: Split\nmetadata: {name: s}\nspec:\n  image: {repository: web, tag: old}\n")
	if _, err := inj.Inject(split); err != nil {
		t.Fatal(err)
	}
	img := split["spec"].(map[string]any)["image"].(map[string]any)
	if img["repository"] != "web" || img["tag"] != "kiln-9" {
		t.Errorf("image_object injection: %v", img)
	}
	bad := decodeOne(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {x: kiln://nope}\n")
	if _, err := inj.Inject(bad); err == nil || !strings.Contains(err.Error(), "kiln://nope") {
		t.Errorf("want an error for an unknown convention image, got %v", err)
	}
}

func FuzzInject(f *testing.F) {
	f.Add(cronJob, "example/web")
	f.Add("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{image: 'a/b@sha256:0000'}]}\n", "a/b")
	f.Fuzz(func(t *testing.T, yamlText, ref string) {
		objs, err := k8syaml.DecodeObjects("f.yaml", []byte(yamlText))
		if err != nil {
			return
		}
		inj, err := New([]Image{{Ref: ref, FullRef: "injected.local/x:kiln-0", MatchInEnvVars: true}}, []Path{{Kind: "Pod", JSONPath: "{.spec.image}"}})
		if err != nil {
			return
		}
		for _, o := range objs {
			res, err := inj.Inject(o)
			if err != nil {
				t.Fatal(err)
			}
			out, err := k8syaml.EncodeObjects([]plan.Object{o})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Used) > 0 && !strings.Contains(string(out), "injected.local/x:kiln-0") {
				t.Fatalf("reported a use but injected nothing:\n%s", out)
			}
			// Injection is idempotent: a second pass finds nothing new to change.
			before := string(out)
			if _, err := inj.Inject(o); err != nil {
				t.Fatal(err)
			}
			after, _ := k8syaml.EncodeObjects([]plan.Object{o})
			if string(after) != before && !strings.Contains(ref, "injected.local") {
				t.Fatalf("second injection changed the object")
			}
		}
	})
}
