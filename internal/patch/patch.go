package patch

import "encoding/json"

// Operation is one patch operation as sent on the wire.
type Operation struct {
	Op    string          `json:"op"`
	Path  string          `json:"path"`
	From  string          `json:"from,omitempty"`
	Value json.RawMessage `json:"value,omitempty"`
}

// Spec is a parsed patch request: an optional SQL filter condition
// ("from c where ...") and the operations to apply in order.
type Spec struct {
	Condition  string      `json:"condition,omitempty"`
	Operations []Operation `json:"operations"`
}
