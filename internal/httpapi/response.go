package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"strconv"

	"github.com/meridiandb/meridian/internal/resource"
)

// Request charges reported for metadata operations, which the Backend does
// not meter. Plausible Cosmos-like figures; never zero (clients sum them).
const (
	chargeMetaRead  = 1.0
	chargeMetaWrite = 5.0
)

// writeBody writes status and body; 204 and 304 never carry one.
func writeBody(c *call, status int, body []byte) {
	if status == http.StatusNoContent || status == http.StatusNotModified {
		body = nil
	}
	c.w.WriteHeader(status)
	if len(body) > 0 {
		_, _ = c.w.Write(body)
	}
}

// writeJSON marshals v and writes it.
func writeJSON(c *call, status int, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err // a bug: becomes a 500
	}
	writeBody(c, status, body)
	return nil
}

// writeFeed writes a Cosmos feed page {"_rid":..., "<name>":[...],
// "_count":n} with x-ms-item-count and, when non-empty, x-ms-continuation.
func writeFeed(c *call, rid, name string, docs []json.RawMessage, continuation string) {
	var b bytes.Buffer
	b.WriteString(`{"_rid":`)
	ridJSON, _ := json.Marshal(rid)
	b.Write(ridJSON)
	b.WriteString(`,"`)
	b.WriteString(name)
	b.WriteString(`":[`)
	for i, d := range docs {
		if i > 0 {
			b.WriteByte(',')
		}
		if len(d) == 0 {
			b.WriteString("null")
			continue
		}
		b.Write(d)
	}
	b.WriteString(`],"_count":`)
	b.WriteString(strconv.Itoa(len(docs)))
	b.WriteByte('}')
	hdr := c.w.Header()
	setHeader(hdr, hdrItemCount, strconv.Itoa(len(docs)))
	if continuation != "" {
		setHeader(hdr, hdrContinuation, continuation)
	}
	writeBody(c, http.StatusOK, b.Bytes())
}

// formatCharge formats a request charge like Cosmos DB: "1", "5.71".
func formatCharge(ch float64) string {
	if math.IsNaN(ch) || math.IsInf(ch, 0) || ch < 0 {
		ch = 0
	}
	return strconv.FormatFloat(math.Round(ch*100)/100, 'f', -1, 64)
}

// setCharge sets x-ms-request-charge.
func setCharge(c *call, ch float64) {
	setHeader(c.w.Header(), hdrRequestCharge, formatCharge(ch))
}

// setMeta sets the data-plane response headers from m. document says the
// response is about documents (x-ms-content-path, for the Node SDK's
// session capture).
func (h *Handler) setMeta(c *call, m ResponseMeta, document bool) {
	hdr := c.w.Header()
	ch := m.Charge
	if ch <= 0 {
		ch = chargeMetaRead
	}
	setCharge(c, ch)
	if m.SessionToken != "" {
		setHeader(hdr, hdrSessionToken, m.SessionToken)
	}
	if document && m.ContainerRID != "" {
		setHeader(hdr, hdrContentPath, m.ContainerRID)
	}
	region := m.Region
	if region == "" {
		region = h.cfg.RegionName
	}
	if region != "" {
		setHeader(hdr, hdrRegion, region)
	}
	lsn := strconv.FormatInt(m.LSN, 10)
	setHeader(hdr, hdrLSN, lsn)
	setHeader(hdr, hdrLLSN, lsn)
	if m.ItemLSN > 0 {
		// The LSN of the item version returned or written (D-12), for
		// harnesses that check histories against the log.
		setHeader(hdr, hdrItemLSN, strconv.FormatInt(m.ItemLSN, 10))
	}
}

// readBody reads the request body up to Config.MaxBodyBytes (413 beyond).
func (h *Handler) readBody(c *call) ([]byte, error) {
	limit := h.cfg.MaxBodyBytes
	if c.r.ContentLength > limit {
		return nil, tooLarge(limit)
	}
	if c.r.Body == nil {
		return nil, nil
	}
	if n := c.r.ContentLength; n > 0 {
		// The length is known and within the limit: one allocation of
		// exactly that size, instead of io.ReadAll's doublings.
		body := make([]byte, n)
		if _, err := io.ReadFull(c.r.Body, body); err != nil {
			return nil, resource.BadRequestf("Reading the request body failed: %v.", err)
		}
		return body, nil
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.w, c.r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, tooLarge(limit)
		}
		return nil, resource.BadRequestf("Reading the request body failed: %v.", err)
	}
	return body, nil
}

func tooLarge(limit int64) error {
	return resource.Errorf(resource.KindTooLarge, "Request size is too large: the body exceeds the limit of %d bytes.", limit)
}

// readJSON reads the body and decodes it into v; an empty or malformed
// body is a 400 with the decode error.
func (h *Handler) readJSON(c *call, v any) error {
	body, err := h.readBody(c)
	if err != nil {
		return err
	}
	return decodeJSON(body, v)
}

func decodeJSON(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return resource.BadRequestf("The request body is empty: a JSON body is required.")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return resource.BadRequestf("The request body is not valid JSON: %v.", err)
	}
	return nil
}

// jsonObject checks that body is one JSON object (an item).
func jsonObject(body []byte) error {
	t := bytes.TrimSpace(body)
	if len(t) == 0 {
		return resource.BadRequestf("The request body is empty: a JSON document is required.")
	}
	if t[0] != '{' || !json.Valid(t) {
		var v map[string]json.RawMessage
		if err := json.Unmarshal(t, &v); err != nil {
			return resource.BadRequestf("The request body is not a valid JSON object: %v.", err)
		}
		return resource.BadRequestf("The request body is not a valid JSON object.")
	}
	return nil
}
