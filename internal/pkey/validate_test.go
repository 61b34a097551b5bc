package pkey

import (
	"math"
	"strings"
	"testing"

	"github.com/meridiandb/meridian/internal/resource"
	"github.com/stretchr/testify/require"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name      string
		k         Key
		def       resource.PartitionKeyDefinition
		ok        bool
		prefixOK  bool
		errSubstr string
	}{
		{"hash string", Key{"p1"}, defV2, true, true, ""},
		{"hash all types", Key{Undefined{}}, defV2, true, true, ""},
		{"hash int", Key{3}, defV1, true, true, ""},
		{"hash empty", Key{}, defV2, false, false, "needs exactly 1"},
		{"hash nil", nil, defV2, false, false, "needs exactly 1"},
		{"hash two", Key{"a", "b"}, defV2, false, false, "has 2 component(s)"},
		{"multi full", Key{"a", 1.0, nil}, defMulti, true, true, ""},
		{"multi prefix 1", Key{"a"}, defMulti, false, true, "needs exactly 3"},
		{"multi prefix 2", Key{"a", true}, defMulti, false, true, "needs exactly 3"},
		{"multi empty", Key{}, defMulti, false, false, "needs exactly 3"},
		{"multi four", Key{"a", "b", "c", "d"}, defMulti, false, false, "needs exactly 3"},
		{"NaN", Key{math.NaN()}, defV2, false, false, "must be finite"},
		{"Inf", Key{math.Inf(1)}, defV2, false, false, "must be finite"},
		{"bad type", Key{[]any{}}, defV2, false, false, "unsupported type"},
		{"map type", Key{map[string]any{}}, defV2, false, false, "unsupported type"},
		{"bad utf8", Key{"\xff"}, defV2, false, false, "UTF-8"},
		{"max size", Key{strings.Repeat("a", MaxValueBytes)}, defV2, true, true, ""},
		{"too large", Key{strings.Repeat("a", MaxValueBytes+1)}, defV2, false, false, "too large"},
		{"multi too large", Key{strings.Repeat("a", 1500), strings.Repeat("a", 1500), "c"}, defMulti, false, false, "too large"},
		{"bad def", Key{"a"}, resource.PartitionKeyDefinition{Paths: []string{"pk"}}, false, false, "is invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.k.Validate(tt.def)
			if tt.ok {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
				require.Equal(t, resource.KindBadRequest, resource.KindOf(err))
				require.Contains(t, err.Error(), tt.errSubstr)
			}
			err = tt.k.ValidatePrefix(tt.def)
			if tt.prefixOK {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
				require.Equal(t, resource.KindBadRequest, resource.KindOf(err))
			}
		})
	}
}

func TestValidatePrefixMessage(t *testing.T) {
	err := Key{}.ValidatePrefix(defMulti)
	require.ErrorContains(t, err, "needs 1 to 3")
}
