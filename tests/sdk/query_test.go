package sdk_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
	"github.com/stretchr/testify/require"
)

// queryAll runs a query to the end and returns every result.
func queryAll(t *testing.T, c *azcosmos.ContainerClient, q string, pk azcosmos.PartitionKey, params []azcosmos.QueryParameter, pageSize int32) [][]byte {
	t.Helper()
	var out [][]byte
	for _, p := range queryPages(t, c, q, pk, params, pageSize) {
		out = append(out, p...)
	}
	return out
}

// queryPages runs a query page by page and checks the paging contract:
// every page but the last carries a continuation, the last none, and no
// page exceeds pageSize.
func queryPages(t *testing.T, c *azcosmos.ContainerClient, q string, pk azcosmos.PartitionKey, params []azcosmos.QueryParameter, pageSize int32) [][][]byte {
	t.Helper()
	ctx := ctxT(t)
	pager := c.NewQueryItemsPager(q, pk, &azcosmos.QueryOptions{QueryParameters: params, PageSizeHint: pageSize})
	var pages [][][]byte
	for pager.More() {
		require.Less(t, len(pages), 1000, "pager does not end: %s", q)
		page, err := pager.NextPage(ctx)
		require.NoError(t, err, "query %q", q)
		require.Equal(t, http.StatusOK, page.RawResponse.StatusCode)
		if pageSize > 0 {
			require.LessOrEqual(t, len(page.Items), int(pageSize), "page larger than the hint: %s", q)
		}
		pages = append(pages, page.Items)
		if page.ContinuationToken == nil {
			require.False(t, pager.More(), "last page must end the pager")
		}
	}
	return pages
}

type qdoc struct {
	N    int
	ID   string
	PK   string
	Name string
	Grp  string
	Flag bool
	Tags []string
	Opt  bool // has "opt"
	Null bool // has "nul": null
}

var qnames = []string{"", "Alpha", "beta", "Gamma", "delta", "Epsilon", "zeta", "Eta", "theta", "Iota", "kappa"}

func queryDataset() []qdoc {
	var out []qdoc
	for i := 1; i <= 10; i++ {
		d := qdoc{N: i, ID: fmt.Sprintf("i%02d", i), PK: fmt.Sprintf("p%d", i%3), Name: qnames[i],
			Grp: fmt.Sprintf("g%d", i%2), Flag: i%2 == 0, Opt: i <= 3, Null: i == 4}
		if i%2 == 0 {
			d.Tags = []string{"even"}
		} else {
			d.Tags = []string{"odd"}
		}
		if i%3 == 0 {
			d.Tags = append(d.Tags, "three")
		}
		out = append(out, d)
	}
	return out
}

func (d qdoc) json() []byte {
	m := map[string]any{"id": d.ID, "pk": d.PK, "n": d.N, "name": d.Name, "grp": d.Grp, "flag": d.Flag,
		"tags": d.Tags, "nested": map[string]any{"a": map[string]any{"b": d.N * 10}}, "odd-name": d.N}
	if d.Opt {
		m["opt"] = d.N
	}
	if d.Null {
		m["nul"] = nil
	}
	b, _ := json.Marshal(m)
	return b
}

