package replpb

import (
	"testing"

	"google.golang.org/protobuf/proto"
)

// FuzzDecode checks that no input crashes the decoders of the messages a
// peer sends, and that whatever decodes survives a round trip.
func FuzzDecode(f *testing.F) {
	seeds := []proto.Message{
		&SenderMessage{Msg: &SenderMessage_Batch{Batch: &Batch{
			Entries:  [][]byte{{1, 2, 3}},
			Progress: &Progress{HeadLsn: 9, CommittedLsn: 8, SentUnixNanos: 1, Epoch: 2, Quorum: []string{"a", "b"}},
		}}},
		&SenderMessage{Msg: &SenderMessage_SnapshotRequired{SnapshotRequired: &SnapshotRequired{FirstLsn: 5}}},
		&ReceiverMessage{Msg: &ReceiverMessage_Subscribe{Subscribe: &Subscribe{Region: "r", Partition: 1, AfterLsn: 3}}},
		&ReceiverMessage{Msg: &ReceiverMessage_Ack{Ack: &Ack{DurableLsn: 4}}},
		&SnapshotChunk{Lsn: 1, Epoch: 1, Last: true, Items: []*Item{{Key: []byte("k"), Value: []byte("v")}}},
	}
	for _, m := range seeds {
		b, err := proto.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, m := range []proto.Message{&SenderMessage{}, &ReceiverMessage{}, &SnapshotChunk{}, &SnapshotRequest{}} {
			if err := proto.Unmarshal(b, m); err != nil {
				continue
			}
			again, err := proto.Marshal(m)
			if err != nil {
				t.Fatalf("marshal %T: %v", m, err)
			}
			m2 := m.ProtoReflect().New().Interface()
			if err := proto.Unmarshal(again, m2); err != nil {
				t.Fatalf("unmarshal re-encoded %T: %v", m, err)
			}
			if !proto.Equal(m, m2) {
				t.Fatalf("%T changed in a round trip", m)
			}
		}
	})
}
