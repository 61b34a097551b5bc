package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/meridiandb/meridian/internal/admin"
	"github.com/meridiandb/meridian/internal/resource"
)

// fakeAdmin records the management calls.
type fakeAdmin struct {
	offline bool
	calls   []string
	change  admin.LinkChange
}

func (f *fakeAdmin) Offline() bool { return f.offline }

func (f *fakeAdmin) Status(context.Context) (admin.Status, error) {
	f.calls = append(f.calls, "Status")
	return admin.Status{Region: "West US", Role: admin.RoleWrite, Offline: f.offline}, nil
}

func (f *fakeAdmin) SetOffline(_ context.Context, region string, offline bool) (admin.RegionState, error) {
	f.calls = append(f.calls, "SetOffline "+region)
	if region != "West US" {
		return admin.RegionState{}, resource.Errorf(resource.KindNotFound, "no region %q", region)
	}
	f.offline = offline
	return admin.RegionState{Region: region, Offline: offline}, nil
}

func (f *fakeAdmin) ChangeLink(_ context.Context, ch admin.LinkChange) (admin.Links, error) {
	f.calls = append(f.calls, "ChangeLink")
	f.change = ch
	return admin.Links{Region: "West US", WAN: true}, nil
}

func (f *fakeAdmin) Heal(context.Context) (admin.Links, error) {
	f.calls = append(f.calls, "Heal")
	return admin.Links{Region: "West US", WAN: true}, nil
}

func (f *fakeAdmin) Failover(_ context.Context, writeRegion string) (admin.Status, error) {
	f.calls = append(f.calls, "Failover "+writeRegion)
	return admin.Status{Region: "West US", WriteRegion: writeRegion, Epoch: 2}, nil
}

func (f *fakeAdmin) Drill(_ context.Context, region, action string) (admin.RegionState, error) {
	f.calls = append(f.calls, action+" "+region)
	return admin.RegionState{Region: region, Down: action == "kill"}, nil
}

func newAdminEnv(t *testing.T) (*testEnv, *fakeAdmin) {
	fa := &fakeAdmin{}
	return newEnv(t, func(c *Config) { c.Admin = fa }), fa
}

func TestAdminAuth(t *testing.T) {
	e, fa := newAdminEnv(t)
	status := req{method: "GET", path: "/_meridian/status", link: "_meridian/status"}

	r := status
	r.noAuth = true
	wantError(t, e.do(r), http.StatusUnauthorized, 0, "Unauthorized")

	r = status
	r.resType = "dbs" // the management API signs resource type ""
	wantError(t, e.do(r), http.StatusUnauthorized, 0, "Unauthorized")

	r = status
	r.key = roKey
	wantError(t, e.do(r), http.StatusForbidden, 0, "Forbidden")
	wantError(t, e.do(req{method: "POST", path: "/_meridian/heal", link: "_meridian/heal", key: roKey}),
		http.StatusForbidden, 0, "Forbidden")
	if len(fa.calls) != 0 {
		t.Fatalf("refused requests reached the Admin: %v", fa.calls)
	}

	w := e.do(status)
	wantStatus(t, w, http.StatusOK)
	var st admin.Status
	if err := json.Unmarshal(w.Body.Bytes(), &st); err != nil || st.Region != "West US" || st.Role != admin.RoleWrite {
		t.Fatalf("status body %s (%v)", w.Body.String(), err)
	}
	if got := w.Header().Get("x-meridian-region"); got != "westus" {
		t.Fatalf("x-meridian-region %q", got)
	}
}

func TestAdminRoutes(t *testing.T) {
	e, fa := newAdminEnv(t)
	wantError(t, e.do(req{method: "POST", path: "/_meridian/status", link: "_meridian/status"}), http.StatusMethodNotAllowed, 0, "MethodNotAllowed")
	wantError(t, e.do(req{method: "GET", path: "/_meridian/heal", link: "_meridian/heal"}), http.StatusMethodNotAllowed, 0, "MethodNotAllowed")
	wantError(t, e.do(req{method: "GET", path: "/_meridian/nope", link: "_meridian/nope"}), http.StatusNotFound, 0, "NotFound")
	// A region name that is also a Cosmos resource type is still a name.
	wantError(t, e.do(req{method: "POST", path: "/_meridian/regions/sprocs/offline", link: "_meridian/regions/sprocs/offline"}), http.StatusNotFound, 0, "NotFound")

	// The link is the unescaped path.
	w := e.do(req{method: "POST", path: "/_meridian/regions/West%20US/offline", link: "_meridian/regions/West US/offline"})
	wantStatus(t, w, http.StatusOK)
	if !fa.offline || fa.calls[len(fa.calls)-1] != "SetOffline West US" {
		t.Fatalf("calls %v, offline %v", fa.calls, fa.offline)
	}
	wantStatus(t, e.do(req{method: "POST", path: "/_meridian/regions/West%20US/online", link: "_meridian/regions/West US/online"}), http.StatusOK)
	if fa.offline {
		t.Fatal("still offline")
	}
	wantStatus(t, e.do(req{method: "POST", path: "/_meridian/heal", link: "_meridian/heal"}), http.StatusOK)

	// Without an Admin there is no management API.
	plain := newEnv(t)
	wantError(t, plain.do(req{method: "GET", path: "/_meridian/status", link: "_meridian/status"}), http.StatusNotFound, 0, "NotFound")
}

