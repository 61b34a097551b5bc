package patch

import (
	"testing"

	"github.com/meridiandb/meridian/internal/resource"
	"github.com/stretchr/testify/require"
)

const baseDoc = `{"id":"a","pk":"p","n":1,"f":1.50,"s":"x","arr":[1,2,3],"obj":{"k":"v","deep":{"z":0}},"a/b":1,"m~n":2,"_rid":"r","_self":"s","_etag":"\"e\"","_ts":17,"_attachments":"att/"}`

func TestParse(t *testing.T) {
	tests := []struct {
		name, body string
		ops        int
		cond       string
		err        string
	}{
		{"go sdk", `{"condition":"from c where c.n = 1","operations":[{"op":"set","path":"/x","value":3}]}`, 1, "from c where c.n = 1", ""},
		{"node bare array", ` [{"op":"incr","path":"/n","value":5},{"op":"remove","path":"/s"}]`, 2, "", ""},
		{"move", `[{"op":"move","from":"/s","path":"/t"}]`, 1, "", ""},
		{"empty", `[]`, 0, "", "at least one"},
		{"too many", `[` + repeatOps(11) + `]`, 0, "", "limit of 10"},
		{"ten ok", `[` + repeatOps(10) + `]`, 10, "", ""},
		{"not json", `nope`, 0, "", "must be"},
		{"bad json", `[{"op":}]`, 0, "", "not a valid"},
		{"unknown op", `[{"op":"copy","path":"/a","from":"/b"}]`, 0, "", "unknown operation"},
		{"system path", `[{"op":"set","path":"/_etag","value":1}]`, 0, "", "_etag"},
		{"id path", `[{"op":"remove","path":"/id"}]`, 0, "", "'id'"},
		{"ts path nested", `[{"op":"set","path":"/_ts/x","value":1}]`, 0, "", "_ts"},
		{"move from system", `[{"op":"move","from":"/_rid","path":"/x"}]`, 0, "", "_rid"},
		{"move without from", `[{"op":"move","path":"/x"}]`, 0, "", "from"},
		{"move into itself", `[{"op":"move","from":"/obj","path":"/obj/k2"}]`, 0, "", "into itself"},
		{"no slash", `[{"op":"set","path":"x","value":1}]`, 0, "", "must start"},
		{"root", `[{"op":"set","path":"/","value":1}]`, 0, "", "root"},
		{"bad escape", `[{"op":"set","path":"/a~2","value":1}]`, 0, "", "escape"},
		{"incr string", `[{"op":"incr","path":"/n","value":"1"}]`, 0, "", "numeric"},
		{"incr no value", `[{"op":"incr","path":"/n"}]`, 0, "", "numeric"},
		{"bad condition", `{"condition":"from c wher c.n = 1","operations":[{"op":"remove","path":"/s"}]}`, 0, "", "Syntax error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse([]byte(tt.body))
			if tt.err != "" {
				require.Error(t, err)
				require.Equal(t, resource.KindBadRequest, resource.KindOf(err))
				require.Contains(t, err.Error(), tt.err)
				return
			}
			require.NoError(t, err)
			require.Len(t, s.Operations, tt.ops)
			require.Equal(t, tt.cond, s.Condition)
		})
	}
}

func repeatOps(n int) string {
	s := ""
	for i := 0; i < n; i++ {
		if i > 0 {
			s += ","
		}
		s += `{"op":"incr","path":"/n","value":1}`
	}
	return s
}

