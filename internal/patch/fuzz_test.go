package patch

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/meridiandb/meridian/internal/resource"
)

// FuzzApply parses arbitrary patch bodies and applies them to arbitrary
// documents: nothing may panic, errors must be *resource.Error, and a
// successful result must be a valid JSON object.
func FuzzApply(f *testing.F) {
	f.Add([]byte(`[{"op":"add","path":"/arr/-","value":4},{"op":"move","from":"/s","path":"/obj/t"}]`), []byte(baseDoc))
	f.Add([]byte(`{"condition":"from c where c.n > 0","operations":[{"op":"incr","path":"/n","value":1.5}]}`), []byte(baseDoc))
	f.Add([]byte(`[{"op":"remove","path":"/a~1b"},{"op":"replace","path":"/arr/0","value":{"x":[]}}]`), []byte(`{"a/b":1,"arr":[0]}`))
	f.Fuzz(func(t *testing.T, body, doc []byte) {
		s, err := Parse(body)
		if err != nil {
			checkErr(t, err)
			return
		}
		out, err := s.Apply(doc)
		if err != nil {
			checkErr(t, err)
			return
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(out, &m); err != nil && json.Valid(doc) {
			t.Fatalf("result %q is not a JSON object: %v", out, err)
		}
	})
}

func checkErr(t *testing.T, err error) {
	t.Helper()
	var re *resource.Error
	if !errors.As(err, &re) || (re.Kind != resource.KindBadRequest && re.Kind != resource.KindPreconditionFailed) {
		t.Fatalf("unexpected error %T %v", err, err)
	}
}
