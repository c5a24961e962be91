package supervise

import (
	"reflect"
	"testing"
)

func container(image string, extra map[string]any) map[string]any {
	c := map[string]any{"name": "app", "image": image}
	for k, v := range extra {
		c[k] = v
	}
	return c
}

// Inject puts the supervisor in front of what the kubelet would run: the pod's command and
// args, or the image's ENTRYPOINT and CMD, with args replacing CMD only.
func TestInject(t *testing.T) {
	images := map[string]ImageCommand{
		"x:1": {Entrypoint: []string{"/srv"}, Cmd: []string{"--port", "80"}},
		"k:1": {Entrypoint: []string{"/srv"}, KeepRunning: true},
	}
	prefix := []any{"/.kiln/kiln-abc", Command, "--"}
	for _, tc := range []struct {
		name  string
		extra map[string]any
		want  []any
	}{
		{"image entrypoint and cmd", nil, append(prefix, "/srv", "--port", "80")},
		{"args replace cmd", map[string]any{"args": []any{"-v"}}, append(prefix, "/srv", "-v")},
		{"command and args", map[string]any{"command": []any{"/bin/app"}, "args": []any{"a"}}, append(prefix, "/bin/app", "a")},
		{"command alone drops cmd", map[string]any{"command": []any{"/bin/app"}}, append(prefix, "/bin/app")},
		{"keep running", map[string]any{"image": "k:1"}, []any{"/.kiln/kiln-abc", Command, KeepRunningFlag, "--", "/srv"}},
	} {
		spec := map[string]any{"containers": []any{container("x:1", tc.extra), container("other:1", nil)}}
		changed, err := Inject(spec, "kiln-abc", images)
		if err != nil || !reflect.DeepEqual(changed, []string{"app"}) {
			t.Fatalf("%s: changed %v, %v", tc.name, changed, err)
		}
		c := spec["containers"].([]any)[0].(map[string]any)
		if !reflect.DeepEqual(c["command"], tc.want) || c["args"] != nil {
			t.Errorf("%s: command %v args %v, want %v", tc.name, c["command"], c["args"], tc.want)
		}
		if other := spec["containers"].([]any)[1].(map[string]any); other["command"] != nil {
			t.Errorf("%s: a container of another image was changed", tc.name)
		}
		if vols := spec["volumes"].([]any); len(vols) != 1 {
			t.Errorf("%s: volumes %v", tc.name, vols)
		}
		// Injecting again changes nothing.
		if again, _ := Inject(spec, "kiln-abc", images); len(again) != 0 || len(spec["volumes"].([]any)) != 1 {
			t.Errorf("%s: a second Inject changed %v", tc.name, again)
		}
	}
	if _, err := Inject(map[string]any{"containers": []any{container("y:1", nil)}}, "kiln-abc", map[string]ImageCommand{"y:1": {}}); err == nil {
		t.Error("an image with nothing to run was accepted")
	}
}
