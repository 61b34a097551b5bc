package conflict

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/meridiandb/meridian/internal/resource"
)

func TestParsePolicyValid(t *testing.T) {
	for _, tc := range []struct {
		in   string
		mode Mode
		path string
		segs []string // nil: ordered by TS
	}{
		{``, LastWriterWins, "/_ts", nil},
		{`  `, LastWriterWins, "/_ts", nil},
		{`null`, LastWriterWins, "/_ts", nil},
		{`{}`, LastWriterWins, "/_ts", nil},
		{defaultPolicyJSON, LastWriterWins, "/_ts", nil},
		{`{"mode":"LastWriterWins"}`, LastWriterWins, "/_ts", nil},
		{`{"mode":""}`, LastWriterWins, "/_ts", nil},
		{`{"mode":null,"conflictResolutionPath":null,"conflictResolutionProcedure":null}`, LastWriterWins, "/_ts", nil},
		{`{"mode":"lastwriterwins","conflictResolutionPath":"/_ts"}`, LastWriterWins, "/_ts", nil},
		{`{"mode":"LastWriterWins","conflictResolutionPath":"/\"_ts\""}`, LastWriterWins, `/"_ts"`, nil},
		{`{"mode":"LastWriterWins","conflictResolutionPath":"/priority"}`, LastWriterWins, "/priority", []string{"priority"}},
		{`{"mode":"LastWriterWins","conflictResolutionPath":"/myCustomId","conflictResolutionProcedure":""}`, LastWriterWins, "/myCustomId", []string{"myCustomId"}},
		{`{"conflictResolutionPath":"/a/b/c"}`, LastWriterWins, "/a/b/c", []string{"a", "b", "c"}},
		{`{"conflictResolutionPath":"/\"a/b\"/c"}`, LastWriterWins, `/"a/b"/c`, []string{"a/b", "c"}},
		{`{"conflictResolutionPath":"/\"x \\\" y\""}`, LastWriterWins, `/"x \" y"`, []string{`x " y`}},
		{`{"conflictResolutionPath":"/a/_ts"}`, LastWriterWins, "/a/_ts", []string{"a", "_ts"}},
		{`{"MODE":"Custom"}`, Custom, "", nil}, // field names match case-insensitively, as in the catalog
		{`{"mode":"Custom"}`, Custom, "", nil},
		{`{"mode":"custom","conflictResolutionPath":"","conflictResolutionProcedure":""}`, Custom, "", nil},
		{`{"mode":"Custom","extra":[1,2],"other":{"x":1}}`, Custom, "", nil},
	} {
		p, err := ParsePolicy([]byte(tc.in))
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.mode, p.Mode(), tc.in)
		require.Equal(t, tc.path, p.Path(), tc.in)
		require.Equal(t, tc.segs, p.segs, tc.in)
		// Round trip through the JSON Cosmos DB returns.
		b, err := json.Marshal(p)
		require.NoError(t, err)
		p2, err := ParsePolicy(b)
		require.NoError(t, err, string(b))
		require.True(t, p.Equal(p2), "%s -> %s", tc.in, b)
	}
	require.True(t, DefaultPolicy().Equal(Policy{}))
	b, err := json.Marshal(DefaultPolicy())
	require.NoError(t, err)
	require.JSONEq(t, defaultPolicyJSON, string(b))
	b, err = json.Marshal(CustomPolicy())
	require.NoError(t, err)
	require.JSONEq(t, `{"mode":"Custom","conflictResolutionPath":"","conflictResolutionProcedure":""}`, string(b))
}

func TestParsePolicyInvalid(t *testing.T) {
	for _, tc := range []struct {
		in, want string // want: a substring of the message
	}{
		{`[]`, "must be a JSON object"},
		{`"LastWriterWins"`, "must be a JSON object"},
		{`{"mode":`, "must be a JSON object"},
		{`{} {}`, "must be a JSON object"},
		{`{"mode":1}`, "mode must be a string"},
		{`{"mode":"Newest"}`, `mode "Newest" is not supported`},
		{`{"mode":"LastWriterWins","conflictResolutionPath":5}`, "conflictResolutionPath must be a string"},
		{`{"mode":"Custom","conflictResolutionProcedure":{}}`, "conflictResolutionProcedure must be a string"},
		{`{"conflictResolutionPath":"priority"}`, "must start with '/'"},
		{`{"conflictResolutionPath":"/"}`, "must name a property after every '/'"},
		{`{"conflictResolutionPath":"/a/"}`, "must name a property after every '/'"},
		{`{"conflictResolutionPath":"/a//b"}`, "empty segment"},
		{`{"conflictResolutionPath":"/*"}`, "wildcards"},
		{`{"conflictResolutionPath":"/a/?"}`, "wildcards"},
		{`{"conflictResolutionPath":"/tags/[]"}`, "wildcards"},
		{`{"conflictResolutionPath":"/\"\""}`, "empty segment"},
		{`{"conflictResolutionPath":"/\"abc"}`, "unterminated"},
		{`{"conflictResolutionPath":"/\"a\"b"}`, "separate segments"},
		{`{"conflictResolutionPath":"/a\"b"}`, `'"' inside a segment`},
		{`{"conflictResolutionPath":"/\"\\q\""}`, "invalid quoted segment"},
		{`{"mode":"Custom","conflictResolutionProcedure":"dbs/db/colls/c/sprocs/resolver"}`, "stored procedures are not supported"},
		{`{"mode":"Custom","conflictResolutionProcedure":"resolver"}`, "stored procedures are not supported"},
		{`{"mode":"LastWriterWins","conflictResolutionProcedure":"resolver"}`, "applies only to mode Custom"},
		{`{"mode":"Custom","conflictResolutionPath":"/_ts"}`, "applies only to mode LastWriterWins"},
	} {
		_, err := ParsePolicy([]byte(tc.in))
		require.Error(t, err, tc.in)
		require.Equal(t, resource.KindBadRequest, resource.KindOf(err), "%s: %v", tc.in, err)
		require.Contains(t, err.Error(), tc.want, tc.in)
		require.Contains(t, err.Error(), "conflictResolutionPolicy", tc.in)
	}
}

func TestLastWriterWinsPolicy(t *testing.T) {
	p, err := LastWriterWinsPolicy("")
	require.NoError(t, err)
	require.True(t, p.byTS())
	p, err = LastWriterWinsPolicy("/prio")
	require.NoError(t, err)
	require.Equal(t, "/prio", p.Path())
	require.False(t, p.byTS())
	_, err = LastWriterWinsPolicy("prio")
	require.Equal(t, resource.KindBadRequest, resource.KindOf(err))
	require.Equal(t, "Custom", Custom.String())
	require.Equal(t, "LastWriterWins", LastWriterWins.String())
}

// defaultPolicyJSON is Cosmos DB's default policy as the catalog stores it
// (catalog.DefaultConflictResolutionPolicy; the catalog imports this
// package, so the test keeps a copy).
const defaultPolicyJSON = `{"mode":"LastWriterWins","conflictResolutionPath":"/_ts","conflictResolutionProcedure":""}`