func TestQueries(t *testing.T) {
	e := start(t)
	ctx := ctxT(t)
	c := e.container("db", "q")
	data := queryDataset()
	for _, d := range data {
		_, err := c.CreateItem(ctx, azcosmos.NewPartitionKeyString(d.PK), d.json(), nil)
		require.NoError(t, err)
	}
	all := azcosmos.NewPartitionKey()
	p1 := azcosmos.NewPartitionKeyString("p1")

	// want returns the ids of the dataset matching f (within pk if not "").
	want := func(pk string, f func(d qdoc) bool) []string {
		var ids []string
		for _, d := range data {
			if (pk == "" || d.PK == pk) && f(d) {
				ids = append(ids, d.ID)
			}
		}
		sort.Strings(ids)
		return ids
	}
	idsOf := func(t *testing.T, items [][]byte) []string {
		ids := make([]string, 0, len(items))
		for _, b := range items {
			id, ok := decodeAny(t, b)["id"].(string)
			require.True(t, ok, "result without id: %s", b)
			ids = append(ids, id)
		}
		return ids
	}
	// set compares a query's ids as a set against want.
	set := func(t *testing.T, q string, pk azcosmos.PartitionKey, params []azcosmos.QueryParameter, w []string) {
		t.Helper()
		got := idsOf(t, queryAll(t, c, q, pk, params, 0))
		sort.Strings(got)
		if w == nil {
			w = []string{}
		}
		require.Equal(t, w, got, "query %q", q)
	}
	values := func(t *testing.T, q string, pk azcosmos.PartitionKey, params []azcosmos.QueryParameter) []string {
		t.Helper()
		var out []string
		for _, b := range queryAll(t, c, q, pk, params, 0) {
			out = append(out, normJSON(t, b))
		}
		return out
	}
	anyTrue := func(d qdoc) bool { return true }

	for _, scope := range []struct {
		name string
		pk   azcosmos.PartitionKey
		key  string
	}{{"cross-partition", all, ""}, {"single-partition", p1, "p1"}} {
		t.Run(scope.name, func(t *testing.T) {
			pk, key := scope.pk, scope.key
			w := func(f func(d qdoc) bool) []string { return want(key, f) }

			t.Run("SELECT *", func(t *testing.T) {
				set(t, "SELECT * FROM c", pk, nil, w(anyTrue))
				items := queryAll(t, c, "SELECT * FROM c", pk, nil, 0)
				requireSystemProps(t, items[0], "")
			})
			t.Run("WHERE comparisons", func(t *testing.T) {
				set(t, "SELECT * FROM c WHERE c.n > 7", pk, nil, w(func(d qdoc) bool { return d.N > 7 }))
				set(t, "SELECT * FROM c WHERE c.n >= 7", pk, nil, w(func(d qdoc) bool { return d.N >= 7 }))
				set(t, "SELECT * FROM c WHERE c.n < 4", pk, nil, w(func(d qdoc) bool { return d.N < 4 }))
				set(t, "SELECT * FROM c WHERE c.n <= 4", pk, nil, w(func(d qdoc) bool { return d.N <= 4 }))
				set(t, "SELECT * FROM c WHERE c.n != 4", pk, nil, w(func(d qdoc) bool { return d.N != 4 }))
				set(t, "SELECT * FROM c WHERE c.n <> 4", pk, nil, w(func(d qdoc) bool { return d.N != 4 }))
				set(t, "SELECT * FROM c WHERE c.name = 'Gamma'", pk, nil, w(func(d qdoc) bool { return d.Name == "Gamma" }))
				set(t, "SELECT * FROM c WHERE c.name > 'delta'", pk, nil, w(func(d qdoc) bool { return d.Name > "delta" }))
				set(t, "SELECT * FROM c WHERE c.flag = true", pk, nil, w(func(d qdoc) bool { return d.Flag }))
				set(t, "SELECT * FROM c WHERE c.flag", pk, nil, w(func(d qdoc) bool { return d.Flag }))
				// Comparing across types is undefined, so nothing matches.
				set(t, "SELECT * FROM c WHERE c.n > 'a'", pk, nil, nil)
				set(t, "SELECT * FROM c WHERE c.missing = 1", pk, nil, nil)
			})
			t.Run("AND OR NOT", func(t *testing.T) {
				set(t, "SELECT * FROM c WHERE c.n > 2 AND c.n < 8", pk, nil, w(func(d qdoc) bool { return d.N > 2 && d.N < 8 }))
				set(t, "SELECT * FROM c WHERE c.n = 1 OR c.n = 10 OR c.n = 4", pk, nil, w(func(d qdoc) bool { return d.N == 1 || d.N == 10 || d.N == 4 }))
				set(t, "SELECT * FROM c WHERE NOT (c.n > 2)", pk, nil, w(func(d qdoc) bool { return d.N <= 2 }))
				set(t, "SELECT * FROM c WHERE NOT c.flag", pk, nil, w(func(d qdoc) bool { return !d.Flag }))
				set(t, "SELECT * FROM c WHERE (c.n < 3 OR c.n > 8) AND NOT c.flag", pk, nil, w(func(d qdoc) bool { return (d.N < 3 || d.N > 8) && !d.Flag }))
			})
			t.Run("IN and BETWEEN", func(t *testing.T) {
				set(t, "SELECT * FROM c WHERE c.n IN (1, 3, 5, 10)", pk, nil, w(func(d qdoc) bool { return slices.Contains([]int{1, 3, 5, 10}, d.N) }))
				set(t, "SELECT * FROM c WHERE c.name IN ('Alpha', 'beta', 'nope')", pk, nil, w(func(d qdoc) bool { return d.Name == "Alpha" || d.Name == "beta" }))
				set(t, "SELECT * FROM c WHERE c.n NOT IN (1, 2)", pk, nil, w(func(d qdoc) bool { return d.N > 2 }))
				set(t, "SELECT * FROM c WHERE c.n BETWEEN 4 AND 7", pk, nil, w(func(d qdoc) bool { return d.N >= 4 && d.N <= 7 }))
			})
			t.Run("arithmetic", func(t *testing.T) {
				set(t, "SELECT * FROM c WHERE c.n % 3 = 0", pk, nil, w(func(d qdoc) bool { return d.N%3 == 0 }))
				set(t, "SELECT * FROM c WHERE c.n * 2 + 1 > 15", pk, nil, w(func(d qdoc) bool { return d.N*2+1 > 15 }))
				set(t, "SELECT * FROM c WHERE c.n / 2 = 2.5", pk, nil, w(func(d qdoc) bool { return d.N == 5 }))
				set(t, "SELECT * FROM c WHERE c.n - 10 = -6", pk, nil, w(func(d qdoc) bool { return d.N == 4 }))
				set(t, "SELECT * FROM c WHERE -c.n < -8", pk, nil, w(func(d qdoc) bool { return d.N > 8 }))
			})
			t.Run("type and string functions", func(t *testing.T) {
				set(t, "SELECT * FROM c WHERE IS_DEFINED(c.opt)", pk, nil, w(func(d qdoc) bool { return d.Opt }))
				set(t, "SELECT * FROM c WHERE NOT IS_DEFINED(c.opt)", pk, nil, w(func(d qdoc) bool { return !d.Opt }))
				set(t, "SELECT * FROM c WHERE IS_NULL(c.nul)", pk, nil, w(func(d qdoc) bool { return d.Null }))
				set(t, "SELECT * FROM c WHERE IS_NULL(c.name)", pk, nil, nil)
				set(t, "SELECT * FROM c WHERE CONTAINS(c.name, 'et')", pk, nil, w(func(d qdoc) bool { return strings.Contains(d.Name, "et") }))
				set(t, "SELECT * FROM c WHERE CONTAINS(c.name, 'ET', true)", pk, nil, w(func(d qdoc) bool { return strings.Contains(strings.ToLower(d.Name), "et") }))
				set(t, "SELECT * FROM c WHERE STARTSWITH(c.name, 'E')", pk, nil, w(func(d qdoc) bool { return strings.HasPrefix(d.Name, "E") }))
				set(t, "SELECT * FROM c WHERE ENDSWITH(c.name, 'ta')", pk, nil, w(func(d qdoc) bool { return strings.HasSuffix(d.Name, "ta") }))
				set(t, "SELECT * FROM c WHERE UPPER(c.name) = 'GAMMA'", pk, nil, w(func(d qdoc) bool { return d.Name == "Gamma" }))
				set(t, "SELECT * FROM c WHERE LOWER(c.name) = 'epsilon'", pk, nil, w(func(d qdoc) bool { return d.Name == "Epsilon" }))
				set(t, "SELECT * FROM c WHERE LENGTH(c.name) = 4", pk, nil, w(func(d qdoc) bool { return len(d.Name) == 4 }))
				set(t, "SELECT * FROM c WHERE ARRAY_CONTAINS(c.tags, 'three')", pk, nil, w(func(d qdoc) bool { return d.N%3 == 0 }))
				set(t, "SELECT * FROM c WHERE ARRAY_LENGTH(c.tags) = 2", pk, nil, w(func(d qdoc) bool { return len(d.Tags) == 2 }))
			})
			t.Run("nested and bracket paths", func(t *testing.T) {
				set(t, "SELECT * FROM c WHERE c.nested.a.b > 50", pk, nil, w(func(d qdoc) bool { return d.N*10 > 50 }))
				set(t, `SELECT * FROM c WHERE c["odd-name"] = 4`, pk, nil, w(func(d qdoc) bool { return d.N == 4 }))
				set(t, `SELECT * FROM c WHERE c["nested"]["a"]["b"] = 70`, pk, nil, w(func(d qdoc) bool { return d.N == 7 }))
				set(t, `SELECT * FROM c WHERE c.tags[0] = 'even'`, pk, nil, w(func(d qdoc) bool { return d.Flag }))
			})
			t.Run("parameters", func(t *testing.T) {
				set(t, "SELECT * FROM c WHERE c.n > @min AND c.name != @name", pk,
					[]azcosmos.QueryParameter{{Name: "@min", Value: 3}, {Name: "@name", Value: "Eta"}},
					w(func(d qdoc) bool { return d.N > 3 && d.Name != "Eta" }))
				set(t, "SELECT * FROM c WHERE ARRAY_CONTAINS(@ns, c.n)", pk,
					[]azcosmos.QueryParameter{{Name: "@ns", Value: []int{2, 4, 7}}},
					w(func(d qdoc) bool { return d.N == 2 || d.N == 4 || d.N == 7 }))
				set(t, "SELECT * FROM c WHERE c.flag = @f", pk,
					[]azcosmos.QueryParameter{{Name: "@f", Value: false}}, w(func(d qdoc) bool { return !d.Flag }))
			})
			t.Run("projection", func(t *testing.T) {
				// i07 and i04 are in p1, so both scopes see them.
				got := values(t, "SELECT c.id, c.n FROM c WHERE c.n = 7", pk, nil)
				require.Equal(t, []string{`{"id":"i07","n":7}`}, got)
				got = values(t, "SELECT c.id AS ident, c.nested.a.b AS b, c.tags[0] AS t0 FROM c WHERE c.n = 4", pk, nil)
				require.Equal(t, []string{`{"b":40,"ident":"i04","t0":"even"}`}, got)
				// A missing projected property is omitted, not null.
				got = values(t, "SELECT c.id, c.opt FROM c WHERE c.n = 4", pk, nil)
				require.Equal(t, []string{`{"id":"i04"}`}, got)
			})
			t.Run("SELECT VALUE", func(t *testing.T) {
				got := values(t, "SELECT VALUE c.n FROM c WHERE c.n = 4", pk, nil)
				require.Equal(t, []string{"4"}, got)
				got = values(t, "SELECT VALUE c.n * 2 + 1 FROM c WHERE c.n = 4", pk, nil)
				require.Equal(t, []string{"9"}, got)
				got = values(t, "SELECT VALUE LOWER(c.name) FROM c WHERE c.n = 1", pk, nil)
				require.Equal(t, []string{`"alpha"`}, got)
				got = values(t, "SELECT VALUE {\"x\": c.n, \"y\": [c.id]} FROM c WHERE c.n = 4", pk, nil)
				require.Equal(t, []string{`{"x":4,"y":["i04"]}`}, got)
				got = values(t, "SELECT VALUE c.nested FROM c WHERE c.n = 4", pk, nil)
				require.Equal(t, []string{`{"a":{"b":40}}`}, got)
			})
			t.Run("ORDER BY", func(t *testing.T) {
				sorted := func(less func(a, b qdoc) int) []string {
					var ds []qdoc
					for _, d := range data {
						if key == "" || d.PK == key {
							ds = append(ds, d)
						}
					}
					slices.SortStableFunc(ds, less)
					ids := make([]string, len(ds))
					for i, d := range ds {
						ids[i] = d.ID
					}
					return ids
				}
				asc := sorted(func(a, b qdoc) int { return a.N - b.N })
				desc := sorted(func(a, b qdoc) int { return b.N - a.N })
				require.Equal(t, asc, idsOf(t, queryAll(t, c, "SELECT * FROM c ORDER BY c.n", pk, nil, 0)))
				require.Equal(t, asc, idsOf(t, queryAll(t, c, "SELECT * FROM c ORDER BY c.n ASC", pk, nil, 0)))
				require.Equal(t, desc, idsOf(t, queryAll(t, c, "SELECT * FROM c ORDER BY c.n DESC", pk, nil, 0)))
				byName := sorted(func(a, b qdoc) int { return strings.Compare(a.Name, b.Name) })
				require.Equal(t, byName, idsOf(t, queryAll(t, c, "SELECT * FROM c ORDER BY c.name", pk, nil, 0)))
				two := sorted(func(a, b qdoc) int {
					if x := strings.Compare(a.Grp, b.Grp); x != 0 {
						return x
					}
					return b.N - a.N
				})
				require.Equal(t, two, idsOf(t, queryAll(t, c, "SELECT * FROM c ORDER BY c.grp ASC, c.n DESC", pk, nil, 0)))
				require.Equal(t, two, idsOf(t, queryAll(t, c, "SELECT c.id FROM c ORDER BY c.grp, c.n DESC", pk, nil, 0)))
				// Paged ORDER BY keeps the global order across pages.
				require.Equal(t, desc, idsOf(t, queryAll(t, c, "SELECT * FROM c ORDER BY c.n DESC", pk, nil, 3)))
			})
			t.Run("TOP and OFFSET LIMIT", func(t *testing.T) {
				asc := want(key, anyTrue) // ids sort like n (zero-padded)
				require.Equal(t, asc[:3], idsOf(t, queryAll(t, c, "SELECT TOP 3 * FROM c ORDER BY c.n", pk, nil, 0)))
				require.Equal(t, asc[1:3], idsOf(t, queryAll(t, c, "SELECT * FROM c ORDER BY c.n OFFSET 1 LIMIT 2", pk, nil, 0)))
				require.Empty(t, queryAll(t, c, "SELECT * FROM c ORDER BY c.n OFFSET 100 LIMIT 2", pk, nil, 0))
				require.Len(t, queryAll(t, c, "SELECT TOP 100 * FROM c", pk, nil, 0), len(asc))
				// TOP across pages still stops at the limit.
				require.Equal(t, asc[:3], idsOf(t, queryAll(t, c, "SELECT TOP 3 * FROM c ORDER BY c.n", pk, nil, 2)))
				require.Equal(t, asc[1:3], idsOf(t, queryAll(t, c, "SELECT * FROM c ORDER BY c.n OFFSET 1 LIMIT 2", pk, nil, 1)))
			})
			t.Run("DISTINCT", func(t *testing.T) {
				groups := map[string]bool{}
				flags := map[bool]bool{}
				for _, d := range data {
					if key == "" || d.PK == key {
						groups[d.Grp] = true
						flags[d.Flag] = true
					}
				}
				got := values(t, "SELECT DISTINCT VALUE c.grp FROM c", pk, nil)
				sort.Strings(got)
				var wantG []string
				for g := range groups {
					wantG = append(wantG, `"`+g+`"`)
				}
				sort.Strings(wantG)
				require.Equal(t, wantG, got)
				got = values(t, "SELECT DISTINCT c.flag FROM c", pk, nil)
				require.Len(t, got, len(flags))
			})
			t.Run("aggregates", func(t *testing.T) {
				var cnt, sum, mn, mx int
				mn = 1 << 30
				for _, d := range data {
					if key == "" || d.PK == key {
						cnt++
						sum += d.N
						mn = min(mn, d.N)
						mx = max(mx, d.N)
					}
				}
				avg := float64(sum) / float64(cnt)
				num := func(v float64) string { return normJSON(t, mustJSON(t, v)) }
				require.Equal(t, []string{num(float64(cnt))}, values(t, "SELECT VALUE COUNT(1) FROM c", pk, nil))
				require.Equal(t, []string{num(float64(sum))}, values(t, "SELECT VALUE SUM(c.n) FROM c", pk, nil))
				require.Equal(t, []string{num(float64(mn))}, values(t, "SELECT VALUE MIN(c.n) FROM c", pk, nil))
				require.Equal(t, []string{num(float64(mx))}, values(t, "SELECT VALUE MAX(c.n) FROM c", pk, nil))
				require.Equal(t, []string{num(avg)}, values(t, "SELECT VALUE AVG(c.n) FROM c", pk, nil))
				require.Equal(t, []string{fmt.Sprintf(`{"cnt":%d}`, cnt)}, values(t, "SELECT COUNT(1) AS cnt FROM c", pk, nil))
				require.Equal(t, []string{fmt.Sprintf(`{"$1":%d}`, cnt)}, values(t, "SELECT COUNT(1) FROM c", pk, nil))
				require.Equal(t, []string{normJSON(t, mustJSON(t, map[string]any{"a": avg, "mn": mn, "mx": mx, "n": cnt, "s": sum}))},
					values(t, "SELECT COUNT(1) AS n, SUM(c.n) AS s, MIN(c.n) AS mn, MAX(c.n) AS mx, AVG(c.n) AS a FROM c", pk, nil))
				require.Equal(t, []string{"0"}, values(t, "SELECT VALUE COUNT(1) FROM c WHERE c.n > 100", pk, nil))
				// With a filter and a small page size the aggregate is still one value.
				items := queryAll(t, c, "SELECT VALUE COUNT(1) FROM c WHERE c.n > 0", pk, nil, 1)
				require.Equal(t, []string{fmt.Sprint(cnt)}, rawStrings(items))
				maxLE5 := 0
				for _, d := range data {
					if (key == "" || d.PK == key) && d.N <= 5 {
						maxLE5 = max(maxLE5, d.N)
					}
				}
				require.Equal(t, []string{num(float64(maxLE5))}, values(t, "SELECT VALUE MAX(c.n) FROM c WHERE c.n <= 5", pk, nil))
			})
		})
	}

	t.Run("paging collects every item exactly once", func(t *testing.T) {
		for _, size := range []int32{1, 3, 4, 10, 11} {
			pages := queryPages(t, c, "SELECT * FROM c", all, nil, size)
			var ids []string
			for _, p := range pages {
				ids = append(ids, idsOf(t, p)...)
			}
			sort.Strings(ids)
			require.Equal(t, want("", anyTrue), ids, "page size %d", size)
			if size < 10 {
				require.GreaterOrEqual(t, len(pages), (10+int(size)-1)/int(size), "page size %d", size)
			}
		}
		pages := queryPages(t, c, "SELECT * FROM c", p1, nil, 2)
		var ids []string
		for _, p := range pages {
			ids = append(ids, idsOf(t, p)...)
		}
		sort.Strings(ids)
		require.Equal(t, want("p1", anyTrue), ids)
		require.GreaterOrEqual(t, len(pages), 2)
	})

	t.Run("paged results equal unpaged results", func(t *testing.T) {
		queries := []string{
			"SELECT * FROM c WHERE c.n > 2",
			"SELECT VALUE c.n FROM c ORDER BY c.n DESC",
			"SELECT c.id, c.n FROM c ORDER BY c.grp, c.n DESC",
			"SELECT DISTINCT VALUE c.grp FROM c",
			"SELECT DISTINCT VALUE c.grp FROM c ORDER BY c.grp",
			"SELECT TOP 5 c.id FROM c ORDER BY c.n",
			"SELECT * FROM c ORDER BY c.n OFFSET 3 LIMIT 4",
			"SELECT VALUE c.name FROM c WHERE STARTSWITH(c.name, 'E') OR c.n > 8 ORDER BY c.name",
			"SELECT VALUE COUNT(1) FROM c",
			"SELECT VALUE AVG(c.n) FROM c WHERE c.n > 3",
		}
		for _, pk := range []azcosmos.PartitionKey{all, p1} {
			for _, q := range queries {
				full := queryAll(t, c, q, pk, nil, 0)
				ordered := strings.Contains(q, "ORDER BY")
				for _, size := range []int32{1, 2, 3} {
					paged := queryAll(t, c, q, pk, nil, size)
					a, b := rawStrings(full), rawStrings(paged)
					if !ordered {
						sort.Strings(a)
						sort.Strings(b)
					}
					require.Equal(t, a, b, "query %q page size %d", q, size)
				}
			}
		}
	})

	t.Run("resume with a continuation in a new pager", func(t *testing.T) {
		pager := c.NewQueryItemsPager("SELECT * FROM c ORDER BY c.n", all, &azcosmos.QueryOptions{PageSizeHint: 4})
		first, err := pager.NextPage(ctx)
		require.NoError(t, err)
		require.Len(t, first.Items, 4)
		require.NotNil(t, first.ContinuationToken)
		pager2 := c.NewQueryItemsPager("SELECT * FROM c ORDER BY c.n", all,
			&azcosmos.QueryOptions{PageSizeHint: 4, ContinuationToken: first.ContinuationToken})
		var rest [][]byte
		for pager2.More() {
			p, err := pager2.NextPage(ctx)
			require.NoError(t, err)
			rest = append(rest, p.Items...)
		}
		require.Equal(t, want("", anyTrue), idsOf(t, append(first.Items, rest...)))
	})

	t.Run("syntax error 400", func(t *testing.T) {
		for _, q := range []string{"SELEKT * FROM c", "SELECT * FROM c WHERE", "SELECT * FROM c WHERE c.n = = 1", "SELECT * FROM c ORDER BY"} {
			pager := c.NewQueryItemsPager(q, all, nil)
			_, err := pager.NextPage(ctx)
			re := respErr(t, err, http.StatusBadRequest)
			_, msg := errBody(t, re)
			require.NotEmpty(t, msg, q)
		}
	})

	t.Run("unknown function 400", func(t *testing.T) {
		pager := c.NewQueryItemsPager("SELECT * FROM c WHERE NO_SUCH_FN(c.n)", all, nil)
		_, err := pager.NextPage(ctx)
		respErr(t, err, http.StatusBadRequest)
	})

	t.Run("missing parameter 400", func(t *testing.T) {
		pager := c.NewQueryItemsPager("SELECT * FROM c WHERE c.n = @nope", all, nil)
		_, err := pager.NextPage(ctx)
		// Cosmos DB treats an unbound parameter as an error.
		respErr(t, err, http.StatusBadRequest)
	})

	t.Run("bad continuation 400", func(t *testing.T) {
		for _, tok := range []string{"garbage", `{"x":1}`, "%%%"} {
			tok := tok
			pager := c.NewQueryItemsPager("SELECT * FROM c", all, &azcosmos.QueryOptions{ContinuationToken: &tok})
			_, err := pager.NextPage(ctx)
			respErr(t, err, http.StatusBadRequest)
		}
	})

	t.Run("continuation from another query 400", func(t *testing.T) {
		pager := c.NewQueryItemsPager("SELECT * FROM c ORDER BY c.n", all, &azcosmos.QueryOptions{PageSizeHint: 2})
		first, err := pager.NextPage(ctx)
		require.NoError(t, err)
		require.NotNil(t, first.ContinuationToken)
		other := c.NewQueryItemsPager("SELECT * FROM c WHERE c.n > 5", all,
			&azcosmos.QueryOptions{PageSizeHint: 2, ContinuationToken: first.ContinuationToken})
		_, err = other.NextPage(ctx)
		respErr(t, err, http.StatusBadRequest)
	})

	t.Run("missing container 404", func(t *testing.T) {
		db, err := e.client.NewDatabase("db")
		require.NoError(t, err)
		ghost, err := db.NewContainer("ghost")
		require.NoError(t, err)
		pager := ghost.NewQueryItemsPager("SELECT * FROM c", all, nil)
		_, err = pager.NextPage(ctx)
		respErr(t, err, http.StatusNotFound)
	})
}
