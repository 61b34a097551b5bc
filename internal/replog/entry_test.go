package replog

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestEncodeDecodeRoundTrip(t *testing.T) {
	e := &Entry{LSN: 42, Epoch: 3, Origin: 2, TS: -5, Ops: []Op{
		{Kind: OpPut, Key: []byte("k1"), Value: []byte(`{"id":"a"}`)},
		{Kind: OpDelete, Key: []byte("k2")},
	}}
	got, err := Decode(e.Encode(nil))
	require.NoError(t, err)
	require.Equal(t, e.LSN, got.LSN)
	require.Equal(t, e.Epoch, got.Epoch)
	require.Equal(t, e.Origin, got.Origin)
	require.Equal(t, e.TS, got.TS)
	require.Len(t, got.Ops, 2)
	require.Equal(t, "k1", string(got.Ops[0].Key))
	require.Equal(t, `{"id":"a"}`, string(got.Ops[0].Value))
	require.Equal(t, OpDelete, got.Ops[1].Kind)
}

func TestDecodeRejectsGarbage(t *testing.T) {
	e := (&Entry{LSN: 1, Ops: []Op{{Kind: OpPut, Key: []byte("k"), Value: []byte("v")}}}).Encode(nil)
	for i := 0; i < len(e); i++ {
		_, err := Decode(e[:i])
		require.Error(t, err, "prefix %d", i)
	}
	_, err := Decode(append(e, 0))
	require.Error(t, err)
}

func FuzzDecode(f *testing.F) {
	f.Add((&Entry{LSN: 1, Epoch: 1, Origin: 1, TS: 1, Ops: []Op{{Kind: OpPut, Key: []byte("k"), Value: []byte("v")}}}).Encode(nil))
	f.Add([]byte{1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := Decode(b)
		if err != nil {
			return
		}
		again, err := Decode(e.Encode(nil))
		require.NoError(t, err)
		require.Equal(t, e.LSN, again.LSN)
		require.Equal(t, len(e.Ops), len(again.Ops))
	})
}
