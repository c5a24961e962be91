package engine

import (
	"encoding/base64"

	"github.com/kiln-dev/kiln/runtime/output"
	"github.com/kiln-dev/kiln/runtime/plan"
)

// secretScrubber scrubs the values of every Secret the project applies (data and stringData),
// or nothing when the project says secret_settings(disable_scrub=True).
func secretScrubber(p *plan.Plan) *output.Scrubber {
	if !p.Settings.ScrubSecrets {
		return nil
	}
	values := map[string]string{}
	for _, r := range p.Resources {
		for _, o := range r.Objects {
			if o.Kind() != "Secret" || o.Group() != "" {
				continue
			}
			name := o.Name()
			if ns := o.Namespace(); ns != "" {
				name = ns + "/" + name
			}
			if data, ok := o["data"].(map[string]any); ok {
				for key, v := range data {
					encoded, _ := v.(string)
					if value, err := base64.StdEncoding.DecodeString(encoded); err == nil {
						values[string(value)] = name + ":" + key
					}
				}
			}
			if data, ok := o["stringData"].(map[string]any); ok {
				for key, v := range data {
					if value, ok := v.(string); ok {
						values[value] = name + ":" + key
					}
				}
			}
		}
	}
	return output.NewScrubber(values)
}
