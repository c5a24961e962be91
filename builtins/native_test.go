package builtins

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Under kiln watch the native uibutton records its buttons; ext://color honours NO_COLOR;
// min_tilt_version refuses a version newer than the Tilt API kiln follows.
func TestNativePureExtensions(t *testing.T) {
	dir := t.TempDir()
	write := func(text string) {
		if err := os.WriteFile(filepath.Join(dir, "Tiltfile"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(`load('ext://uibutton', 'cmd_button', 'location', 'bool_input')
load('ext://color', 'color')
local_resource('db', cmd='true')
cmd_button('db:reset', resource='db', argv=['sh', '-c', 'reset'], icon_name='restart_alt',
           inputs=[bool_input('FORCE', 'Force')], env=['A=1'])
cmd_button('docs', argv=['open', 'docs'], location=location.NAV)
print(color.red('x'))
`)
	var out strings.Builder
	p, err := Evaluate(dir, Options{Subcommand: "watch", Stdout: &out, Stderr: &strings.Builder{}, Env: map[string]string{"NO_COLOR": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Buttons) != 2 || p.Buttons[0].Name != "db:reset" || p.Buttons[0].Resource != "db" || p.Buttons[0].Command.Env["A"] != "1" ||
		len(p.Buttons[0].Inputs) != 1 || p.Buttons[0].Inputs[0].Type != "bool" || p.Buttons[1].Location != "global" {
		t.Errorf("buttons under watch: %+v", p.Buttons)
	}
	if strings.TrimSpace(out.String()) != "x" {
		t.Errorf("NO_COLOR: printed %q, want plain x", out.String())
	}
	out.Reset()
	p, err = Evaluate(dir, Options{Subcommand: "render", Stdout: &out, Stderr: &strings.Builder{}, Env: map[string]string{"TERM": "xterm"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Buttons) != 0 {
		t.Errorf("buttons outside kiln watch: %+v (the real uibutton makes none there)", p.Buttons)
	}
	if strings.TrimSpace(out.String()) != "\x1b[31mx\x1b[0m" {
		t.Errorf("color.red: printed %q", out.String())
	}
	write("load('ext://min_tilt_version', 'min_tilt_version')\nmin_tilt_version('9.1')\n")
	if _, err := Evaluate(dir, Options{Stdout: &out, Stderr: &strings.Builder{}}); err == nil || !strings.Contains(err.Error(), "needs Tilt 9.1 or newer") {
		t.Errorf("min_tilt_version('9.1'): %v", err)
	}
}
