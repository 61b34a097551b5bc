package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/meridiandb/meridian/internal/admin"
	"github.com/meridiandb/meridian/internal/auth"
	"github.com/meridiandb/meridian/internal/resource"
)

// This file is the management API: /_meridian/... routes, served by the
// Admin the process provides, and the offline gate of the data plane.
//
//	GET  /_meridian/status                    this region's replication state
//	POST /_meridian/regions/{name}/offline    answer 503 to every data-plane request
//	POST /_meridian/regions/{name}/online     serve again
//	POST /_meridian/links                     change a WAN link (admin.LinkChange)
//	POST /_meridian/heal                      end every WAN partition
//	POST /_meridian/failover                  move the write region (admin.FailoverRequest)
//	POST /_meridian/regions/{name}/kill       drill: crash a region (meridian dev)
//	POST /_meridian/regions/{name}/restore    drill: start a killed region again
//
// Every route needs the master key: the client signs resource type "" and
// resource link "_meridian/<rest of the unescaped path>"; the read-only key
// gets 403. Errors go through the one error table.

// adminRoot is the first path segment of the management API. Cosmos
// resource ids cannot start a path, so it never shadows the data plane.
const adminRoot = "_meridian"

// Admin is what the management API needs from the process that serves the
// region. Implementations return *resource.Error values for the client's
// mistakes (an unknown region: KindNotFound; a bad change: KindBadRequest).
type Admin interface {
	// Offline reports whether the region refuses data-plane requests.
	Offline() bool
	// Status reports the region's role and replication state.
	Status(ctx context.Context) (admin.Status, error)
	// SetOffline takes the named region offline or brings it back.
	SetOffline(ctx context.Context, region string, offline bool) (admin.RegionState, error)
	// ChangeLink changes the simulated WAN between two regions.
	ChangeLink(ctx context.Context, ch admin.LinkChange) (admin.Links, error)
	// Heal ends every partition of the simulated WAN.
	Heal(ctx context.Context) (admin.Links, error)
	// Failover moves the write region to writeRegion with every region
	// healthy (drain, then switch) and returns the status afterwards.
	Failover(ctx context.Context, writeRegion string) (admin.Status, error)
	// Drill kills ("kill") or restores ("restore") a region.
	Drill(ctx context.Context, region, action string) (admin.RegionState, error)
}

// checkOnline refuses a data-plane request while the region is offline.
// The management API stays available.
func (h *Handler) checkOnline(c *call) error {
	if h.cfg.Admin == nil || (len(c.segs) > 0 && c.segs[0] == adminRoot) || !h.cfg.Admin.Offline() {
		return nil
	}
	h.setRegionHeader(c)
	return errorf(resource.KindServiceUnavailable,
		"Region %q is offline: it was taken offline through the management API and refuses client requests while it keeps replicating. Use another region, or bring it back with 'meridian region online'.",
		h.cfg.RegionName)
}

// routeAdmin picks the management endpoint for c.segs.
func (h *Handler) routeAdmin(c *call) (endpoint, error) {
	segs, m := c.segs, c.r.Method
	if h.cfg.Admin == nil {
		return endpoint{}, errorf(resource.KindNotFound, "The management API is not enabled on this server.")
	}
	ep := func(method string, fn func(*call) error) (endpoint, error) {
		if m != method {
			return notAllowed(c, method)
		}
		return endpoint{resType: "", resLink: strings.Join(segs, "/"), fn: h.masterOnly(fn)}, nil
	}
	switch n := len(segs); {
	case n == 2 && segs[1] == "status":
		return ep(http.MethodGet, h.adminStatus)
	case n == 2 && segs[1] == "links":
		return ep(http.MethodPost, h.adminLink)
	case n == 2 && segs[1] == "heal":
		return ep(http.MethodPost, h.adminHeal)
	case n == 4 && segs[1] == "regions" && segs[3] == "offline":
		return ep(http.MethodPost, func(c *call) error { return h.adminSetOffline(c, segs[2], true) })
	case n == 4 && segs[1] == "regions" && segs[3] == "online":
		return ep(http.MethodPost, func(c *call) error { return h.adminSetOffline(c, segs[2], false) })
	case n == 4 && segs[1] == "regions" && (segs[3] == "kill" || segs[3] == "restore"):
		return ep(http.MethodPost, func(c *call) error { return h.adminDrill(c, segs[2], segs[3]) })
	case n == 2 && segs[1] == "failover":
		return ep(http.MethodPost, h.adminFailover)
	}
	return endpoint{}, errorf(resource.KindNotFound, "The management path %q does not exist.", c.r.URL.EscapedPath())
}

// masterOnly wraps a management endpoint: it needs the master key, for
// reads too (the status names every endpoint and the WAN layout).
func (h *Handler) masterOnly(fn func(*call) error) func(*call) error {
	return func(c *call) error {
		if c.perm != auth.Write {
			return errorf(resource.KindForbidden, "The management API requires the master key; the request was signed with the read-only key.")
		}
		h.setRegionHeader(c)
		return fn(c)
	}
}

func (h *Handler) setRegionHeader(c *call) {
	if h.cfg.RegionName != "" {
		c.w.Header().Set(hdrRegion, h.cfg.RegionName)
	}
}

func (h *Handler) adminStatus(c *call) error {
	st, err := h.cfg.Admin.Status(c.ctx)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, st)
}

func (h *Handler) adminSetOffline(c *call, region string, offline bool) error {
	st, err := h.cfg.Admin.SetOffline(c.ctx, region, offline)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, st)
}

func (h *Handler) adminDrill(c *call, region, action string) error {
	st, err := h.cfg.Admin.Drill(c.ctx, region, action)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, st)
}

func (h *Handler) adminFailover(c *call) error {
	body, err := h.readBody(c)
	if err != nil {
		return err
	}
	var req admin.FailoverRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || req.WriteRegion == "" {
		return resource.BadRequestf(`The failover request is not valid: send {"writeRegion":"East US"}.`)
	}
	st, err := h.cfg.Admin.Failover(c.ctx, req.WriteRegion)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, st)
}

func (h *Handler) adminLink(c *call) error {
	body, err := h.readBody(c)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return resource.BadRequestf(`The request body is empty: send {"a":"West US","b":"East US","rtt":"60ms","jitter":"0s","partitioned":false}.`)
	}
	var ch admin.LinkChange
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ch); err != nil {
		return resource.BadRequestf("The link change is not valid: %v.", err)
	}
	if ch.A == "" || ch.B == "" {
		return resource.BadRequestf(`The link change needs both regions: "a" and "b".`)
	}
	if ch.RTT == nil && ch.Jitter == nil && ch.Partitioned == nil {
		return resource.BadRequestf(`The link change changes nothing: set "rtt", "jitter" or "partitioned".`)
	}
	if (ch.RTT != nil && *ch.RTT < 0) || (ch.Jitter != nil && *ch.Jitter < 0) {
		return resource.BadRequestf(`The link change has a negative "rtt" or "jitter".`)
	}
	links, err := h.cfg.Admin.ChangeLink(c.ctx, ch)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, links)
}

func (h *Handler) adminHeal(c *call) error {
	links, err := h.cfg.Admin.Heal(c.ctx)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, links)
}
