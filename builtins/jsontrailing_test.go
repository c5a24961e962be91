package builtins

import (
	"context"
	"testing"
)

// JSON with data after its value was read up to the end of the first value, and the rest
// ignored: a kiln_config.json of two objects used the first. Now it is an error, as in
// json.Unmarshal (and Tilt); blanks after the value are fine.
func TestJSONWithTrailingDataIsAnError(t *testing.T) {
	config := "config.define_string('env')\nconfig.define_object('o')\ncfg = config.parse()\n"
	for name, tc := range map[string]struct {
		files map[string]string
		args  []string
		want  string // "" for no error
	}{
		"decode_json":         {map[string]string{"Kilnfile": "decode_json('{\"a\": 1} {\"a\": 2}')\n"}, nil, "after the JSON value"},
		"decode_json garbage": {map[string]string{"Kilnfile": "decode_json('[1] x')\n"}, nil, "after the JSON value"},
		"decode_json blanks":  {map[string]string{"Kilnfile": "decode_json('[1] \\n\\t ')\n"}, nil, ""},
		"read_json":           {map[string]string{"Kilnfile": "read_json('a.json')\n", "a.json": "{}\n}"}, nil, "a.json"},
		"kiln_config.json":    {map[string]string{"Kilnfile": config, "kiln_config.json": "{\"env\": \"a\"}\n{\"env\": \"b\"}\n"}, nil, "kiln_config.json is not a JSON object"},
		"kiln_config.json ok": {map[string]string{"Kilnfile": config, "kiln_config.json": "{\"env\": \"a\"}\n\n"}, nil, ""},
		"object flag":         {map[string]string{"Kilnfile": config}, []string{"--o={\"a\": 1} junk"}, "--o: want JSON"},
		"object flag ok":      {map[string]string{"Kilnfile": config}, []string{"--o={\"a\": 1} "}, ""},
	} {
		t.Run(name, func(t *testing.T) {
			msg := evalFiles(t, context.Background(), tc.files, Options{Args: tc.args})
			if tc.want == "" {
				if msg != "" {
					t.Fatalf("error: %s", msg)
				}
				return
			}
			mustContain(t, msg, "Kilnfile:", tc.want)
		})
	}
}
