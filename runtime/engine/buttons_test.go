package engine

import (
	"bytes"
	"strings"
	"testing"

	"github.com/kiln-dev/kiln/runtime/output"
	"github.com/kiln-dev/kiln/runtime/plan"
	"github.com/kiln-dev/kiln/runtime/status"
)

// The plan's buttons reach the store for the views, their commands scrubbed of secrets; a
// button the next plan drops leaves the store.
func TestPublishButtons(t *testing.T) {
	secret := "s3cr3t-token-value"
	store := status.New()
	var out bytes.Buffer
	e := &runner{out: output.New(&out), opts: Options{Store: store}, plan: &plan.Plan{Buttons: []plan.Button{
		{Name: "seed", Location: "resource", Resource: "db", Command: &plan.Command{Argv: []string{"seed", "--token", secret}, Env: map[string]string{"TOKEN": secret}}},
		{Name: "reset", Location: "global"},
	}}}
	e.out.ScrubWith(output.NewScrubber(map[string]string{secret: "default/api:token"}))
	e.publishButtons()
	o, ok := store.Get(status.KindButton, "seed")
	if !ok {
		t.Fatal("the button is not in the store")
	}
	if strings.Contains(string(o.Spec), secret) || !strings.Contains(string(o.Spec), `"resource":"db"`) {
		t.Errorf("stored spec %s: want the button, with no secret", o.Spec)
	}
	if e.plan.Buttons[0].Command.Argv[2] != secret {
		t.Error("publishing changed the plan, which is immutable")
	}
	e.plan = &plan.Plan{Buttons: []plan.Button{{Name: "reset", Location: "global"}}}
	e.publishButtons()
	if _, ok := store.Get(status.KindButton, "seed"); ok {
		t.Error("a button the plan dropped is still in the store")
	}
	if _, ok := store.Get(status.KindButton, "reset"); !ok {
		t.Error("the remaining button is gone")
	}
}
