package docker

import (
	"bytes"
	"encoding/json"
	"io"
)

// jsonStreamError returns the first error message of an engine JSON message
// stream (the body of image load, push or pull), or "" if it has none.
func jsonStreamError(body []byte) string {
	dec := json.NewDecoder(bytes.NewReader(body))
	for {
		var m struct {
			Error       string `json:"error"`
			ErrorDetail *struct {
				Message string `json:"message"`
			} `json:"errorDetail"`
		}
		if err := dec.Decode(&m); err != nil {
			if err == io.EOF {
				return ""
			}
			return "" // not a JSON stream: nothing to report
		}
		if m.ErrorDetail != nil && m.ErrorDetail.Message != "" {
			return m.ErrorDetail.Message
		}
		if m.Error != "" {
			return m.Error
		}
	}
}