func TestApply(t *testing.T) {
	tests := []struct {
		name string
		body string
		want string // exact bytes
		err  string
		kind resource.Kind
	}{
		{"set existing keeps order", `[{"op":"set","path":"/n","value":5}]`,
			`{"id":"a","pk":"p","n":5,"f":1.50,"s":"x","arr":[1,2,3],"obj":{"k":"v","deep":{"z":0}},"a/b":1,"m~n":2,"_rid":"r","_self":"s","_etag":"\"e\"","_ts":17,"_attachments":"att/"}`, "", 0},
		{"set new appends", `[{"op":"set","path":"/new","value":{"q":[1]}}]`,
			`{"id":"a","pk":"p","n":1,"f":1.50,"s":"x","arr":[1,2,3],"obj":{"k":"v","deep":{"z":0}},"a/b":1,"m~n":2,"_rid":"r","_self":"s","_etag":"\"e\"","_ts":17,"_attachments":"att/","new":{"q":[1]}}`, "", 0},
		{"set nested", `[{"op":"set","path":"/obj/deep/z","value":"<&>"}]`,
			`{"id":"a","pk":"p","n":1,"f":1.50,"s":"x","arr":[1,2,3],"obj":{"k":"v","deep":{"z":"<&>"}},"a/b":1,"m~n":2,"_rid":"r","_self":"s","_etag":"\"e\"","_ts":17,"_attachments":"att/"}`, "", 0},
		{"set array index", `[{"op":"set","path":"/arr/1","value":9}]`, `"arr":[1,9,3]`, "", 0},
		{"add array insert", `[{"op":"add","path":"/arr/0","value":0}]`, `"arr":[0,1,2,3]`, "", 0},
		{"add array append", `[{"op":"add","path":"/arr/-","value":4}]`, `"arr":[1,2,3,4]`, "", 0},
		{"add array at len", `[{"op":"add","path":"/arr/3","value":4}]`, `"arr":[1,2,3,4]`, "", 0},
		{"add array beyond", `[{"op":"add","path":"/arr/5","value":4}]`, "", "out of range", resource.KindBadRequest},
		{"add object replaces", `[{"op":"add","path":"/s","value":"y"}]`, `"s":"y"`, "", 0},
		{"add missing parent", `[{"op":"add","path":"/nope/x","value":1}]`, "", "does not exist", resource.KindBadRequest},
		{"replace", `[{"op":"replace","path":"/obj/k","value":null}]`, `"obj":{"k":null,`, "", 0},
		{"replace missing", `[{"op":"replace","path":"/nope","value":1}]`, "", "does not exist", resource.KindBadRequest},
		{"remove", `[{"op":"remove","path":"/s"}]`, `"f":1.50,"arr"`, "", 0},
		{"remove array", `[{"op":"remove","path":"/arr/0"}]`, `"arr":[2,3]`, "", 0},
		{"remove missing", `[{"op":"remove","path":"/nope"}]`, "", "does not exist", resource.KindBadRequest},
		{"remove index out of range", `[{"op":"remove","path":"/arr/3"}]`, "", "does not exist", resource.KindBadRequest},
		{"incr int", `[{"op":"incr","path":"/n","value":41}]`, `"n":42`, "", 0},
		{"incr float", `[{"op":"incr","path":"/f","value":0.25}]`, `"f":1.75`, "", 0},
		{"incr creates", `[{"op":"incr","path":"/c","value":-2}]`, `"c":-2}`, "", 0},
		{"incr non-number", `[{"op":"incr","path":"/s","value":1}]`, "", "not a number", resource.KindBadRequest},
		{"incr overflow goes float", `[{"op":"set","path":"/n","value":9223372036854775807},{"op":"incr","path":"/n","value":1}]`, `"n":9223372036854776000`, "", 0},
		{"move", `[{"op":"move","from":"/s","path":"/obj/s2"}]`, `"obj":{"k":"v","deep":{"z":0},"s2":"x"}`, "", 0},
		{"move missing", `[{"op":"move","from":"/nope","path":"/x"}]`, "", "'from' path does not exist", resource.KindBadRequest},
		{"escaped paths", `[{"op":"incr","path":"/a~1b","value":1},{"op":"incr","path":"/m~0n","value":1}]`, `"a/b":2,"m~n":3`, "", 0},
		{"value omitted means null", `[{"op":"set","path":"/s"}]`, `"s":null`, "", 0},
		{"ops in order", `[{"op":"set","path":"/t","value":[]},{"op":"add","path":"/t/-","value":1},{"op":"add","path":"/t/0","value":0}]`, `"t":[0,1]}`, "", 0},
		{"through scalar", `[{"op":"set","path":"/s/x","value":1}]`, "", "does not exist", resource.KindBadRequest},
		{"condition true", `{"condition":"from c where c.n = 1 AND c.obj.k = 'v'","operations":[{"op":"set","path":"/n","value":2}]}`, `"n":2`, "", 0},
		{"condition false", `{"condition":"FROM root r WHERE r.n = 2","operations":[{"op":"set","path":"/n","value":2}]}`, "", "precondition", resource.KindPreconditionFailed},
		{"condition undefined", `{"condition":"from c where c.missing > 1","operations":[{"op":"set","path":"/n","value":2}]}`, "", "precondition", resource.KindPreconditionFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse([]byte(tt.body))
			require.NoError(t, err)
			doc := []byte(baseDoc)
			got, err := s.Apply(doc)
			require.Equal(t, baseDoc, string(doc), "input modified")
			if tt.err != "" {
				require.Error(t, err)
				require.Equal(t, tt.kind, resource.KindOf(err))
				require.Contains(t, err.Error(), tt.err)
				return
			}
			require.NoError(t, err)
			require.Contains(t, string(got), tt.want)
			// System properties are untouched.
			require.Contains(t, string(got), `"_rid":"r","_self":"s","_etag":"\"e\"","_ts":17,"_attachments":"att/"`)
		})
	}
}

func TestApplyUnparsedSpec(t *testing.T) {
	// Callers may build a Spec directly (transactional batch); Apply
	// validates it.
	s := &Spec{Operations: []Operation{{Op: "set", Path: "/_self", Value: []byte(`1`)}}}
	_, err := s.Apply([]byte(baseDoc))
	require.Equal(t, resource.KindBadRequest, resource.KindOf(err))

	s = &Spec{Operations: []Operation{{Op: "set", Path: "/x", Value: []byte(`1`)}}}
	_, err = s.Apply([]byte(`[1]`))
	require.Equal(t, resource.KindBadRequest, resource.KindOf(err))
	_, err = s.Apply(nil)
	require.Equal(t, resource.KindBadRequest, resource.KindOf(err))
}
