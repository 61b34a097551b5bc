package session

import (
	"testing"

	"github.com/meridiandb/meridian/internal/resource"
	"github.com/stretchr/testify/require"
)

func TestParseLevel(t *testing.T) {
	for in, want := range map[string]Level{"": LevelUnset, " ": LevelUnset, "Strong": Strong, "session": Session, "BOUNDEDSTALENESS": BoundedStaleness, " Eventual ": Eventual, "ConsistentPrefix": ConsistentPrefix} {
		got, err := ParseLevel(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	_, err := ParseLevel("Linearizable")
	require.Equal(t, resource.KindBadRequest, resource.KindOf(err))
	require.Equal(t, "Session", Session.String())
	require.Equal(t, "Unknown", Level(42).String())
	require.Equal(t, "Unknown", Level(-1).String())
}

func TestEffective(t *testing.T) {
	got, err := Effective(Session, LevelUnset)
	require.NoError(t, err)
	require.Equal(t, Session, got)
	got, err = Effective(Session, Eventual)
	require.NoError(t, err)
	require.Equal(t, Eventual, got)
	got, err = Effective(Session, Session)
	require.NoError(t, err)
	require.Equal(t, Session, got)
	_, err = Effective(Session, Strong)
	require.Equal(t, resource.KindBadRequest, resource.KindOf(err))
}