func TestAdminLinkBody(t *testing.T) {
	e, fa := newAdminEnv(t)
	link := func(body string) req {
		return req{method: "POST", path: "/_meridian/links", link: "_meridian/links", body: body}
	}
	for _, bad := range []string{
		``,
		`{`,
		`{"a":"West US","b":"East US"}`, // changes nothing
		`{"a":"West US","rtt":"60ms"}`,  // one region
		`{"a":"West US","b":"East US","rtt":"sixty"}`,         // not a duration
		`{"a":"West US","b":"East US","rtt":"-5ms"}`,          // negative
		`{"a":"West US","b":"East US","delay":"60ms"}`,        // unknown field
		`{"a":"West US","b":"East US","partitioned":"maybe"}`, // not a bool
	} {
		wantError(t, e.do(link(bad)), http.StatusBadRequest, 0, "BadRequest")
	}
	if len(fa.calls) != 0 {
		t.Fatalf("bad changes reached the Admin: %v", fa.calls)
	}
	wantStatus(t, e.do(link(`{"a":"West US","b":"East US","rtt":"60ms","jitter":"0s","partitioned":true}`)), http.StatusOK)
	ch := fa.change
	if ch.A != "West US" || ch.B != "East US" || ch.RTT == nil || time.Duration(*ch.RTT) != 60*time.Millisecond ||
		ch.Jitter == nil || *ch.Jitter != 0 || ch.Partitioned == nil || !*ch.Partitioned {
		t.Fatalf("change %+v", ch)
	}
	wantStatus(t, e.do(link(`{"a":"West US","b":"East US","rtt":120}`)), http.StatusOK) // milliseconds
	if time.Duration(*fa.change.RTT) != 120*time.Millisecond || fa.change.Partitioned != nil {
		t.Fatalf("change %+v", fa.change)
	}
}

func TestOfflineRefusesDataPlane(t *testing.T) {
	e, fa := newAdminEnv(t)
	e.mustDB("db")
	fa.offline = true
	for _, r := range []req{
		{method: "GET", path: "/", resType: "", link: ""},
		{method: "GET", path: "/dbs/db", resType: "dbs", link: "dbs/db"},
		{method: "POST", path: "/dbs", resType: "dbs", link: "", body: `{"id":"x"}`},
		{method: "GET", path: "/dbs/db", noAuth: true},
	} {
		w := e.do(r)
		wantError(t, w, http.StatusServiceUnavailable, 0, "ServiceUnavailable")
		if got := w.Header().Get("x-meridian-region"); got != "westus" {
			t.Fatalf("x-meridian-region %q", got)
		}
	}
	// The management API stays up, and brings the region back.
	wantStatus(t, e.do(req{method: "GET", path: "/_meridian/status", link: "_meridian/status"}), http.StatusOK)
	wantStatus(t, e.do(req{method: "POST", path: "/_meridian/regions/West%20US/online", link: "_meridian/regions/West US/online"}), http.StatusOK)
	wantStatus(t, e.do(req{method: "GET", path: "/dbs/db", resType: "dbs", link: "dbs/db"}), http.StatusOK)
}

func TestAdminFailoverAndDrills(t *testing.T) {
	e, fa := newAdminEnv(t)
	w := e.do(req{method: "POST", path: "/_meridian/failover", link: "_meridian/failover", body: `{"writeRegion":"East US"}`})
	wantStatus(t, w, http.StatusOK)
	var st admin.Status
	if err := json.Unmarshal(w.Body.Bytes(), &st); err != nil || st.WriteRegion != "East US" || st.Epoch != 2 {
		t.Fatalf("failover body %s (%v)", w.Body.String(), err)
	}
	for _, bad := range []string{``, `{}`, `{"writeRegion":""}`, `{"writeRegion":"East US","x":1}`, `[`} {
		wantError(t, e.do(req{method: "POST", path: "/_meridian/failover", link: "_meridian/failover", body: bad}), http.StatusBadRequest, 0, "BadRequest")
	}
	wantError(t, e.do(req{method: "GET", path: "/_meridian/failover", link: "_meridian/failover"}), http.StatusMethodNotAllowed, 0, "MethodNotAllowed")
	wantStatus(t, e.do(req{method: "POST", path: "/_meridian/regions/West%20US/kill", link: "_meridian/regions/West US/kill"}), http.StatusOK)
	wantStatus(t, e.do(req{method: "POST", path: "/_meridian/regions/West%20US/restore", link: "_meridian/regions/West US/restore"}), http.StatusOK)
	wantError(t, e.do(req{method: "POST", path: "/_meridian/regions/West%20US/kill", link: "_meridian/regions/West US/kill", key: roKey}), http.StatusForbidden, 0, "Forbidden")
	want := []string{"Failover East US", "kill West US", "restore West US"}
	if len(fa.calls) != len(want) {
		t.Fatalf("calls %v, want %v", fa.calls, want)
	}
	for i := range want {
		if fa.calls[i] != want[i] {
			t.Fatalf("calls %v, want %v", fa.calls, want)
		}
	}
}
