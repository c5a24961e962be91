package status

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

func TestPutKeepsASnapshotNotTheValue(t *testing.T) {
	s := New()
	st := ResourceStatus{State: StateUpdating}
	s.Put(KindResource, "api", ResourceSpec{Type: "k8s"}, &st)
	st.State = StateFailed // the engine changing its own copy afterwards
	o, ok := s.Get(KindResource, "api")
	if !ok {
		t.Fatal("object not stored")
	}
	var got ResourceStatus
	if err := json.Unmarshal(o.Status, &got); err != nil {
		t.Fatal(err)
	}
	if got.State != StateUpdating {
		t.Fatalf("stored state %q changed with the caller's value", got.State)
	}
	// A nil spec leaves the spec as it was.
	s.Put(KindResource, "api", nil, ResourceStatus{State: StateReady})
	o2, _ := s.Get(KindResource, "api")
	if string(o2.Spec) != string(o.Spec) || o2.Version <= o.Version || !o2.Created.Equal(o.Created) {
		t.Fatalf("update lost the spec or the creation time, or kept the version: %+v then %+v", o, o2)
	}
	// Putting the same values again is no change: same version, no subscriber woken.
	sub := s.Subscribe()
	defer sub.Close()
	s.Put(KindResource, "api", ResourceSpec{Type: "k8s"}, ResourceStatus{State: StateReady})
	if o3, _ := s.Get(KindResource, "api"); o3.Version != o2.Version || !o3.Updated.Equal(o2.Updated) {
		t.Fatalf("an identical Put made a new version: %d then %d", o2.Version, o3.Version)
	}
	select {
	case <-sub.C:
		t.Fatal("an identical Put woke a subscriber")
	default:
	}
}

func TestSinceReportsChangesAndDeletions(t *testing.T) {
	s := New()
	s.Put(KindImage, "a", nil, ImageStatus{State: "built"})
	s.Put(KindImage, "b", nil, ImageStatus{State: "built"})
	_, v := s.List("")
	s.Put(KindImage, "b", nil, ImageStatus{State: "up to date"})
	s.Put(KindLocal, "c", nil, LocalStatus{})
	s.Delete(KindImage, "a")
	s.Delete(KindImage, "nothing") // no-op, no version
	changed, v2, complete := s.Since(v)
	if !complete {
		t.Fatal("since a recent version should be complete")
	}
	var got []string
	for _, o := range changed {
		got = append(got, fmt.Sprintf("%s/%s deleted=%v", o.Kind, o.Name, o.Deleted))
	}
	want := []string{"images/a deleted=true", "images/b deleted=false", "locals/c deleted=false"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Since(%d) = %v, want %v", v, got, want)
	}
	if v2 != v+3 {
		t.Fatalf("version %d after three changes from %d", v2, v)
	}
	if again, _, _ := s.Since(v2); len(again) != 0 {
		t.Fatalf("nothing changed since %d, got %v", v2, again)
	}
	if objs, _ := s.List(KindImage); len(objs) != 1 || objs[0].Name != "b" {
		t.Fatalf("List(images) = %v", objs)
	}
}

func TestSinceTooOldIsIncomplete(t *testing.T) {
	s := New()
	for i := range maxTombstones + 10 {
		s.Put(KindLogStream, fmt.Sprint(i), nil, LogStreamStatus{})
	}
	_, v := s.List("")
	for i := range maxTombstones + 10 {
		s.Delete(KindLogStream, fmt.Sprint(i))
	}
	if _, _, complete := s.Since(v); complete {
		t.Fatal("deletions beyond the remembered ones must make Since incomplete")
	}
	_, v = s.List("")
	s.Delete(KindLogStream, "never there")
	if _, _, complete := s.Since(v - 1); !complete {
		t.Fatal("Since of the last remembered deletion must be complete")
	}
}

func TestSubscriptionCoalescesAndNeverBlocks(t *testing.T) {
	s := New()
	sub := s.Subscribe()
	defer sub.Close()
	done := make(chan struct{})
	go func() {
		for i := range 10000 { // a reader that does not read must not block the writer
			s.Put(KindResource, "r", nil, ResourceStatus{Restarts: i})
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Put blocked on a subscriber that does not read")
	}
	select {
	case <-sub.C:
	default:
		t.Fatal("no notification pending after changes")
	}
	select {
	case <-sub.C:
		t.Fatal("notifications did not coalesce")
	default:
	}
	changed, _, _ := s.Since(0)
	var last ResourceStatus
	_ = json.Unmarshal(changed[0].Status, &last)
	if last.Restarts != 9999 {
		t.Fatalf("the reader sees %d, not the last change", last.Restarts)
	}
	sub.Close()
	s.Put(KindResource, "r", nil, ResourceStatus{})
	select {
	case <-sub.C:
		t.Fatal("a closed subscription was notified")
	default:
	}
}
